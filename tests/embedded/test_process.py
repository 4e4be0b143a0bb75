"""The embedded server's child process never outlives the process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

PARENT = """
import asyncio, sys
from pathlib import Path
from pialara_async.embedded.process import EmbeddedProcess

async def main():
    server = EmbeddedProcess(Path(sys.argv[1]))
    await server.start()
    print(server._process.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its (dead) parent to reap it counts as gone.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


async def test_server_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(tmp_path / "db"), stdout=asyncio.subprocess.PIPE)
    assert parent.stdout is not None
    child = int(await asyncio.wait_for(parent.stdout.readline(), 30))
    assert alive(child)
    parent.send_signal(signal.SIGKILL)  # no chance to stop its child
    await parent.wait()
    for _ in range(300):
        if not alive(child):
            break
        await asyncio.sleep(0.05)  # polling a foreign pid: no event to await
    assert not alive(child)
