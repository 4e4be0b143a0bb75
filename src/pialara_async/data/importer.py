"""``import``: MongoDB's sample data as users obtain it.

- mongoexport output: a JSON array or one document per line, relaxed or
  canonical Extended JSON (``.json``);
- mongodump output: BSON documents back to back (``.bson``, ``.bson.gz``).

The collection comes from the file name (``movies.json``,
``sample_mflix.movies.json``, ``movies.bson.gz``) unless given. A malformed
document stops the import with the file, the line (JSON) or byte offset (BSON)
and what is wrong; what was written before it is reported by the caller.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
from bson import json_util
from bson.errors import InvalidBSON

from pialara_async.data.load import insert_batches

_SUFFIXES = (".bson.gz", ".json.gz", ".bson", ".json")
_JSON_OPTIONS = json_util.JSONOptions(tz_aware=False)
_MAX_BSON = 16 * 1024 * 1024 + 16 * 1024


class MalformedInput(Exception):
    """A document that cannot be read; the message names where and why."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    collection: str
    written: int


def collection_for(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            # "sample_mflix.movies" → "movies"; a collection name itself may
            # not hold the database's dot.
            collection = stem.rsplit(".", 1)[-1] if "." in stem else stem
            if collection and re.fullmatch(r"[^$\0]+", collection):
                return collection
    raise MalformedInput(
        f"{path}: cannot tell the collection from the file name; use --collection"
    )


def _open(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def read_documents(path: Path) -> Iterator[dict[str, Any]]:
    if path.name.endswith((".bson", ".bson.gz")):
        yield from _read_bson(path)
    else:
        yield from _read_json(path)


def _read_bson(path: Path) -> Iterator[dict[str, Any]]:
    with _open(path) as stream:
        offset = 0
        while header := stream.read(4):
            if len(header) < 4:
                raise MalformedInput(f"{path}: byte {offset}: truncated document length")
            size = int.from_bytes(header, "little", signed=True)
            if not 5 <= size <= _MAX_BSON:
                raise MalformedInput(f"{path}: byte {offset}: invalid document length {size}")
            body = stream.read(size - 4)
            if len(body) != size - 4:
                raise MalformedInput(f"{path}: byte {offset}: truncated document "
                                     f"({len(body) + 4} of {size} bytes)")
            try:
                yield bson.decode(header + body)
            except (InvalidBSON, ValueError) as error:
                raise MalformedInput(f"{path}: byte {offset}: invalid BSON: {error}") from None
            offset += size


def _decode_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, object_hook=lambda d: json_util.object_hook(d, _JSON_OPTIONS))
    except json.JSONDecodeError as error:
        raise MalformedInput(f"{where}: {error.msg} (column {error.colno})") from None
    except (TypeError, ValueError, bson.errors.BSONError) as error:
        raise MalformedInput(f"{where}: invalid Extended JSON: {error}") from None


def _read_json(path: Path) -> Iterator[dict[str, Any]]:
    with _open(path) as stream:
        raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedInput(f"{path}: byte {error.start}: not UTF-8 text") from None
    if text.lstrip().startswith("["):
        yield from _json_array(path, text)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        document = _decode_json(line, f"{path}: line {number}")
        if not isinstance(document, dict):
            raise MalformedInput(f"{path}: line {number}: a document must be a JSON object")
        yield document


def _json_array(path: Path, text: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder(object_hook=lambda d: json_util.object_hook(d, _JSON_OPTIONS))
    position = text.index("[") + 1
    length = len(text)

    def where(at: int) -> str:
        return f"{path}: line {text.count(chr(10), 0, at) + 1}"

    def skip_space(at: int) -> int:
        while at < length and text[at] in " \t\r\n":
            at += 1
        return at

    position = skip_space(position)
    if position < length and text[position] == "]":
        return
    while True:
        try:
            document, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise MalformedInput(f"{where(error.pos)}: {error.msg}") from None
        except (TypeError, ValueError, bson.errors.BSONError) as error:
            raise MalformedInput(f"{where(position)}: invalid Extended JSON: {error}") from None
        if not isinstance(document, dict):
            raise MalformedInput(f"{where(position)}: a document must be a JSON object")
        yield document
        position = skip_space(end)
        if position < length and text[position] == ",":
            position = skip_space(position + 1)
            continue
        if position < length and text[position] == "]":
            return
        raise MalformedInput(f"{where(position)}: expected ',' or ']' after a document")


async def import_file(
    db: Any, path: Path, *, collection: str | None = None, drop: bool = False,
    written: list[int] | None = None,
) -> ImportResult:
    """Load one file; ``written`` tells how far it got if it fails."""
    name = collection or collection_for(path)
    if drop:
        await db.drop_collection(name)
    count = await insert_batches(db[name], read_documents(path), written=written)
    return ImportResult(name, count)
