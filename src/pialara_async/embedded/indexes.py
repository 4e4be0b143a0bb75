"""Secondary indexes the planner reads, kept in memory and current with every commit.

mongoeco answers queries by scanning its JSON documents (its own index tables
serve a few single-field equality lookups): a sorted page of 20 movies scanned
all 23,530 of them. Here every index of a collection (``_id``, the indexes the
layer keeps for itself, and the simple ones mongoeco keeps, such as unique
indexes) is a sorted list of ``((key, ...), storage key)`` entries, with keys
from ``bson_order`` so Python's order is MongoDB's.

An index is built from one scan of the collection the first time a query needs
it (in a worker thread, reading SQLite directly), then kept current from the
change events mongoeco publishes as each write commits; queries apply the
events published so far before they read, so they see every write
acknowledged before them. Transactions publish their events when they commit.

Keys follow MongoDB's paths: a dotted path descends into embedded documents
and into the documents of arrays on the way, a leaf array contributes each
element (the index is then multikey for that field), a missing field is null.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bson import SON
from mongoeco.core.identity import canonical_document_id
from mongoeco.wire.bson_bridge import encode_wire_value
from sortedcontainers import SortedList

from pialara_async.embedded import seam
from pialara_async.embedded.bson_order import EMPTY_ARRAY, MISSING, OTHER, order_key
from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.stored import EncodedDocuments, StoredDocuments, public_document
from pialara_async.embedded.text_search import TextIndex, TextIndexSpec

log = logging.getLogger(__name__)

REGISTRY_DB = "__pialara"
REGISTRY_COLLECTION = "indexes"
ID_INDEX = "_id_"
# Index options the layer keeps itself; any other (unique, sparse, partial,
# TTL, collation, special key types) leaves the index to mongoeco.
_OWNED_OPTIONS = frozenset({"key", "name", "v", "background", "ns"})
# Above every key: closes a range over a key prefix.
TOP = (1_000,)


def storage_key(document_id: Any) -> str:
    """mongoeco's storage key of a document with this (internal-form) ``_id``."""
    return repr(canonical_document_id(document_id))


