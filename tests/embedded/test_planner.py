"""Queries answer the same with and without indexes.

The same documents go into two collections, one with indexes and one
without; every query must give the same documents from both (on the embedded
server, the first is answered through the layer's indexes, the second by
mongoeco's scan; on MongoDB, by its planner either way), in the same order
where a sort makes the order unique. Writes after the indexes are built must
show at once.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId

from pialara_async.db import driver

INDEXES = [[("tags", 1), ("rank", -1)], [("rank", -1)], [("kind", 1), ("when", -1)],
           [("nested.score", 1)], [("owner", 1), ("tags", 1)]]
OWNERS = [ObjectId(f"{n:024x}") for n in range(1, 7)]


def documents(seed: int = 3) -> list[dict[str, Any]]:
    pick = random.Random(seed)
    kinds = ["a", "b", "c", None]
    rows = []
    for n in range(400):
        row: dict[str, Any] = {"_id": n, "rank": n * 7 % 401,
                               "when": datetime.datetime(2020, 1, 1) +
                               datetime.timedelta(hours=n * 5 % 97)}
        if n % 9:
            row["tags"] = pick.sample(["x", "y", "z", "w", "v"], pick.randrange(0, 4))
        if n % 4:
            row["kind"] = pick.choice(kinds)
        if n % 3 == 0:
            row["nested"] = {"score": pick.choice([1, 2.5, 3, "high", None])}
        elif n % 3 == 1:
            row["nested"] = [{"score": pick.randrange(5)}, {"score": pick.randrange(5)}]
        if n % 5 != 4:
            row["owner"] = pick.choice(OWNERS)
        if n % 50 == 0:
            row["rank"] = "unranked"  # another type bracket
        rows.append(row)
    return rows


async def fill(db: Any) -> tuple[Any, Any]:
    rows = documents()
    for keys in INDEXES:
        await db.indexed.create_index(keys)
    await db.indexed.insert_many(rows)
    await db.plain.insert_many(rows)
    return db.indexed, db.plain


@pytest.fixture(scope="module")
async def twins(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> (
    AsyncIterator[tuple[Any, Any]]
):
    """Read-only twins shared by the module's query tests."""
    from pialara_async.db.client import open_client
    from tests.conftest import make_settings

    name = f"planner_{uuid.uuid4().hex[:10]}"
    settings = make_settings(tmp_path_factory.mktemp("planner"), mongo_uri, name)
    client = open_client(settings, mongo_uri)
    yield await fill(client.get_database(name))
    await client.drop_database(name)
    await driver.close_client(client)


QUERIES: list[dict[str, Any]] = [
    {}, {"tags": "x"}, {"tags": {"$in": ["x", "w"]}}, {"tags": {"$in": []}},
    {"tags": "x", "rank": {"$gte": 100}}, {"rank": {"$gt": 50, "$lte": 200}},
    {"rank": {"$lt": 20}}, {"kind": "a"}, {"kind": {"$in": ["a", "b"]}},
    {"kind": "b", "when": {"$gte": datetime.datetime(2020, 1, 3)}},
    {"nested.score": 3}, {"nested.score": {"$gte": 2}}, {"nested.score": "high"},
    {"nested.score": {"$gt": 1, "$lt": 4}}, {"tags": "y", "kind": "c"},
    {"$and": [{"tags": "z"}, {"rank": {"$lt": 300}}]},
    {"tags": "v", "$or": [{"kind": "a"}, {"rank": {"$gt": 200}}]},
    {"rank": {"$gte": 0}, "tags": {"$exists": False}},
    {"owner": OWNERS[0]}, {"owner": {"$in": OWNERS[1:3]}}, {"owner": OWNERS[2], "tags": "x"},
]


