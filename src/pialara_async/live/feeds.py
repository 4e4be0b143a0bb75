"""One change stream per watched collection, shared by every websocket.

Each feed runs in a supervised task: it opens a change stream filtered on the
server, routes each change to its topics on the ``LiveHub``, and keeps the
stream's resume token, which advances with ``postBatchResumeToken`` even when
nothing matched. The token is saved to ``change_stream_tokens`` (at most once
a second, and at shutdown); a restarted feed resumes from the latest token it
knows, so nothing is lost across stream errors, database restarts or service
restarts. When the token has left the change history (286
``ChangeStreamHistoryLost``), it is cleared, subscribers get a ``reset`` event
telling them to refetch, and the feed starts again from now.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bson.errors import InvalidId
from pymongo.errors import OperationFailure

from pialara_async.db import driver
from pialara_async.live import topics
from pialara_async.live.hub import LiveHub

log = logging.getLogger(__name__)

TOKENS = "change_stream_tokens"
HISTORY_LOST = {286, 280}  # ChangeStreamHistoryLost, ChangeStreamFatalError
SAVE_INTERVAL = 1.0
AWAIT_MS = 500
OPERATIONS = ["insert", "update", "replace", "delete"]
# The collection's end: reset subscribers, then go on after the invalidate.
ENDINGS = ["drop", "rename", "dropDatabase", "invalidate"]
ENDED = {"drop": "the collection was dropped", "rename": "the collection was renamed",
         "dropDatabase": "the database was dropped"}
WATCHED = {"$match": {"operationType": {"$in": OPERATIONS + ENDINGS}}}


# A catch-up (``since`` from another process or before a restart) reads at most
# this many events; past it the client refetches instead.
CATCH_UP_LIMIT = 1000
CATCH_UP_AWAIT_MS = 100


def event_id(change: dict[str, Any]) -> str:
    """An event's id: its change's resume token, the same in every process."""
    return str(change["_id"]["_data"])


class StreamEnded(Exception):
    """The change stream's cursor was closed by the server."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a feed's stream goes on: after ``token`` (``resumeAfter``), or,
    after an ``invalidate``, with ``startAfter`` (the only way past one)."""

    token: Any
    start_after: bool = False

    def options(self) -> dict[str, Any]:
        return {"start_after": self.token} if self.start_after else {"resume_after": self.token}


class TokenStore:
    """Stream positions persisted in the database, saved at most every ``interval`` seconds."""

    def __init__(self, db: Any, interval: float = SAVE_INTERVAL, slot: int = 0) -> None:
        self._collection = db[TOKENS]
        # Each worker of `serve --workers` keeps its own positions: processes
        # never overwrite each other's (worker 0 keeps the plain names).
        self._suffix = f"#{slot}" if slot else ""
        self._interval = interval
        self._pending: dict[str, Position] = {}
        self._saved_at: dict[str, float] = {}

    async def load(self, name: str) -> Position | None:
        document = await self._collection.find_one({"_id": name + self._suffix})
        if document is None or document.get("token") is None:
            return None
        return Position(document["token"], bool(document.get("start_after")))

    def note(self, name: str, position: Position | None) -> None:
        """Keep a position to save at the next flush."""
        if position is not None:
            self._pending[name] = position

    async def remember(self, name: str, position: Position) -> None:
        self._pending[name] = position
        if time.monotonic() - self._saved_at.get(name, 0.0) >= self._interval:
            await self.flush(name)

    async def flush(self, name: str) -> None:
        position = self._pending.pop(name, None)
        if position is None:
            return
        await self._collection.replace_one(
            {"_id": name + self._suffix},
            {"token": position.token, "start_after": position.start_after,
             "saved_at": datetime.datetime.now(datetime.UTC)},
            upsert=True)
        self._saved_at[name] = time.monotonic()

    async def clear(self, name: str) -> None:
        self._pending.pop(name, None)
        await self._collection.delete_one({"_id": name + self._suffix})


class RecentKeys:
    """A bounded map from a document id to what routing needs after its deletion."""

    def __init__(self, size: int = 200_000) -> None:
        self._size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def get(self, key: Any) -> Any:
        return self._data.get(key)

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


def _event(change: dict[str, Any], document: dict[str, Any] | None) -> dict[str, Any]:
    moment = change.get("wallTime") or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    event: dict[str, Any] = {
        "op": change["operationType"],
        "doc_id": change.get("documentKey", {}).get("_id"),
        "time": moment,
    }
    if document is not None:
        event["document"] = document
    changed = change.get("updateDescription")
    if changed:
        event["changed"] = {"updated": changed.get("updatedFields", {}),
                            "removed": changed.get("removedFields", [])}
    return event


Route = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]


@dataclass(slots=True)
class Feed:
    """What one collection's change stream watches and how its changes are routed."""

    collection: str
    pipeline: list[dict[str, Any]]
    route: Route
    position: Position | None = None  # the latest reached, None: from now
    options: dict[str, Any] = field(default_factory=dict)
    # Whether update events carry the whole document ("updateLookup") or only
    # what changed ("default": their updateDescription).
    full_document: str = "updateLookup"


