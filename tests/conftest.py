"""Shared fixtures: one MongoDB for the session, one database per test.

``MONGODB_URI`` (a replica set) when set; otherwise one embedded server is
started for the whole session. Tests that must stop a server get their own
(``private_server``) and only run on the embedded one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from pialara_async.app import create_app
from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.settings import Settings, load_settings

# Accounts of each role, signed in over HTTP (tests/accounts.py).
pytest_plugins = ["tests.accounts", "tests.recording_setup"]

REAL_MONGODB = bool(os.environ.get("MONGODB_URI"))


async def eventually(condition: Callable[[], bool], *, within: float = 10.0,
                     what: str = "the condition") -> None:
    """Until ``condition()`` holds, for what offers no event to await (work in
    another process, a log line written after a response); fails past ``within``."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {within} s")
        await asyncio.sleep(0.01)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``real_mongodb`` tests state MongoDB behaviour the embedded server lacks
    (docs/embedded.md); they run when MONGODB_URI points at a real replica set."""
    if REAL_MONGODB:
        return
    skip = pytest.mark.skip(reason="embedded deviation recorded in docs/embedded.md; "
                                   "runs with MONGODB_URI set to a real replica set")
    for item in items:
        if item.get_closest_marker("real_mongodb"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
async def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if REAL_MONGODB:
        yield os.environ["MONGODB_URI"]
        return
    async with EmbeddedProcess(tmp_path_factory.mktemp("embedded-db")) as server:
        yield server.uri


@pytest.fixture
def database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


TEST_BUDGETS = ("login_per_address", "login_per_account", "register_per_address",
                "websockets_per_address", "messages_per_websocket")


def make_settings(tmp_path: Path, uri: str, database: str, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "mongodb": {"uri": uri, "database": database, "server_selection_timeout_ms": 3000,
                    **sections.pop("mongodb", {})},
        # Every test client is 127.0.0.1: budgets wide enough for the tests'
        # own traffic; tests/security/test_rate_limits.py sets tight ones.
        "limits": {**{name: "100000/second" for name in TEST_BUDGETS},
                   **sections.pop("limits", {})},
        # Cheap password hashes: the suite signs in thousands of times. The
        # real cost is tested in tests/security/test_passwords.py.
        "auth": {"argon2_memory_kib": 256, "argon2_time_cost": 1, **sections.pop("auth", {})},
    }
    overrides.update(sections)
    return load_settings(**overrides)


@pytest.fixture
def settings(tmp_path: Path, mongo_uri: str, database_name: str) -> Settings:
    return make_settings(tmp_path, mongo_uri, database_name)


@pytest.fixture
async def mongo_client(settings: Settings) -> AsyncIterator[Any]:
    """A driver client of the configured kind, for checks beside the service."""
    from pialara_async.db.client import open_client

    client = open_client(settings, settings.mongodb.uri)
    yield client
    await driver.close_client(client)


@pytest.fixture
async def db(mongo_client: Any, settings: Settings) -> AsyncIterator[Any]:
    database = mongo_client.get_database(settings.mongodb.database)
    yield database
    await mongo_client.drop_database(settings.mongodb.database)


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, db: Any
) -> TestClient:
    """The service on the test database (dropped afterwards through ``db``)."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def fail_point(mongo_client: Any, settings: Settings) -> AsyncIterator[Any]:
    """``configure(name, mode, **data)``: one of MongoDB's test fail points, for the
    service's own client (its appName); answers how often the point fired since
    it was last configured. Every one configured is off afterwards. Needs a
    server run with test commands (the embedded one is)."""
    parameters = await mongo_client.admin.command("getParameter", "*")
    if not parameters.get("enableTestCommands"):
        pytest.skip("the server does not run with enableTestCommands")
    configured: list[str] = []

    async def configure(name: str, mode: Any, **data: Any) -> int:
        reply = await mongo_client.admin.command({
            "configureFailPoint": name, "mode": mode,
            "data": {"appName": settings.mongodb.appname, **data}})
        configured.append(name)
        return int(reply.get("count", 0))

    yield configure
    for name in configured:
        await mongo_client.admin.command({"configureFailPoint": name, "mode": "off"})


@pytest.fixture
async def private_server(tmp_path: Path) -> AsyncIterator[EmbeddedProcess]:
    """An embedded server of this test's own, which it may stop and restart."""
    if REAL_MONGODB:
        pytest.skip("stops and restarts the server: only the embedded one can be")
    async with EmbeddedProcess(tmp_path / "private-db") as server:
        yield server


@pytest.fixture
async def private_client(private_server: EmbeddedProcess, settings: Settings) -> (
    AsyncIterator[Any]
):
    """A driver client of the configured kind on ``private_server``."""
    from pialara_async.db.client import open_client

    client = open_client(settings, private_server.uri)
    yield client
    await driver.close_client(client)


@pytest.fixture(scope="module")
async def movies_data(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> (
    AsyncIterator[tuple[str, Any]]
):
    """A small generated data set in a database of its own, shared by a module's
    read-only tests: ``(database name, DemoData)``."""
    from pialara_async.data.generate import Sizes, generate
    from pialara_async.data.seed import seed_demo_data
    from pialara_async.db.client import open_client

    name = f"movies_{uuid.uuid4().hex[:10]}"
    settings = make_settings(tmp_path_factory.mktemp("movies"), mongo_uri, name)
    client = open_client(settings, mongo_uri)
    sizes = Sizes(movies=120, comments=400, users=25, theaters=10, sessions=5)
    await seed_demo_data(client.get_database(name), sizes, seed=7)
    yield name, generate(sizes, seed=7)
    await client.drop_database(name)
    await driver.close_client(client)


@pytest.fixture
async def movies_client(
    aiohttp_client: Any, tmp_path: Path, mongo_uri: str, movies_data: tuple[str, Any]
) -> TestClient:
    """The service on the shared movies database."""
    return await aiohttp_client(create_app(make_settings(tmp_path, mongo_uri, movies_data[0])))
