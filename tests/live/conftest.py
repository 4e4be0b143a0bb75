"""Helpers of the live feed's tests: sockets, subscriptions, messages, movies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.live.state import LIVE
from tests.accounts import Account

COMMENT = "/api/v1/movies/comment"


async def feeds_ready(app: web.Application) -> None:
    for runner in app[LIVE].runners.values():
        await asyncio.wait_for(runner.ready.wait(), 10)


async def socket_for(client: TestClient, token: str | None = None,
                     session: aiohttp.ClientSession | None = None) -> Any:
    await feeds_ready(client.app)
    path = "/api/v1/live" + (f"?token={token}" if token else "")
    ws = await (session.ws_connect(client.make_url(path)) if session else client.ws_connect(path))
    if token:
        assert (await receive(ws))["type"] == "authenticated"
    return ws


async def receive(ws: Any, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
    message = await ws.receive(timeout=timeout)
    assert message.type is WSMsgType.TEXT, message
    return json.loads(message.data)


async def subscribe(ws: Any, topic: str, since: str | None = None) -> dict[str, Any]:
    await ws.send_json({"action": "subscribe", "topic": topic, "since": since}
                       if since else {"action": "subscribe", "topic": topic})
    return await receive(ws)


async def nothing_more(ws: Any, within: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=within)


@pytest.fixture
async def movies(db: Any) -> list[ObjectId]:
    result = await db.movies.insert_many([{"title": t, "num_mflix_comments": 0}
                                          for t in ("Metropolis", "Nosferatu")])
    return list(result.inserted_ids)


async def post_comment(client: TestClient, account: Account, movie_id: ObjectId,
                       text: str) -> str:
    response = await client.post(COMMENT, headers=account.headers,
                                 json={"movie_id": str(movie_id), "comment": text})
    assert response.status == 200
    return next(c["_id"] for c in (await response.json())["comments"] if c["text"] == text)
