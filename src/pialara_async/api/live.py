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
from typing import Annotated

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from pialara_async.api.auth import bearer_token
from pialara_async.api.endpoint import Call, endpoint
from pialara_async.live.hub import Subscriber, write_forever
from pialara_async.live.registry import WEBSOCKETS, close_socket
from pialara_async.live.session import LiveSession
from pialara_async.live.state import LIVE
from pialara_async.security.rate_limits import RATE_LIMITS

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
HEARTBEAT_SECONDS = 20.0


class LiveQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    token: Annotated[str, Field(max_length=2048)] | SkipJsonSchema[None] = Field(
        None, description="a bearer token (or send it in an auth message)")


@routes.get("/live")
@endpoint("Websocket: subscribe to live change events (see the module's documentation)",
          tags=("live",), query=LiveQuery,
          responses={101: "switching to the websocket protocol"},
          errors={400: "not a websocket upgrade",
                  429: "too many connections from this address"})
async def live_socket(call: Call[LiveQuery, None, None]) -> web.WebSocketResponse:
    request = call.request
    limits = request.config_dict[RATE_LIMITS]
    await limits.spend(limits.websockets_per_address, request.remote or "")
    # No permessage-deflate: browsers offer it, and it would compress every
    # event once per socket instead of encoding it once for all.
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES,
                                   compress=False)
    await socket.prepare(request)
    registry = request.config_dict[WEBSOCKETS]
    registry.add(socket, request)
    hub = request.config_dict[LIVE].hub
    subscriber = Subscriber(socket, request)
    subscriber.writer = asyncio.create_task(write_forever(subscriber, hub))
    connection = LiveSession(subscriber, request.config_dict[LIVE], call.people, call.db,
                             limits)
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
async def live_stats(call: Call[None, None, None]) -> LiveStats:
    live = call.app(LIVE)
    return LiveStats(
        change_streams={name: runner.opened for name, runner in live.runners.items()},
        subscribers=len(call.app(WEBSOCKETS)), topics=live.hub.topic_count,
        retained_events=live.hub.retained_events, events_published=live.hub.events_published,
        slow_consumers_closed=live.hub.slow_consumers_closed)
