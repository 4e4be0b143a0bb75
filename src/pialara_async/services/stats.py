"""Keeps the statistics views fresh while the service runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pymongo
from aiohttp import web

from pialara_async import keys
from pialara_async.repositories import stats
from pialara_async.services.supervisor import running

log = logging.getLogger(__name__)

REFRESH_TIMEOUT = 600.0


async def stats_refresher_ctx(app: web.Application) -> AsyncIterator[None]:
    interval = app[keys.SETTINGS].stats.refresh_minutes * 60
    db = app[keys.DATABASE]

    async def refresh_forever() -> None:
        while True:
            # A refresh reads every movie: longer than a request may take.
            with pymongo.timeout(REFRESH_TIMEOUT):
                directors = await stats.refresh_director_stats(db)
            log.info("director statistics refreshed (%d directors)", directors)
            await asyncio.sleep(interval)

    async with running("stats-refresher", refresh_forever):
        yield
