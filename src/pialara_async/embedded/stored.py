"""Documents as mongoeco stores them, read straight from its SQLite file.

mongoeco keeps each document as JSON in ``documents(db_name, coll_name,
storage_key, document)``, with BSON types JSON lacks tagged as
``{"$mongoeco": {"type": ..., "value": ...}}``. ``public_document`` turns that
JSON into the values a driver receives (pymongo's ``bson`` types), in one pass:
the same values mongoeco's own read path produces (decode, then its wire
bridge), at a fraction of the cost. ``engine_document`` gives mongoeco's
internal form, for its matcher and aggregation stages.

``StoredDocuments`` reads through a read-only connection of its own. SQLite
runs in WAL mode, so it sees the last committed state and never waits for the
engine's writer.
"""

from __future__ import annotations

import binascii
import collections
import datetime
import decimal
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from bson import SON, Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex
from bson import Timestamp as BsonTimestamp
from bson.binary import UuidRepresentation
from mongoeco.core.codec import DocumentCodec

MARKER = "$mongoeco"
_FETCH_CHUNK = 500  # SQLite's default limit of bound parameters is far above


def _tagged(kind: str, value: Any) -> Any:
    if kind == "objectid":
        return ObjectId(value)
    if kind == "datetime":
        return datetime.datetime.fromisoformat(value)
    if kind == "int64":
        return Int64(int(value))
    if kind == "int32":
        return int(value)
    if kind == "double":
        return float(value)
    if kind in ("decimal", "decimal128", "decimal128_public"):
        return Decimal128(decimal.Decimal(value))
    if kind == "uuid":
        return Binary.from_uuid(uuid.UUID(value), UuidRepresentation.STANDARD)
    if kind == "binary":
        return Binary(binascii.unhexlify(value["hex"]), int(value["subtype"]))
    if kind == "bytes":
        return Binary(binascii.unhexlify(value))
    if kind == "regex":
        return Regex(value["pattern"], value["flags"])
    if kind == "timestamp":
        return BsonTimestamp(int(value["time"]), int(value["inc"]))
    if kind == "minkey":
        return MinKey()
    if kind == "maxkey":
        return MaxKey()
    if kind == "undefined":
        return None
    if kind == "dict":
        return {k: _public(v) for k, v in value.items()}
    if kind == "son":
        return SON((str(k), _public(v)) for k, v in value)
    if kind == "code":
        scope = value["scope"]
        return Code(value["code"], None if scope is None else _public(scope))
    if kind == "dbref":
        extras = _public(value["extras"]) or {}
        return DBRef(value["collection"], _public(value["id"]), value["database"], **extras)
    raise ValueError(f"unknown stored value type {kind!r}")


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        if MARKER in value and len(value) == 1:
            payload = value[MARKER]
            if isinstance(payload, dict) and len(payload) == 2 and "type" in payload:
                return _tagged(payload["type"], payload["value"])
        return {k: _public(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) if isinstance(v, dict | list) else v for v in value]
    return value


def _loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN and Infinity, which mongoeco writes bare


def public_document(text: str | bytes) -> dict[str, Any]:
    """A stored document as a driver receives it."""
    parsed = _loads(text)
    tagged = MARKER in text if isinstance(text, str) else MARKER.encode() in text
    return _public(parsed) if tagged else parsed


def engine_document(text: str | bytes) -> dict[str, Any]:
    """A stored document in mongoeco's internal form (for its matcher and stages)."""
    return DocumentCodec.decode(_loads(text), preserve_bson_wrappers=True)


class EncodedDocuments:
    """BSON of documents read lately, by namespace and storage key, up to
    ``limit`` bytes (least recently used go first). The index catalog drops an
    entry as soon as a change to its document commits, so an entry is always
    the committed document."""

    def __init__(self, limit: int = 64 * 1024 * 1024) -> None:
        self._limit = limit
        self._size = 0
        self._entries: collections.OrderedDict[tuple[str, str], bytes] = \
            collections.OrderedDict()

    def get(self, namespace: str, key: str) -> bytes | None:
        found = self._entries.get((namespace, key))
        if found is not None:
            self._entries.move_to_end((namespace, key))
        return found

    def put(self, namespace: str, key: str, data: bytes) -> None:
        self.discard(namespace, key)
        self._entries[(namespace, key)] = data
        self._size += len(data)
        while self._size > self._limit and self._entries:
            _old, dropped = self._entries.popitem(last=False)
            self._size -= len(dropped)

    def discard(self, namespace: str, key: str) -> None:
        dropped = self._entries.pop((namespace, key), None)
        if dropped is not None:
            self._size -= len(dropped)

    def clear(self, namespace: str | None = None) -> None:
        if namespace is None:
            self._entries.clear()
            self._size = 0
            return
        for entry in [e for e in self._entries if e[0] == namespace]:
            self._size -= len(self._entries.pop(entry))


class StoredDocuments:
    """Reads documents of one SQLite file by storage key, or all of a collection."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def connect(self) -> sqlite3.Connection:
        """A new read-only connection (one per thread that reads)."""
        if self.path is None:
            raise RuntimeError("an in-memory engine has no file to read")
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                     check_same_thread=False, cached_statements=64)
        connection.execute("PRAGMA query_only = ON")
        return connection

    @property
    def _reader(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self.connect()
        return self._connection

    def fetch(self, db_name: str, coll_name: str, keys: Iterable[str]) -> dict[str, str]:
        """``storage key -> stored JSON`` of those of ``keys`` that exist."""
        wanted = list(keys)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _FETCH_CHUNK):
            chunk = wanted[start:start + _FETCH_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._reader.execute(
                "SELECT storage_key, document FROM documents WHERE db_name = ? AND "
                f"coll_name = ? AND storage_key IN ({marks})", (db_name, coll_name, *chunk))
            found.update(rows)
        return found

    def count(self, db_name: str, coll_name: str) -> int:
        row = self._reader.execute(
            "SELECT COUNT(*) FROM documents WHERE db_name = ? AND coll_name = ?",
            (db_name, coll_name)).fetchone()
        return int(row[0])

    @staticmethod
    def scan(connection: sqlite3.Connection, db_name: str,
             coll_name: str) -> Iterator[tuple[str, str]]:
        """Every ``(storage key, stored JSON)`` of a collection, in one read transaction."""
        yield from connection.execute(
            "SELECT storage_key, document FROM documents WHERE db_name = ? AND coll_name = ?",
            (db_name, coll_name))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
