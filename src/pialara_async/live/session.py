"""One websocket's session of the live feed: its caller, its subscriptions,
and the rights that keep them. The HTTP handler (``api/live.py``) only
upgrades the connection and hands each message here.

Messages: ``{"action": "auth", "token"}``, ``{"action": "subscribe", "topic",
"since"?}``, ``{"action": "unsubscribe", "topic"}``. Every message gets an
answer (``authenticated``, ``subscribed``, ``unsubscribed`` or ``error``).
While the socket holds topics that need rights, the caller's standing is read
again every RIGHTS_CHECK_SECONDS; what it no longer allows is taken away with
``{"type": "revoked", "topic", "reason"}``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pialara_async import policy
from pialara_async.jsonio import dumps
from pialara_async.live import topics
from pialara_async.live.hub import Subscriber
from pialara_async.live.state import Live
from pialara_async.models import Caller
from pialara_async.repositories import comments
from pialara_async.security.rate_limits import RateLimits, TooManyRequests
from pialara_async.services.people import People

MAX_TOPICS = 50
# How stale a socket's view of its caller's rights may be: a demoted, deleted
# or signed-out caller loses the topics that needed them within this time.
RIGHTS_CHECK_SECONDS = 0.5

Accept = Callable[[dict[str, Any]], bool] | None


class ClientMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    action: Literal["auth", "subscribe", "unsubscribe"]
    token: Annotated[str, Field(max_length=2048)] | None = None
    topic: Annotated[str, Field(max_length=64)] | None = None
    since: Annotated[str, Field(max_length=512)] | None = None


class LiveSession:
    def __init__(self, subscriber: Subscriber, live: Live, people: People, db: Any,
                 limits: RateLimits) -> None:
        self.subscriber = subscriber
        self.live = live
        self.people = people
        self.db = db
        self.limits = limits
        self.id = uuid.uuid4().hex  # the key of this socket's message budget
        self.token: str | None = None
        self.caller: Caller | None = None
        self.checked_at = 0.0  # when the caller's rights were last read
        self.rights_watch: asyncio.Task[None] | None = None

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
        caller, reason = await self.people.standing(token)
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
        if topic in topics.GUARDED and (self.rights_watch is None or self.rights_watch.done()):
            self.rights_watch = asyncio.create_task(self.watch_rights())

    async def authorize(self, name: str) -> tuple[str | None, Accept]:
        """(refusal, event filter)."""
        topic = topics.lookup(name)
        if topic is None:
            return "unknown topic", None
        movie = topics.movie_of(name)
        if movie is not None:
            await self.learn_comments_of(movie)
        if topic.role is None:
            return None, None
        if self.caller is not None and time.monotonic() - self.checked_at > RIGHTS_CHECK_SECONDS:
            await self.recheck()
        user = None if self.caller is None else self.caller.user
        refused = policy.watch_refusal(user, topic.role)
        if refused is not None or user is None:
            return refused, None
        if name == topics.CLIENTS and not self.live.pre_images:
            # Deletions of clients are routed from what the service knows.
            for client in await self.people.clients_of(user.id):
                self.live.technician_of[client["_id"]] = user.id
        return None, None if topic.seen_by is None else topic.seen_by(user)

    async def catch_up(self, topic: str, since: str, accept: Accept) -> None:
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
        for comment_id in await comments.ids_for_movie(self.db, movie_id):
            self.live.movie_of[comment_id] = movie_id
        self.live.known_movies[movie_id] = True

    async def watch_rights(self) -> None:
        """While the socket holds topics that need rights, re-read the caller's
        standing (logout, password change, deletion, demotion, expiry) and take
        away what it no longer allows, within RIGHTS_CHECK_SECONDS."""
        while self.subscriber.topics & topics.GUARDED and not self.subscriber.closing:
            await asyncio.sleep(RIGHTS_CHECK_SECONDS)
            await self.recheck()

    async def recheck(self) -> None:
        caller, reason = (None, "signed out") if self.token is None else \
            await self.people.standing(self.token)
        self.checked_at = time.monotonic()
        self.caller = caller
        if caller is None:
            self.token = None
        await self.revoke_lost_rights(reason)

    async def revoke_lost_rights(self, reason: str) -> None:
        user = None if self.caller is None else self.caller.user
        for name in sorted(self.subscriber.topics & topics.GUARDED):
            topic = topics.TOPICS[name]
            refused = policy.watch_refusal(user, topic.role)
            if refused is None:
                continue
            self.live.hub.unsubscribe(self.subscriber, name)
            await self.send({"type": "revoked", "topic": name,
                             "reason": reason or f"no longer allowed: {refused}"})

    def close(self) -> None:
        if self.rights_watch is not None:
            self.rights_watch.cancel()
