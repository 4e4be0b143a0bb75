"""Event ids mean the same in every process and across restarts: a client that
reconnects with ``since`` to another process gets exactly what it missed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.app import create_app
from pialara_async.live.state import LIVE
from pialara_async.settings import Settings
from pialara_async.workers import free_port
from tests.accounts import Account
from tests.live.conftest import (
    nothing_more,
    post_comment,
    receive,
    socket_for,
    subscribe,
)


async def test_since_on_another_process_gives_exactly_the_missed_events(
    client: TestClient, aiohttp_client: Any, settings: Settings, technician: Account,
    movies: list[ObjectId],
) -> None:
    # Two service processes on one database: A (``client``) and B.
    worker_b = await aiohttp_client(create_app(settings))
    topic = f"movie:{movies[0]}:comments"
    on_b = await socket_for(worker_b)
    await subscribe(on_b, topic)
    await post_comment(client, technician, movies[0], "seen")  # written through A
    seen = await receive(on_b, timeout=2.0)
    assert seen["document"]["text"] == "seen"
    await on_b.close()
    missed = [f"missed {n}" for n in range(5)]
    for text in missed:
        await post_comment(client, technician, movies[0], text)
    # Elsewhere in the same movie's collection, on another topic: not replayed.
    await post_comment(client, technician, movies[1], "another movie")

    on_a = await socket_for(client)
    assert (await subscribe(on_a, topic, since=seen["id"]))["type"] == "subscribed"
    replayed = [await receive(on_a, timeout=5.0) for _ in missed]
    assert [e["document"]["text"] for e in replayed] == missed  # each once, in order
    await nothing_more(on_a)
    # Ids agree between processes: A's live events name the same changes.
    await post_comment(client, technician, movies[0], "live")
    live_on_a = await receive(on_a, timeout=2.0)
    on_b_again = await socket_for(worker_b)
    await subscribe(on_b_again, topic, since=replayed[-1]["id"])
    assert (await receive(on_b_again, timeout=5.0))["id"] == live_on_a["id"]


async def test_since_after_a_restart_replays_from_the_database(
    aiohttp_client: Any, settings: Settings, db: Any, movies: list[ObjectId],
) -> None:
    first = await aiohttp_client(create_app(settings))
    ws = await socket_for(first)
    await subscribe(ws, "movies")
    await db.movies.update_one({"_id": movies[0]}, {"$set": {"title": "one"}})
    last = await receive(ws, timeout=2.0)
    await ws.close()
    await first.close()
    await db.movies.update_one({"_id": movies[0]}, {"$set": {"title": "two"}})
    await db.movies.update_one({"_id": movies[1]}, {"$set": {"title": "three"}})

    second = await aiohttp_client(create_app(settings))
    again = await socket_for(second)
    await subscribe(again, "movies", since=last["id"])
    changes = [(await receive(again, timeout=5.0))["changed"] for _ in range(2)]
    assert changes == [{"updated": {"title": "two"}, "removed": []},
                       {"updated": {"title": "three"}, "removed": []}]
    await nothing_more(again)


async def test_a_since_the_database_cannot_resume_from_says_reset(
    client: TestClient,
) -> None:
    ws = await socket_for(client)
    await subscribe(ws, "comments", since="not-a-resume-token")
    assert (await receive(ws, timeout=5.0))["op"] == "reset"
    assert client.app[LIVE].hub.subscriber_count("comments") == 1  # and goes on live


async def serve_process(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def until_streaming(http: aiohttp.ClientSession, base: str) -> None:
    """Until the process's change streams are open (it offers nothing to await)."""
    for _ in range(300):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/api/v1/live/stats") as response:
                if response.status == 200 and all(
                        (await response.json())["change_streams"].values()):
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never opened its change streams")


@pytest.mark.slow
async def test_two_service_processes_agree_on_event_ids(
    tmp_path: Path, mongo_uri: str, database_name: str, db: Any,
    movies: list[ObjectId],
) -> None:
    # Two OS processes on one database, as `serve --workers 2` or two hosts run.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    env |= {"MONGODB_URI": mongo_uri, "PIALARA_MONGODB__DATABASE": database_name,
            "PIALARA_AUTH__SECRET_KEY": "k" * 40, "PIALARA_SERVER__ACCESS_LOG": "false",
            "PIALARA_LIMITS__REGISTER_PER_ADDRESS": "1000/minute"}
    ports = [free_port("127.0.0.1"), free_port("127.0.0.1")]
    processes = [await serve_process(port, {**env, "PIALARA_DATA_DIR": str(tmp_path / str(n))})
                 for n, port in enumerate(ports)]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    topic = f"movie:{movies[0]}:comments"
    try:
        async with aiohttp.ClientSession() as http:
            await until_streaming(http, a)
            await until_streaming(http, b)
            async with http.post(f"{a}/api/v1/user/register", json={
                    "name": "Writer One", "email": "writer@pialara.example",
                    "password": "a long password"}) as registered:
                token = (await registered.json())["auth_token"]
            headers = {"Authorization": f"Bearer {token}"}

            async def post(text: str) -> None:
                async with http.post(f"{a}/api/v1/movies/comment", headers=headers,
                                     json={"movie_id": str(movies[0]), "comment": text}) as r:
                    assert r.status == 200

            on_b = await http.ws_connect(f"{b}/api/v1/live")
            await on_b.send_json({"action": "subscribe", "topic": topic})
            assert (await receive(on_b))["type"] == "subscribed"
            await post("seen")  # written through A, seen on B
            seen = await receive(on_b, timeout=5.0)
            await on_b.close()
            missed = [f"missed {n}" for n in range(4)]
            for text in missed:
                await post(text)
            on_a = await http.ws_connect(f"{a}/api/v1/live")
            await on_a.send_json({"action": "subscribe", "topic": topic, "since": seen["id"]})
            assert (await receive(on_a))["type"] == "subscribed"
            replayed = [await receive(on_a, timeout=5.0) for _ in missed]
            assert [e["document"]["text"] for e in replayed] == missed
            await nothing_more(on_a)
            await on_a.close()
    finally:
        for process in processes:
            process.terminate()
            await process.wait()
