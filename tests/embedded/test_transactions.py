"""Transactions are atomic and never stall other clients; retried writes apply once.

Each test states MongoDB's documented behaviour through the driver (or raw
wire messages), so it runs unchanged against a real replica set.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import pytest
from bson import Int64
from bson.binary import Binary, UuidRepresentation
from pymongo.errors import OperationFailure

from pialara_async.db import driver
from pialara_async.db.client import open_client
from pialara_async.settings import Settings
from tests.embedded.wire_messages import WireConnection, op_msg


async def _counter(db: Any, name: str = "c") -> int:
    return (await db.counters.find_one({"_id": name}))["n"]


async def test_abort_applies_none_of_the_writes(mongo_client: Any, db: Any) -> None:
    await db.counters.insert_one({"_id": "c", "n": 0})
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        await db.rows.insert_one({"r": 1}, session=session)
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
        # The transaction sees its own writes...
        assert await db.rows.count_documents({}, session=session) == 1
        assert (await db.counters.find_one({"_id": "c"}, session=session))["n"] == 1
        # ...and nobody else does.
        assert await db.rows.count_documents({}) == 0
        assert await _counter(db) == 0
        await session.abort_transaction()
    assert await db.rows.count_documents({}) == 0
    assert await _counter(db) == 0


async def test_commit_applies_every_write_at_once(mongo_client: Any, db: Any) -> None:
    await db.counters.insert_one({"_id": "c", "n": 0})
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        for row in range(5):
            await db.rows.insert_one({"r": row}, session=session)
            await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
        assert await db.rows.count_documents({}) == 0
        await session.commit_transaction()
    assert await db.rows.count_documents({}) == 5
    assert await _counter(db) == 5


async def test_a_failed_statement_aborts_the_transaction(mongo_client: Any, db: Any) -> None:
    await db.rows.insert_one({"_id": "taken"})
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        await db.rows.insert_one({"_id": "new"}, session=session)
        with pytest.raises(OperationFailure):
            await db.rows.insert_one({"_id": "taken"}, session=session)
        with pytest.raises(OperationFailure) as raised:
            await session.commit_transaction()
        assert raised.value.code == 251  # NoSuchTransaction
    assert await db.rows.count_documents({}) == 1


async def test_server_chosen_values_are_the_ones_committed(mongo_client: Any, db: Any) -> None:
    """An upsert's generated _id and a $currentDate reported inside a
    transaction are exactly what its commit stores."""
    from pymongo import ReturnDocument

    await db.items.insert_one({"_id": "dated", "n": 0})
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        upserted = await db.items.update_one({"name": "new"}, {"$set": {"n": 1}}, upsert=True,
                                             session=session)
        dated = await db.items.find_one_and_update(
            {"_id": "dated"}, {"$currentDate": {"at": True}, "$inc": {"n": 1}},
            return_document=ReturnDocument.AFTER, session=session)
        await db.items.insert_one({"_id": "other"}, session=session)
        await session.commit_transaction()
    stored = await db.items.find_one({"name": "new"})
    assert stored["_id"] == upserted.upserted_id
    assert (await db.items.find_one({"_id": "dated"}))["at"] == dated["at"]


async def test_transactions_and_plain_writes_on_one_counter_are_all_counted(
    mongo_client: Any, db: Any
) -> None:
    await db.counters.insert_one({"_id": "c", "n": 0})

    async def in_transaction(row: int) -> None:
        async def write(session: Any) -> None:
            await db.rows.insert_one({"r": row}, session=session)
            await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)

        async with await driver.start_session(mongo_client) as session:
            await session.with_transaction(write)

    async def plainly() -> None:
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1000}})

    await asyncio.gather(*(in_transaction(row) for row in range(15)),
                         *(plainly() for _ in range(15)))
    assert await db.rows.count_documents({}) == 15
    assert await _counter(db) == 15 + 15 * 1000


async def test_a_transaction_never_waits_for_other_clients_and_they_never_wait_for_it(
    db: Any, settings: Settings
) -> None:
    """A client with two pooled connections opens a transaction, then fills its
    pool with reads of the transaction's document and writes of another one,
    then finishes the transaction. Neither may wait for the transaction's next
    statement: on a server that makes them wait, they hold both connections
    and the transaction can never send it."""
    small = open_client(settings.model_copy(update={"mongodb": settings.mongodb.model_copy(
        update={"max_pool_size": 2})}), settings.mongodb.uri)
    try:
        counters = small.get_database(db.name).counters
        await counters.insert_many([{"_id": "c", "n": 0}, {"_id": "other", "n": 0}])
        async with await driver.start_session(small) as session:
            await driver.start_transaction(session)
            await counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
            others = [asyncio.ensure_future(
                counters.update_one({"_id": "other"}, {"$inc": {"n": 10}})) for _ in range(6)]
            reads = [asyncio.ensure_future(counters.find_one({"_id": "c"})) for _ in range(6)]
            await asyncio.wait_for(
                counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session), 20)
            await asyncio.wait_for(session.commit_transaction(), 20)
        await asyncio.wait_for(asyncio.gather(*others), 20)
        # Reads outside the transaction saw the last committed state.
        assert {doc["n"] for doc in await asyncio.wait_for(asyncio.gather(*reads), 20)} <= {0, 2}
        assert (await counters.find_one({"_id": "c"}))["n"] == 2
        assert (await counters.find_one({"_id": "other"}))["n"] == 60
    finally:
        await driver.close_client(small)


async def test_transaction_past_its_lifetime_is_aborted_and_applies_nothing(
    private_client: Any,
) -> None:
    db = private_client.get_database("lifetime")
    await private_client.admin.command("setParameter", 1, transactionLifetimeLimitSeconds=1)
    await db.counters.insert_one({"_id": "c", "n": 0})
    async with await driver.start_session(private_client) as session:
        await driver.start_transaction(session)
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
        await asyncio.sleep(1.5)  # the lifetime limit is what is tested
        with pytest.raises(OperationFailure) as raised:
            await session.commit_transaction()
        assert raised.value.code == 251
        assert raised.value.has_error_label("TransientTransactionError")
    assert await _counter(db) == 0


DYING_CLIENT = """
import sys
from pymongo import MongoClient
client = MongoClient(sys.argv[1])
db = client[sys.argv[2]]
session = client.start_session()
session.start_transaction()
db.rows.insert_one({"r": "dying"}, session=session)
db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
print("open", flush=True)
sys.stdin.read()
"""


async def test_a_client_dying_mid_transaction_applies_nothing_and_blocks_nobody(
    db: Any, settings: Settings
) -> None:
    await db.counters.insert_one({"_id": "c", "n": 0})
    dying = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DYING_CLIENT, settings.mongodb.uri, db.name,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert dying.stdout is not None
    assert await asyncio.wait_for(dying.stdout.readline(), 30) == b"open\n"
    dying.kill()  # no commit, no abort, no endSessions
    await dying.wait()
    # Others write the same documents at once, in and out of transactions.
    await asyncio.wait_for(db.counters.update_one({"_id": "c"}, {"$inc": {"n": 10}}), 20)

    async def write(session: Any) -> None:
        await db.rows.insert_one({"r": "alive"}, session=session)
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)

    async with await driver.start_session(db.client) as session:
        await asyncio.wait_for(session.with_transaction(write), 20)
    assert await _counter(db) == 11
    assert [r["r"] async for r in db.rows.find()] == ["alive"]


# --- retryable writes -----------------------------------------------------------------


def _session_id() -> dict[str, Any]:
    return {"id": Binary.from_uuid(uuid.uuid4(), UuidRepresentation.STANDARD)}


async def _applied(db: Any, query: dict[str, Any]) -> None:
    """Wait until the server has applied the write (it is visible to others)."""
    for _ in range(400):
        if await db.rows.count_documents(query):
            return
        await asyncio.sleep(0.025)  # another connection's write: nothing to await
    raise AssertionError("the write was never applied")


async def test_a_retried_insert_is_not_applied_twice(db: Any, settings: Settings) -> None:
    """The connection drops after the server applied the insert and before its
    reply was read; the driver retries with the same lsid and txnNumber."""
    command = {"insert": "rows", "documents": [{"_id": "once", "r": 1}], "ordered": True,
               "lsid": _session_id(), "txnNumber": Int64(1), "$db": db.name}
    first = await WireConnection.open(settings.mongodb.uri)
    await first.send(op_msg(command))
    await _applied(db, {"_id": "once"})
    await first.close()  # the reply is never read
    retry = await WireConnection.open(settings.mongodb.uri)
    try:
        reply = await retry.command(command)
    finally:
        await retry.close()
    assert reply["ok"] == 1.0
    assert reply["n"] == 1
    assert "writeErrors" not in reply
    assert await db.rows.count_documents({}) == 1


async def test_a_retried_increment_is_not_applied_twice(db: Any, settings: Settings) -> None:
    await db.rows.insert_one({"_id": "counter", "n": 0, "seen": False})
    command = {"update": "rows", "ordered": True, "lsid": _session_id(),
               "txnNumber": Int64(7), "$db": db.name,
               "updates": [{"q": {"_id": "counter"},
                            "u": {"$inc": {"n": 1}, "$set": {"seen": True}}}]}
    first = await WireConnection.open(settings.mongodb.uri)
    await first.send(op_msg(command))
    await _applied(db, {"_id": "counter", "seen": True})
    await first.close()
    retry = await WireConnection.open(settings.mongodb.uri)
    try:
        reply = await retry.command(command)
        # A new txnNumber on the same session is a new write.
        again = await retry.command({**command, "txnNumber": Int64(8)})
    finally:
        await retry.close()
    assert (reply["n"], reply["nModified"]) == (1, 1)
    assert again["nModified"] == 1
    assert (await db.rows.find_one({"_id": "counter"}))["n"] == 2


async def test_concurrent_retries_of_one_write_apply_it_once(
    db: Any, settings: Settings
) -> None:
    command = {"update": "rows", "ordered": True, "lsid": _session_id(),
               "txnNumber": Int64(3), "$db": db.name,
               "updates": [{"q": {"_id": "n"}, "u": {"$inc": {"n": 1}}, "upsert": True}]}
    connections = [await WireConnection.open(settings.mongodb.uri) for _ in range(8)]
    try:
        replies = await asyncio.gather(*(c.command(command) for c in connections))
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    assert all(r["ok"] == 1.0 and r["n"] == 1 for r in replies)
    assert (await db.rows.find_one({"_id": "n"}))["n"] == 1


async def test_an_old_txn_number_is_refused(db: Any, settings: Settings) -> None:
    lsid = _session_id()
    connection = await WireConnection.open(settings.mongodb.uri)
    try:
        newer = await connection.command({"insert": "rows", "documents": [{"a": 1}],
                                          "lsid": lsid, "txnNumber": Int64(5),
                                          "$db": db.name})
        older = await connection.command({"insert": "rows", "documents": [{"a": 2}],
                                          "lsid": lsid, "txnNumber": Int64(4),
                                          "$db": db.name})
    finally:
        await connection.close()
    assert newer["ok"] == 1.0
    assert older["ok"] == 0.0
    assert older["code"] == 225  # TransactionTooOld
    assert await db.rows.count_documents({}) == 1



async def test_a_cursor_opened_in_a_transaction_is_read_to_its_end(
    mongo_client: Any, db: Any
) -> None:
    await db.rows.insert_many([{"_id": n} for n in range(5)])
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        await db.rows.insert_one({"_id": 5}, session=session)
        cursor = db.rows.find({}, session=session, batch_size=2).sort("_id", 1)
        assert [doc["_id"] async for doc in cursor] == [0, 1, 2, 3, 4, 5]
        await session.commit_transaction()
    assert await db.rows.count_documents({}) == 6
