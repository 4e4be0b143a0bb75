"""/health and /ready, including readiness across a database outage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from pialara_async.app import create_app
from pialara_async.embedded.process import EmbeddedProcess
from tests.conftest import make_settings


async def test_health_needs_no_database(client: TestClient) -> None:
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_ready_when_the_database_answers(client: TestClient) -> None:
    response = await client.get("/ready")
    assert response.status == 200
    assert (await response.json())["status"] == "ready"


async def test_ready_follows_the_database_down_and_back_up(
    aiohttp_client: Any, private_server: EmbeddedProcess, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, private_server.uri, "readiness",
        mongodb={"server_selection_timeout_ms": 500},
    )
    http = await aiohttp_client(create_app(settings))
    assert (await http.get("/ready")).status == 200

    await private_server.stop()
    down = await http.get("/ready")
    assert down.status == 503
    body = await down.json()
    assert body["status"] == "unavailable"
    # The cause the driver saw, not the ping's own timeout.
    assert "refused" in body["reason"].lower() or "failed" in body["reason"].lower(), body
    assert (await http.get("/health")).status == 200

    await private_server.start()  # same port, as a restarted mongod
    for _ in range(50):  # the driver rediscovers the server by itself
        response = await http.get("/ready")
        if response.status == 200:
            break
    assert response.status == 200
