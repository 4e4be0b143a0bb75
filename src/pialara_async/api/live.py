"""``GET /api/v1/live``: the websocket of the live feed.

Authentication (optional): a bearer token as the ``token`` query parameter, in
an ``Authorization`` header, or in a first message ``{"action": "auth",
"token": ...}``. Then, by message:

- ``{"action": "subscribe", "topic": T, "since": EVENT_ID?}``: ``since`` (the
  ``id`` of the last event seen; ids are change-stream resume tokens, the same
  in every process) replays what was missed, from this process's memory or
  from a catch-up change stream, else a ``reset`` event says to refetch;
- ``{"action": "unsubscribe", "topic": T}``.

Topics: ``movie:{id}:comments``, ``comments``, ``movies`` (anyone); ``users``
(admins); ``clients`` (technicians: their own clients). Each event is
``{"topic", "id", "op", "doc_id", "document"?, "changed"?, "time", ...}``.

Every message gets an answer (``subscribed``, ``unsubscribed``,
``authenticated`` or ``error``). While the socket holds ``users`` or
``clients``, the caller's standing is read again every RIGHTS_CHECK_SECONDS:
after logout, a password change, deletion, demotion or expiry the topic is
taken away with ``{"type": "revoked", "topic", "reason"}``. Connections per
address and messages per socket have budgets (``[limits]``): past them the
upgrade answers 429, a message an error with ``retry_after``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Annotated, Any, Literal

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from pialara_async import keys
from pialara_async.api.auth import Caller, bearer_token, standing
from pialara_async.api.endpoint import Call, endpoint
from pialara_async.jsonio import dumps, json_response
from pialara_async.live.hub import Subscriber, write_forever
from pialara_async.live.registry import close_socket
from pialara_async.policy import topic_refusal
from pialara_async.repositories import comments, users
from pialara_async.security.rate_limits import TooManyRequests

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
MAX_TOPICS = 50
HEARTBEAT_SECONDS = 20.0
_MOVIE_TOPIC = re.compile(r"^movie:([0-9a-f]{24}):comments$")
PUBLIC_TOPICS = {"comments", "movies"}
RIGHTS_TOPICS = {"users", "clients"}
# How stale a socket's view of its caller's rights may be: a demoted, deleted
# or signed-out caller loses the topics that needed them within this time.
RIGHTS_CHECK_SECONDS = 0.5


class ClientMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    action: Literal["auth", "subscribe", "unsubscribe"]
    token: Annotated[str, Field(max_length=2048)] | None = None
    topic: Annotated[str, Field(max_length=64)] | None = None
    since: Annotated[str, Field(max_length=512)] | None = None


class LiveQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    token: Annotated[str, Field(max_length=2048)] | SkipJsonSchema[None] = Field(
        None, description="a bearer token (or send it in an auth message)")


class LiveConnection:
    def __init__(self, request: web.Request, subscriber: Subscriber) -> None:
        self.request = request
        self.subscriber = subscriber
        self.id = uuid.uuid4().hex  # the key of this socket's message budget
        self.token: str | None = None
        self.caller: Caller | None = None
        self.checked_at = 0.0  # when the caller's rights were last read
        self.rights_watch: asyncio.Task[None] | None = None
        self.live = request.config_dict[keys.LIVE]
        self.limits = request.config_dict[keys.RATE_LIMITS]

    async def send(self, body: dict[str, Any]) -> None:
        # Through the queue (the writer task is the socket's only writer),
        # waiting for room: an answer is never dropped.
        await self.subscriber.reply(dumps(body))

    async def handle(self, raw: str) -> None:
        try:
            await self.limits.spend(self.limits.messages_per_websocket, self.id)
        except TooManyRequests as error:
            await self.send({"type": "error", "error": "too many messages: retry after "
                                                       f"{error.retry_after} s",
                             "retry_after": error.retry_after})
            return
        try:
            message = ClientMessage.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError):
            await self.send({"type": "error", "error": "expected {\"action\": \"auth\" | "
                                                       "\"subscribe\" | \"unsubscribe\", ...}"})
            return
        if message.action == "auth":
            await self.authenticate(message.token or "")
        elif message.topic is None:
            await self.send({"type": "error", "error": "a topic is required"})
        elif message.action == "subscribe":
            await self.subscribe(message.topic, message.since)
        else:
            self.live.hub.unsubscribe(self.subscriber, message.topic)
            await self.send({"type": "unsubscribed", "topic": message.topic})

    async def authenticate(self, token: str) -> None:
        caller, reason = await standing(self.request, token)
        if caller is None:
            await self.send({"type": "error", "error": f"the token does not work: {reason}"})
            return
        self.token, self.caller, self.checked_at = token, caller, time.monotonic()
        await self.send({"type": "authenticated", "user": caller.user.email})
        await self.revoke_lost_rights("")  # a different account may have fewer rights

    async def subscribe(self, topic: str, since: str | None) -> None:
        # Every refusal is decided before any database query.
        if len(self.subscriber.topics) >= MAX_TOPICS and topic not in self.subscriber.topics:
            await self.send({"type": "error", "topic": topic, "error": "too many subscriptions"})
            return
        refused, accept = await self.authorize(topic)
        if refused is not None:
            await self.send({"type": "error", "topic": topic, "error": refused})
            return
        await self.send({"type": "subscribed", "topic": topic})
        if not self.live.hub.subscribe(self.subscriber, topic, since, accept):
            await self.catch_up(topic, since or "", accept)
        if topic in RIGHTS_TOPICS and (self.rights_watch is None or self.rights_watch.done()):
            self.rights_watch = asyncio.create_task(self.watch_rights())

    async def authorize(self, topic: str) -> tuple[str | None, Any]:
        """(refusal, event filter)."""
        if topic in PUBLIC_TOPICS:
            return None, None
        if match := _MOVIE_TOPIC.match(topic):
            await self.learn_comments_of(ObjectId(match.group(1)))
            return None, None
        if topic not in RIGHTS_TOPICS:
            return "unknown topic", None
        if self.caller is not None and time.monotonic() - self.checked_at > RIGHTS_CHECK_SECONDS:
            await self.recheck()
        user = None if self.caller is None else self.caller.user
        refused = topic_refusal(user, topic)
        if refused is not None or user is None:
            return refused, None
        if topic == "users":
            return None, None
        if not self.live.pre_images:
            # Deletions of clients are routed from what the service knows.
            db = self.request.config_dict[keys.DATABASE]
            for client in await users.clients_of(db, user.id):
                self.live.technician_of[client["_id"]] = user.id
        technician = user.id
        return None, lambda event: event.get("technician_id") == technician

    async def catch_up(self, topic: str, since: str, accept: Any) -> None:
        """``since`` names an event this process does not hold (another
        process's, or from before a restart): read what followed it from the
        database; its live events are held meanwhile."""
        runner = self.live.runner_for(topic)
        missed = None if runner is None else await runner.catch_up(topic, since, accept)
        if missed is None:
            self.live.hub.give_up(self.subscriber, topic,
                                  "missed events are no longer available")
        else:
            self.live.hub.caught_up(self.subscriber, topic, missed)

    async def learn_comments_of(self, movie_id: ObjectId) -> None:
        """Where the deployment keeps no pre-images, learn which comments belong
        to the movie, so deletions can be routed; later comments are learnt
        from their insert events."""
        if self.live.pre_images or movie_id in self.live.known_movies:
            return
        db = self.request.config_dict[keys.DATABASE]
        for comment_id in await comments.ids_for_movie(db, movie_id):
            self.live.movie_of[comment_id] = movie_id
        self.live.known_movies[movie_id] = True

    async def watch_rights(self) -> None:
        """While the socket holds topics that need rights, re-read the caller's
        standing (logout, password change, deletion, demotion, expiry) and take
        away what it no longer allows, within RIGHTS_CHECK_SECONDS."""
        while self.subscriber.topics & RIGHTS_TOPICS and not self.subscriber.closing:
            await asyncio.sleep(RIGHTS_CHECK_SECONDS)
            await self.recheck()

    async def recheck(self) -> None:
        caller, reason = (None, "signed out") if self.token is None else \
            await standing(self.request, self.token)
        self.checked_at = time.monotonic()
        self.caller = caller
        if caller is None:
            self.token = None
        await self.revoke_lost_rights(reason)

    async def revoke_lost_rights(self, reason: str) -> None:
        user = None if self.caller is None else self.caller.user
        for topic in sorted(self.subscriber.topics & RIGHTS_TOPICS):
            refused = topic_refusal(user, topic)
            if refused is None:
                continue
            self.live.hub.unsubscribe(self.subscriber, topic)
            await self.send({"type": "revoked", "topic": topic,
                             "reason": reason or f"no longer allowed: {refused}"})

    def close(self) -> None:
        if self.rights_watch is not None:
            self.rights_watch.cancel()


@routes.get("/live")
@endpoint("Websocket: subscribe to live change events (see the module's documentation)",
          tags=("live",), query=LiveQuery,
          responses={101: "switching to the websocket protocol"},
          errors={400: "not a websocket upgrade",
                  429: "too many connections from this address"})
async def live_socket(call: Call[LiveQuery, None, None]) -> web.WebSocketResponse:
    request = call.request
    limits = request.config_dict[keys.RATE_LIMITS]
    await limits.spend(limits.websockets_per_address, request.remote or "")
    # No permessage-deflate: browsers offer it, and it would compress every
    # event once per socket instead of encoding it once for all.
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES,
                                   compress=False)
    await socket.prepare(request)
    registry = request.config_dict[keys.WEBSOCKETS]
    registry.add(socket, request)
    hub = request.config_dict[keys.LIVE].hub
    subscriber = Subscriber(socket, request)
    subscriber.writer = asyncio.create_task(write_forever(subscriber, hub))
    connection = LiveConnection(request, subscriber)
    token = call.query.token or bearer_token(request)
    try:
        if token:
            await connection.authenticate(token)
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                try:
                    await connection.handle(message.data)
                except Exception:
                    # One bad request must not end the connection; the log has it.
                    log.exception("live message failed")
                    await connection.send({"type": "error", "error": "internal error"})
            elif message.type is WSMsgType.ERROR:
                break
    finally:
        connection.close()
        hub.drop(subscriber)
        registry.discard(socket)
        subscriber.stop()
        subscriber.writer.cancel()
        if not socket.closed:
            await close_socket(socket, request, WSCloseCode.OK, b"")
    return socket


class LiveStats(BaseModel):
    """Figures of the live feed in this process."""

    change_streams: dict[str, int]
    subscribers: int
    topics: int
    retained_events: int
    events_published: int
    slow_consumers_closed: int


@routes.get("/live/stats")
@endpoint("Figures of the live feed: change streams opened, subscribers, events",
          tags=("live",), responses={200: LiveStats})
async def live_stats(call: Call[None, None, None]) -> web.Response:
    request = call.request
    live = request.config_dict[keys.LIVE]
    return json_response({
        "change_streams": {name: runner.opened for name, runner in live.runners.items()},
        "subscribers": len(request.config_dict[keys.WEBSOCKETS]),
        "topics": live.hub.topic_count,
        "retained_events": live.hub.retained_events,
        "events_published": live.hub.events_published,
        "slow_consumers_closed": live.hub.slow_consumers_closed,
    })
