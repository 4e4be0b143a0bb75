"""One statistics refresh at a time across processes, through a lease in the database."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from pialara_async.background.stats import LEASE, refresh_once
from pialara_async.repositories import leases


async def test_one_process_refreshes_per_interval(db: Any) -> None:
    await db.movies.insert_one({"title": "M", "directors": ["Ana"], "imdb": {"rating": 7.0}})
    assert await refresh_once(db, "host-a:1", 60) is True
    assert await db.director_stats.count_documents({}) == 1
    assert await refresh_once(db, "host-b:2", 60) is False  # a holds it
    assert await refresh_once(db, "host-a:1", 60) is True  # the holder goes on
    # The holder died: once its lease has expired, another takes over.
    await db[leases.LEASES].update_one(
        {"_id": LEASE}, {"$set": {"until": datetime.datetime(2000, 1, 1)}})
    assert await refresh_once(db, "host-b:2", 60) is True


async def test_processes_racing_for_a_free_lease_get_one_winner(db: Any) -> None:
    won = await asyncio.gather(*(leases.take(db, "race", f"p{n}", 30) for n in range(6)))
    assert won.count(True) == 1
    holder = (await db[leases.LEASES].find_one({"_id": "race"}))["holder"]
    assert won[int(holder[1:])] is True