@pytest.mark.parametrize("query", QUERIES, ids=[str(q) for q in QUERIES])
async def test_find_and_count_agree(twins: tuple[Any, Any], query: dict[str, Any]) -> None:
    indexed, plain = twins
    found = {d["_id"] async for d in indexed.find(query)}
    assert found == {d["_id"] async for d in plain.find(query)}
    assert await indexed.count_documents(query) == len(found)
    assert await indexed.count_documents(query, skip=5, limit=7) == \
        min(7, max(0, len(found) - 5))


SORTED: list[tuple[dict[str, Any], list[tuple[str, int]]]] = [
    ({}, [("rank", -1)]), ({}, [("rank", 1)]), ({"tags": "x"}, [("rank", -1)]),
    ({"tags": {"$in": ["y", "z"]}}, [("rank", -1)]), ({"kind": "a"}, [("when", -1)]),
    ({"kind": {"$in": ["a", "b"]}}, [("when", 1)]), ({"rank": {"$gte": 100}}, [("rank", 1)]),
    ({"tags": "w"}, [("rank", 1), ("_id", 1)]), ({"kind": "c"}, [("rank", -1), ("_id", -1)]),
]


@pytest.mark.parametrize(("query", "sort"), SORTED, ids=[f"{q}{s}" for q, s in SORTED])
async def test_sorted_pages_agree(twins: tuple[Any, Any], query: dict[str, Any],
                                  sort: list[tuple[str, int]]) -> None:
    indexed, plain = twins
    every = [d async for d in plain.find(query).sort(sort)]
    if len(sort) == 1:  # ties in a one-field sort may come in any order
        every = [d async for d in plain.find(query).sort([*sort, ("_id", 1)])]

    def key(row: dict[str, Any]) -> Any:
        return tuple(str(row.get(field)) for field, _direction in sort)

    for skip, limit in [(0, 10), (7, 5), (0, 0), (30, 20)]:
        page = [d async for d in indexed.find(query).sort(sort).skip(skip).limit(limit)]
        expected = every[skip:skip + limit if limit else None]
        assert [key(d) for d in page] == [key(d) for d in expected]
        if len(sort) > 1:
            assert [d["_id"] for d in page] == [d["_id"] for d in expected]