# The account a comment belongs to stays internal: removed on the server.
COMMENT_PIPELINE: list[dict[str, Any]] = [
    WATCHED,
    {"$project": {"fullDocument.user_id": 0, "fullDocumentBeforeChange.user_id": 0,
                  "updateDescription.updatedFields.user_id": 0}},
]


def comments_feed(movie_of: RecentKeys) -> Feed:
    def route(change: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        document = change.get("fullDocument") or change.get("fullDocumentBeforeChange")
        key = change.get("documentKey", {}).get("_id")
        movie_id = document.get("movie_id") if document else movie_of.get(key)
        if movie_id is not None and key is not None:
            movie_of[key] = movie_id
        event = _event(change, change.get("fullDocument"))
        event["movie_id"] = movie_id
        routed = [(topics.COMMENTS, event)]
        if movie_id is not None:
            routed.append((topics.movie_comments(movie_id), event))
        return routed

    return Feed("comments", COMMENT_PIPELINE, route)


def movies_feed() -> Feed:
    """A movie's update event carries what changed, not the movie: a comment
    changes one counter of a document of about 10 KB, and every event a topic
    retains for ``since`` would otherwise hold the whole of it."""

    def route(change: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(topics.MOVIES, _event(change, change.get("fullDocument")))]

    return Feed("movies", [WATCHED], route, full_document="default")


# What a recording's screen shows, and nothing else: no audio (there is none
# in the document), no file, no measurements beyond the length.
RECORDING_PIPELINE: list[dict[str, Any]] = [
    WATCHED,
    {"$project": {"fullDocument.file_id": 0, "fullDocumentBeforeChange.file_id": 0,
                  "fullDocument.peak_dbfs": 0, "fullDocument.rms_dbfs": 0,
                  "fullDocumentBeforeChange.peak_dbfs": 0,
                  "fullDocumentBeforeChange.rms_dbfs": 0,
                  "updateDescription": 0}},
]


def recordings_feed(owners: RecentKeys) -> Feed:
    """A recording's arrival, review and deletion reach its client's technician
    (``recordings``) and the client (``recordings:mine``). Each event carries
    the client and the technician it is routed by."""

    def route(change: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        document = change.get("fullDocument") or change.get("fullDocumentBeforeChange")
        key = change.get("documentKey", {}).get("_id")
        if document is not None:
            owners[key] = (document.get("client_id"), document.get("technician_id"))
        client_id, technician_id = owners.get(key) or (None, None)
        event = _event(change, change.get("fullDocument"))
        event.pop("changed", None)
        event["client_id"], event["technician_id"] = client_id, technician_id
        return [(topics.RECORDINGS, event), (topics.MY_RECORDINGS, event)]

    return Feed("recordings", RECORDING_PIPELINE, route)


# Password hashes are removed on the server, before a change event leaves it.
USER_PIPELINE: list[dict[str, Any]] = [
    WATCHED,
    {"$project": {"fullDocument.password": 0, "fullDocumentBeforeChange.password": 0,
                  "updateDescription.updatedFields.password": 0}},
]


def users_feed(technician_of: RecentKeys) -> Feed:
    """Every change to ``users``; to ``clients``, the changes of each
    technician's clients. A client who leaves a technician (reassigned, no
    longer a client) reaches that technician only as ``{"op": "removed"}``,
    without the record: it is no longer theirs to see."""

    def route(change: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        document = change.get("fullDocument")
        before = change.get("fullDocumentBeforeChange")
        key = change.get("documentKey", {}).get("_id")
        known = (before or {}).get("technician_id") or technician_of.get(key)
        if document is not None:
            document = {k: v for k, v in document.items() if k != "password"}
            current = document.get("technician_id") if document.get("role") == "client" \
                else None
        else:
            current = known  # deleted: its technician learns it
        if current is not None or known is not None:
            technician_of[key] = current
        event = _event(change, document)
        event["technician_id"] = current
        routed = [(topics.USERS, event)]
        if current is not None:
            routed.append((topics.CLIENTS, event))
        if known is not None and known != current:
            routed.append((topics.CLIENTS, {"op": "removed", "doc_id": key,
                                       "time": event["time"], "technician_id": known}))
        return routed

    return Feed("users", USER_PIPELINE, route)


class FeedRunner:
    """Runs one feed: a single attempt per ``run()`` call (the supervisor restarts it)."""

    def __init__(self, db: Any, hub: LiveHub, tokens: TokenStore, feed: Feed) -> None:
        self.db = db
        self.hub = hub
        self.tokens = tokens
        self.feed = feed
        self.opened = 0  # change streams opened so far (one at a time)
        self.ready = asyncio.Event()  # set once a stream is open
        # Told how long after its commit each change was published (seconds).
        self.lag: Callable[[str, float], None] | None = None

    async def run(self) -> None:
        feed = self.feed
        if feed.position is None:
            feed.position = await self.tokens.load(feed.collection)
        try:
            while await self._follow():
                pass  # invalidated (the collection was dropped): go on after it
        except OperationFailure as error:
            if error.code not in HISTORY_LOST:
                raise
            log.warning("%s change history lost (%s): starting from now",
                        feed.collection, error.code)
            feed.position = None
            await self.tokens.clear(feed.collection)
            self._reset("change history lost: refetch")

    async def _follow(self) -> bool:
        """Follow one change stream until it ends: True after an invalidate."""
        feed = self.feed
        start = {} if feed.position is None else feed.position.options()
        stream = await driver.watch(
            self.db[feed.collection], feed.pipeline, full_document=feed.full_document,
            max_await_time_ms=AWAIT_MS, **start, **feed.options)
        self.opened += 1
        self.ready.set()
        async with stream:
            try:
                while stream.alive:
                    change = await stream.try_next()
                    if change is None:
                        if stream.resume_token is not None:
                            feed.position = Position(stream.resume_token)
                    elif change["operationType"] == "invalidate":
                        # Only startAfter goes past an invalidate; saved at
                        # once, so no restart tries to resume from it.
                        feed.position = Position(change["_id"], start_after=True)
                        self.tokens.note(feed.collection, feed.position)
                        await self.tokens.flush(feed.collection)
                        return True
                    elif change["operationType"] in ENDINGS:
                        feed.position = Position(change["_id"])
                        self._reset(f"{feed.collection}: {ENDED[change['operationType']]}: "
                                    "refetch")
                    else:
                        for topic, event in feed.route(change):
                            self.hub.publish(topic, event, event_id(change))
                        feed.position = Position(change["_id"])
                        self._measure(change)
                    if feed.position is not None:
                        await self.tokens.remember(feed.collection, feed.position)
                    # A guaranteed suspension point: a driver may answer
                    # without waiting, and the loop must stay cancellable.
                    await asyncio.sleep(0)
                # Ended by the server otherwise: reopen after a pause.
                raise StreamEnded(feed.collection)
            except asyncio.CancelledError:
                # Stopping: keep the position reached for flush() at shutdown.
                self.tokens.note(feed.collection, feed.position)
                raise

    async def catch_up(self, topic: str, since: str,
                       accept: Callable[[dict[str, Any]], bool] | None
                       ) -> list[tuple[str, bytes]] | None:
        """The events of ``topic`` after the one whose id is ``since``, read
        from a change stream of their own (any process's ids are the stream's
        resume tokens). None when they cannot be had: the position has left
        the change history, is not a token, the collection was dropped since,
        or there are more than CATCH_UP_LIMIT of them (refetching is cheaper)."""
        feed = self.feed
        found: list[tuple[str, bytes]] = []
        try:
            stream = await driver.watch(
                self.db[feed.collection], feed.pipeline, full_document=feed.full_document,
                resume_after={"_data": since}, max_await_time_ms=CATCH_UP_AWAIT_MS,
                **feed.options)
            async with stream:
                while stream.alive:
                    change = await stream.try_next()
                    if change is None:
                        return found  # up to the present: live events follow
                    if change["operationType"] in ENDINGS:
                        return None
                    for routed_topic, event in feed.route(change):
                        if routed_topic != topic:
                            continue
                        shown, message = self.hub.message(topic, event, event_id(change))
                        if accept is None or accept(shown):
                            found.append((event_id(change), message))
                    if len(found) > CATCH_UP_LIMIT:
                        return None
        except (OperationFailure, InvalidId, ValueError, TypeError) as error:
            log.info("cannot catch %s up from %r: %s", topic, since[:40], str(error)[:120])
            return None
        return found

    def _measure(self, change: dict[str, Any]) -> None:
        """The change stream's lag: from the change's wall time (MongoDB 6+), or
        its cluster time (seconds), to now; not measured where neither is a time
        (the embedded server numbers its events instead)."""
        if self.lag is None:
            return
        wall = change.get("wallTime")
        if isinstance(wall, datetime.datetime):
            moment = wall.replace(tzinfo=datetime.UTC).timestamp()
        else:
            moment = float(getattr(change.get("clusterTime"), "time", 0))
        if moment > 0:
            self.lag(self.feed.collection, max(0.0, time.time() - moment))

    def _reset(self, reason: str) -> None:
        for prefix in topics.names_of(self.feed.collection):
            self.hub.reset(prefix, reason)

    async def flush(self) -> None:
        await self.tokens.flush(self.feed.collection)