def _direction(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return 1 if value > 0 else -1 if value < 0 else None


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    fields: tuple[str, ...]
    directions: tuple[int, ...]
    owned: bool = False  # kept by the layer alone; mongoeco never sees it

    @classmethod
    def from_key(cls, name: str, key: Any, *, owned: bool) -> IndexSpec | None:
        """A plain ascending/descending key pattern, or None (special index types)."""
        items = list(key.items()) if isinstance(key, dict) else None
        if not items:
            return None
        directions = [_direction(v) for _k, v in items]
        fields = [str(k) for k, _v in items]
        if None in directions or any(not f or any(p.isdigit() or not p for p in f.split("."))
                                      for f in fields):
            return None  # text, 2dsphere, hashed...; positional paths
        return cls(name, tuple(fields), tuple(d for d in directions if d is not None), owned)

    @classmethod
    def ownable(cls, request: Any) -> IndexSpec | None:
        """The spec of a ``createIndexes`` entry the layer keeps itself, else None."""
        if not isinstance(request, dict) or set(request) - _OWNED_OPTIONS:
            return None
        if not isinstance(request.get("name"), str) or not request["name"]:
            return None
        spec = cls.from_key(request["name"], request.get("key"), owned=True)
        if spec is None or spec.fields == ("_id",):
            return None
        return spec

    @classmethod
    def mirror(cls, listed: dict[str, Any]) -> IndexSpec | None:
        """A mongoeco index the planner may read (no partial, sparse or collated ones)."""
        if {"partialFilterExpression", "sparse", "collation", "hidden"} & set(listed):
            return None
        return cls.from_key(str(listed.get("name")), listed.get("key"), owned=False)

    def describe(self) -> dict[str, Any]:
        """The entry ``listIndexes`` shows."""
        return {"v": 2, "key": SON(zip(self.fields, self.directions, strict=True)),
                "name": self.name}

    def same_key(self, other: IndexSpec) -> bool:
        return self.fields == other.fields and self.directions == other.directions


ID_SPEC = IndexSpec(ID_INDEX, ("_id",), (1,))


# One key object per distinct string: cast names and genres repeat across
# thousands of entries.
_STRING_KEYS: dict[str, tuple[Any, ...]] = {}


def _key(value: Any) -> tuple[Any, ...]:
    if type(value) is str:
        key = _STRING_KEYS.get(value)
        if key is None:
            if len(_STRING_KEYS) > 1_000_000:
                _STRING_KEYS.clear()
            key = _STRING_KEYS[value] = order_key(value)
        return key
    return order_key(value)


def path_keys(document: dict[str, Any], path: str) -> tuple[list[tuple[Any, ...]], bool]:
    """Index keys of ``path`` in ``document`` and whether an array was met."""
    values: list[Any] = [document]
    arrays = False
    for part in path.split("."):
        following: list[Any] = []
        for value in values:
            if isinstance(value, dict):
                if part in value:
                    following.append(value[part])
            elif isinstance(value, list):
                arrays = True
                following.extend(item[part] for item in value
                                 if isinstance(item, dict) and part in item)
        values = following
    keys: list[tuple[Any, ...]] = []
    for value in values:
        if isinstance(value, list):
            arrays = True
            keys.extend(_key(item) for item in value) if value else keys.append(EMPTY_ARRAY)
        else:
            keys.append(_key(value))
    if not keys:
        keys.append(MISSING)
    return keys, arrays


class SecondaryIndex:
    """One index: entries ``((key, ...), storage key)`` in MongoDB's order."""

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.entries: SortedList = SortedList()
        self.by_document: dict[str, list[tuple[Any, ...]]] = {}
        self.multikey = [False] * len(spec.fields)
        self.exact = True  # every key is of a type whose order_key is faithful

    def __len__(self) -> int:
        return len(self.by_document)

    def _combinations(self, key: str, document: dict[str, Any]) -> list[tuple[Any, ...]]:
        per_field: list[list[tuple[Any, ...]]] = []
        for position, path in enumerate(self.spec.fields):
            keys, arrays = path_keys(document, path)
            if arrays:
                self.multikey[position] = True
            if any(k[0] == OTHER for k in keys):
                self.exact = False
            per_field.append(list(dict.fromkeys(keys)) if len(keys) > 1 else keys)
        combos = list(itertools.product(*per_field))
        self.by_document[key] = combos
        return combos

    def put(self, key: str, document: dict[str, Any]) -> None:
        self.remove(key)
        self.entries.update((combo, key) for combo in self._combinations(key, document))

    def load(self, documents: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Index many documents at once (sorting once, not entry by entry)."""
        entries = [(combo, key) for key, document in documents
                   for combo in self._combinations(key, document)]
        self.entries = SortedList([*self.entries, *entries])

    def remove(self, key: str) -> None:
        combos = self.by_document.pop(key, None)
        if combos:
            for combo in combos:
                self.entries.discard((combo, key))

    def keys_of(self, key: str) -> list[tuple[Any, ...]]:
        return self.by_document.get(key, [])

    def between(self, low: tuple[Any, ...], high: tuple[Any, ...], *,
                reverse: bool = False) -> Iterator[tuple[tuple[Any, ...], str]]:
        """Entries whose keys lie in ``[low, high)``, compared as key prefixes."""
        return self.entries.irange((low,), (high,), inclusive=(True, False), reverse=reverse)


@dataclass(slots=True)
class CollectionIndexes:
    """All indexes of one collection, and its documents' count."""

    namespace: str
    specs: tuple[IndexSpec, ...]
    text: TextIndex | None = None
    indexes: dict[str, SecondaryIndex] = field(default_factory=dict)
    ready: asyncio.Future[None] | None = None
    pending: list[Any] = field(default_factory=list)
    position: int = 0  # hub token the scan started from

    def __post_init__(self) -> None:
        self.indexes = {spec.name: SecondaryIndex(spec) for spec in self.specs}

    @property
    def ids(self) -> SecondaryIndex:
        return self.indexes[ID_INDEX]

    def put(self, key: str, document: dict[str, Any]) -> None:
        for index in self.indexes.values():
            index.put(key, document)
        if self.text is not None:
            self.text.put(key, document)

    def load(self, documents: list[tuple[str, dict[str, Any]]]) -> None:
        """Index a batch of documents not indexed yet."""
        for index in self.indexes.values():
            index.load(documents)
        if self.text is not None:
            for key, document in documents:
                self.text.put(key, document)

    def remove(self, key: str) -> None:
        for index in self.indexes.values():
            index.remove(key)
        if self.text is not None:
            self.text.remove(key)

    def apply(self, event: Any) -> bool:
        """Apply one committed change; False when it changes more than one document."""
        kind = event.operation_type
        document_id = (event.document_key or {}).get("_id")
        if kind in ("insert", "update", "replace") and event.full_document is not None:
            self.put(storage_key(document_id), encode_wire_value(event.full_document))
            return True
        if kind == "delete":
            self.remove(storage_key(document_id))
            return True
        return False


class IndexCatalog:
    """Indexes of every collection a query has asked about, kept current."""

    def __init__(self, client: Any, stored: StoredDocuments, access: EngineAccess) -> None:
        self._client = client
        self._stored = stored
        self._access = access
        self._owned: dict[str, dict[str, IndexSpec]] | None = None
        self._mirrored: dict[str, tuple[IndexSpec, ...]] = {}
        self._collections: dict[str, CollectionIndexes] = {}
        self._changes: collections.deque[Any] = collections.deque()
        self.encoded = EncodedDocuments()
        # Set by text_search.TextSearch: the text index definition of a collection.
        self.text_spec: Callable[[str], Awaitable[TextIndexSpec | None]] | None = None
        self._hub = client.get_database("admin")._change_hub
        # Publish changes even when no stream watches (an in-memory engine
        # publishes only to watchers), and see each as it is appended.
        self._hub.register_watcher()
        listeners = self._hub.__dict__.setdefault("_pialara_listeners", [])
        listeners.append(self._changes.append)
        # Writes the hub could not publish (a gap in its tokens, a failed
        # publication): whatever they changed, these indexes never saw it.
        self._missed = False
        self.rebuilds_after_missed_writes = 0
        self._hub.__dict__.setdefault("_pialara_gap_listeners", []).append(self._note_missed)

    # --- definitions ----------------------------------------------------------------

    def _registry(self) -> Any:
        return self._client.get_database(REGISTRY_DB).get_collection(REGISTRY_COLLECTION)

    async def owned(self, namespace: str) -> dict[str, IndexSpec]:
        if self._owned is None:
            owned: dict[str, dict[str, IndexSpec]] = {}
            async with self._access.shared():
                rows = await self._registry().find({}).to_list()
            for row in rows:
                spec = IndexSpec.from_key(row["name"], SON(row["key"]), owned=True)
                if spec is not None:
                    owned.setdefault(row["ns"], {})[spec.name] = spec
            self._owned = owned
        return self._owned.get(namespace, {})

    async def add_owned(self, namespace: str, spec: IndexSpec) -> None:
        await self._registry().replace_one(
            {"_id": f"{namespace}\x00{spec.name}"},
            {"ns": namespace, "name": spec.name,
             "key": [[f, d] for f, d in zip(spec.fields, spec.directions, strict=True)]},
            upsert=True)
        (await self.owned(namespace))  # loaded
        assert self._owned is not None
        self._owned.setdefault(namespace, {})[spec.name] = spec
        self.forget(namespace)

    async def drop_owned(self, namespace: str, names: Iterable[str] | None = None) -> list[str]:
        """Forget owned indexes (all of them when ``names`` is None); returns those dropped."""
        current = await self.owned(namespace)
        dropped = [n for n in current if names is None or n in set(names)]
        for name in dropped:
            await self._registry().delete_one({"_id": f"{namespace}\x00{name}"})
            del current[name]
        self.forget(namespace)
        return dropped

    async def namespaces(self, db_name: str) -> list[str]:
        """Collections of ``db_name`` with indexes the layer keeps."""
        await self.owned("")
        assert self._owned is not None
        return [ns for ns in self._owned if ns.split(".", 1)[0] == db_name]

    async def rename_owned(self, source: str, target: str) -> None:
        specs = list((await self.owned(source)).values())
        await self.drop_owned(source)
        for spec in specs:
            await self.add_owned(target, spec)

    def forget(self, namespace: str | None = None) -> None:
        """Definitions or data changed by a command: rebuild before the next query."""
        if namespace is None:
            self._collections.clear()
            self._mirrored.clear()
        else:
            self._collections.pop(namespace, None)
            self._mirrored.pop(namespace, None)
        self.encoded.clear(namespace)

    async def specs(self, namespace: str) -> tuple[IndexSpec, ...]:
        mirrored = self._mirrored.get(namespace)
        if mirrored is None:
            db_name, coll_name = namespace.split(".", 1)
            collection = self._client.get_database(db_name).get_collection(coll_name)
            try:
                async with self._access.shared():
                    listed = await collection.list_indexes().to_list()
            except CommandError:
                raise
            except Exception:  # no such collection yet
                listed = []
            mirrored = tuple(spec for row in listed if row.get("name") != ID_INDEX
                             and (spec := IndexSpec.mirror(row)) is not None)
            self._mirrored[namespace] = mirrored
        return (ID_SPEC, *mirrored, *(await self.owned(namespace)).values())

    # --- data ---------------------------------------------------------------------------

    def _note_missed(self) -> None:
        self._missed = True  # on the engine's thread: read by _drain

    def _drain(self) -> None:
        if self._missed:
            self._missed = False
            self.rebuilds_after_missed_writes += 1
            log.warning("the change history has a gap (writes no event described): "
                        "the layer's indexes and document cache are rebuilt")
            self._changes.clear()
            self.forget()
            return
        while self._changes:
            event = self._changes.popleft()
            namespace = f"{event.db_name}.{event.coll_name}"
            state = self._collections.get(namespace)
            if state is None:
                continue
            if state.ready is not None and not state.ready.done():
                state.pending.append(event)
            elif state.apply(event):
                self.encoded.discard(namespace, storage_key((event.document_key or {}).get("_id")))
            else:
                self.forget(namespace)

    async def collection(self, namespace: str) -> CollectionIndexes:
        """The collection's indexes, current with every change committed so far."""
        self._drain()
        state = self._collections.get(namespace)
        if state is None:
            text = None if self.text_spec is None else await self.text_spec(namespace)
            state = CollectionIndexes(namespace, await self.specs(namespace),
                                      None if text is None else TextIndex(text))
            self._collections[namespace] = state
            state.ready = asyncio.get_running_loop().create_future()
            try:
                await self._build(state)
            except BaseException as error:
                if self._collections.get(namespace) is state:
                    del self._collections[namespace]
                if isinstance(error, asyncio.CancelledError):
                    state.ready.cancel()
                else:
                    state.ready.set_exception(error)
                    state.ready.exception()  # retrieved: waiters see it, nobody else
                raise
            state.ready.set_result(None)
            self._drain()
        elif state.ready is not None and not state.ready.done():
            await asyncio.shield(state.ready)
            self._drain()
        return state

    async def _build(self, state: CollectionIndexes) -> None:
        with self._hub._condition:
            state.position = self._hub._next_token
        db_name, coll_name = state.namespace.split(".", 1)
        await asyncio.to_thread(self._scan, state, db_name, coll_name)
        for event in state.pending:
            if event.token >= state.position and not state.apply(event):
                raise CommandError(1, "InternalError", "collection changed while indexing")
        state.pending.clear()
        log.debug("indexed %s: %d documents", state.namespace, len(state.ids))

    def _scan(self, state: CollectionIndexes, db_name: str, coll_name: str) -> None:
        connection = self._stored.connect()
        try:
            state.load([(key, public_document(text)) for key, text in
                        StoredDocuments.scan(connection, db_name, coll_name)])
        finally:
            connection.close()

    async def warm(self, namespaces: Iterable[str]) -> None:
        """Build the indexes of ``namespaces`` ahead of the queries that need them."""
        for namespace in namespaces:
            try:
                await self.collection(namespace)
            except asyncio.CancelledError:
                raise
            except Exception:  # a query will build it (and report) when it needs it
                log.exception("indexing %s failed", namespace)

    async def namespaces_with_indexes(self) -> list[str]:
        """Collections with an index of the layer's own (the first thing they answer)."""
        await self.owned("")
        assert self._owned is not None
        return [ns for ns, specs in self._owned.items() if specs]

    def close(self) -> None:
        listeners = self._hub.__dict__.get("_pialara_listeners", [])
        with contextlib.suppress(ValueError):
            listeners.remove(self._changes.append)
        with contextlib.suppress(ValueError):
            self._hub.__dict__.get("_pialara_gap_listeners", []).remove(self._note_missed)
        self._hub.unregister_watcher()


_append_committed = None


def install() -> None:
    """Let catalogs see each change event as the hub appends it (idempotent)."""
    global _append_committed
    from mongoeco._change_streams.hub import ChangeStreamHub

    if _append_committed is not None:
        return
    _append_committed = ChangeStreamHub._append_committed_event_locked

    def append_and_tell(hub: Any, event: Any) -> None:
        _append_committed(hub, event)
        for listener in hub.__dict__.get("_pialara_listeners", ()):
            listener(event)

    def telling(original: Callable[..., Any]) -> Callable[..., Any]:
        def record_and_tell(hub: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(hub, *args, **kwargs)
            finally:
                for listener in hub.__dict__.get("_pialara_gap_listeners", ()):
                    listener()
        return record_and_tell

    seam.rebind([
        (ChangeStreamHub, "_append_committed_event_locked", append_and_tell),
        # Every way the hub learns of writes it did not publish.
        (ChangeStreamHub, "_record_gap_locked", telling(ChangeStreamHub._record_gap_locked)),
        (ChangeStreamHub, "_record_gap_range_locked",
         telling(ChangeStreamHub._record_gap_range_locked)),
        (ChangeStreamHub, "mark_publish_failure", telling(ChangeStreamHub.mark_publish_failure)),
    ])
