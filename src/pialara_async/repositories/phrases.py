"""Phrases clients read aloud, and which of them each client is asked to record.

``phrases``: ``{text, tag, language, notes?, active, created_by, created_at,
updated_at}``. A phrase is retired (``active: false``) rather than deleted
once it has recordings: they keep pointing at the text that was read.

``assignments``: one document per client and phrase, ``{client_id,
phrase_id, assigned_by, assigned_at}``, unique on the pair, so assigning
twice changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument, UpdateOne

from pialara_async import clock
from pialara_async.db import driver

PAGE_SIZE = 50
RECORDINGS = "recordings"

INDEXES = {
    "phrases": [IndexModel([("active", ASCENDING), ("tag", ASCENDING)], name="active_tag")],
    "assignments": [
        IndexModel([("client_id", ASCENDING), ("phrase_id", ASCENDING)], unique=True,
                   name="client_phrase_unique"),
    ],
}


def tag_prefix(prefix: str) -> dict[str, Any]:
    """Tags starting with ``prefix``, taken literally (anchored: an index range)."""
    return {"$regex": f"^{re.escape(prefix)}"}


async def insert(db: Any, document: dict[str, Any], session: Any = None) -> dict[str, Any]:
    now = clock.now()
    document = {**document, "active": True, "created_at": now, "updated_at": now}
    result = await db.phrases.insert_one(document, session=session)
    return {**document, "_id": result.inserted_id}


async def insert_many(db: Any, documents: list[dict[str, Any]], session: Any) -> list[ObjectId]:
    now = clock.now()
    rows = [{**d, "active": True, "created_at": now, "updated_at": now} for d in documents]
    result = await db.phrases.insert_many(rows, session=session)
    return list(result.inserted_ids)


async def by_id(db: Any, phrase_id: ObjectId) -> dict[str, Any] | None:
    result: dict[str, Any] | None = await db.phrases.find_one({"_id": phrase_id})
    return result


async def update(db: Any, phrase_id: ObjectId, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Set ``changes`` (fixed field names) on the phrase."""
    result: dict[str, Any] | None = await db.phrases.find_one_and_update(
        {"_id": phrase_id},
        {"$set": {**changes, "updated_at": clock.now()}},
        return_document=ReturnDocument.AFTER)
    return result


async def delete(db: Any, phrase_id: ObjectId) -> bool:
    result = await db.phrases.delete_one({"_id": phrase_id})
    return bool(result.deleted_count)


async def has_recordings(db: Any, phrase_id: ObjectId) -> bool:
    return await db[RECORDINGS].find_one({"phrase_id": phrase_id}, {"_id": 1}) is not None


async def page(db: Any, *, active: bool | None, tag: str | None,
               page_number: int) -> tuple[list[dict[str, Any]], int]:
    """Phrases by tag, ``PAGE_SIZE`` a page, with the total."""
    query: dict[str, Any] = {}
    if active is not None:
        query["active"] = active
    if tag:
        query["tag"] = tag_prefix(tag)
    cursor = db.phrases.find(query).sort([("tag", ASCENDING), ("_id", ASCENDING)]) \
        .skip(page_number * PAGE_SIZE).limit(PAGE_SIZE)
    return await cursor.to_list(PAGE_SIZE), await db.phrases.count_documents(query)


async def active_ids(db: Any, *, ids: list[ObjectId] | None = None,
                     tag: str | None = None) -> list[ObjectId]:
    """Active phrases: all, those of ``ids``, or those whose tag starts with ``tag``."""
    query: dict[str, Any] = {"active": True}
    if ids is not None:
        query["_id"] = {"$in": ids}
    if tag is not None:
        query["tag"] = tag_prefix(tag)
    return [p["_id"] async for p in db.phrases.find(query, {"_id": 1})]


async def assign(db: Any, client_id: ObjectId, phrase_ids: list[ObjectId],
                 assigned_by: ObjectId) -> int:
    """Assign phrases to a client; those already assigned stay as they were.
    Returns how many were newly assigned."""
    if not phrase_ids:
        return 0
    now = clock.now()
    result = await db.assignments.bulk_write([
        UpdateOne({"client_id": client_id, "phrase_id": phrase_id},
                  {"$setOnInsert": {"assigned_by": assigned_by, "assigned_at": now}},
                  upsert=True)
        for phrase_id in phrase_ids], ordered=False)
    return int(result.upserted_count)


async def is_assigned(db: Any, client_id: ObjectId, phrase_id: ObjectId) -> bool:
    found = await db.assignments.find_one({"client_id": client_id, "phrase_id": phrase_id},
                                          {"_id": 1})
    return found is not None


async def unassign(db: Any, client_id: ObjectId, phrase_ids: list[ObjectId]) -> int:
    result = await db.assignments.delete_many({"client_id": client_id,
                                               "phrase_id": {"$in": phrase_ids}})
    return int(result.deleted_count)


def assigned_pipeline(client_id: ObjectId) -> list[dict[str, Any]]:
    """A client's assigned phrases, in tag order, each with whether the client
    has a recording of it that is not rejected (``recorded``)."""
    return [
        {"$match": {"client_id": client_id}},
        {"$lookup": {"from": "phrases", "localField": "phrase_id", "foreignField": "_id",
                     "as": "phrase"}},
        {"$unwind": "$phrase"},
        {"$lookup": {"from": RECORDINGS, "let": {"phrase": "$phrase_id"}, "as": "kept",
                     "pipeline": [
                         {"$match": {"client_id": client_id,
                                     "status": {"$in": ["pending", "accepted"]}}},
                         {"$match": {"$expr": {"$eq": ["$phrase_id", "$$phrase"]}}},
                         {"$project": {"_id": 1}}]}},
        {"$project": {"_id": "$phrase._id", "text": "$phrase.text", "tag": "$phrase.tag",
                      "language": "$phrase.language", "active": "$phrase.active",
                      "assigned_at": 1, "recorded": {"$gt": [{"$size": "$kept"}, 0]}}},
        {"$sort": {"tag": 1, "_id": 1}},
    ]


async def assigned_to(db: Any, client_id: ObjectId) -> list[dict[str, Any]]:
    return await driver.aggregate_list(db.assignments, assigned_pipeline(client_id))
