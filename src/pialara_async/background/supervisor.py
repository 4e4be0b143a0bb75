"""Supervised background tasks: restarted with backoff when they fail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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
        await stop(task)


STOP_LIMIT = 1.0


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it at most STOP_LIMIT: work stuck on a hung
    database (a driver call finishing on its thread) must not hold shutdown."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=STOP_LIMIT)
    if not done:
        log.warning("%s did not stop within %.0f s; left to end by itself",
                    task.get_name(), STOP_LIMIT)
        return
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
