"""Serve ``aggregate`` with a leading ``$changeStream`` over the wire.

mongoeco has no wire-level change streams, but its in-process ``watch()`` reads
the engine's committed-change journal. This module turns that into the cursor
protocol drivers speak: an empty first batch with a ``postBatchResumeToken``,
``getMore`` that waits up to ``maxTimeMS`` and always reports the position it
reached (so a driver's resume token advances even when nothing matched), and
``killCursors``. Errors carry MongoDB's codes so drivers react as on a real
server (286 ``ChangeStreamHistoryLost`` is not resumable).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bson import Timestamp
from mongoeco.errors import OperationFailure
from mongoeco.types import encode_change_stream_token

from pialara_async.embedded.errors import CommandError

if TYPE_CHECKING:
    from mongoeco.api import AsyncMongoClient
    from mongoeco.change_streams import AsyncChangeStreamCursor

# Far above the ids mongoeco hands out for ordinary cursors, yet within int32:
# mongoeco's wire decoder rejects a getMore whose id arrives as an Int64.
_FIRST_CURSOR_ID = 1 << 30
_DEFAULT_AWAIT_MS = 1000
_MAX_BATCH = 1000
# Wall times kept: more than the change history holds by default (10,000).
_WALL_TIMES_KEPT = 50_000
# Stands for ``aggregate: 1`` (a database- or cluster-level stream) once past
# mongoeco's command validation.
DATABASE_STREAM = "$cmd.aggregate"
# MongoDB kills idle cursors after ten minutes (cursorTimeoutMillis).
IDLE_CURSOR_SECONDS = 600.0


def history_lost(message: str) -> CommandError:
    return CommandError(286, "ChangeStreamHistoryLost", message)


def token_document(token: int) -> dict[str, str]:
    return {"_data": encode_change_stream_token(token)}


def cluster_time(token: int) -> Timestamp:
    # mongoeco orders events by an integer sequence; drivers expect a BSON
    # Timestamp. Keeping the sequence in ``inc`` keeps both orders the same.
    return Timestamp(0, token) if token > 0 else Timestamp(0, 0)


@dataclass(slots=True)
class _BridgeCursor:
    namespace: str
    stream: AsyncChangeStreamCursor
    connection_id: int
    expanded: bool = False  # showExpandedEvents
    last_used: float = field(default_factory=time.monotonic)
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)


def _parse_options(stage: object) -> dict[str, Any]:
    if not isinstance(stage, dict):
        raise CommandError(14, "TypeMismatch", "$changeStream stage must be a document")
    allowed = {
        "fullDocument",
        "fullDocumentBeforeChange",
        "resumeAfter",
        "startAfter",
        "startAtOperationTime",
        "allChangesForCluster",
        "showExpandedEvents",
    }
    unknown = set(stage) - allowed
    if unknown:
        raise CommandError(
            40415, "Location40415", f"unrecognized $changeStream option: {sorted(unknown)[0]}"
        )
    before = stage.get("fullDocumentBeforeChange", "off")
    if before not in ("off", "whenAvailable", "required"):
        raise CommandError(2, "BadValue",
                           f"unknown fullDocumentBeforeChange mode: {before!r}")
    return stage


class ChangeStreamBridge:
    """Cursor table for change streams opened over the wire."""

    def __init__(self, client: AsyncMongoClient) -> None:
        self._client = client
        self._cursors: dict[int, _BridgeCursor] = {}
        self._ids = itertools.count(_FIRST_CURSOR_ID)
        # Each event's wall time (MongoDB's wallTime), noted as the hub appends
        # it; mongoeco's events carry none. Events from before a restart have none.
        self._wall_times: collections.OrderedDict[int, datetime.datetime] = \
            collections.OrderedDict()
        listeners = self._hub().__dict__.setdefault("_pialara_listeners", [])
        listeners.append(self._note_wall_time)

    def _note_wall_time(self, event: Any) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self._wall_times[event.token] = now.replace(
            microsecond=now.microsecond // 1000 * 1000)  # BSON dates hold milliseconds
        while len(self._wall_times) > _WALL_TIMES_KEPT:
            self._wall_times.popitem(last=False)

    def __len__(self) -> int:
        return len(self._cursors)

    def owns(self, cursor_id: object) -> bool:
        return cursor_id in self._cursors

    def _hub(self) -> Any:
        return self._client.get_database("admin")._change_hub

    def current_token(self) -> int:
        hub = self._hub()
        with hub._condition:
            return hub._next_token - 1

    def _position_token(self, stream: AsyncChangeStreamCursor) -> int:
        """Token of the last event the cursor has moved past, matched or not."""
        hub = stream._hub
        with hub._condition:
            index = stream._offset - hub._base_offset - 1
            if 0 <= index < len(hub._events):
                return hub._events[index].token
            if index >= len(hub._events):
                return hub._next_token - 1
            return hub._events[0].token - 1 if hub._events else hub._next_token - 1

    async def open(
        self, db_name: str, command: dict[str, Any], connection_id: int
    ) -> dict[str, Any]:
        pipeline = command["pipeline"]
        options = _parse_options(pipeline[0]["$changeStream"])
        target = command["aggregate"]
        if target == DATABASE_STREAM:
            target = 1
        database = self._client.get_database(db_name)
        if options.get("allChangesForCluster"):
            if db_name != "admin" or target != 1:
                raise CommandError(
                    73, "InvalidNamespace", "allChangesForCluster requires aggregate: 1 on admin"
                )
            watched: Any = self._client
            namespace = "admin.$cmd.aggregate"
        elif target == 1:
            watched = database
            namespace = f"{db_name}.$cmd.aggregate"
        elif isinstance(target, str):
            watched = database.get_collection(target)
            namespace = f"{db_name}.{target}"
        else:
            raise CommandError(73, "InvalidNamespace", "aggregate needs a collection name or 1")
        start_at = options.get("startAtOperationTime")
        # Arrives as mongoeco's own Timestamp type; both have ``inc``.
        if start_at is not None and not isinstance(getattr(start_at, "inc", None), int):
            raise CommandError(14, "TypeMismatch", "startAtOperationTime must be a timestamp")
        for key in ("resumeAfter", "startAfter"):
            if key in options:
                self._check_token(options[key])
        if "resumeAfter" in options and isinstance(target, str) and \
                self._is_invalidate(options["resumeAfter"], db_name, target):
            raise CommandError(260, "InvalidResumeToken",
                               "Attempting to resume a change stream using 'resumeAfter' is "
                               "not allowed from an invalidate notification.")
        try:
            stream = watched.watch(
                pipeline[1:],
                resume_after=options.get("resumeAfter"),
                start_after=options.get("startAfter"),
                start_at_operation_time=None if start_at is None else start_at.inc,
                full_document=options.get("fullDocument", "default"),
                max_await_time_ms=0,
            )
        except OperationFailure as error:
            raise self._translate(error) from error
        # Read by update_events._transform_with_images.
        stream._pialara_before = options.get("fullDocumentBeforeChange", "off")
        cursor_id = next(self._ids)
        self._cursors[cursor_id] = _BridgeCursor(namespace, stream, connection_id,
                                                 bool(options.get("showExpandedEvents")))
        token = self._position_token(stream)
        return {
            "cursor": {
                "id": cursor_id,
                "ns": namespace,
                "firstBatch": [],
                "postBatchResumeToken": token_document(token),
            },
            "operationTime": cluster_time(self.current_token()),
            "ok": 1.0,
        }

    def _is_invalidate(self, token: dict[str, Any], db_name: str, coll_name: str) -> bool:
        """Whether ``token`` is the invalidate event of this collection's
        streams, which only ``startAfter`` may follow (as on MongoDB). Tokens
        are positions shared by all namespaces, so another collection's
        invalidate at the same position does not count."""
        from mongoeco.change_streams import _parse_resume_token

        value = _parse_resume_token(token)
        hub = self._hub()
        with hub._condition:  # the engine's thread appends under it
            return any(event.token == value and event.operation_type == "invalidate"
                       and event.db_name == db_name and event.coll_name == coll_name
                       for event in reversed(hub._events))

    def _check_token(self, token: object) -> None:
        from mongoeco.change_streams import _parse_resume_token

        if not isinstance(token, dict):
            raise CommandError(14, "TypeMismatch", "resume token must be a document")
        try:
            value = _parse_resume_token(token)
        except OperationFailure as error:
            raise CommandError(
                9, "FailedToParse", f"invalid resume token: {error}"
            ) from error
        if value > self.current_token():
            raise CommandError(
                280,
                "ChangeStreamFatalError",
                "cannot resume stream; the resume token was not found (it is newer than any "
                "event of this server)",
            )

    @staticmethod
    def _translate(error: OperationFailure) -> CommandError:
        message = str(error)
        if "no longer available" in message:
            return history_lost(message)
        return CommandError(getattr(error, "code", None) or 2, "BadValue", message)

    async def get_more(self, command: dict[str, Any]) -> dict[str, Any]:
        cursor_id = command["getMore"]
        cursor = self._cursors[cursor_id]
        max_time = command.get("maxTimeMS", _DEFAULT_AWAIT_MS)
        limit = command.get("batchSize") or _MAX_BATCH
        batch: list[dict[str, Any]] = []
        async with cursor.busy:
            cursor.last_used = time.monotonic()
            stream = cursor.stream
            try:
                stream._max_await_time_ms = max(0, int(max_time))
                first = await stream.try_next()
                if first is not None:
                    batch.append(self._shape(first, cursor.expanded))
                    stream._max_await_time_ms = 0
                    while len(batch) < limit:
                        event = await stream.try_next()
                        if event is None:
                            break
                        batch.append(self._shape(event, cursor.expanded))
            except OperationFailure as error:
                self._cursors.pop(cursor_id, None)
                stream.close()
                if "has been closed" not in str(error):
                    raise self._translate(error) from error
                # Closed by an invalidate event (a drop) that the pipeline
                # filtered out: the cursor ends, as on MongoDB.
            alive = stream.alive
            token = self._position_token(stream)
            cursor.last_used = time.monotonic()
        if not alive:
            self._cursors.pop(cursor_id, None)
        return {
            "cursor": {
                "id": cursor_id if alive else 0,
                "ns": cursor.namespace,
                "nextBatch": batch,
                "postBatchResumeToken": token_document(token),
            },
            "operationTime": cluster_time(self.current_token()),
            "ok": 1.0,
        }

    def _shape(self, event: dict[str, Any], expanded: bool) -> dict[str, Any]:
        if not expanded and isinstance(description := event.get("updateDescription"), dict):
            description.pop("disambiguatedPaths", None)  # MongoDB 6.1's, expanded events only
        raw = event.get("clusterTime")
        if isinstance(raw, int):
            event["clusterTime"] = cluster_time(raw)
            wall = self._wall_times.get(raw)
            if wall is not None:
                event["wallTime"] = wall
        if event.get("operationType") in ("drop", "dropDatabase", "invalidate"):
            event.pop("documentKey", None)  # MongoDB's carry none
            if event["operationType"] == "invalidate":
                event.pop("ns", None)
            elif event["operationType"] == "dropDatabase" and "ns" in event:
                event["ns"] = {"db": event["ns"]["db"]}
        return event

    def kill(self, cursor_ids: list[int]) -> list[int]:
        killed = []
        for cursor_id in cursor_ids:
            cursor = self._cursors.pop(cursor_id, None)
            if cursor is not None:
                cursor.stream.close()
                killed.append(cursor_id)
        return killed

    def reap_idle(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        idle = [
            cursor_id
            for cursor_id, cursor in self._cursors.items()
            if not cursor.busy.locked() and now - cursor.last_used > IDLE_CURSOR_SECONDS
        ]
        return len(self.kill(idle))

    def close(self) -> None:
        self.kill(list(self._cursors))
        listeners = self._hub().__dict__.get("_pialara_listeners", [])
        if self._note_wall_time in listeners:
            listeners.remove(self._note_wall_time)
