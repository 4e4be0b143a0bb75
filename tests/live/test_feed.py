"""The live feed end to end: HTTP writes → change streams → websocket subscribers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.app import create_app
from pialara_async.db.client import DATABASE
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.live.state import LIVE
from pialara_async.services.people import PEOPLE
from tests.accounts import PASSWORD, Account, login
from tests.conftest import make_settings
from tests.live.conftest import (
    COMMENT,
    feeds_ready,
    nothing_more,
    post_comment,
    receive,
    socket_for,
    subscribe,
)


async def test_comment_events_reach_only_their_movie(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    watching, other = await socket_for(client), await socket_for(client)
    assert (await subscribe(watching, f"movie:{movies[0]}:comments"))["type"] == "subscribed"
    await subscribe(other, f"movie:{movies[1]}:comments")

    started = asyncio.get_running_loop().time()
    comment_id = await post_comment(client, technician, movies[0], "hello")
    created = await receive(watching, timeout=3.0)
    assert asyncio.get_running_loop().time() - started < 3.0  # generous on a busy machine
    assert created["op"] == "insert"
    assert created["doc_id"] == comment_id
    assert created["document"]["text"] == "hello"
    assert "user_id" not in created["document"]  # the owner stays internal
    assert created["topic"] == f"movie:{movies[0]}:comments"

    await client.put(COMMENT, headers=technician.headers,
                     json={"comment_id": comment_id, "updated_comment": "edited"})
    edited = await receive(watching, timeout=3.0)
    assert (edited["op"], edited["document"]["text"]) == ("update", "edited")
    assert "user_id" not in edited["document"]

    await client.delete(COMMENT, headers=technician.headers, json={"comment_id": comment_id})
    deleted = await receive(watching, timeout=3.0)
    assert (deleted["op"], deleted["doc_id"]) == ("delete", comment_id)
    await nothing_more(other)


async def test_movie_updates_carry_what_changed_not_the_movie(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    ws = await socket_for(client)
    await subscribe(ws, "movies")
    await post_comment(client, technician, movies[0], "counted")
    counted = await receive(ws, timeout=3.0)
    while counted["op"] == "insert":  # the fixture's movies, if the feed saw them late
        counted = await receive(ws, timeout=3.0)
    assert (counted["op"], counted["doc_id"]) == ("update", str(movies[0]))
    assert counted["changed"] == {"updated": {"num_mflix_comments": 1}, "removed": []}
    assert "document" not in counted


async def assert_an_old_comments_deletion_is_routed(
    client: TestClient, db: Any, technician: Account, movie_id: ObjectId
) -> None:
    """A comment written before anyone subscribed, deleted over HTTP: the
    delete event reaches the movie's subscribers."""
    old = await db.comments.insert_one({"movie_id": movie_id, "email": technician.email,
                                        "user_id": technician.id, "name": "T",
                                        "text": "old"})
    ws = await socket_for(client)
    await subscribe(ws, f"movie:{movie_id}:comments")  # learns the movie's comments
    response = await client.delete(COMMENT, headers=technician.headers,
                                   json={"comment_id": str(old.inserted_id)})
    assert response.status == 200
    event = await receive(ws, timeout=1.0)
    if event["op"] == "insert":  # the feed may see the insert after the subscription
        event = await receive(ws, timeout=1.0)
    assert (event["op"], event["doc_id"]) == ("delete", str(old.inserted_id))


async def test_delete_of_a_comment_made_before_the_service_started_is_routed(
    client: TestClient, db: Any, technician: Account, movies: list[ObjectId]
) -> None:
    await assert_an_old_comments_deletion_is_routed(client, db, technician, movies[0])


