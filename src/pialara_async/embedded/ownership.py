"""One owner per data directory, as a ``mongod`` locks its ``dbPath``.

The server that opens a data directory holds an exclusive ``flock`` on its
``mongod.lock`` for as long as it lives (the kernel releases it when the
process ends, ``kill -9`` included), and writes there its pid and address
once it listens. Any other process finds the owner there and connects to it
as a client instead of opening a second engine on the same files, whose
in-memory indexes and caches would never learn of the other's writes.

Imports nothing from mongoeco: the service and the command line read it too.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "mongod.lock"


class EmbeddedStartError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Owner:
    pid: int
    uri: str
    port: int


class DataDirectoryInUse(EmbeddedStartError):
    """Another live process serves this data directory."""

    def __init__(self, data_dir: Path, owner: Owner | None) -> None:
        self.owner = owner
        who = "another process (still starting)" if owner is None else \
            f"process {owner.pid} at {owner.uri}"
        super().__init__(f"the data directory {data_dir} is served by {who}")


class DirectoryLock:
    """The owner's side: taken before the engine opens, held until the process ends."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._file: int | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DataDirectoryInUse(self.data_dir, _recorded(self.data_dir)) from None
        os.ftruncate(descriptor, 0)  # a dead owner's record goes with its lock
        self._file = descriptor

    def record(self, uri: str, port: int) -> None:
        """Say where this owner listens (once it does)."""
        assert self._file is not None
        body = json.dumps({"pid": os.getpid(), "uri": uri, "port": port}).encode()
        os.ftruncate(self._file, 0)
        os.pwrite(self._file, body, 0)
        os.fsync(self._file)

    def release(self) -> None:
        if self._file is not None:
            os.ftruncate(self._file, 0)
            os.close(self._file)  # closing the descriptor releases the lock
            self._file = None


def current_owner(data_dir: Path, *, wait: float = 30.0) -> Owner | None:
    """The live process that owns ``data_dir``; None when nobody does. An owner
    still starting (locked, not yet listening) is waited for, up to ``wait``
    seconds; past that DataDirectoryInUse."""
    path = data_dir / LOCK_FILE
    deadline = time.monotonic() + wait
    while True:
        if not path.exists():
            return None
        descriptor = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: someone owns it
        else:
            return None  # nobody holds it (our shared lock goes with the descriptor)
        finally:
            os.close(descriptor)
        owner = _recorded(data_dir)
        if owner is not None:
            return owner
        if time.monotonic() > deadline:
            raise DataDirectoryInUse(data_dir, None)
        time.sleep(0.05)


def _recorded(data_dir: Path) -> Owner | None:
    """The owner's record, if it is written and its process lives."""
    try:
        record = json.loads((data_dir / LOCK_FILE).read_text() or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    owner = Owner(int(record["pid"]), str(record["uri"]), int(record["port"]))
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return owner
