"""Every example runs as a learner runs it, against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

# Each example runs in a process of its own: left out of make test-fast.
pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("[0-9][0-9]_*.py"))


def test_every_lesson_has_a_script() -> None:
    assert [p.name[:2] for p in EXAMPLES] == [f"{n:02d}" for n in range(1, 14)]


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
async def test_example_runs_and_cleans_up(script: Path, mongo_uri: str, mongo_client: Any) -> None:
    database = f"example_{uuid.uuid4().hex[:10]}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script),
        env={**os.environ, "MONGODB_URI": mongo_uri, "EXAMPLES_DB": database},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    assert "✓" in output.decode()
    assert database not in await mongo_client.list_database_names()


def test_a_lesson_that_does_not_hold_exits_non_zero(tmp_path: Path) -> None:
    import subprocess

    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLES[0].parent)!r})\n"
        "from _shared import check, run\n"
        "async def main():\n"
        "    check(1 + 1 == 3, 'arithmetic')\n"
        "run(main)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "FAILED: arithmetic" in result.stderr
