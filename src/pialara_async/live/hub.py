"""Fan-out of change events to websocket subscribers, per topic.

Each event is serialised once per topic (UTF-8 JSON bytes, shared by every
socket) and put on every subscriber's own bounded queue; each socket has its
own writer task draining it. A slow reader therefore never delays anyone else:
when its queue is full, or a send to it has waited SEND_TIMEOUT, it is closed
with 1013 (try again later) and counted. Replies to a client's own messages
wait for room in its queue instead (only that client's reading waits), and a
``since`` replay is queued whole. Each topic keeps its recent events so a
reconnecting client can ask for what it missed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from pialara_async.jsonio import dumps
from pialara_async.live.registry import close_socket

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
HISTORY_SIZE = 1000  # events kept per topic for ``since``
HISTORY_TOTAL = 20_000  # and across all topics: the oldest go first
IDLE_TOPICS = 1000  # topics kept without subscribers, for clients reconnecting
IDLE_SECONDS = 120.0  # ... and for at most this long
SEND_TIMEOUT = 10.0  # a send that waits longer means the peer does not read


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class Subscriber:
    socket: web.WebSocketResponse
    request: web.Request
    # The socket's bounded send queue (at most QUEUE_SIZE messages, plus room
    # granted for a replay); only its writer task takes from it. A deque and
    # one wake-up future rather than an asyncio.Queue: with thousands of
    # sockets, every object allocated per socket and per event costs fan-out
    # time and garbage-collector work.
    pending: deque[bytes] = field(default_factory=deque)
    topics: set[str] = field(default_factory=set)
    # Filters a topic's events for this subscriber (e.g. a technician's clients).
    filters: dict[str, Callable[[dict[str, Any]], bool]] = field(default_factory=dict)
    writer: asyncio.Task[None] | None = None
    closing: bool = False
    wakeup: asyncio.Future[None] | None = None
    extra: int = 0  # room beyond QUEUE_SIZE granted to replayed history
    room: asyncio.Future[None] | None = None  # a reply waiting for the queue to drain
    # Topics being caught up from the database: their live events wait here
    # (id, message) until the catch-up has been queued.
    holding: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)

    def offer(self, message: bytes) -> bool:
        """Queue without waiting; False when the subscriber cannot keep up."""
        if self.closing:
            return True
        if len(self.pending) >= QUEUE_SIZE + self.extra:
            return False
        self.pending.append(message)
        self._wake()
        return True

    def offer_replay(self, messages: list[bytes]) -> None:
        """Queue a replay whole: it is bounded by the history, and a client
        catching up must not be taken for a slow one."""
        if self.closing or not messages:
            return
        self.extra += len(messages)
        self.pending.extend(messages)
        self._wake()

    async def reply(self, message: bytes) -> None:
        """Queue an answer to the client's own message, waiting for room rather
        than dropping it: only this client's reading waits."""
        loop = asyncio.get_running_loop()
        while not self.closing and len(self.pending) >= QUEUE_SIZE + self.extra:
            self.room = loop.create_future()
            await self.room
        if not self.closing:
            self.pending.append(message)
            self._wake()

    def sent(self) -> None:
        """The writer took a message: release the replay's room, wake a reply."""
        if self.extra and len(self.pending) <= QUEUE_SIZE:
            self.extra = 0
        if self.room is not None and len(self.pending) < QUEUE_SIZE + self.extra:
            self._release_room()

    def stop(self) -> None:
        """No more sending: wake whoever waits for room."""
        self.closing = True
        self._release_room()

    def _release_room(self) -> None:
        room, self.room = self.room, None
        if room is not None and not room.done():
            room.set_result(None)

    def _wake(self) -> None:
        wakeup, self.wakeup = self.wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)


@dataclass(slots=True, eq=False)
class Topic:
    subscribers: set[Subscriber] = field(default_factory=set)
    # (sequence, id, event, message), oldest first; every event of the topic
    # with a sequence above ``floor`` is here.
    history: deque[tuple[int, str, dict[str, Any], bytes]] = field(default_factory=deque)
    floor: int = 0


