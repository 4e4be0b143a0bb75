"""``createIndexes``, ``listIndexes``, ``dropIndexes`` over three kinds of index.

- text indexes: kept by the layer (``text_search``; mongoeco cannot build
  MFlix's compound text index over array fields);
- plain ascending/descending indexes without options: kept by the layer
  (``indexes.IndexCatalog``), in memory, for the planner; mongoeco never sees
  them, so its writes do not maintain index tables nobody reads (measured:
  creating one scalar index on 20,000 documents took mongoeco 43 s);
- everything else (unique, sparse, partial, TTL, collation, geo): mongoeco's,
  which enforces them; the planner also reads the simple ones.

``listIndexes`` shows all three; names and conflicts follow MongoDB.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.indexes import ID_INDEX, IndexCatalog, IndexSpec
from pialara_async.embedded.text_search import TextIndexSpec, TextSearch

Execute = Callable[[Any], Awaitable[dict[str, Any]]]


def _is_text(request: Any) -> bool:
    return isinstance(request, dict) and isinstance(request.get("key"), dict) and \
        "text" in request["key"].values()


class IndexCommands:
    def __init__(self, catalog: IndexCatalog, search: TextSearch, client: Any) -> None:
        self.catalog = catalog
        self.search = search
        self._client = client

    async def _engine_indexes(self, db_name: str, coll_name: str) -> list[dict[str, Any]] | None:
        """mongoeco's indexes of a collection; None when the collection does not exist."""
        database = self._client.get_database(db_name)
        if coll_name not in await database.list_collection_names():
            return None
        return await database.get_collection(coll_name).list_indexes().to_list()

    async def _count(self, namespace: str, engine: list[dict[str, Any]] | None) -> int:
        text = await self.search.spec(namespace)
        return len(engine or []) + len(await self.catalog.owned(namespace)) + (text is not None)

    # --- createIndexes -----------------------------------------------------------------

    async def create_indexes(self, context: Any, execute: Execute) -> dict[str, Any] | None:
        command = context.command_document
        coll_name = command.get("createIndexes")
        requests = command.get("indexes")
        if not isinstance(coll_name, str) or not isinstance(requests, list):
            return None  # mongoeco answers malformed commands
        namespace = f"{context.db_name}.{coll_name}"
        texts = [r for r in requests if _is_text(r)]
        owned = {id(r): spec for r in requests if not _is_text(r)
                 and (spec := IndexSpec.ownable(r)) is not None}
        if not texts and not owned:
            return None
        engine = await self._engine_indexes(context.db_name, coll_name)
        before = await self._count(namespace, engine)
        new = await self._new_owned(namespace, engine, list(owned.values()))
        for request in texts:
            TextIndexSpec.from_index(request)  # refuse what the layer cannot index
        created = engine is None
        if created:
            await self._client.get_database(context.db_name).create_collection(coll_name)
        others = [r for r in requests if id(r) not in owned and not _is_text(r)]
        added = 0
        if others:
            command["indexes"] = others
            reply = await execute(context)
            if not reply.get("ok"):
                return reply
            added = int(reply.get("numIndexesAfter", 0)) - int(reply.get("numIndexesBefore", 0))
        for request in texts:
            added += await self.search.create(namespace, request)
        for spec in new:
            await self.catalog.add_owned(namespace, spec)
        before += created  # the new collection's _id index
        after = before + added + len(new)
        reply = {"numIndexesBefore": before, "numIndexesAfter": after,
                 "createdCollectionAutomatically": created, "ok": 1.0}
        if after == before:
            reply["note"] = "all indexes already exist"
        return reply

    async def _new_owned(self, namespace: str, engine: list[dict[str, Any]] | None,
                         specs: list[IndexSpec]) -> list[IndexSpec]:
        """Those of ``specs`` that do not exist yet; conflicts answer MongoDB's errors."""
        existing = [IndexSpec.from_key(str(row.get("name")), row.get("key"), owned=False)
                    for row in engine or []]
        existing += list((await self.catalog.owned(namespace)).values())
        new: list[IndexSpec] = []
        for spec in specs:
            same_name = next((e for e in existing if e is not None and e.name == spec.name), None)
            if same_name is not None:
                if not same_name.same_key(spec):
                    raise CommandError(86, "IndexKeySpecsConflict",
                                       f"an index named {spec.name!r} exists with another key")
                continue
            if any(e is not None and e.same_key(spec) for e in existing + new):
                raise CommandError(85, "IndexOptionsConflict",
                                   f"an index with the key of {spec.name!r} exists "
                                   "under another name")
            new.append(spec)
        return new

    # --- listIndexes --------------------------------------------------------------------

    async def list_indexes(self, context: Any, execute: Execute) -> dict[str, Any]:
        reply = await execute(context)
        namespace = f"{context.db_name}.{context.command_document.get('listIndexes')}"
        cursor = reply.get("cursor")
        if isinstance(cursor, dict) and isinstance(cursor.get("firstBatch"), list):
            text = await self.search.spec(namespace)
            if text is not None:
                cursor["firstBatch"].append(text.describe())
            cursor["firstBatch"].extend(
                spec.describe() for spec in (await self.catalog.owned(namespace)).values())
        return reply

    # --- dropIndexes ----------------------------------------------------------------------

    async def drop_indexes(self, context: Any, execute: Execute) -> dict[str, Any]:
        command = context.command_document
        coll_name = command.get("dropIndexes")
        namespace = f"{context.db_name}.{coll_name}"
        target = command.get("index")
        owned = await self.catalog.owned(namespace)
        text = await self.search.spec(namespace)
        if target == "*":
            await self.catalog.drop_owned(namespace)
            await self.search.drop(namespace)
            return await execute(context)
        if isinstance(target, dict):
            key = IndexSpec.from_key("", target, owned=True)
            names = [s.name for s in owned.values() if key is not None and s.same_key(key)]
            if not names:
                return await execute(context)
        else:
            names = target if isinstance(target, list) else [target]
        mine = [n for n in names if n in owned or (text is not None and n == text.name)]
        if not mine:
            return await execute(context)
        if ID_INDEX in names:
            raise CommandError(72, "InvalidOptions", "cannot drop _id index")
        total = await self._count(namespace, await self._engine_indexes(context.db_name,
                                                                       str(coll_name)))
        await self.catalog.drop_owned(namespace, mine)
        if text is not None and text.name in mine:
            await self.search.drop(namespace)
        rest = [n for n in names if n not in mine]
        if rest:
            command["index"] = rest if isinstance(target, list) else rest[0]
            reply = await execute(context)
            reply["nIndexesWas"] = total
            return reply
        return {"nIndexesWas": total, "ok": 1.0}

    # --- collections that go or move ------------------------------------------------

    async def collection_dropped(self, namespace: str) -> None:
        await self.search.drop(namespace)
        await self.catalog.drop_owned(namespace)

    async def database_dropped(self, db_name: str) -> None:
        await self.search.drop_database(db_name)
        for namespace in await self.catalog.namespaces(db_name):
            await self.catalog.drop_owned(namespace)
        self.catalog.forget()

    async def collection_renamed(self, source: str, target: str) -> None:
        await self.search.rename(source, target)
        await self.catalog.rename_owned(source, target)
        self.catalog.forget()
