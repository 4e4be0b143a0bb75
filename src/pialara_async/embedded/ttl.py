"""MongoDB's TTL monitor: expired documents go by ordinary deletes, in the background.

As on ``mongod``, every ``ttlMonitorSleepSecs`` (60 by default) one pass looks
at every TTL index and deletes the documents whose indexed date is more than
``expireAfterSeconds`` in the past (an array: its earliest date; a field that
holds no date never expires), within the index's partial filter. The deletes
go through the engine like any other, so change streams see them and the
layer's indexes and document cache forget the documents. Until a pass runs an
expired document is still there, as on MongoDB.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from mongoeco import AsyncMongoClient

from pialara_async.embedded.engine_access import EngineAccess

log = logging.getLogger(__name__)

DEFAULT_SLEEP_SECONDS = 60.0
# The layer's own bookkeeping holds no TTL index.
_SKIPPED_DATABASES = frozenset({"__pialara"})


def expired_filter(index: dict[str, Any], now: datetime.datetime) -> dict[str, Any] | None:
    """The filter of the documents ``index`` has expired at ``now``; None if not a TTL index."""
    seconds = index.get("expireAfterSeconds")
    key = list(index.get("key", {}).items())
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or len(key) != 1:
        return None
    field = key[0][0]
    # $lt with a date matches dates only (and an array holding one earlier).
    expired = {field: {"$lt": now - datetime.timedelta(seconds=seconds)}}
    partial = index.get("partialFilterExpression")
    return {"$and": [expired, partial]} if partial else expired


class TTLMonitor:
    def __init__(self, client: AsyncMongoClient, access: EngineAccess,
                 clock: Callable[[], datetime.datetime] | None = None) -> None:
        self._client = client
        self._access = access
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.sleep_seconds = DEFAULT_SLEEP_SECONDS
        self.passes = 0
        self.deleted = 0

    async def run_pass(self) -> int:
        """Delete what every TTL index has expired; the number of documents deleted."""
        now = self._clock()
        deleted = 0
        # Listing uses the engine too: never while a transaction holds it.
        async with self._access.shared():
            db_names = await self._client.list_database_names()
        for db_name in db_names:
            if db_name in _SKIPPED_DATABASES:
                continue
            database = self._client[db_name]
            async with self._access.shared():
                coll_names = await database.list_collection_names()
            for coll_name in coll_names:
                collection = database[coll_name]
                async with self._access.shared():
                    indexes = [dict(index) async for index in await collection.list_indexes()]
                for index in indexes:
                    query = expired_filter(index, now)
                    if query is None:
                        continue
                    async with self._access.shared():
                        result = await collection.delete_many(query)
                    deleted += result.deleted_count
        self.passes += 1
        self.deleted += deleted
        if deleted:
            log.debug("TTL monitor deleted %d expired documents", deleted)
        return deleted
