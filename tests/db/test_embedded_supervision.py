"""The embedded database is supervised: killed, it is restarted on its port and
data directory, /ready says why it is down and recovers by itself, the live
feed resumes and no acknowledged write is lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType

from pialara_async.app import create_app
from pialara_async.db.client import DATABASE, EMBEDDED
from pialara_async.live.state import LIVE
from pialara_async.services.people import PEOPLE
from tests.accounts import PASSWORD, login
from tests.conftest import make_settings

COMMENT = "/api/v1/movies/comment"


async def test_a_killed_embedded_database_comes_back_under_load(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "", "supervised",
                             mongodb={"server_selection_timeout_ms": 2000})
    http = await aiohttp_client(create_app(settings))
    embedded = http.app[EMBEDDED]
    db = http.app[DATABASE]
    movie = (await db.movies.insert_one({"title": "M", "num_mflix_comments": 0})).inserted_id
    user = await http.app[PEOPLE].create(name="Writer", email="writer@pialara.example",
                                         password=PASSWORD, role="technician")
    headers = {"Authorization": f"Bearer {await login(http, user.email)}"}
    for runner in http.app[LIVE].runners.values():
        await asyncio.wait_for(runner.ready.wait(), 10)
    ws = await http.ws_connect("/api/v1/live")
    await ws.send_json({"action": "subscribe", "topic": f"movie:{movie}:comments"})
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "subscribed"

    acknowledged: list[str] = []
    stop = asyncio.Event()
    wanted = {"count": 5}
    reached = asyncio.Event()

    async def write() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            text = f"w{number}"
            response = await http.post(COMMENT, headers=headers,
                                       json={"movie_id": str(movie), "comment": text})
            if response.status == 200:
                acknowledged.append(text)
                if len(acknowledged) >= wanted["count"]:
                    reached.set()
            else:
                assert response.status in (503, 504), await response.text()

    writer = asyncio.create_task(write())
    await asyncio.wait_for(reached.wait(), 10)  # load before the crash
    await embedded.kill()
    down = await http.get("/ready")
    assert down.status == 503
    reason = (await down.json())["reason"]
    assert "not running" in reason or "refused" in reason, reason
    for _ in range(150):  # back by itself within seconds
        if (await http.get("/ready")).status == 200:
            break
        await asyncio.sleep(0.1)
    assert (await http.get("/ready")).status == 200
    assert embedded.restarts == 1
    reached.clear()
    wanted["count"] = len(acknowledged) + 5
    await asyncio.wait_for(reached.wait(), 15)  # and load after it
    stop.set()
    await writer

    stored = {c["text"] async for c in db.comments.find({"movie_id": movie}, {"text": 1})}
    assert set(acknowledged) <= stored  # nothing acknowledged was lost
    assert (await db.movies.find_one({"_id": movie}))["num_mflix_comments"] == len(stored)
    # The live feed resumed: the last acknowledged comment reaches the socket.
    last = acknowledged[-1]
    seen: list[str] = []
    while last not in seen:
        message = await ws.receive(timeout=15)
        assert message.type is WSMsgType.TEXT
        event = json.loads(message.data)
        if event.get("op") == "insert":
            seen.append(event["document"]["text"])
