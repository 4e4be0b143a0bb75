"""Fan-out of change events to websocket subscribers, per topic.

Each event is serialised once per topic (UTF-8 JSON bytes, shared by every
socket) and put on every subscriber's own bounded queue; each socket has its
own writer task draining it. A slow reader therefore never delays anyone else:
when its queue is full it is closed with 1013 (try again later) and counted.
Each topic keeps its recent events so a reconnecting client can ask for what it
missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from pialara_async.jsonio import dumps
from pialara_async.live.registry import close_socket

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
HISTORY_SIZE = 1000


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class Subscriber:
    socket: web.WebSocketResponse
    request: web.Request
    # The socket's bounded send queue (at most QUEUE_SIZE messages); only its
    # writer task takes from it. A deque and one wake-up future rather than an
    # asyncio.Queue: with thousands of sockets, every object allocated per
    # socket and per event costs fan-out time and garbage-collector work.
    pending: deque[bytes] = field(default_factory=deque)
    topics: set[str] = field(default_factory=set)
    # Filters a topic's events for this subscriber (e.g. a technician's clients).
    filters: dict[str, Callable[[dict[str, Any]], bool]] = field(default_factory=dict)
    writer: asyncio.Task[None] | None = None
    closing: bool = False
    wakeup: asyncio.Future[None] | None = None

    def offer(self, message: bytes) -> bool:
        """Queue without waiting; False when the subscriber cannot keep up."""
        if self.closing:
            return True
        if len(self.pending) >= QUEUE_SIZE:
            return False
        self.pending.append(message)
        wakeup, self.wakeup = self.wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        return True


@dataclass(slots=True)
class Topic:
    sequence: int = 0
    subscribers: set[Subscriber] = field(default_factory=set)
    history: deque[tuple[int, dict[str, Any], bytes]] = field(
        default_factory=lambda: deque(maxlen=HISTORY_SIZE))


class LiveHub:
    def __init__(self) -> None:
        # Event ids are "<epoch>:<sequence>"; a new process is a new epoch, so a
        # client holding an id from before a restart is told to refetch.
        self.epoch = uuid.uuid4().hex[:8]
        self._topics: dict[str, Topic] = {}
        self.slow_consumers_closed = 0
        self.events_published = 0
        self._closers: set[asyncio.Task[None]] = set()

    def subscriber_count(self, topic: str) -> int:
        found = self._topics.get(topic)
        return 0 if found is None else len(found.subscribers)

    def subscribe(self, subscriber: Subscriber, topic: str, since: str | None = None,
                  accept: Callable[[dict[str, Any]], bool] | None = None) -> None:
        state = self._topics.setdefault(topic, Topic())
        state.subscribers.add(subscriber)
        subscriber.topics.add(topic)
        if accept is not None:
            subscriber.filters[topic] = accept
        if since is not None:
            self._replay(subscriber, topic, state, since)

    def _replay(self, subscriber: Subscriber, topic: str, state: Topic, since: str) -> None:
        epoch, _, number = since.partition(":")
        accept = subscriber.filters.get(topic)
        oldest = state.history[0][0] if state.history else state.sequence + 1
        if epoch != self.epoch or not number.isdigit() or int(number) + 1 < oldest:
            self._deliver(subscriber, self._reset_message(topic, "missed events are no longer "
                                                                 "available"))
            return
        for sequence, event, message in state.history:
            if sequence > int(number) and (accept is None or accept(event)):
                self._deliver(subscriber, message)

    def unsubscribe(self, subscriber: Subscriber, topic: str) -> None:
        state = self._topics.get(topic)
        if state is not None:
            state.subscribers.discard(subscriber)
        subscriber.topics.discard(topic)
        subscriber.filters.pop(topic, None)

    def drop(self, subscriber: Subscriber) -> None:
        for topic in list(subscriber.topics):
            self.unsubscribe(subscriber, topic)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        state = self._topics.setdefault(topic, Topic())
        state.sequence += 1
        event = {"topic": topic, "id": f"{self.epoch}:{state.sequence}", **event}
        message = dumps(event)
        state.history.append((state.sequence, event, message))
        self.events_published += 1
        for subscriber in list(state.subscribers):
            accept = subscriber.filters.get(topic)
            if accept is None or accept(event):
                self._deliver(subscriber, message)

    def reset(self, topic_prefix: str, reason: str) -> None:
        """Tell subscribers of matching topics that events were lost: refetch."""
        for topic, state in self._topics.items():
            if topic == topic_prefix or topic.startswith(topic_prefix):
                state.history.clear()
                message = self._reset_message(topic, reason)
                for subscriber in list(state.subscribers):
                    self._deliver(subscriber, message)

    def _reset_message(self, topic: str, reason: str) -> bytes:
        return dumps({"topic": topic, "op": "reset", "reason": reason})

    def _deliver(self, subscriber: Subscriber, message: bytes) -> None:
        if not subscriber.offer(message):
            self.slow_consumers_closed += 1
            subscriber.closing = True
            self.drop(subscriber)
            log.info("closing a websocket that does not keep up")
            # Its writer may be stuck on a full socket buffer: stop it and close.
            if subscriber.writer is not None:
                subscriber.writer.cancel()
            closer = asyncio.create_task(close_socket(
                subscriber.socket, subscriber.request, WSCloseCode.TRY_AGAIN_LATER, b"too slow"))
            self._closers.add(closer)
            closer.add_done_callback(self._closers.discard)


async def write_forever(subscriber: Subscriber) -> None:
    """The socket's writer, its only one: sends the queued messages (text
    frames of the already encoded JSON) in order, and sleeps when none is left."""
    socket = subscriber.socket
    pending = subscriber.pending
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionError):
        while not socket.closed:
            if pending:
                await socket.send_frame(pending.popleft(), WSMsgType.TEXT)
            else:
                subscriber.wakeup = loop.create_future()
                await subscriber.wakeup
