"""Startup and shutdown of the application and what it owns."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from pymongo.errors import InvalidOperation

from pialara_async.app import create_app
from pialara_async.db.client import DATABASE, DB_CLIENT
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.live.registry import WEBSOCKETS
from pialara_async.live.state import LIVE
from pialara_async.settings import Settings
from tests.conftest import make_settings

# What shutdown may take beyond the handlers' own timeout, whatever the database does.
SHUTDOWN_BOUND = 5.0


async def test_one_client_made_at_startup_and_closed_at_shutdown(
    settings: Settings, db: Any
) -> None:
    app = create_app(settings)
    tasks_before = asyncio.all_tasks()
    async with TestClient(TestServer(app)) as http:
        client = app[DB_CLIENT]
        assert app[DATABASE].name == settings.mongodb.database
        assert client.options.pool_options.max_pool_size == settings.mongodb.max_pool_size
        assert (await http.get("/ready")).status == 200
    with pytest.raises(InvalidOperation):
        await app[DATABASE].command("ping")
    await asyncio.sleep(0)  # let finished tasks be collected
    left = {task for task in asyncio.all_tasks() - tasks_before if not task.done()}
    assert left == set()


async def test_client_options_come_from_configuration(
    settings: Settings, db: Any
) -> None:
    tuned = settings.with_overrides(
        mongodb={"max_pool_size": 7, "wtimeout_ms": 1234, "appname": "tuned",
                 "retry_writes": False, "timeout_ms": 4321}
    )
    app = create_app(tuned)
    async with TestClient(TestServer(app)):
        client = app[DB_CLIENT]
        assert client.options.pool_options.max_pool_size == 7
        assert client.write_concern.document == {"wtimeout": 1234}
        assert client.options.pool_options.metadata["application"]["name"] == "tuned"
        assert client.options.retry_writes is False
        assert client.options.timeout == 4.321  # every operation's time limit


async def test_shutdown_closes_open_websockets_with_going_away(
    settings: Settings, db: Any
) -> None:
    app = create_app(settings)

    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        request.config_dict[WEBSOCKETS].add(socket, request)
        async for _ in socket:
            pass
        return socket

    app.router.add_get("/ws-test", echo)
    server = TestServer(app)
    http = TestClient(server)
    await http.start_server()
    socket = await http.ws_connect("/ws-test")
    assert len(app[WEBSOCKETS]) == 1
    shutdown = asyncio.create_task(server.close())  # the server side only
    message = await socket.receive(timeout=5)
    assert message.type is WSMsgType.CLOSE
    assert message.data == 1001
    await socket.close()
    await shutdown
    await http.close()


def test_test_mode_is_announced_loudly(
    tmp_path: Path, mongo_uri: str, database_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pialara_async"):
        create_app(make_settings(tmp_path, mongo_uri, database_name))
        assert not [r for r in caplog.records if "test_mode" in r.getMessage()]
        create_app(make_settings(tmp_path, mongo_uri, database_name,
                                 auth={"test_mode": True}))
    warnings = [r for r in caplog.records if "test_mode" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "administrator" in warnings[0].getMessage()


@pytest.mark.parametrize("state", ["killed", "frozen"])
async def test_shutdown_is_bounded_whatever_the_database_does(
    aiohttp_client: Any, private_server: EmbeddedProcess, tmp_path: Path, db: Any, state: str
) -> None:
    # Feeds flush their positions, the stats refresher and the client close:
    # none of it may wait for a database that is gone.
    settings = make_settings(tmp_path, private_server.uri, "shutdown",
                             mongodb={"server_selection_timeout_ms": 5000})
    http = await aiohttp_client(create_app(settings))
    for runner in http.app[LIVE].runners.values():
        await asyncio.wait_for(runner.ready.wait(), 10)
    if state == "killed":
        await private_server.stop(kill=True)
    else:  # alive but answering nothing: every request to it hangs
        private_server.signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        await http.close()
        assert time.monotonic() - started < SHUTDOWN_BOUND
    finally:
        if state == "frozen":
            private_server.signal(signal.SIGCONT)
