"""Recordings: their audio in GridFS (bucket ``audio``) and what is known of
each in ``recordings``.

``recordings``: ``{client_id, technician_id (the client's when it was made,
for the live feed), phrase_id, file_id, content_type,
size, duration, sample_rate, channels, peak_dbfs, rms_dbfs, consent_version,
status: "pending" | "accepted" | "rejected", created_at}``.

The audio is written in GridFS's own layout (``audio.files``,
``audio.chunks``, as the GridFS specification defines them) one chunk at a
time, and read back with the driver's GridFS: the drivers' upload streams
keep up to 48 MB of chunks in memory before inserting them, and an upload
must never hold more than about one chunk. The file document is written last,
so a file is listed only once whole; a failure deletes the chunks written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from bson import Binary, Int64, ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from pialara_async import clock
from pialara_async.db import driver

BUCKET = "audio"
CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size
READ_BYTES = 64 * 1024

INDEXES = {
    "recordings": [
        IndexModel([("client_id", ASCENDING), ("created_at", DESCENDING)],
                   name="client_created"),
        IndexModel([("phrase_id", ASCENDING)], name="phrase"),
    ],
    # What the drivers' GridFS creates before a first upload.
    f"{BUCKET}.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True,
                                    name="files_id_1_n_1")],
    f"{BUCKET}.files": [IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)],
                                   name="filename_1_uploadDate_1")],
}


def _read(source: BinaryIO) -> bytes:
    return source.read(CHUNK_BYTES)


async def store_audio(db: Any, path: Path, *, filename: str, content_type: str,
                      metadata: dict[str, Any]) -> tuple[ObjectId, int]:
    """Store the file at ``path``; returns its GridFS id and length. Nothing
    of it stays when this fails or is cancelled."""
    file_id = ObjectId()
    length = number = 0
    try:
        with path.open("rb") as source:
            while chunk := await asyncio.to_thread(_read, source):
                await db[f"{BUCKET}.chunks"].insert_one(
                    {"files_id": file_id, "n": number, "data": Binary(chunk)})
                number += 1
                length += len(chunk)
        await db[f"{BUCKET}.files"].insert_one({
            "_id": file_id, "length": Int64(length), "chunkSize": CHUNK_BYTES,
            "uploadDate": clock.now(), "filename": filename,
            "metadata": {**metadata, "contentType": content_type}})
    except BaseException:
        await asyncio.shield(delete_audio(db, file_id))
        raise
    return file_id, length


async def delete_audio(db: Any, file_id: ObjectId) -> None:
    """Delete a file and every chunk of it (chunks first: no file without them)."""
    await db[f"{BUCKET}.files"].delete_one({"_id": file_id})
    await db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})


async def audio_length(db: Any, file_id: ObjectId) -> int | None:
    found = await db[f"{BUCKET}.files"].find_one({"_id": file_id}, {"length": 1})
    return None if found is None else int(found["length"])


async def read_audio(db: Any, file_id: ObjectId, start: int, stop: int) -> AsyncIterator[bytes]:
    """Bytes ``start`` to ``stop`` (excluded) of a file, a piece at a time,
    through the driver's GridFS."""
    download = await driver.gridfs_bucket(db, BUCKET).open_download_stream(file_id)
    await driver.seek(download, start)
    remaining = stop - start
    while remaining > 0:
        piece = await download.read(min(READ_BYTES, remaining))
        if not piece:
            break
        remaining -= len(piece)
        yield piece


async def insert(db: Any, document: dict[str, Any]) -> dict[str, Any]:
    document = {**document, "status": "pending", "created_at": clock.now()}
    result = await db.recordings.insert_one(document)
    return {**document, "_id": result.inserted_id}


async def within(db: Any, recording_id: ObjectId, scope: dict[str, Any]) -> dict[str, Any] | None:
    """The recording if it lies within ``scope`` (what the caller may know of)."""
    found: dict[str, Any] | None = await db.recordings.find_one({"_id": recording_id, **scope})
    return found


async def delete_pending(db: Any, recording_id: ObjectId, client_id: ObjectId) -> (
    dict[str, Any] | None
):
    """Delete a client's recording that nobody has reviewed yet (one step, so a
    review at the same moment either comes first or finds it gone)."""
    found: dict[str, Any] | None = await db.recordings.find_one_and_delete(
        {"_id": recording_id, "client_id": client_id, "status": "pending"})
    return found


