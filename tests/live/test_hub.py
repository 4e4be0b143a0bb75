"""The hub's limits: replays, answers to every message, bounded memory, slow peers."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.live import hub as hub_module
from pialara_async.live import topics
from pialara_async.live.state import LIVE
from tests.accounts import Account
from tests.conftest import eventually
from tests.live.conftest import (
    post_comment,
    receive,
    socket_for,
    subscribe,
)


async def test_a_replay_longer_than_the_queue_arrives_whole(client: TestClient) -> None:
    hub = client.app[LIVE].hub
    ws = await socket_for(client)
    await subscribe(ws, "movies")
    hub.publish("movies", {"op": "update", "doc_id": -1})
    last_seen = (await receive(ws))["id"]
    await ws.close()
    missed = hub_module.QUEUE_SIZE * 3
    for number in range(missed):
        hub.publish("movies", {"op": "update", "doc_id": number})
    again = await socket_for(client)
    assert (await subscribe(again, "movies", since=last_seen))["type"] == "subscribed"
    replayed = [(await receive(again))["doc_id"] for _ in range(missed)]
    assert replayed == list(range(missed))
    assert hub.slow_consumers_closed == 0
    # Afterwards the queue is bounded as before.
    assert again.closed is False


async def test_every_pipelined_message_gets_its_answer(client: TestClient) -> None:
    ws = await socket_for(client)
    count = 1000
    for number in range(count):
        topic = "movies" if number % 2 else "comments"
        await ws.send_str(json.dumps({"action": "subscribe", "topic": topic}))
    answers = [await receive(ws) for _ in range(count)]
    assert [a["type"] for a in answers] == ["subscribed"] * count
    assert client.app[LIVE].hub.slow_consumers_closed == 0


async def test_topics_nobody_holds_keep_no_memory(
    client: TestClient, technician: Account, movies: list[ObjectId],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = client.app[LIVE].hub
    monkeypatch.setattr(hub_module, "IDLE_TOPICS", 20)
    for number in range(20):
        await post_comment(client, technician, movies[number % 2], f"nobody reads {number}")
    # "comments" and the movie's topic, each; nobody is subscribed to await them.
    await eventually(lambda: hub.events_published >= 40, what="40 events published")
    # Only the standing topics keep events (bounded); no movie topic was made,
    # and the 20 events for the movies' own topics were not kept.
    assert hub.topic_count == len(topics.STANDING)
    assert hub.retained_events == hub.events_published - 20

    ws = await socket_for(client)
    for _ in range(300):
        topic = f"movie:{ObjectId()}:comments"
        await ws.send_json({"action": "subscribe", "topic": topic})
        await ws.send_json({"action": "unsubscribe", "topic": topic})
    for _ in range(600):
        await receive(ws)
    assert hub.topic_count <= len(topics.STANDING) + 20
    assert len(client.app[LIVE].known_movies) <= 10_000


async def test_history_is_bounded_per_topic_and_in_all(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = client.app[LIVE].hub
    monkeypatch.setattr(hub_module, "HISTORY_SIZE", 50)
    monkeypatch.setattr(hub_module, "HISTORY_TOTAL", 120)
    ws = await socket_for(client)
    for topic in ("movies", "comments", "users-free"):
        await ws.send_json({"action": "subscribe", "topic": topic})
    answers = [(await receive(ws))["type"] for _ in range(3)]
    assert answers == ["subscribed", "subscribed", "error"]  # an unknown topic
    first = None
    for number in range(200):
        hub.publish("movies", {"op": "update", "doc_id": number})
        hub.publish("comments", {"op": "update", "doc_id": number})
        await asyncio.sleep(0)  # let the writer run, as between real events
    for _ in range(400):
        event = await receive(ws)
        first = first or event["id"]
    assert hub.retained_events <= 120
    again = await socket_for(client)
    await subscribe(again, "movies", since=first)
    assert (await receive(again))["op"] == "reset"  # too old: refetch


async def test_messages_past_the_budget_are_answered_not_served(
    aiohttp_client: Any, tmp_path: Any, mongo_uri: str, database_name: str, db: Any
) -> None:
    from pialara_async.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, mongo_uri, database_name,
                             limits={"messages_per_websocket": "5/minute",
                                     "websockets_per_address": "2/minute"})
    client = await aiohttp_client(create_app(settings))
    ws = await socket_for(client)
    for _ in range(8):
        await ws.send_json({"action": "subscribe", "topic": "movies"})
    answers = [await receive(ws) for _ in range(8)]
    assert [a["type"] for a in answers] == ["subscribed"] * 5 + ["error"] * 3
    assert "too many messages" in answers[-1]["error"]
    assert answers[-1]["retry_after"] > 0
    await socket_for(client)  # the second connection of this address
    refused = await client.get("/api/v1/live", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) > 0


async def test_a_peer_that_reads_nothing_is_closed_as_slow_before_its_queue_fills(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large events fill the kernel's buffers long before 256 are queued: the
    # send that then waits past SEND_TIMEOUT closes the socket as slow.
    monkeypatch.setattr(hub_module, "SEND_TIMEOUT", 0.5)
    hub = client.app[LIVE].hub
    port = client.server.port
    peer = socket.create_connection(("127.0.0.1", port))
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.sendall((f"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    frame = json.dumps({"action": "subscribe", "topic": "movies"}).encode()
    mask = b"\x01\x02\x03\x04"
    peer.sendall(bytes([0x81, 0x80 | len(frame)]) + mask +
                 bytes(b ^ mask[i % 4] for i, b in enumerate(frame)))
    try:
        for _ in range(200):
            if hub.subscriber_count("movies") == 1:
                break
            await asyncio.sleep(0.01)  # the raw peer has no event to await
        padding = "x" * 200_000
        for number in range(60):  # 12 MB, far less than 256 events
            hub.publish("movies", {"op": "update", "doc_id": number, "padding": padding})
        for _ in range(300):
            if hub.slow_consumers_closed:
                break
            await asyncio.sleep(0.01)
        assert hub.slow_consumers_closed == 1
        assert hub.subscriber_count("movies") == 0
    finally:
        peer.close()


async def test_the_stats_show_the_hub(client: TestClient) -> None:
    response = await client.get("/api/v1/live/stats")
    body = await response.json()
    assert {"topics", "retained_events", "slow_consumers_closed"} <= set(body)
