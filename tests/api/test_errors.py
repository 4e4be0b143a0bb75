"""Every failure answers JSON ``{"error": ...}`` with the right status."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.errors import NetworkTimeout, ServerSelectionTimeoutError, WTimeoutError

from pialara_async.api.middlewares import REQUEST_ID_HEADER
from pialara_async.app import create_app
from pialara_async.settings import Settings
from tests.conftest import eventually


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

    async def unconfirmed(request: web.Request) -> web.Response:
        raise WTimeoutError("waiting for replication timed out", 64,
                            {"ok": 1.0, "writeConcernError": {"code": 64}})

    async def gone(request: web.Request) -> web.Response:
        # What writing to a peer that went away raises.
        raise ConnectionResetError("Cannot write to closing transport")

    app.router.add_get("/crash", crash)
    app.router.add_get("/gone", gone)
    app.router.add_post("/unconfirmed", unconfirmed)
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


async def test_an_unconfirmed_write_is_not_called_unavailable(
    failing_client: TestClient,
) -> None:
    # The primary may have the write: a client that retried would duplicate it.
    response = await failing_client.post("/unconfirmed")
    assert response.status == 504
    body = await response.json()
    assert body["may_have_been_applied"] is True
    assert "may have been applied" in body["error"]
    assert "Retry-After" not in response.headers


async def test_credentials_never_reach_the_access_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pialara_async.access"):
        await client.get("/api/v1/movies/?page=0&token=eyJ.secret.value&Password=hunter22")
        ws = await client.ws_connect("/api/v1/live?token=eyJ.other.secret")
        await ws.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pialara_async.access"]
    assert len(lines) == 2
    text = "\n".join(lines)
    assert "secret" not in text
    assert "hunter22" not in text
    assert "page=0" in text
    assert text.count("=redacted") == 3


async def test_a_client_that_goes_away_is_logged_as_such(
    aiohttp_client: Any, settings: Settings, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    finished = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        try:
            response = web.StreamResponse()
            await response.prepare(request)
            while True:  # until the peer is gone
                await response.write(b"x" * 65536)
                await asyncio.sleep(0.01)
        finally:
            finished.set()

    app.router.add_get("/slow", slow)
    http = await aiohttp_client(app)
    with caplog.at_level(logging.INFO):
        reader, writer = await asyncio.open_connection("127.0.0.1", http.server.port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await reader.read(1024)
        writer.close()
        await asyncio.wait_for(finished.wait(), 5)
        # The middlewares log after the handler ends.
        await eventually(lambda: any(" 499 " in r.getMessage() for r in caplog.records
                                     if r.name == "pialara_async.access"),
                         what="the access log's 499 line")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_write_to_a_gone_client_is_not_an_error(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await failing_client.get("/gone")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    assert any(" 499 " in r.getMessage() for r in caplog.records
               if r.name == "pialara_async.access")
