"""``GET /api/v1/live``: the websocket of the live feed.

Authentication (optional): a bearer token as the ``token`` query parameter, in
an ``Authorization`` header, or in a first message ``{"action": "auth",
"token": ...}``. Then, by message:

- ``{"action": "subscribe", "topic": T, "since": EVENT_ID?}``: ``since`` (the
  ``id`` of the last event seen) replays what was missed while still kept,
  else a ``reset`` event says to refetch;
- ``{"action": "unsubscribe", "topic": T}``.

Topics: ``movie:{id}:comments``, ``comments``, ``movies`` (anyone); ``users``
(admins); ``clients`` (technicians: their own clients). Each event is
``{"topic", "id", "op", "doc_id", "document"?, "changed"?, "time", ...}``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Annotated, Any, Literal

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pialara_async import keys
from pialara_async.api.auth import Caller, bearer_token, caller_from_token
from pialara_async.api.openapi import describe
from pialara_async.jsonio import dumps, json_response
from pialara_async.live.hub import Subscriber, write_forever
from pialara_async.live.registry import close_socket
from pialara_async.repositories import comments, users

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
MAX_TOPICS = 50
HEARTBEAT_SECONDS = 20.0
_MOVIE_TOPIC = re.compile(r"^movie:([0-9a-f]{24}):comments$")
PUBLIC_TOPICS = {"comments", "movies"}


class ClientMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    action: Literal["auth", "subscribe", "unsubscribe"]
    token: Annotated[str, Field(max_length=2048)] | None = None
    topic: Annotated[str, Field(max_length=64)] | None = None
    since: Annotated[str, Field(max_length=64)] | None = None


class LiveConnection:
    def __init__(self, request: web.Request, subscriber: Subscriber) -> None:
        self.request = request
        self.subscriber = subscriber
        self.caller: Caller | None = None
        self.live = request.config_dict[keys.LIVE]

    def send(self, body: dict[str, Any]) -> None:
        # Through the queue: the writer task is the socket's only writer.
        self.subscriber.offer(dumps(body))

    async def handle(self, raw: str) -> None:
        try:
            message = ClientMessage.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError):
            self.send({"type": "error", "error": "expected {\"action\": \"auth\" | "
                                                 "\"subscribe\" | \"unsubscribe\", ...}"})
            return
        if message.action == "auth":
            await self.authenticate(message.token or "")
        elif message.topic is None:
            self.send({"type": "error", "error": "a topic is required"})
        elif message.action == "subscribe":
            await self.subscribe(message.topic, message.since)
        else:
            self.live.hub.unsubscribe(self.subscriber, message.topic)
            self.send({"type": "unsubscribed", "topic": message.topic})

    async def authenticate(self, token: str) -> None:
        self.caller = await caller_from_token(self.request, token)
        if self.caller is None:
            self.send({"type": "error", "error": "the token is invalid, expired or revoked"})
        else:
            self.send({"type": "authenticated", "user": self.caller.user.email})

    async def subscribe(self, topic: str, since: str | None) -> None:
        refusal, accept = await self.authorize(topic)
        if refusal is not None:
            self.send({"type": "error", "topic": topic, "error": refusal})
            return
        if len(self.subscriber.topics) >= MAX_TOPICS and topic not in self.subscriber.topics:
            self.send({"type": "error", "topic": topic, "error": "too many subscriptions"})
            return
        self.send({"type": "subscribed", "topic": topic})
        self.live.hub.subscribe(self.subscriber, topic, since, accept)

    async def authorize(self, topic: str) -> tuple[str | None, Any]:
        """(refusal, event filter): the caller's rights are read from the database."""
        db = self.request.config_dict[keys.DATABASE]
        if topic in PUBLIC_TOPICS:
            return None, None
        if match := _MOVIE_TOPIC.match(topic):
            movie_id = ObjectId(match.group(1))
            if movie_id not in self.live.known_movies:
                # Learn which comments belong to the movie, so deletions can be
                # routed where the deployment keeps no pre-images; later comments
                # are learnt from their insert events.
                for comment_id in await comments.ids_for_movie(db, movie_id):
                    self.live.movie_of[comment_id] = movie_id
                self.live.known_movies.add(movie_id)
            return None, None
        if topic not in ("users", "clients"):
            return "unknown topic", None
        user = None if self.caller is None else await users.by_id(db, self.caller.user.id)
        if user is None:
            return "sign in first", None
        if topic == "users":
            return (None, None) if user.is_admin else ("administrators only", None)
        if user.role != "technician":
            return "technicians only", None
        clients_found = await users.clients_of(db, user.id)
        for client in clients_found:
            self.live.technician_of[client["_id"]] = user.id
        return None, lambda event: event.get("technician_id") == user.id


@routes.get("/live")
@describe("Websocket: subscribe to live change events (see the module's documentation)",
          tags=("live",), responses={101: "switching to the websocket protocol"})
async def live_socket(request: web.Request) -> web.WebSocketResponse:
    # No permessage-deflate: browsers offer it, and it would compress every
    # event once per socket instead of encoding it once for all.
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES,
                                   compress=False)
    await socket.prepare(request)
    registry = request.config_dict[keys.WEBSOCKETS]
    registry.add(socket, request)
    subscriber = Subscriber(socket, request)
    subscriber.writer = asyncio.create_task(write_forever(subscriber))
    connection = LiveConnection(request, subscriber)
    token = request.query.get("token") or bearer_token(request)
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
                    connection.send({"type": "error", "error": "internal error"})
            elif message.type is WSMsgType.ERROR:
                break
    finally:
        request.config_dict[keys.LIVE].hub.drop(subscriber)
        registry.discard(socket)
        subscriber.writer.cancel()
        if not socket.closed:
            await close_socket(socket, request, WSCloseCode.OK, b"")
    return socket


class LiveStats(BaseModel):
    """Figures of the live feed in this process."""

    change_streams: dict[str, int]
    subscribers: int
    events_published: int
    slow_consumers_closed: int


@routes.get("/live/stats")
@describe("Figures of the live feed: change streams opened, subscribers, events",
          tags=("live",), responses={200: LiveStats})
async def live_stats(request: web.Request) -> web.Response:
    live = request.config_dict[keys.LIVE]
    return json_response({
        "change_streams": {name: runner.opened for name, runner in live.runners.items()},
        "subscribers": len(request.config_dict[keys.WEBSOCKETS]),
        "events_published": live.hub.events_published,
        "slow_consumers_closed": live.hub.slow_consumers_closed,
    })
