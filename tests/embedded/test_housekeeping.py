"""The embedded server's background work: its TTL monitor and its reaper.

On MongoDB a TTL index is served by a background monitor (every
``ttlMonitorSleepSecs``, 60 by default) whose deletes are ordinary deletes:
change streams see them, every index forgets the documents. Until the monitor
runs, an expired document is still there.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from pathlib import Path
from typing import Any

from bson import Binary
from bson.binary import UUID_SUBTYPE
from mongoeco import AsyncMongoClient

from pialara_async.db import driver
from pialara_async.embedded import engine_fixes
from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.transactions import SESSION_IDLE_SECONDS, SessionTable
from pialara_async.embedded.ttl import TTLMonitor


async def test_ttl_deletes_are_ordinary_deletes_seen_by_streams_and_indexes(
    private_client: Any,
) -> None:
    db = private_client.get_database("ttl")
    now = datetime.datetime.now(datetime.UTC)
    hour = datetime.timedelta(hours=1)
    await db.events.create_index("at", expireAfterSeconds=0)
    await db.events.insert_many([{"_id": 1, "at": now - hour}, {"_id": 2, "at": now + hour},
                                 {"_id": 3, "at": "not a date: never expires"}])
    stream = await driver.watch(db.events)
    async with stream:
        # A write after the expiry: mongoeco purged expired documents here,
        # behind the layer's indexes and without an event.
        await db.events.insert_one({"_id": 4, "at": [now + hour, now - hour]})
        stored = sorted(d["_id"] for d in await db.events.find().to_list(None))
        assert await db.events.count_documents({}) == len(stored)
        assert await db.events.count_documents({"at": {"$lt": now}}) == \
            len([i for i in stored if i in (1, 4)])

        # The monitor, made quick: each expired document goes in a delete event.
        await private_client.admin.command("setParameter", 1, ttlMonitorSleepSecs=1)
        deleted = set()
        while deleted != {1, 4}:  # an array expires with its earliest date
            change = await stream.next()
            if change["operationType"] == "delete":
                deleted.add(change["documentKey"]["_id"])
    assert sorted(d["_id"] for d in await db.events.find().to_list(None)) == [2, 3]
    assert await db.events.count_documents({}) == 2
    assert await db.events.count_documents({"at": {"$lt": now}}) == 0
    assert await db.events.find_one({"_id": 1}) is None


async def test_the_ttl_monitor_interval_is_a_positive_number_of_seconds(
    private_client: Any,
) -> None:
    answer = await private_client.admin.command("setParameter", 1, ttlMonitorSleepSecs=5)
    assert answer["was"] == 60
    for bad in (0, -1, "often", True):
        reply = await private_client.admin.command(
            "setParameter", 1, ttlMonitorSleepSecs=bad, check=False)
        assert reply["ok"] == 0
        assert reply["code"] == 2  # BadValue


async def test_sessions_idle_for_thirty_minutes_are_forgotten() -> None:
    table = SessionTable(EngineAccess(), execute=_never, end_private=lambda _lsid, _commit: None)

    async def write() -> dict[str, Any]:
        return {"ok": 1.0, "n": 1}

    lsids = [{"id": Binary(uuid.uuid4().bytes, UUID_SUBTYPE)} for _ in range(3)]
    for number, lsid in enumerate(lsids):
        await table.retryable_write({"lsid": lsid, "txnNumber": number}, write)
    assert len(table) == 3
    assert table.reap() == []
    assert len(table) == 3  # all in use a moment ago
    forgotten = table.reap(now=time.monotonic() + SESSION_IDLE_SECONDS + 1)
    assert len(table) == 0
    assert forgotten == lsids  # ended in mongoeco's session store too


async def _never(*_args: Any) -> dict[str, Any]:
    raise AssertionError("nothing is executed")


async def test_a_ttl_pass_waits_for_a_transaction_holding_the_engine(tmp_path: Path) -> None:
    engine_fixes.install()
    engine = engine_fixes.LayeredSQLiteEngine(str(tmp_path / "engine.sqlite3"))
    client = AsyncMongoClient(engine)
    await engine.connect()
    try:
        events = client.get_database("ttl").get_collection("events")
        await events.create_index("at", expire_after_seconds=0)
        await events.insert_one({"_id": 1, "at": datetime.datetime(2000, 1, 1)})
        access = EngineAccess()
        monitor = TTLMonitor(client, access)
        held, release = asyncio.Event(), asyncio.Event()

        async def statement() -> None:  # a transaction's statement holds the engine
            async with access.exclusive():
                session = client.start_session()
                session.start_transaction()
                await events.insert_one({"_id": 2, "at": datetime.datetime(2100, 1, 1)},
                                        session=session)
                held.set()
                await release.wait()
                session.commit_transaction()
                session.close()

        holder = asyncio.create_task(statement())
        await held.wait()
        passing = asyncio.create_task(monitor.run_pass())
        # Still waiting for the engine (it failed at once when it did not wait).
        done, _pending = await asyncio.wait({passing}, timeout=0.3)
        assert not done
        release.set()
        await holder
        assert await passing == 1
        assert [d["_id"] async for d in events.find()] == [2]
    finally:
        await engine.disconnect()
