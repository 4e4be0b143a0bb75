"""Keeps the statistics views fresh while the service runs."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pymongo
from aiohttp import web

from pialara_async.background.supervisor import running
from pialara_async.db.client import DATABASE
from pialara_async.repositories import leases, stats
from pialara_async.settings import SETTINGS

log = logging.getLogger(__name__)

REFRESH_TIMEOUT = 600.0
LEASE = "director-stats-refresh"


async def stats_refresher_ctx(app: web.Application) -> AsyncIterator[None]:
    interval = app[SETTINGS].stats.refresh_minutes * 60
    db = app[DATABASE]
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def refresh_forever() -> None:
        while True:
            await refresh_once(db, holder, interval)
            await asyncio.sleep(interval)

    async with running("stats-refresher", refresh_forever):
        yield


async def refresh_once(db: Any, holder: str, interval: float) -> bool:
    """Refresh the views unless another process does it this interval: the
    lease lasts the interval, so across processes one refresh per interval
    runs. True when this process refreshed."""
    if not await leases.take(db, LEASE, holder, max(interval, REFRESH_TIMEOUT)):
        log.debug("director statistics: another process refreshes them")
        return False
    # A refresh reads every movie: longer than a request may take.
    with pymongo.timeout(REFRESH_TIMEOUT):
        directors = await stats.refresh_director_stats(db)
    log.info("director statistics refreshed (%d directors)", directors)
    return True


