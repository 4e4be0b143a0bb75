"""Every failure answers JSON ``{"error": ...}`` with the right status."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.errors import NetworkTimeout, ServerSelectionTimeoutError

from pialara_async.api.errors import REQUEST_ID_HEADER
from pialara_async.app import create_app
from pialara_async.settings import Settings


@pytest.fixture
async def failing_client(aiohttp_client: Any, settings: Settings, db: Any) -> TestClient:
    app = create_app(settings)

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    async def unreachable(request: web.Request) -> web.Response:
        raise ServerSelectionTimeoutError("no servers found")

    async def timeout(request: web.Request) -> web.Response:
        raise NetworkTimeout("timed out")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_get("/crash", crash)
    app.router.add_get("/unreachable", unreachable)
    app.router.add_get("/timeout", timeout)
    app.router.add_post("/echo", echo)
    return await aiohttp_client(app)


async def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert await response.json() == {"error": "Not Found"}


async def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = await client.delete("/health")
    assert response.status == 405
    assert "not allowed" in (await response.json())["error"]
    assert "GET" in response.headers["Allow"]


async def test_unexpected_error_is_500_with_request_id_in_body_and_log(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pialara_async.api"):
        response = await failing_client.get("/crash")
    assert response.status == 500
    body = await response.json()
    text = await response.text()
    assert body["error"] == "internal server error"
    assert "secret internals" not in text
    assert "Traceback" not in text
    request_id = body["request_id"]
    assert response.headers[REQUEST_ID_HEADER] == request_id
    assert any(request_id in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("path", ["/unreachable", "/timeout"])
async def test_database_unavailable_is_503(failing_client: TestClient, path: str) -> None:
    response = await failing_client.get(path)
    assert response.status == 503
    body = await response.json()
    assert "database is unavailable" in body["error"]
    assert response.headers["Retry-After"]


async def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = await client.get("/health", headers={REQUEST_ID_HEADER: "abc-123"})
    assert given.headers[REQUEST_ID_HEADER] == "abc-123"
    made = await client.get("/health", headers={REQUEST_ID_HEADER: "bad id; with spaces"})
    assert made.headers[REQUEST_ID_HEADER] not in ("", "bad id; with spaces")
    assert len(made.headers[REQUEST_ID_HEADER]) == 32


async def test_body_over_the_limit_is_413(
    aiohttp_client: Any, settings: Settings, db: Any
) -> None:
    app = create_app(settings.with_overrides(server={"max_body_bytes": 1024}))

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/echo", echo)
    http = await aiohttp_client(app)
    assert (await http.post("/echo", data=b"x" * 1000)).status == 200
    response = await http.post("/echo", data=b"x" * 5000)
    assert response.status == 413
    assert "error" in await response.json()


async def test_cors_preflight_and_headers_on_the_api(client: TestClient) -> None:
    preflight = await client.options(
        "/api/v1/openapi.json",
        headers={"Origin": "http://front.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "Authorization"},
    )
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "http://front.example")
    assert "AUTHORIZATION" in preflight.headers["Access-Control-Allow-Headers"].upper()
    simple = await client.get("/api/v1/openapi.json", headers={"Origin": "http://front.example"})
    assert simple.headers["Access-Control-Allow-Origin"] in ("*", "http://front.example")