@pytest.fixture
def without_pre_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service as on a deployment that keeps no pre-images (MongoDB < 6.0)."""
    async def unavailable(db: Any, collection: str) -> bool:
        return False

    monkeypatch.setattr("pialara_async.live.service.pre_images_enabled", unavailable)


async def test_without_pre_images_deletions_are_routed_from_what_the_service_knows(
    without_pre_images: None, client: TestClient, db: Any, technician: Account,
    movies: list[ObjectId]
) -> None:
    assert not client.app[LIVE].pre_images
    await assert_an_old_comments_deletion_is_routed(client, db, technician, movies[0])


async def test_two_hundred_subscribers_receive_one_event_exactly_once(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    # A session of its own: the test client's pool holds 100 connections.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets = [await socket_for(client, session=session) for _ in range(200)]
    await asyncio.gather(*(subscribe(ws, f"movie:{movies[0]}:comments") for ws in sockets))
    assert client.app[LIVE].hub.subscriber_count(f"movie:{movies[0]}:comments") == 200
    comment_id = await post_comment(client, technician, movies[0], "to everyone")
    events = await asyncio.gather(*(receive(ws, timeout=5.0) for ws in sockets))
    assert {e["doc_id"] for e in events} == {comment_id}
    await asyncio.gather(*(nothing_more(ws, 0.2) for ws in sockets[:20]))
    # One change stream per collection, however many sockets.
    stats = await (await client.get("/api/v1/live/stats")).json()
    assert stats["change_streams"] == {"comments": 1, "movies": 1, "users": 1,
                                       "recordings": 1}
    assert stats["subscribers"] == 200
    await asyncio.gather(*(ws.close() for ws in sockets))
    await session.close()


async def test_comments_from_writers_at_once_reach_every_subscriber_exactly_once(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    """People commenting together on one movie: eight writers at once, each
    event delivered once to every subscriber (latency: bench/live_feed.py --writers)."""
    topic = f"movie:{movies[0]}:comments"
    sockets = [await socket_for(client) for _ in range(3)]
    for ws in sockets:
        await subscribe(ws, topic)

    async def writer(number: int) -> list[str]:
        return [await post_comment(client, technician, movies[0], f"w{number}-{n}")
                for n in range(5)]

    posted = {c for ids in await asyncio.gather(*map(writer, range(8))) for c in ids}
    assert len(posted) == 40
    for ws in sockets:
        received = [(await receive(ws, timeout=10.0))["doc_id"] for _ in range(40)]
        assert sorted(received) == sorted(posted)  # each once
        await nothing_more(ws, 0.2)


async def test_events_are_sent_uncompressed_even_when_the_client_offers_deflate(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    await feeds_ready(client.app)
    ws = await client.ws_connect("/api/v1/live", compress=15)  # as browsers offer
    assert ws.compress == 0  # the server declined the extension
    await subscribe(ws, f"movie:{movies[0]}:comments")
    comment_id = await post_comment(client, technician, movies[0], "plain frames")
    assert (await receive(ws))["doc_id"] == comment_id
    await ws.close()


async def test_subscriptions_need_the_right_role(
    client: TestClient, admin: Account, technician: Account, client_account: Account
) -> None:
    anonymous = await socket_for(client)
    for topic in ("users", "clients"):
        refused = await subscribe(anonymous, topic)
        assert refused["type"] == "error"
    assert (await subscribe(anonymous, "nonsense"))["type"] == "error"
    as_client = await socket_for(client, client_account.token)
    assert (await subscribe(as_client, "users"))["type"] == "error"
    assert (await subscribe(as_client, "clients"))["type"] == "error"
    as_admin = await socket_for(client, admin.token)
    assert (await subscribe(as_admin, "users"))["type"] == "subscribed"
    bad = await socket_for(client)
    await bad.send_json({"action": "auth", "token": "forged"})
    assert (await receive(bad))["type"] == "error"


async def test_technician_clients_stream_and_no_password_hash_anywhere(
    client: TestClient, db: Any, admin: Account, technician: Account,
    other_technician: Account, client_account: Account
) -> None:
    as_technician = await socket_for(client, technician.token)
    assert (await subscribe(as_technician, "clients"))["type"] == "subscribed"
    as_admin = await socket_for(client, admin.token)
    await subscribe(as_admin, "users")

    # A client of another technician, then one of this technician.
    foreign = await client.post("/api/v1/users", headers=admin.headers, json={
        "name": "Ajeno", "email": "ajeno@pialara.example", "password": PASSWORD,
        "role": "client", "technician_id": str(other_technician.id)})
    assert foreign.status == 201
    edit = await client.patch(f"/api/v1/users/{client_account.id}", headers=technician.headers,
                              json={"profile": {"pathology": "aphasia"}})
    assert edit.status == 200
    mine = await receive(as_technician, timeout=1.0)
    assert mine["doc_id"] == str(client_account.id)
    await nothing_more(as_technician)

    change = await client.put("/api/v1/users/me/password", headers=client_account.headers,
                              json={"old_password": PASSWORD, "new_password": "another secret"})
    assert change.status == 200
    seen = [await receive(as_admin, timeout=1.0) for _ in range(3)]
    assert [e["op"] for e in seen] == ["insert", "update", "update"]
    for event in seen:
        text = json.dumps(event)
        assert "$argon2" not in text
        assert "password" not in text


async def test_slow_consumer_is_closed_while_a_fast_one_gets_everything(
    client: TestClient,
) -> None:
    hub = client.app[LIVE].hub
    fast = await socket_for(client)
    await subscribe(fast, "movies")

    # A peer that completes the handshake and then never reads.
    port = client.server.port
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    slow.sendall((f"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    subscribe_frame = json.dumps({"action": "subscribe", "topic": "movies"}).encode()
    mask = os.urandom(4)
    slow.sendall(bytes([0x81, 0x80 | len(subscribe_frame)]) + mask +
                 bytes(b ^ mask[i % 4] for i, b in enumerate(subscribe_frame)))
    for _ in range(200):
        if hub.subscriber_count("movies") == 2:
            break
        await asyncio.sleep(0.01)  # the raw peer has no event to await
    assert hub.subscriber_count("movies") == 2

    padding = "x" * 16000  # enough to fill both kernel buffers of the slow peer
    received = 0

    async def read_all() -> None:
        nonlocal received
        while received < 2000:
            event = await receive(fast, timeout=10)
            if event.get("op") == "update":
                received += 1

    try:
        reader = asyncio.create_task(read_all())
        for n in range(2000):
            hub.publish("movies", {"op": "update", "doc_id": n, "padding": padding})
            await asyncio.sleep(0)  # let writers and readers run, as between real events
        await reader
        assert received == 2000
        assert hub.slow_consumers_closed == 1
        assert hub.subscriber_count("movies") == 1
    finally:
        slow.close()


async def test_reconnecting_client_gets_what_it_missed(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    topic = f"movie:{movies[0]}:comments"
    ws = await socket_for(client)
    await subscribe(ws, topic)
    await post_comment(client, technician, movies[0], "one")
    first = await receive(ws, timeout=1.0)
    await ws.close()
    await post_comment(client, technician, movies[0], "two")
    await post_comment(client, technician, movies[0], "three")
    again = await socket_for(client)
    assert (await subscribe(again, topic, since=first["id"]))["type"] == "subscribed"
    missed = [await receive(again, timeout=2.0) for _ in range(2)]
    assert [e["document"]["text"] for e in missed] == ["two", "three"]
    stale = await socket_for(client)
    await subscribe(stale, topic, since="another-process:5")
    assert (await receive(stale))["op"] == "reset"


async def test_no_event_lost_when_the_change_stream_task_restarts(
    client: TestClient, technician: Account, movies: list[ObjectId]
) -> None:
    ws = await socket_for(client)
    await subscribe(ws, f"movie:{movies[0]}:comments")
    live = client.app[LIVE]
    texts = [f"c{n}" for n in range(12)]
    for n, text in enumerate(texts):
        await post_comment(client, technician, movies[0], text)
        if n == 5:
            await live.restart("comments")
    events = [await receive(ws, timeout=5.0) for _ in texts]
    assert [e["document"]["text"] for e in events] == texts
    await nothing_more(ws)


async def test_no_event_lost_across_a_database_restart(
    aiohttp_client: Any, private_server: EmbeddedProcess, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, private_server.uri, "restart_live",
                             mongodb={"server_selection_timeout_ms": 2000})
    http = await aiohttp_client(create_app(settings))
    db = http.app[DATABASE]
    movie = (await db.movies.insert_one({"title": "M", "num_mflix_comments": 0})).inserted_id
    user = await http.app[PEOPLE].create(name="Writer", email="w@pialara.example",
                                           password=PASSWORD, role="technician")
    account = Account(user.id, user.email, await login(http, user.email))
    ws = await socket_for(http)
    await subscribe(ws, f"movie:{movie}:comments")
    for n in range(4):
        await post_comment(http, account, movie, f"before{n}")
    await private_server.restart()
    for n in range(4):
        for _ in range(50):  # the driver finds the restarted server by itself
            response = await http.post(COMMENT, headers=account.headers,
                                       json={"movie_id": str(movie), "comment": f"after{n}"})
            if response.status == 200:
                break
        assert response.status == 200
    events = [await receive(ws, timeout=15.0) for _ in range(8)]
    assert [e["document"]["text"] for e in events] == \
        [f"before{n}" for n in range(4)] + [f"after{n}" for n in range(4)]


async def test_a_new_service_resumes_from_the_saved_token(
    aiohttp_client: Any, settings: Any, db: Any, movies: list[ObjectId]
) -> None:
    first = await aiohttp_client(create_app(settings))
    ws = await socket_for(first)
    await subscribe(ws, "comments")
    await db.comments.insert_one({"movie_id": movies[0], "text": "seen by the first"})
    assert (await receive(ws))["document"]["text"] == "seen by the first"
    await ws.close()
    await first.close()  # saves the latest resume tokens
    assert await db.change_stream_tokens.count_documents({"_id": "comments"}) == 1
    await db.comments.insert_one({"movie_id": movies[0], "text": "while down"})

    second = await aiohttp_client(create_app(settings))
    hub = second.app[LIVE].hub
    again = await socket_for(second)
    await subscribe(again, "comments", since=f"{hub.epoch}:0")
    event = await receive(again, timeout=5.0)
    assert event["document"]["text"] == "while down"  # and not what the first one sent
    await nothing_more(again)


async def test_a_dropped_collection_resets_subscribers_and_the_feed_goes_on(
    aiohttp_client: Any, settings: Any, db: Any, technician: Account, movies: list[ObjectId],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What `seed` or `import --drop` does while the service runs.
    first = await aiohttp_client(create_app(settings))
    runner = first.app[LIVE].runners["comments"]
    ws = await socket_for(first)
    await subscribe(ws, "comments")
    await db.comments.insert_one({"movie_id": movies[0], "text": "before"})
    assert (await receive(ws))["document"]["text"] == "before"
    opened = runner.opened
    await db.comments.drop()
    reset = await receive(ws)
    assert reset["op"] == "reset"
    assert "dropped" in reset["reason"]
    await db.comments.insert_one({"movie_id": movies[0], "text": "after"})
    assert (await receive(ws))["document"]["text"] == "after"
    assert runner.opened == opened + 1  # reopened once, after the invalidate
    await ws.close()
    await first.close()
    # A restart goes on from the saved position, past the invalidate.
    saved = await db.change_stream_tokens.find_one({"_id": "comments"})
    assert saved["token"] is not None
    await db.comments.insert_one({"movie_id": movies[0], "text": "while down"})
    second = await aiohttp_client(create_app(settings))
    again = await socket_for(second)
    hub = second.app[LIVE].hub
    await subscribe(again, "comments", since=f"{hub.epoch}:0")
    assert (await receive(again, timeout=5.0))["document"]["text"] == "while down"
    assert not [r for r in caplog.records if "restarting" in r.getMessage()]


@pytest.mark.parametrize("change", ["reassigned", "no longer a client"])
async def test_a_client_who_leaves_reaches_the_old_technician_without_the_record(
    client: TestClient, admin: Account, technician: Account, other_technician: Account,
    client_account: Account, change: str,
) -> None:
    old = await socket_for(client, technician.token)
    assert (await subscribe(old, "clients"))["type"] == "subscribed"
    new = await socket_for(client, other_technician.token)
    assert (await subscribe(new, "clients"))["type"] == "subscribed"
    body = {"technician_id": str(other_technician.id)} if change == "reassigned" \
        else {"role": "technician"}
    response = await client.patch(f"/api/v1/users/{client_account.id}",
                                  headers=admin.headers, json=body)
    assert response.status == 200
    left = await receive(old, timeout=1.0)
    assert left["op"] == "removed"
    assert left["doc_id"] == str(client_account.id)
    assert "document" not in left
    assert "dysarthria" not in json.dumps(left)  # no health data for the old technician
    await nothing_more(old)
    if change == "reassigned":
        arrived = await receive(new, timeout=1.0)
        assert arrived["document"]["profile"]["pathology"] == "dysarthria"
    else:
        await nothing_more(new)
