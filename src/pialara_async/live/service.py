"""The live feed's lifetime: the hub and one supervised task per change stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pymongo
from aiohttp import web
from pymongo.errors import CollectionInvalid, OperationFailure

from pialara_async.db.client import DATABASE
from pialara_async.live import topics
from pialara_async.live.feeds import (
    FeedRunner,
    RecentKeys,
    TokenStore,
    comments_feed,
    movies_feed,
    recordings_feed,
    users_feed,
)
from pialara_async.live.hub import LiveHub
from pialara_async.live.registry import WEBSOCKETS
from pialara_async.live.state import LIVE, Live
from pialara_async.metrics import METRICS
from pialara_async.settings import SETTINGS

log = logging.getLogger(__name__)

FLUSH_LIMIT = 1.0


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    db = app[DATABASE]
    hub = LiveHub(standing=topics.STANDING)
    tokens = TokenStore(db, slot=app[SETTINGS].server.worker)
    movie_of, technician_of = RecentKeys(), RecentKeys()
    feeds = [comments_feed(movie_of), movies_feed(), users_feed(technician_of),
             recordings_feed(RecentKeys())]
    for feed in feeds:
        if feed.collection != "movies" and await pre_images_enabled(db, feed.collection):
            feed.options["full_document_before_change"] = "whenAvailable"
    runners = {f.collection: FeedRunner(db, hub, tokens, f) for f in feeds}
    live = Live(hub, runners, movie_of, technician_of,
                pre_images="full_document_before_change" in feeds[0].options)
    app[LIVE] = live
    metrics = app[METRICS]
    metrics.watch_live(live, app[WEBSOCKETS])
    for runner in runners.values():
        runner.lag = lambda name, seconds: metrics.stream_lag.labels(name).observe(seconds)
    for name in runners:
        live.start(name)
    try:
        yield
    finally:
        await live.stop()
        # After the tasks have stopped: save the latest tokens so a restart
        # resumes exactly where this process stopped.
        await _flush_all(runners)


async def pre_images_enabled(db: Any, collection: str) -> bool:
    """Ask the deployment to keep pre-images (MongoDB 6.0+), so deletions carry
    the deleted document; False where it cannot (then routing falls back to
    what the service knows)."""
    try:
        if collection not in await db.list_collection_names(filter={"name": collection}):
            await db.create_collection(collection)
        reply = await db.command("collMod", collection,
                                 changeStreamPreAndPostImages={"enabled": True})
    except (OperationFailure, CollectionInvalid) as error:
        log.info("no pre-images for %s: %s", collection, str(error)[:120])
        return False
    return bool(reply.get("ok"))


async def _flush_all(runners: dict[str, FeedRunner]) -> None:
    """Save the feeds' positions, within FLUSH_LIMIT altogether: a database that
    is gone or hung must not hold shutdown (the next start resumes from the
    last position saved, at most a second older)."""
    try:
        with pymongo.timeout(FLUSH_LIMIT):
            async with asyncio.timeout(FLUSH_LIMIT):
                await asyncio.gather(*(runner.flush() for runner in runners.values()))
    except Exception:
        log.warning("could not save the live feeds' positions at shutdown")
