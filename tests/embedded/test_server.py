"""What the embedded layer adds to mongoeco, checked through the driver.

Each test states MongoDB's documented behaviour, so it runs unchanged against a
real replica set.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from bson import Binary, Decimal128, Int64, ObjectId
from pymongo import WriteConcern
from pymongo.errors import CursorNotFound, OperationFailure, WriteConcernError

from pialara_async.db import driver
from pialara_async.repositories import server
from pialara_async.settings import Settings


async def test_handshake_is_a_replica_set_primary(mongo_client: Any, db: Any) -> None:
    hello = await mongo_client.admin.command("hello")
    assert hello["setName"]
    assert hello["isWritablePrimary"] is True
    assert hello["primary"] in hello["hosts"]
    deployment = await server.describe(mongo_client)
    assert deployment.topology == "replica set"
    assert deployment.change_streams
    assert deployment.transactions


async def test_replica_set_uri_connects_and_writes_are_retryable(
    mongo_client: Any, db: Any, settings: Settings
) -> None:
    assert "replicaSet=" in settings.mongodb.uri or settings.mongodb.uri.startswith("mongodb+srv")
    result = await db.items.insert_one({"n": 1})
    assert result.acknowledged
    assert mongo_client.options.retry_writes is True


async def test_transaction_commits_both_collections(mongo_client: Any, db: Any) -> None:
    await db.inventory.insert_one({"_id": "widget", "stock": 5})

    async def order(session: Any) -> None:
        await db.orders.insert_one({"item": "widget", "qty": 2}, session=session)
        await db.inventory.update_one(
            {"_id": "widget"}, {"$inc": {"stock": -2}}, session=session
        )

    async with await driver.start_session(mongo_client) as session:
        await session.with_transaction(order)
    assert await db.orders.count_documents({}) == 1
    assert (await db.inventory.find_one({"_id": "widget"}))["stock"] == 3


async def test_failed_transaction_leaves_nothing_behind(mongo_client: Any, db: Any) -> None:
    await db.inventory.insert_one({"_id": "widget", "stock": 1})

    async def order(session: Any) -> None:
        await db.orders.insert_one({"item": "widget", "qty": 2}, session=session)
        updated = await db.inventory.update_one(
            {"_id": "widget", "stock": {"$gte": 2}}, {"$inc": {"stock": -2}}, session=session
        )
        if updated.modified_count != 1:
            raise ValueError("out of stock")

    async with await driver.start_session(mongo_client) as session:
        with pytest.raises(ValueError, match="out of stock"):
            await session.with_transaction(order)
    assert await db.orders.count_documents({}) == 0
    assert (await db.inventory.find_one({"_id": "widget"}))["stock"] == 1


async def test_concurrent_conflicting_transactions_keep_the_counter_exact(
    mongo_client: Any, db: Any
) -> None:
    """Each transaction inserts a row and increments a counter; with_transaction
    retries conflicts, so the counter always equals the number of rows."""
    await db.counters.insert_one({"_id": "rows", "n": 0})

    async def add_row(session: Any) -> None:
        await db.rows.insert_one({"at": "x"}, session=session)
        await db.counters.update_one({"_id": "rows"}, {"$inc": {"n": 1}}, session=session)

    async def one() -> None:
        async with await driver.start_session(mongo_client) as session:
            await session.with_transaction(add_row)

    await asyncio.gather(*(one() for _ in range(20)))
    assert await db.rows.count_documents({}) == 20
    assert (await db.counters.find_one({"_id": "rows"}))["n"] == 20
    # The pooled sessions are still usable for later transactions.
    await one()
    assert (await db.counters.find_one({"_id": "rows"}))["n"] == 21


async def test_plain_write_waits_for_a_running_transaction(mongo_client: Any, db: Any) -> None:
    await db.counters.insert_one({"_id": "c", "n": 0})
    async with await driver.start_session(mongo_client) as session:
        await driver.start_transaction(session)
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)
        outside = asyncio.ensure_future(db.counters.update_one({"_id": "c"}, {"$inc": {"n": 10}}))
        await session.commit_transaction()
    await outside
    assert (await db.counters.find_one({"_id": "c"}))["n"] == 11


async def test_ending_a_session_lets_its_running_write_finish(
    mongo_client: Any, db: Any
) -> None:
    """A driver closing a client ends its pooled sessions, also one whose
    operation it abandoned while the server still runs it (PyMongo's async
    client does this when a task is cancelled). The server finishes the
    operation and keeps answering."""
    await db.source.insert_many([{"_id": f"doc-{n}", "n": n} for n in range(1000)])
    merged = await driver.watch(db.merged)
    session = await driver.start_session(mongo_client)
    merging = asyncio.ensure_future(
        driver.aggregate_list(db.source, [{"$merge": {"into": "merged"}}], session=session)
    )
    await merged.next()  # the merge is writing
    await mongo_client.admin.command("endSessions", [session.session_id])
    await merging
    await merged.close()
    assert await db.merged.count_documents({}) == 1000
    await asyncio.wait_for(db.after.insert_one({"_id": "written"}), 10)
    assert await db.after.count_documents({}) == 1


async def test_merge_matches_existing_documents_by_id(db: Any) -> None:
    stored = ObjectId()
    await db.target.insert_many([
        {"_id": "kept", "old": True}, {"_id": 1, "old": True},
        {"_id": {"k": "v"}, "old": True}, {"_id": stored, "old": True},
    ])
    await db.source.insert_many([
        {"_id": "kept", "new": True}, {"_id": 1, "new": True},
        {"_id": {"k": "v"}, "new": True}, {"_id": stored, "new": True},
        {"_id": "added", "new": True},
    ])
    await driver.aggregate_list(db.source, [{"$merge": {"into": "target"}}])
    merged = {repr(d["_id"]): d async for d in db.target.find()}
    assert len(merged) == 5
    assert all(d["new"] for d in merged.values())
    assert sum(bool(d.get("old")) for d in merged.values()) == 4


async def test_bucket_emits_only_buckets_with_documents(db: Any) -> None:
    await db.films.insert_many([{"runtime": 30}, {"runtime": 95}, {"runtime": 100}])
    buckets = await driver.aggregate_list(db.films, [
        {"$bucket": {"groupBy": "$runtime", "boundaries": [0, 60, 90, 120, 180],
                     "default": "other", "output": {"count": {"$sum": 1}}}}
    ])
    assert buckets == [{"_id": 0, "count": 1}, {"_id": 90, "count": 2}]


async def test_bucket_inside_facet_and_with_default_output(db: Any) -> None:
    await db.films.insert_many([{"m": 55}, {"m": 200}, {}])
    result = await driver.aggregate_list(db.films, [
        {"$facet": {"rating": [{"$bucket": {"groupBy": "$m", "boundaries": [0, 50, 70, 90, 100],
                                            "default": "other"}}]}}
    ])
    assert result == [{"rating": [{"_id": 50, "count": 1}, {"_id": "other", "count": 2}]}]


async def test_count_on_empty_input_emits_nothing(db: Any) -> None:
    await db.films.insert_one({"year": 2000})
    assert await driver.aggregate_list(db.films, [{"$match": {"year": 1900}},
                                                  {"$count": "n"}]) == []
    assert await driver.aggregate_list(db.films, [{"$count": "n"}]) == [{"n": 1}]


async def test_unknown_cursor_is_cursor_not_found(db: Any) -> None:
    with pytest.raises(CursorNotFound):
        await db.command("getMore", 987654321, collection="films")


async def test_cursor_batches_continue_with_get_more(db: Any) -> None:
    await db.films.insert_many([{"i": i} for i in range(250)])
    seen = [doc["i"] async for doc in db.films.find({}, batch_size=40).sort("i", 1)]
    assert seen == list(range(250))


async def test_bad_change_stream_option_is_an_error(db: Any) -> None:
    with pytest.raises(OperationFailure):
        await driver.aggregate_list(db.films, [{"$changeStream": {"bogus": True}}])


async def test_unique_index_errors_on_insert_one_and_insert_many(db: Any) -> None:
    from pymongo.errors import BulkWriteError, DuplicateKeyError

    await db.people.create_index("email", unique=True)
    await db.people.insert_one({"email": "a@x.org"})
    with pytest.raises(DuplicateKeyError):
        await db.people.insert_one({"email": "a@x.org"})
    with pytest.raises(BulkWriteError) as raised:
        await db.people.insert_many([{"email": "b@x.org"}, {"email": "a@x.org"},
                                     {"email": "c@x.org"}])
    assert raised.value.details["nInserted"] == 1
    assert raised.value.details["writeErrors"][0]["code"] == 11000
    assert raised.value.details["writeErrors"][0]["index"] == 1
    unordered = await db.people.insert_many([{"email": "d@x.org"}], ordered=False)
    assert len(unordered.inserted_ids) == 1
    assert await db.people.count_documents({}) == 3


async def test_correlated_lookup_joins_like_mongodb(db: Any) -> None:
    await db.movies.insert_many([{"_id": 1, "t": "a"}, {"_id": 2, "t": "b"},
                                 {"_id": 3, "t": "c"}])
    await db.comments.create_index("movie_id")
    await db.comments.insert_many([
        {"movie_id": 1, "n": 1}, {"movie_id": 1, "n": 2}, {"movie_id": 2, "n": 3},
        {"movie_id": [1, 2], "n": 4},  # an array: {movie_id: 1} matches it, $expr does not
        {"n": 5},  # missing: matches null, not 3
    ])
    pipeline = [
        {"$match": {"_id": {"$in": [1, 2, 3]}}},
        {"$lookup": {"from": "comments", "let": {"id": "$_id"},
                     "pipeline": [{"$match": {"$expr": {"$eq": ["$movie_id", "$$id"]}}},
                                  {"$sort": {"n": -1}}, {"$project": {"_id": 0, "n": 1}}],
                     "as": "comments"}},
        {"$sort": {"_id": 1}},
    ]
    rows = await driver.aggregate_list(db.movies, pipeline)
    assert [[c["n"] for c in row["comments"]] for row in rows] == [[2, 1], [3], []]
    counted = await driver.aggregate_list(db.movies, [
        *pipeline[:2], {"$project": {"count": {"$size": "$comments"}}}, {"$sort": {"_id": 1}}])
    assert [row["count"] for row in counted] == [2, 1, 0]


@pytest.mark.slow
async def test_heartbeats_are_answered_while_long_commands_run(
    db: Any, settings: Settings
) -> None:
    """Drivers mark a server unknown, drop its pool and retry in-flight writes
    when a heartbeat goes unanswered; the server answers ``hello`` at once
    whatever else it is doing (here: a large insert, then indexing it)."""
    from tests.embedded.wire_messages import WireConnection

    async def long_commands() -> None:
        await db.bulk.insert_many([{"i": i, "tags": [f"t{i % 97}", f"u{i % 89}", f"v{i}"]}
                                   for i in range(8_000)])
        await db.bulk.create_index([("tags", 1), ("i", -1)])
        await db.bulk.create_index("i")

    running = asyncio.ensure_future(long_commands())
    monitor = await WireConnection.open(settings.mongodb.uri)
    answered_meanwhile = 0
    try:
        while not running.done():
            # 1 s: "a few hundred milliseconds", well inside any driver's
            # heartbeat timeout.
            reply = await asyncio.wait_for(monitor.command({"hello": 1, "$db": "admin"}), 1)
            assert reply["isWritablePrimary"] is True
            answered_meanwhile += not running.done()
    finally:
        await monitor.close()
    await running
    assert answered_meanwhile >= 3
    assert await db.bulk.count_documents({"tags": "t5"}) == len(range(5, 8_000, 97))


@pytest.mark.parametrize("indexed", [False, True])
async def test_comparisons_match_only_their_type_bracket(db: Any, indexed: bool) -> None:
    """$gt/$gte/$lt/$lte match values of the query value's type (and arrays
    holding one), with or without an index on the field."""
    if indexed:
        await db.values.create_index("n")
    await db.values.insert_many([
        {"_id": "five", "n": 5}, {"_id": "twenty", "n": 20.5}, {"_id": "after", "n": "after"},
        {"_id": "ten-text", "n": "10"}, {"_id": "null", "n": None}, {"_id": "missing"},
        {"_id": "mixed", "n": [1, "x"]}, {"_id": "numbers", "n": [1, 70]},
    ])

    async def ids(condition: dict[str, Any]) -> set[str]:
        return {d["_id"] async for d in db.values.find({"n": condition})}

    assert await ids({"$gte": 10}) == {"twenty", "numbers"}
    assert await ids({"$lt": 10}) == {"five", "mixed", "numbers"}
    assert await ids({"$gt": 5, "$lt": 50}) == {"twenty", "numbers"}
    assert await ids({"$gt": "a"}) == {"after", "mixed"}
    assert await ids({"$lte": "2"}) == {"ten-text"}
    assert await db.values.count_documents({"n": {"$gte": 10}}) == 2


@pytest.mark.slow
@pytest.mark.parametrize("indexed", [False, True])
async def test_in_and_nin_take_long_lists(db: Any, indexed: bool) -> None:
    if indexed:
        await db.items.create_index("code")
    # A few hundred values made SQLite's expression tree too deep.
    await db.items.insert_many([{"code": f"c{n}", "n": n} for n in range(1200)] + [{"n": -1}])
    wanted = [f"c{n}" for n in range(0, 1200, 2)] + [f"absent{n}" for n in range(500)]
    assert await db.items.count_documents({"code": {"$in": wanted}}) == 600
    assert await db.items.count_documents({"code": {"$nin": wanted}}) == 601
    assert await db.items.count_documents({"n": {"$in": list(range(-1, 5000, 3))}}) == 401


@pytest.mark.slow
async def test_a_long_merge_lets_transactions_and_writes_through(
    mongo_client: Any, db: Any
) -> None:
    """An aggregation that ends in $merge (the statistics refresh) writes for
    seconds; transactions and writes meanwhile do not wait for it to end."""
    await db.source.insert_many([{"_id": n, "group": n % 1500, "v": n} for n in range(3000)])
    merge = [{"$group": {"_id": "$group", "total": {"$sum": "$v"}}},
             {"$merge": {"into": "totals", "whenMatched": "replace"}}]
    await driver.aggregate_list(db.source, merge)
    await db.source.update_many({}, {"$inc": {"v": 1}})  # every total will be replaced
    await db.counters.insert_one({"_id": "c", "n": 0})
    writes = await driver.watch(db.totals)
    merging = asyncio.ensure_future(driver.aggregate_list(db.source, merge))
    await writes.next()  # the second merge is writing
    await writes.close()

    async def bump(session: Any) -> None:
        await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, session=session)

    async with await driver.start_session(mongo_client) as session:
        await session.with_transaction(bump)
    await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}})
    assert not merging.done()
    await merging
    assert (await db.counters.find_one({"_id": "c"}))["n"] == 2
    assert await db.totals.count_documents({}) == 1500
    assert (await db.totals.find_one({"_id": 7}))["total"] == 8 + 1508


async def test_server_info_and_parameters_answer_as_on_mongod(mongo_client: Any) -> None:
    info = await mongo_client.server_info()  # sends the lower-case "buildinfo"
    assert info["versionArray"][:2] == [int(n) for n in info["version"].split(".")[:2]]
    every = await mongo_client.admin.command("getParameter", "*")
    assert "featureCompatibilityVersion" in every
    one = await mongo_client.admin.command({"getParameter": 1,
                                            "transactionLifetimeLimitSeconds": 1})
    assert isinstance(one["transactionLifetimeLimitSeconds"], int)


async def test_an_unknown_command_is_command_not_found(mongo_client: Any) -> None:
    with pytest.raises(OperationFailure) as unknown:
        await mongo_client.admin.command("noSuchCommandAtAll")
    assert unknown.value.code == 59
    assert unknown.value.details["codeName"] == "CommandNotFound"


async def test_hints_by_name_or_key_pattern_on_any_index(db: Any) -> None:
    await db.h.insert_many([{"_id": i, "a": i % 3, "b": i} for i in range(9)])
    await db.h.create_index([("a", 1)])
    await db.h.create_index([("b", 1)], unique=True)
    for hint in ("a_1", [("a", 1)], "b_1", [("b", 1)], "_id_"):
        assert len(await db.h.find({"a": 1}).hint(hint).to_list(None)) == 3
        assert await db.h.count_documents({"a": 1}, hint=hint) == 3
    assert (await db.h.update_many({"a": 2}, {"$set": {"x": 1}}, hint="a_1")).modified_count == 3
    assert (await db.h.delete_one({"a": 0}, hint=[("a", 1)])).deleted_count == 1
    with pytest.raises(OperationFailure) as unknown:
        await db.h.find({"a": 1}).hint("no_such_index").to_list(None)
    assert unknown.value.code == 2
    # A hinted scan comes in the index's order.
    await db.h.create_index([("b", -1)])
    assert (await db.h.find().hint([("b", -1)]).to_list(None))[0]["b"] == 8


async def test_snapshot_reads_only_where_mongodb_serves_them(
    mongo_client: Any, db: Any
) -> None:
    await db.items.insert_one({"_id": 1})
    async with await driver.start_session(mongo_client, snapshot=True) as session:
        assert await db.items.find_one({"_id": 1}, session=session) == {"_id": 1}
        with pytest.raises(OperationFailure) as refused:
            await db.items.insert_one({"_id": 2}, session=session)
        assert refused.value.code == 72  # InvalidOptions
    assert await db.items.count_documents({}) == 1


async def test_out_replaces_the_target_collection_and_keeps_its_indexes(db: Any) -> None:
    await db.src.insert_many([{"_id": n, "n": n} for n in range(6)])
    await db.dst.insert_one({"_id": "old", "n": 100})
    await db.dst.create_index("n")
    await driver.aggregate_list(db.src, [{"$match": {"n": {"$gte": 3}}}, {"$out": "dst"}])
    assert sorted(d["_id"] for d in await db.dst.find().to_list(None)) == [3, 4, 5]
    assert "n_1" in await db.dst.index_information()
    assert await db.dst.count_documents({"n": {"$gte": 4}}) == 2
    await driver.aggregate_list(db.src, [{"$match": {"n": 99}}, {"$out": "empty"}])
    assert "empty" in await db.list_collection_names()
    assert await db.empty.count_documents({}) == 0
    with pytest.raises(OperationFailure):
        await driver.aggregate_list(db.src, [{"$out": "dst"}, {"$match": {}}])


async def test_replies_carry_the_cluster_time_for_causal_consistency(
    mongo_client: Any, db: Any
) -> None:
    async with await driver.start_session(mongo_client, causal_consistency=True) as session:
        await db.items.insert_one({"_id": 1}, session=session)
        written = session.operation_time
        assert written is not None  # from the write's reply
        assert await db.items.find_one({"_id": 1}, session=session) == {"_id": 1}
        assert session.operation_time >= written
        assert session.cluster_time is not None


async def test_database_aggregates_over_documents_and_local_sessions(
    mongo_client: Any, db: Any
) -> None:
    made = await driver.aggregate_list(db, [
        {"$documents": [{"x": 1}, {"x": 2}, {"x": 3}]},
        {"$match": {"x": {"$gte": 2}}},
        {"$project": {"_id": 0, "double": {"$multiply": ["$x", 2]}}}])
    assert made == [{"double": 4}, {"double": 6}]
    async with await driver.start_session(mongo_client) as session:
        await db.items.insert_one({"_id": 1}, session=session)
        listed = await driver.aggregate_list(mongo_client.admin, [
            {"$listLocalSessions": {}}, {"$match": {"_id.id": session.session_id["id"]}}])
    assert len(listed) == 1
    assert "lastUse" in listed[0]


async def test_a_capped_size_may_be_any_positive_number(db: Any) -> None:
    await db.command({"create": "capped", "capped": True, "size": 4096.0, "max": 10.0})
    options = await db.capped.options()
    assert options["capped"] is True


async def test_no_document_over_sixteen_megabytes_is_stored(db: Any) -> None:
    too_large = "x" * (16 * 1024 * 1024)
    with pytest.raises(OperationFailure):
        await db.big.insert_one({"foo": too_large})
    with pytest.raises(OperationFailure):
        await db.big.replace_one({}, {"foo": too_large}, upsert=True)
    half = "x" * (8 * 1024 * 1024)
    await db.big.insert_many([{"foo": half}, {"foo": half}])
    assert await db.big.count_documents({}) == 2


async def test_numbers_of_every_bson_width_are_stored_as_sent(db: Any) -> None:
    document = {"_id": 1, "int": 5, "long": Int64(5), "double": 5.0,
                "decimal": Decimal128("5.10"), "nested": [{"long": Int64(2**40)}]}
    await db.widths.insert_one(document)
    await db.widths.replace_one({"_id": 1}, {**document, "long": Int64(6)})
    found = await db.widths.find_one({"_id": 1})
    assert found == {**document, "long": Int64(6)}
    assert isinstance(found["long"], Int64)
    assert isinstance(found["nested"][0]["long"], Int64)


async def test_a_write_concern_the_set_cannot_meet_is_reported_after_the_write(
    mongo_client: Any, db: Any
) -> None:
    members = len((await mongo_client.admin.command("hello"))["hosts"])
    too_many = db.get_collection("items", write_concern=WriteConcern(w=members + 1))
    with pytest.raises(WriteConcernError) as unmet:
        await too_many.insert_one({"_id": 1})
    assert unmet.value.code == 100
    assert await db.items.count_documents({"_id": 1}) == 1  # applied all the same


async def test_ping_carries_the_cluster_time(db: Any) -> None:
    reply = await db.command("ping")
    assert "operationTime" in reply
    assert "clusterTime" in reply["$clusterTime"]


async def test_documents_holding_uuids_are_written_and_replaced(db: Any) -> None:
    key = Binary.from_uuid(uuid.uuid4())  # subtype 4, as drivers send UUIDs
    await db.items.insert_one({"_id": key, "owner": Binary.from_uuid(uuid.uuid4())})
    await db.items.replace_one({"_id": key}, {"owner": key})
    assert (await db.items.find_one({"_id": key}))["owner"] == key
