"""``$merge`` written in small batches, beside other commands.

mongoeco ran an aggregation that ends in ``$merge`` as one command holding the
engine: refreshing the director statistics of the benchmark data (23,530
movies) made every transaction wait about 16 s. Here the pipeline before
``$merge`` runs like any other read (through an index, or a scan of the
engine's file in a worker thread), and its documents are written
``BATCH`` at a time, each batch holding the engine on its own, so
transactions and other writes run between batches. MongoDB's ``$merge`` is
not atomic either: it writes document by document.

Handled: ``on`` the ``_id``, ``whenMatched`` ``replace``, ``merge`` or
``keepExisting``, ``whenNotMatched`` ``insert`` or ``discard``. Other forms
(custom ``on`` fields, pipelines, ``fail``) are left to mongoeco.

``$out`` (which mongoeco does not know) replaces the target collection's
documents with the pipeline's in one engine transaction: readers see the old
documents or the new ones, never a mixture, and the target keeps its indexes,
as on MongoDB. Its change streams see deletes and inserts where MongoDB's see
the collection replaced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mongoeco.errors import BulkWriteError

from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.indexes import storage_key

OUT_WAIT_SECONDS = 10.0

BATCH = 100
_MATCHED = ("replace", "merge", "keepExisting")
_NOT_MATCHED = ("insert", "discard")
# (namespace, pipeline, let) -> the pipeline's documents, or None.
Pipeline = Callable[[str, list[Any], Any], Awaitable[list[dict[str, Any]] | None]]


def target(db_name: str, pipeline: Any) -> tuple[str, str, str, str] | None:
    """``(db, collection, whenMatched, whenNotMatched)`` of a ``$merge`` this module runs."""
    if not isinstance(pipeline, list) or not pipeline or not isinstance(pipeline[-1], dict) \
            or set(pipeline[-1]) != {"$merge"}:
        return None
    spec = pipeline[-1]["$merge"]
    if isinstance(spec, str):
        spec = {"into": spec}
    if not isinstance(spec, dict) or set(spec) - {"into", "on", "whenMatched",
                                                  "whenNotMatched"}:
        return None
    into = spec.get("into")
    if isinstance(into, dict) and set(into) <= {"db", "coll"} and isinstance(
            into.get("coll"), str):
        db_name, coll_name = str(into.get("db", db_name)), into["coll"]
    elif isinstance(into, str):
        coll_name = into
    else:
        return None
    on = spec.get("on", "_id")
    matched = spec.get("whenMatched", "merge")
    not_matched = spec.get("whenNotMatched", "insert")
    if on not in ("_id", ["_id"]) or matched not in _MATCHED or not_matched not in _NOT_MATCHED:
        return None
    return db_name, coll_name, matched, not_matched


def out_target(db_name: str, pipeline: Any) -> tuple[str, str] | None:
    """``(db, collection)`` of a pipeline's final ``$out``; None if it has none
    (or a time series one, left to mongoeco)."""
    if not isinstance(pipeline, list) or not pipeline or not isinstance(pipeline[-1], dict) \
            or set(pipeline[-1]) != {"$out"}:
        return None
    spec = pipeline[-1]["$out"]
    if isinstance(spec, str) and spec:
        return db_name, spec
    if isinstance(spec, dict) and set(spec) <= {"db", "coll"} and \
            isinstance(spec.get("coll"), str) and spec["coll"]:
        return str(spec.get("db", db_name)), spec["coll"]
    return None


class ReplacingOut:
    def __init__(self, client: Any, access: EngineAccess, aggregate: Pipeline) -> None:
        self._client = client
        self._access = access
        self._aggregate = aggregate

    async def run(self, context: Any) -> dict[str, Any] | None:
        command = context.command_document
        pipeline = command.get("pipeline")
        out = out_target(context.db_name, pipeline)
        source = command.get("aggregate")
        if out is None or not isinstance(source, str):
            return None
        if any(isinstance(stage, dict) and "$out" in stage for stage in pipeline[:-1]):
            raise CommandError(40601, "Location40601", "$out can only be the final stage")
        async with self._access.shared():
            documents = await self._aggregate(f"{context.db_name}.{source}", pipeline[:-1],
                                              command.get("let")) or []
        db_name, coll_name = out
        database = self._client.get_database(db_name)
        async with self._access.shared():
            if coll_name not in await database.list_collection_names():
                await database.create_collection(coll_name)
        collection = database.get_collection(coll_name)
        async with self._access.exclusive(OUT_WAIT_SECONDS):
            session = self._client.start_session()
            session.start_transaction()
            try:
                await collection.delete_many({}, session=session)
                if documents:
                    await collection.insert_many(documents, session=session)
                session.commit_transaction()
            except BaseException:
                session.abort_transaction()
                raise
            finally:
                session.close()
        return {"cursor": {"firstBatch": [], "id": 0, "ns": f"{context.db_name}.{source}"},
                "ok": 1.0}


class BatchedMerge:
    def __init__(self, client: Any, access: EngineAccess, pipeline: Pipeline) -> None:
        self._client = client
        self._access = access
        self._pipeline = pipeline

    async def run(self, context: Any) -> dict[str, Any] | None:
        command = context.command_document
        pipeline = command.get("pipeline")
        merge = target(context.db_name, pipeline)
        source = command.get("aggregate")
        if merge is None or not isinstance(source, str) or \
                set(command) - {"aggregate", "pipeline", "cursor", "comment", "maxTimeMS",
                                "allowDiskUse", "let", "readConcern", "writeConcern"}:
            return None
        documents = await self._pipeline(f"{context.db_name}.{source}", pipeline[:-1],
                                         command.get("let"))
        if documents is None:
            return None
        db_name, coll_name, matched, not_matched = merge
        collection = self._client.get_database(db_name).get_collection(coll_name)
        for start in range(0, len(documents), BATCH):
            batch = documents[start:start + BATCH]
            ids = [d["_id"] for d in batch if "_id" in d]
            present = await self._pipeline(
                f"{db_name}.{coll_name}",
                [{"$match": {"_id": {"$in": ids}}}, {"$project": {"_id": 1}}], None) or []
            existing = {storage_key(d["_id"]) for d in present}
            async with self._access.shared():
                await self._write(collection, batch, existing, matched, not_matched)
        return {"cursor": {"firstBatch": [], "id": 0,
                           "ns": f"{context.db_name}.{source}"}, "ok": 1.0}

    @staticmethod
    async def _write(collection: Any, documents: list[dict[str, Any]], existing: set[str],
                     matched: str, not_matched: str) -> None:
        new = [d for d in documents if "_id" not in d or storage_key(d["_id"]) not in existing]
        old = [d for d in documents if "_id" in d and storage_key(d["_id"]) in existing]
        if new and not_matched == "insert":
            try:
                await collection.insert_many(new, ordered=False)
            except BulkWriteError as error:
                # Inserted meanwhile by someone else: now a match.
                errors = (getattr(error, "details", None) or {}).get("writeErrors", [])
                if any(e.get("code") != 11000 for e in errors):
                    raise
                failed = {e.get("index") for e in errors}
                old += [d for position, d in enumerate(new) if position in failed]
        for document in old:
            if matched == "replace":
                await collection.replace_one({"_id": document["_id"]}, document,
                                             upsert=not_matched == "insert")
            elif matched == "merge":
                fields = {k: v for k, v in document.items() if k != "_id"}
                if fields:
                    await collection.update_one({"_id": document["_id"]}, {"$set": fields},
                                                upsert=not_matched == "insert")