class LiveHub:
    """The ``standing`` topics (one per feed: comments, movies, users, clients)
    always keep their recent events. Any other topic (a movie's comments)
    exists while it has subscribers, and for a while after (idle), so a client
    that reconnects with ``since`` gets what it missed; an event for such a
    topic nobody holds costs nothing. Memory is bounded: HISTORY_SIZE events
    per topic, HISTORY_TOTAL in all, IDLE_TOPICS idle topics."""

    def __init__(self, standing: tuple[str, ...] = ()) -> None:
        # Events from change streams carry their resume token's ``_data`` as
        # their id: the same in every process and across restarts. Others
        # (published by hand) get "<epoch>:<sequence>", local to the process.
        self.epoch = uuid.uuid4().hex[:8]
        self.sequence = 0
        self._topics: dict[str, Topic] = {topic: Topic() for topic in standing}
        self._standing = frozenset(standing)
        self._idle: OrderedDict[str, float] = OrderedDict()  # topic -> idle since
        self._retained: deque[tuple[Topic, int]] = deque()  # every kept event, oldest first
        self.slow_consumers_closed = 0
        self.events_published = 0
        self._closers: set[asyncio.Task[None]] = set()

    def subscriber_count(self, topic: str) -> int:
        found = self._topics.get(topic)
        return 0 if found is None else len(found.subscribers)

    @property
    def topic_count(self) -> int:
        return len(self._topics)

    @property
    def retained_events(self) -> int:
        return sum(len(state.history) for state in self._topics.values())

    def queue_depths(self) -> list[int]:
        """Messages waiting in each subscribed socket's queue."""
        subscribers = {s for state in self._topics.values() for s in state.subscribers}
        return [len(s.pending) for s in subscribers]

    def subscribe(self, subscriber: Subscriber, topic: str, since: str | None = None,
                  accept: Callable[[dict[str, Any]], bool] | None = None) -> bool:
        """Subscribe, replaying what came after ``since`` when this process
        still holds it. False when it does not: the topic's live events are
        then held for the subscriber until ``caught_up`` (or ``give_up``)."""
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = Topic(floor=self.sequence)
        self._idle.pop(topic, None)
        state.subscribers.add(subscriber)
        subscriber.topics.add(topic)
        if accept is not None:
            subscriber.filters[topic] = accept
        if since is None or self._replay(subscriber, topic, state, since):
            return True
        subscriber.holding[topic] = []
        return False

    def _replay(self, subscriber: Subscriber, topic: str, state: Topic, since: str) -> bool:
        accept = subscriber.filters.get(topic)
        for position, entry in enumerate(state.history):
            if entry[1] == since:
                later = itertools.islice(state.history, position + 1, None)
                subscriber.offer_replay([message for _seq, _id, event, message in later
                                         if accept is None or accept(event)])
                return True
        epoch, _, number = since.partition(":")
        if epoch == self.epoch and number.isdigit() and int(number) >= state.floor:
            subscriber.offer_replay([message for sequence, _id, event, message in state.history
                                     if sequence > int(number)
                                     and (accept is None or accept(event))])
            return True
        return False

    def caught_up(self, subscriber: Subscriber, topic: str,
                  missed: list[tuple[str, bytes]]) -> None:
        """Queue what a catch-up found, then the live events held meanwhile
        that it did not already hold, in order."""
        held = subscriber.holding.pop(topic, [])
        seen = {event_id for event_id, _message in missed}
        subscriber.offer_replay([message for _id, message in missed] +
                                [message for event_id, message in held if event_id not in seen])

    def give_up(self, subscriber: Subscriber, topic: str, reason: str) -> None:
        """The missed events cannot be had: say refetch, then go on live."""
        held = subscriber.holding.pop(topic, [])
        subscriber.offer_replay([self._reset_message(topic, reason)] +
                                [message for _id, message in held])

    def unsubscribe(self, subscriber: Subscriber, topic: str) -> None:
        subscriber.topics.discard(topic)
        subscriber.filters.pop(topic, None)
        subscriber.holding.pop(topic, None)
        state = self._topics.get(topic)
        if state is not None:
            state.subscribers.discard(subscriber)
            if not state.subscribers and topic not in self._standing:
                self._idle[topic] = time.monotonic()
                self._forget_idle()

    def drop(self, subscriber: Subscriber) -> None:
        for topic in list(subscriber.topics):
            self.unsubscribe(subscriber, topic)

    def message(self, topic: str, event: dict[str, Any], event_id: str) -> tuple[
        dict[str, Any], bytes
    ]:
        """The event as subscribers get it, and its encoded frame."""
        event = {"topic": topic, "id": event_id, **event}
        return event, dumps(event)

    def publish(self, topic: str, event: dict[str, Any], event_id: str | None = None) -> None:
        self.events_published += 1
        self.sequence += 1
        state = self._topics.get(topic)
        if state is None:
            return  # nobody listens, nor will ask for it
        event_id = event_id or f"{self.epoch}:{self.sequence}"
        event, message = self.message(topic, event, event_id)
        self._retain(state, (self.sequence, event_id, event, message))
        for subscriber in list(state.subscribers):
            accept = subscriber.filters.get(topic)
            if accept is not None and not accept(event):
                continue
            held = subscriber.holding.get(topic)
            if held is None:
                self._deliver(subscriber, message)
            elif len(held) < QUEUE_SIZE:
                held.append((event_id, message))
            else:
                self.close_slow(subscriber)  # it cannot catch up with this pace
        self._forget_idle()

    def _retain(self, state: Topic, entry: tuple[int, str, dict[str, Any], bytes]) -> None:
        if len(state.history) >= HISTORY_SIZE:
            state.floor = state.history.popleft()[0]
        state.history.append(entry)
        self._retained.append((state, entry[0]))
        while len(self._retained) > HISTORY_TOTAL:
            oldest, sequence = self._retained.popleft()
            if oldest.history and oldest.history[0][0] == sequence:
                oldest.floor = oldest.history.popleft()[0]

    def _forget_idle(self) -> None:
        """Drop idle topics past IDLE_SECONDS or beyond IDLE_TOPICS, oldest first."""
        cutoff = time.monotonic() - IDLE_SECONDS
        while self._idle:
            topic, since = next(iter(self._idle.items()))
            if since > cutoff and len(self._idle) <= IDLE_TOPICS:
                break
            del self._idle[topic]
            state = self._topics.get(topic)
            if state is not None and not state.subscribers and topic not in self._standing:
                del self._topics[topic]

    def reset(self, topic_prefix: str, reason: str) -> None:
        """Tell subscribers of matching topics that events were lost: refetch."""
        for topic, state in self._topics.items():
            if topic == topic_prefix or topic.startswith(topic_prefix):
                state.history.clear()
                state.floor = self.sequence
                message = self._reset_message(topic, reason)
                for subscriber in list(state.subscribers):
                    self._deliver(subscriber, message)

    def _reset_message(self, topic: str, reason: str) -> bytes:
        return dumps({"topic": topic, "op": "reset", "reason": reason})

    def _deliver(self, subscriber: Subscriber, message: bytes) -> None:
        if not subscriber.offer(message):
            self.close_slow(subscriber)

    def close_slow(self, subscriber: Subscriber) -> None:
        """Close a subscriber that does not keep up with 1013 (try again later)."""
        if subscriber.closing:
            return
        self.slow_consumers_closed += 1
        subscriber.stop()
        self.drop(subscriber)
        log.info("closing a websocket that does not keep up")
        # Its writer may be stuck on a full socket buffer: stop it and close.
        if subscriber.writer is not None and subscriber.writer is not asyncio.current_task():
            subscriber.writer.cancel()
        closer = asyncio.create_task(close_socket(
            subscriber.socket, subscriber.request, WSCloseCode.TRY_AGAIN_LATER, b"too slow"))
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)


async def write_forever(subscriber: Subscriber, hub: LiveHub) -> None:
    """The socket's writer, its only one: sends the queued messages (text
    frames of the already encoded JSON) in order, and sleeps when none is left.
    A send still waiting after SEND_TIMEOUT (the peer reads nothing and the
    socket's buffers are full) closes the socket as a slow consumer."""
    socket = subscriber.socket
    pending = subscriber.pending
    loop = asyncio.get_running_loop()
    try:
        while not socket.closed:
            if pending:
                message = pending.popleft()
                subscriber.sent()
                try:
                    async with asyncio.timeout(SEND_TIMEOUT):
                        await socket.send_frame(message, WSMsgType.TEXT)
                except TimeoutError:
                    hub.close_slow(subscriber)
                    return
            else:
                subscriber.wakeup = loop.create_future()
                await subscriber.wakeup
    except ConnectionError:
        pass
    finally:
        subscriber.stop()