async def page(db: Any, scope: dict[str, Any], filters: dict[str, Any], *, limit: int,
               skip: int) -> tuple[list[dict[str, Any]], int]:
    """Recordings within ``scope`` matching ``filters`` (fixed field names), newest first."""
    query = {**scope, **filters}
    cursor = db.recordings.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]) \
        .skip(skip).limit(limit)
    return await cursor.to_list(limit), await db.recordings.count_documents(query)


async def review_pending(db: Any, recording_id: ObjectId, scope: dict[str, Any],
                         status: str, review: dict[str, Any]) -> dict[str, Any] | None:
    """Record the review of a recording nobody has reviewed yet, in one step: of
    two reviews, or a review and the client's deletion, one comes first and
    the other finds it reviewed or gone."""
    found: dict[str, Any] | None = await db.recordings.find_one_and_update(
        {"_id": recording_id, **scope, "status": "pending"},
        {"$set": {"status": status, "review": {**review, "at": clock.now()}}},
        return_document=ReturnDocument.AFTER)
    return found


async def erase_client(db: Any, client_id: ObjectId) -> list[ObjectId]:
    """Delete every recording of a client and all of their audio: the
    recordings, then every GridFS file stored for them and each chunk of it.
    Returns the ids of the recordings erased."""
    found = await db.recordings.find({"client_id": client_id}, {"file_id": 1}).to_list(None)
    ids = [r["_id"] for r in found]
    await db.recordings.delete_many({"_id": {"$in": ids}})
    files = {r["file_id"] for r in found}
    # Also what an interrupted upload left, found by its metadata.
    files |= {f["_id"] async for f in db[f"{BUCKET}.files"].find(
        {"metadata.client_id": client_id}, {"_id": 1})}
    await db[f"{BUCKET}.files"].delete_many({"_id": {"$in": list(files)}})
    await db[f"{BUCKET}.chunks"].delete_many({"files_id": {"$in": list(files)}})
    return ids


async def log_erasure(db: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """What was erased and when, without any audio: so that a copy exported
    earlier can be cleaned."""
    document = {**entry, "at": clock.now()}
    result = await db.erasures.insert_one(document)
    return {**document, "_id": result.inserted_id}


def summary_pipeline(scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Recordings within ``scope``: how many by status, by the client's
    pathology, and the minutes of accepted audio per client (most first).
    One pass over the recordings (the scope's index), the clients looked up by
    ``_id``."""
    return [
        {"$match": scope},
        {"$facet": {
            "by_status": [{"$group": {"_id": "$status", "count": {"$sum": 1}}},
                          {"$sort": {"_id": 1}}],
            "by_pathology": [
                {"$lookup": {"from": "users", "localField": "client_id", "foreignField": "_id",
                             "as": "client"}},
                {"$group": {"_id": {"$ifNull": [{"$first": "$client.profile.pathology"},
                                                None]},
                            "count": {"$sum": 1}}},
                {"$sort": {"count": -1, "_id": 1}}],
            "accepted_minutes": [
                {"$match": {"status": "accepted"}},
                {"$group": {"_id": "$client_id", "seconds": {"$sum": "$duration"}}},
                {"$lookup": {"from": "users", "localField": "_id", "foreignField": "_id",
                             "as": "client"}},
                {"$project": {"_id": 0, "client_id": "$_id",
                              "name": {"$first": "$client.name"},
                              "minutes": {"$round": [{"$divide": ["$seconds", 60]}, 2]}}},
                {"$sort": {"minutes": -1, "client_id": 1}}],
        }},
    ]


async def summary(db: Any, scope: dict[str, Any]) -> dict[str, Any]:
    found = await driver.aggregate_list(db.recordings, summary_pipeline(scope))
    facets = found[0] if found else {}
    return {
        "by_status": {row["_id"]: row["count"] for row in facets.get("by_status", [])},
        "by_pathology": [{"pathology": row["_id"], "count": row["count"]}
                         for row in facets.get("by_pathology", [])],
        "accepted_minutes": facets.get("accepted_minutes", []),
    }
