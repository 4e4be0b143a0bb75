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

Pre- and post-images. Where a collection has ``changeStreamPreAndPostImages``
enabled (``collMod``, or ``create``) when a write is made, its update, replace
and delete events keep the document before the write, and its update events
count as having a post-image. Both travel with the event in the engine's
history (and so across restarts) under private keys of its description, which
``_transform`` takes off before any stream sees the event:
``fullDocumentBeforeChange`` and ``fullDocument`` ``whenAvailable`` or
``required`` then answer as MongoDB does (``required`` without an image is an
error, 47 NoMatchingDocument).
"""

from __future__ import annotations

import threading
from typing import Any

from mongoeco._change_streams import cursor as cursor_module
from mongoeco.api._async._collection_runtime import CollectionRuntimeCoordinator
from mongoeco.core.aggregation import apply_pipeline
from mongoeco.engines import sqlite as sqlite_engine_module
from mongoeco.engines._sqlite_catalog import load_collection_options
from mongoeco.errors import OperationFailure

# Private keys of an event's stored description (see the module's doc).
PRE_IMAGE = "$pialaraPreImage"
IMAGES = "$pialaraImages"
NO_MATCHING_DOCUMENT = 47

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


def images_enabled(conn: Any, db_name: str, coll_name: str) -> bool:
    options = load_collection_options(conn, db_name, coll_name) or {}
    images = options.get("changeStreamPreAndPostImages")
    return isinstance(images, dict) and images.get("enabled") is True


def _images_on(engine: Any, db_name: str, coll_name: str) -> bool:
    engine = getattr(engine, "engine", engine)  # mongoeco's adapter holds the engine
    with engine._lock:
        return images_enabled(engine._connection, db_name, coll_name)


def stored_description(operation_type: str, before: dict[str, Any] | None,
                       after: dict[str, Any] | None, images: bool) -> dict[str, Any] | None:
    """What an event keeps as its description: the update's delta, and the
    images where the collection keeps them."""
    description = None
    if operation_type == "update" and before is not None and after is not None:
        description = describe_update(before, after)
    if images and operation_type in ("update", "replace", "delete"):
        description = {**(description or {}), IMAGES: True}
        if before is not None:
            description[PRE_IMAGE] = before
    return description


# Writes outside a transaction: the engine's update or delete hands its
# outcome (with the document before) back to the same thread, which then
# appends the change to the outbox; the document waits in between on that thread.
_before = threading.local()
_update_with_operation = sqlite_engine_module._sqlite_update_with_operation
_delete_matching_document = sqlite_engine_module._sqlite_delete_matching_document
_append_change = sqlite_engine_module._sqlite_append_change


def _update_noting_the_document_before(*args: Any, **kwargs: Any) -> Any:
    outcome = _update_with_operation(*args, **kwargs)
    _before.document = outcome.before_document
    return outcome


def _delete_noting_the_document(*args: Any, **kwargs: Any) -> Any:
    outcome = _delete_matching_document(*args, **kwargs)
    _before.document = outcome.deleted_document
    return outcome


def _append_change_describing_updates(conn: Any, *, operation_type: Any, db_name: str,
                                      coll_name: str, document_key: Any,
                                      serialize_document: Any, **options: Any) -> Any:
    before, _before.document = getattr(_before, "document", None), None
    if before is not None and before.get("_id") != document_key.get("_id"):
        before = None
    images = operation_type in ("update", "replace", "delete") and \
        images_enabled(conn, db_name, coll_name)
    description = stored_description(operation_type, before, options.get("full_document"),
                                     images)
    if description is not None:
        serialize = serialize_document

        def serialize_document(effect: dict[str, Any]) -> Any:
            return serialize({**effect, "update_description": description})

    return _append_change(conn, operation_type=operation_type, db_name=db_name,
                          coll_name=coll_name, document_key=document_key,
                          serialize_document=serialize_document, **options)


# Writes inside a transaction, published at commit: the captured outcome holds
# the documents. The same checks as mongoeco's own methods.
def _publish_described_update_event(self: Any, captured: Any, *,
                                    matched_operation_type: str, session: Any) -> None:
    document = captured.after_document
    result = captured.result
    if (document is None or "_id" not in document
            or (not result.did_upsert and result.modified_count == 0)):
        return
    operation_type = "insert" if result.did_upsert else matched_operation_type
    collection = self._collection
    images = operation_type != "insert" and _images_on(
        collection._engine, collection._db_name, collection._collection_name)
    self.publish_change_event(
        operation_type=operation_type, document_key={"_id": document["_id"]},
        full_document=document, session=session,
        update_description=stored_description(operation_type, captured.before_document,
                                              document, images))


def _publish_described_delete_event(self: Any, captured: Any, *, session: Any) -> None:
    document = captured.deleted_document
    if captured.result.deleted_count == 0 or document is None or "_id" not in document:
        return
    collection = self._collection
    images = _images_on(collection._engine, collection._db_name, collection._collection_name)
    self.publish_change_event(
        operation_type="delete", document_key={"_id": document["_id"]}, session=session,
        update_description=stored_description("delete", document, None, images))


def _shown_images(document: dict[str, Any], full_document: str, before_mode: str) -> None:
    """Take the private keys off an event and show the images its stream asked for."""
    description = document.get("updateDescription")
    kept = isinstance(description, dict) and description.pop(IMAGES, False)
    before = description.pop(PRE_IMAGE, None) if isinstance(description, dict) else None
    operation = document.get("operationType")
    if operation != "update":
        document.pop("updateDescription", None)
    if operation == "update" and full_document in ("whenAvailable", "required") and not kept:
        if full_document == "required":
            raise OperationFailure("Change stream was configured to require a post-image for "
                                   "all update events, but the post-image was not found",
                                   code=NO_MATCHING_DOCUMENT)
        document["fullDocument"] = None
    if before_mode != "off" and operation in ("update", "replace", "delete"):
        if before is None and before_mode == "required":
            raise OperationFailure("Change stream was configured to require a pre-image for "
                                   "all update, delete and replace events, but the pre-image "
                                   "was not found", code=NO_MATCHING_DOCUMENT)
        document["fullDocumentBeforeChange"] = before


def _transform_with_images(self: Any, event: Any) -> Any:
    # mongoeco's _transform, with the images shown (or refused) before the
    # stream's own pipeline runs, as on MongoDB.
    if not self._scope.matches(event):
        return None
    document = event.to_document()
    _shown_images(document, self._full_document, getattr(self, "_pialara_before", "off"))
    document = cursor_module.apply_full_document_mode(document, self._full_document)
    if self._pipeline is not None:
        transformed = apply_pipeline([document], self._pipeline)
        if not transformed:
            return None
        return self._materialize_document(transformed[0])
    return self._materialize_document(document)


def replacements() -> list[tuple[Any, str, Any]]:
    return [
        (sqlite_engine_module, "_sqlite_update_with_operation",
         _update_noting_the_document_before),
        (sqlite_engine_module, "_sqlite_append_change", _append_change_describing_updates),
        (sqlite_engine_module, "_sqlite_delete_matching_document",
         _delete_noting_the_document),
        (CollectionRuntimeCoordinator, "_publish_captured_update_event",
         _publish_described_update_event),
        (CollectionRuntimeCoordinator, "_publish_captured_delete_event",
         _publish_described_delete_event),
        (cursor_module.AsyncChangeStreamCursor, "_transform", _transform_with_images),
    ]
