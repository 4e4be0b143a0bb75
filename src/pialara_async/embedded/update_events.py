"""``updateDescription`` on update events, as MongoDB's change streams give it.

mongoeco publishes an update event with the document after the write and no
description of the change, so a stream opened without ``fullDocument`` learnt
nothing of what changed (engine fix 18). Both of its update paths have the
document before the write at hand: the committed-change outbox (writes outside
a transaction) and the captured outcome of a write inside one. The description
is the delta between the two, computed as MongoDB's delta updates are:

- a field present after and not before, or with another value, is in
  ``updatedFields`` under its dotted path; a changed embedded document is
  described field by field, an array element by element (``a.3``);
- a field present before and not after is in ``removedFields``;
- an array that got shorter is in ``truncatedArrays`` with its new size;
- ``disambiguatedPaths`` lists the parts of each path that holds a numeric
  field name or a name with a dot (array indices as integers); the bridge
  shows it only to streams opened with ``showExpandedEvents``.

Values are compared as BSON compares bytes: ``1`` and ``1.0`` differ.
"""

from __future__ import annotations

import threading
from typing import Any

from mongoeco.api._async._collection_runtime import CollectionRuntimeCoordinator
from mongoeco.engines import sqlite as sqlite_engine_module

# A path: each part with whether it is an array index.
_Path = tuple[tuple[str, bool], ...]


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class _Description:
    def __init__(self) -> None:
        self.updated: dict[str, Any] = {}
        self.removed: list[str] = []
        self.truncated: list[dict[str, Any]] = []
        self.ambiguous: dict[str, list[str | int]] = {}

    def name(self, path: _Path) -> str:
        dotted = ".".join(part for part, _ in path)
        if any(not index and (part.isdigit() or "." in part) for part, index in path):
            self.ambiguous[dotted] = [int(part) if index else part for part, index in path]
        return dotted

    def document(self, before: dict[str, Any], after: dict[str, Any], path: _Path) -> None:
        for key in before:
            if key not in after:
                self.removed.append(self.name((*path, (key, False))))
        for key, value in after.items():
            here = (*path, (key, False))
            if key not in before:
                self.updated[self.name(here)] = value
            else:
                self.value(before[key], value, here)

    def array(self, before: list[Any], after: list[Any], path: _Path) -> None:
        if len(after) < len(before):
            self.truncated.append({"field": self.name(path), "newSize": len(after)})
        for index, value in enumerate(after):
            here = (*path, (str(index), True))
            if index < len(before):
                self.value(before[index], value, here)
            else:
                self.updated[self.name(here)] = value

    def value(self, before: Any, after: Any, path: _Path) -> None:
        if _same(before, after):
            return
        if isinstance(before, dict) and isinstance(after, dict):
            self.document(before, after, path)
        elif isinstance(before, list) and isinstance(after, list):
            self.array(before, after, path)
        else:
            self.updated[self.name(path)] = after


def describe_update(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The ``updateDescription`` of a write that turned ``before`` into ``after``."""
    delta = _Description()
    delta.document(before, after, ())
    description: dict[str, Any] = {"updatedFields": delta.updated,
                                   "removedFields": delta.removed,
                                   "truncatedArrays": delta.truncated}
    if delta.ambiguous:
        description["disambiguatedPaths"] = delta.ambiguous
    return description


# Writes outside a transaction: the engine's update hands its outcome (with the
# document before) back to the same thread, which then appends the change to
# the outbox; the image waits in between on that thread.
_before = threading.local()
_update_with_operation = sqlite_engine_module._sqlite_update_with_operation
_append_change = sqlite_engine_module._sqlite_append_change


def _update_noting_the_document_before(*args: Any, **kwargs: Any) -> Any:
    outcome = _update_with_operation(*args, **kwargs)
    _before.document = outcome.before_document
    return outcome


def _append_change_describing_updates(conn: Any, *, operation_type: Any,
                                      document_key: Any, serialize_document: Any,
                                      **options: Any) -> Any:
    before, _before.document = getattr(_before, "document", None), None
    after = options.get("full_document")
    if (operation_type == "update" and before is not None and after is not None
            and before.get("_id") == document_key.get("_id")):
        description = describe_update(before, after)
        serialize = serialize_document

        def serialize_document(effect: dict[str, Any]) -> Any:
            return serialize({**effect, "update_description": description})

    return _append_change(conn, operation_type=operation_type, document_key=document_key,
                          serialize_document=serialize_document, **options)


def _publish_described_update_event(self: Any, captured: Any, *,
                                    matched_operation_type: str, session: Any) -> None:
    # Writes inside a transaction, published at commit: the captured outcome
    # holds both documents. The same checks as mongoeco's own method.
    document = captured.after_document
    result = captured.result
    if (document is None or "_id" not in document
            or (not result.did_upsert and result.modified_count == 0)):
        return
    operation_type = "insert" if result.did_upsert else matched_operation_type
    description = None
    if operation_type == "update" and captured.before_document is not None:
        description = describe_update(captured.before_document, document)
    self.publish_change_event(operation_type=operation_type,
                              document_key={"_id": document["_id"]},
                              full_document=document, update_description=description,
                              session=session)


def replacements() -> list[tuple[Any, str, Any]]:
    return [
        (sqlite_engine_module, "_sqlite_update_with_operation",
         _update_noting_the_document_before),
        (sqlite_engine_module, "_sqlite_append_change", _append_change_describing_updates),
        (CollectionRuntimeCoordinator, "_publish_captured_update_event",
         _publish_described_update_event),
    ]
