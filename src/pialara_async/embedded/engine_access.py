"""Shared and exclusive access to mongoeco's engine, never held across a round trip.

Ordinary commands share the engine; a transaction's statement or commit runs
alone (mongoeco's SQLite engine holds one transaction, and fails other
sessions' commands while it is open). An exclusive holder only ever executes
(replays and runs statements, then commits or rolls back); it never waits for
a client, so every wait here is bounded by the execution time of the commands
ahead. New shared holders queue behind a waiting exclusive one, so a stream of
reads cannot starve a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable

from pialara_async.embedded.errors import CommandError

# Whether the running task holds engine access (tasks it starts inherit it).
_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("engine_access", default=False)


def lock_timeout(seconds: float, labels: tuple[str, ...] = ()) -> CommandError:
    return CommandError(24, "LockTimeout",
                        f"waited {seconds:g} s for the engine without getting it", labels)


class EngineAccess:
    def __init__(self) -> None:
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0
        self._changed = asyncio.Condition()

    @property
    def busy(self) -> bool:
        return self._exclusive or self._shared > 0

    async def _wait(self, predicate: Callable[[], bool], limit: float | None,
                    error: CommandError) -> None:
        try:
            async with asyncio.timeout(limit):
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise error from None

    @contextlib.asynccontextmanager
    async def shared(self, limit: float | None = None,
                     error: CommandError | None = None) -> AsyncIterator[None]:
        """Run beside other shared holders; wait at most ``limit`` s for an exclusive
        one, then fail with ``error`` (LockTimeout by default).

        Re-entrant: a task that holds access (shared or exclusive) already has it.
        """
        if _holding.get():
            yield
            return
        async with self._changed:
            if self._exclusive or self._exclusive_waiting:
                await self._wait(lambda: not (self._exclusive or self._exclusive_waiting),
                                 limit, error or lock_timeout(limit or 0))
            self._shared += 1
        async with self._held(self._release_shared):
            yield

    @contextlib.asynccontextmanager
    async def exclusive(self, limit: float | None = None,
                        labels: tuple[str, ...] = ()) -> AsyncIterator[None]:
        """Run alone; wait at most ``limit`` s (then LockTimeout with ``labels``)."""
        async with self._changed:
            self._exclusive_waiting += 1
            try:
                await self._wait(lambda: not self._exclusive and self._shared == 0,
                                 limit, lock_timeout(limit or 0, labels))
            finally:
                self._exclusive_waiting -= 1
                self._changed.notify_all()
            self._exclusive = True
        async with self._held(self._release_exclusive):
            yield

    def _release_shared(self) -> None:
        self._shared -= 1

    def _release_exclusive(self) -> None:
        self._exclusive = False

    @contextlib.asynccontextmanager
    async def _held(self, release: Callable[[], None]) -> AsyncIterator[None]:
        """Mark the task as holding access until the block ends, then ``release``."""
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)
            async with self._changed:
                release()
                self._changed.notify_all()
