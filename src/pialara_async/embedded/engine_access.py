"""Shared and exclusive access to mongoeco's engine, never held across a round trip.

Ordinary commands share the engine; a transaction's statement or commit runs
alone (mongoeco's SQLite engine holds one transaction, and fails other
sessions' commands while it is open). An exclusive holder only ever executes
(replays and runs statements, then commits or rolls back); it never waits for
a client while anyone else waits for the engine, so every wait here is bounded
by the execution time of the commands ahead. (A transaction keeps its lease
between statements only while nobody else asks: see ``Lease``.)

Requests are granted in arrival order: consecutive shared requests at the head
of the queue enter together, an exclusive one enters when the engine is free.
So a read waits only for the requests that arrived before it, however many
writers keep queueing (PyMongo's pool gives each writer a connection of its
own), and a stream of reads cannot starve a commit either.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from pialara_async.embedded.errors import CommandError

# Whether the running task holds engine access (tasks it starts inherit it).
_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("engine_access", default=False)


def lock_timeout(seconds: float, labels: tuple[str, ...] = ()) -> CommandError:
    return CommandError(24, "LockTimeout",
                        f"waited {seconds:g} s for the engine without getting it", labels)


class Lease:
    """Exclusive access that outlives one task: taken by a transaction's
    statement and kept, idle, for its next one (transactions.py). An idle lease
    is given back as soon as anyone else asks for the engine: ``wanted``, set
    while it is idle, is called then, and must release it."""

    def __init__(self, access: EngineAccess) -> None:
        self._access = access
        self.released = False
        self.wanted: Callable[[], None] | None = None

    @contextlib.contextmanager
    def using(self) -> Iterator[None]:
        """The calling task runs under this lease (nested ``shared`` calls enter)."""
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.wanted = None
            if self._access._lease is self:
                self._access._lease = None
            self._access._release(True)


@dataclass(eq=False)
class _Request:
    exclusive: bool
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class EngineAccess:
    def __init__(self) -> None:
        self._shared = 0
        self._exclusive = False
        self._queue: deque[_Request] = deque()
        self._lease: Lease | None = None  # the exclusive holder, when it is a lease

    @property
    def busy(self) -> bool:
        return self._exclusive or self._shared > 0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def _grant(self) -> None:
        """Let in, in order, every request at the head that may enter now."""
        while self._queue and not self._exclusive:
            head = self._queue[0]
            if head.exclusive:
                if self._shared:
                    return
                self._exclusive = True
            else:
                self._shared += 1
            self._queue.popleft()
            head.granted.set_result(None)

    def _release(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = False
        else:
            self._shared -= 1
        self._grant()

    async def _enter(self, exclusive: bool, limit: float | None, error: CommandError) -> None:
        request = _Request(exclusive)
        self._queue.append(request)
        if self._lease is not None and self._lease.wanted is not None:
            self._lease.wanted()  # an idle lease gives the engine back at once
        self._grant()
        if request.granted.done():
            return
        try:
            async with asyncio.timeout(limit):
                await asyncio.shield(request.granted)
        except BaseException as failure:
            if request.granted.done():
                # Granted as the wait ended: give it back.
                self._release(exclusive)
            else:
                request.granted.cancel()
                self._queue.remove(request)
                self._grant()  # those behind it may enter now
            if isinstance(failure, TimeoutError):
                raise error from None
            raise

    @contextlib.asynccontextmanager
    async def _held(self, exclusive: bool) -> AsyncIterator[None]:
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)
            self._release(exclusive)

    @contextlib.asynccontextmanager
    async def shared(self, limit: float | None = None,
                     error: CommandError | None = None) -> AsyncIterator[None]:
        """Run beside other shared holders; wait at most ``limit`` s for the requests
        ahead, then fail with ``error`` (LockTimeout by default).

        Re-entrant: a task that holds access (shared or exclusive) already has it.
        """
        if _holding.get():
            yield
            return
        await self._enter(False, limit, error or lock_timeout(limit or 0))
        async with self._held(False):
            yield

    async def lease(self, limit: float | None = None,
                    labels: tuple[str, ...] = ()) -> Lease:
        """Exclusive access until ``Lease.release``; wait as ``exclusive`` does."""
        await self._enter(True, limit, lock_timeout(limit or 0, labels))
        self._lease = Lease(self)
        return self._lease

    @contextlib.asynccontextmanager
    async def exclusive(self, limit: float | None = None,
                        labels: tuple[str, ...] = ()) -> AsyncIterator[None]:
        """Run alone; wait at most ``limit`` s (then LockTimeout with ``labels``)."""
        await self._enter(True, limit, lock_timeout(limit or 0, labels))
        async with self._held(True):
            yield
