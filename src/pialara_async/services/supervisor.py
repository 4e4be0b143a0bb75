"""Supervised background tasks: restarted with backoff when they fail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


async def supervise(
    name: str,
    work: Callable[[], Awaitable[None]],
    *,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
) -> None:
    """Run ``work`` until cancelled, restarting it with jittered exponential backoff."""
    backoff = initial_backoff
    while True:
        try:
            await work()
            backoff = initial_backoff
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; restarting in %.1fs", name, backoff)
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, max_backoff)


@contextlib.asynccontextmanager
async def running(name: str, work: Callable[[], Awaitable[None]], **options: float) -> (
    AsyncIterator[asyncio.Task[None]]
):
    """A supervised task for the duration of the block (for cleanup contexts)."""
    task = asyncio.create_task(supervise(name, work, **options), name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