async def test_projection_and_aggregation_agree(twins: tuple[Any, Any]) -> None:
    indexed, plain = twins
    query = {"tags": "x"}
    shown = [d async for d in indexed.find(query, {"rank": 1, "_id": 0}).sort("rank", -1)]
    assert all(set(d) <= {"rank"} for d in shown)
    pipeline = [{"$match": {"kind": {"$in": ["a", "b"]}}}, {"$sort": {"when": -1}},
                {"$group": {"_id": "$kind", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
    assert await driver.aggregate_list(indexed, pipeline) == \
        await driver.aggregate_list(plain, pipeline)
    # Documents without the field add nothing (not null).
    assert sorted(await indexed.distinct("tags")) == sorted(await plain.distinct("tags")) \
        == ["v", "w", "x", "y", "z"]
    assert sorted(map(str, await indexed.distinct("kind"))) == \
        sorted(map(str, await plain.distinct("kind")))


async def test_writes_show_at_once_through_indexes(db: Any) -> None:
    indexed, _plain = await fill(db)
    before = await indexed.count_documents({"tags": "x"})
    await indexed.insert_one({"_id": 1000, "tags": ["x"], "rank": 999})
    assert await indexed.count_documents({"tags": "x"}) == before + 1
    # Strings sort above numbers: the best numeric rank is the new one.
    top = await indexed.find({"tags": "x", "rank": {"$gte": 0}}).sort("rank", -1) \
        .limit(1).to_list(None)
    assert top[0]["_id"] == 1000
    ranked = await indexed.find({"tags": "x"}).sort("rank", -1).limit(1).to_list(None)
    assert ranked[0]["rank"] == "unranked"
    await indexed.update_one({"_id": 1000}, {"$set": {"tags": ["y"], "rank": -5}})
    assert await indexed.count_documents({"tags": "x"}) == before
    assert await indexed.count_documents({"tags": "y", "rank": {"$lt": 0}}) == 1
    await indexed.delete_one({"_id": 1000})
    assert await indexed.count_documents({"tags": "y", "rank": {"$lt": 0}}) == 0
    await indexed.update_many({"kind": "a"}, {"$set": {"kind": "A"}})
    assert await indexed.count_documents({"kind": "a"}) == 0
    assert await indexed.count_documents({"kind": "A"}) > 0


NULLISH: list[dict[str, Any]] = [
    {"kind": None}, {"kind": {"$exists": False}}, {"kind": {"$in": [None, "a"]}},
    {"kind": {"$ne": None}}, {"tags": None}, {"nested.score": None},
]
PAST, FUTURE = datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1)


def random_write(pick: random.Random, next_id: int) -> tuple[str, Any, Any]:
    """One write, as (operation, filter or document, update)."""
    value = pick.choice(["a", "b", None, 3, "missing"])
    change = {"$unset": {"kind": ""}} if value == "missing" else {"$set": {"kind": value}}
    target = {"_id": pick.randrange(next_id)}
    match pick.randrange(6):
        case 0:
            return "insert", {"_id": next_id, "rank": pick.randrange(500),
                              "kind": value, "expires": pick.choice([PAST, FUTURE])}, None
        case 1:
            return "update", target, change
        case 2:
            return "update", target, {"$set": {"rank": pick.choice([pick.randrange(500),
                                                                     None, "unranked"])}}
        case 3:
            return "update", target, {"$set": {"expires": pick.choice([PAST, FUTURE])}}
        case 4:
            return "delete", target, None
        case _:
            return "many", {"kind": value if value != "missing" else None}, \
                {"$inc": {"touched": 1}}


async def apply(collection: Any, write: tuple[str, Any, Any]) -> None:
    operation, what, update = write
    if operation == "insert":
        await collection.insert_one(dict(what))
    elif operation == "update":
        await collection.update_one(what, update)
    elif operation == "delete":
        await collection.delete_one(what)
    else:
        await collection.update_many(what, update)


async def agree(indexed: Any, plain: Any) -> None:
    for query in [*QUERIES, *NULLISH]:
        found = sorted([d["_id"] async for d in indexed.find(query)])
        assert found == sorted([d["_id"] async for d in plain.find(query)]), query
        assert await indexed.count_documents(query) == len(found), query
    # Null and missing sort together, below every number.
    for sort in ([("kind", 1), ("_id", 1)], [("rank", -1), ("_id", 1)]):
        assert [d["_id"] async for d in indexed.find({}).sort(sort).limit(40)] == \
            [d["_id"] async for d in plain.find({}).sort(sort).limit(40)], sort


@pytest.mark.slow
async def test_random_writes_and_ttl_expiry_keep_indexes_and_scans_agreeing(
    private_client: Any,
) -> None:
    db = private_client.get_database("differential")
    indexed, plain = await fill(db)
    for twin in (indexed, plain):
        await twin.create_index("expires", expireAfterSeconds=0)
    pick = random.Random(11)
    next_id = 400
    for _round in range(4):
        for _ in range(60):
            write = random_write(pick, next_id)
            next_id += write[0] == "insert"
            await apply(indexed, write)
            await apply(plain, write)
        await agree(indexed, plain)
    # TTL expiry: the monitor's deletes reach the indexes like any other.
    expired = {d["_id"] async for d in plain.find({"expires": {"$lt": FUTURE}})}
    assert expired
    stream = await driver.watch(db, [{"$match": {"operationType": "delete"}}])
    async with stream:
        await private_client.admin.command("setParameter", 1, ttlMonitorSleepSecs=1)
        gone: set[tuple[str, Any]] = set()
        while gone != {(name, n) for name in ("indexed", "plain") for n in expired}:
            change = await stream.next()
            gone.add((change["ns"]["coll"], change["documentKey"]["_id"]))
    await agree(indexed, plain)
    assert await indexed.count_documents({"expires": {"$lt": FUTURE}}) == 0
