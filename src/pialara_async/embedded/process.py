"""Start and stop the embedded server as a child process.

The engine runs in its own process: its CPU-heavy work then never blocks the
service's event loop, and the service talks to it over a socket exactly as to
a real ``mongod``. This module imports nothing from mongoeco, so the service
can use it without the ``embedded`` extra being importable in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Self

from pialara_async.embedded.ownership import DataDirectoryInUse, EmbeddedStartError, Owner

log = logging.getLogger(__name__)


# Re-exported: the service catches them from here.
__all__ = ["DataDirectoryInUse", "EmbeddedProcess", "EmbeddedStartError"]


class EmbeddedProcess:
    def __init__(
        self,
        data_dir: Path | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        replica_set: str = "pialara",
        history_size: int = 10_000,
        startup_timeout: float = 30.0,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.replica_set = replica_set
        self.history_size = history_size
        self.startup_timeout = startup_timeout
        self.uri = ""
        self.restarts = 0  # after an unexpected exit
        self._serving = False
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    @property
    def serving(self) -> bool:
        """Running and past its start: it answers on its address."""
        return self.running and self._serving

    async def start(self) -> str:
        try:
            import mongoeco  # noqa: F401
        except ImportError as error:
            raise EmbeddedStartError(
                "the embedded database needs the 'embedded' extra "
                "(pip install 'pialara-async[embedded]') or set mongodb.uri"
            ) from error
        args = [
            sys.executable, "-m", "pialara_async.embedded",
            "--host", self.host,
            "--port", str(self.port),
            "--replica-set", self.replica_set,
            "--history-size", str(self.history_size),
            "--exit-with-parent",
        ]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        process = await asyncio.create_subprocess_exec(
            # Its stdin stays open while we live: if this process dies without
            # stopping it, the pipe closes and the server stops by itself.
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self._process = process
        self._serving = False
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), self.startup_timeout)
            ready = json.loads(line)
        except (TimeoutError, ValueError) as error:
            await self.stop()
            raise EmbeddedStartError(
                f"embedded database did not start (exit code {process.returncode})"
            ) from error
        if "in_use_by" in ready:
            await self.stop()
            owner = ready["in_use_by"]
            raise DataDirectoryInUse(Path(str(self.data_dir)), None if owner is None else
                                     Owner(owner["pid"], owner["uri"], owner["port"]))
        # Keep the port so a restart serves the same address, like a mongod would.
        self.port = int(ready["port"])
        self.uri = str(ready["uri"])
        self._serving = True
        log.info("embedded database at %s (pid %s)", self.uri, process.pid)
        return self.uri

    async def stop(self, *, kill: bool = False) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def restart(self) -> str:
        await self.stop()
        return await self.start()

    async def exited(self) -> int | None:
        """Wait until the running server exits; its exit code (None: not running)."""
        process = self._process
        if process is None:
            return None
        return await process.wait()

    def signal(self, number: int) -> None:
        """Send a signal to the running server (tests freeze it with SIGSTOP)."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(number)

    async def kill(self) -> None:
        """Kill the server without stopping it (as a crash would): for tests."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self.stop()
