"""``serve --workers 2``: two service processes on one port, one embedded
database for both, and a bounded stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from pialara_async.readiness import wait_until_ready
from pialara_async.workers import free_port

# The command in processes of its own: left out of make test-fast.
pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), command))
    return found


async def test_two_workers_serve_one_port(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    env |= {"PIALARA_DATA_DIR": str(tmp_path), "PIALARA_SERVER__SHUTDOWN_TIMEOUT": "2",
            "PIALARA_LIMITS__REGISTER_PER_ADDRESS": "1000/minute"}
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "serve", "--workers", "2", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_ready(base, process=parent)
        workers = [c for c in children_of(parent.pid) if " serve " in c[1]]
        assert len(workers) == 2
        database = [c for c in children_of(parent.pid) if "pialara_async.embedded" in c[1]]
        assert len(database) == 1  # one embedded server for both
        # Both answer, on the one port, from the one database.
        statuses = []
        for number in range(20):
            body = {"name": f"Worker User {number}", "password": "a long password",
                    "email": f"w{number}@pialara.example"}
            # A new connection each time, so the kernel spreads them.
            async with aiohttp.ClientSession() as fresh, fresh.post(
                    f"{base}/api/v1/user/register", json=body) as response:
                statuses.append(response.status)
        assert statuses == [201] * 20
        parent.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.wait_for(parent.wait(), 30) == 0
        assert time.monotonic() - started < 2 + 10
        for pid, _command in workers + database:  # every process of it has ended
            assert not os.path.exists(f"/proc/{pid}")  # noqa: ASYNC240 (a /proc check)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
