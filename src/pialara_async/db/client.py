"""The one database client of the service, and the embedded server behind it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pymongo
from aiohttp import web

from pialara_async.background.supervisor import running
from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.metrics import METRICS
from pialara_async.repositories import indexes
from pialara_async.settings import SETTINGS, Settings

log = logging.getLogger(__name__)

CLOSE_LIMIT = 1.0

# The embedded server, when no URI is configured.
EMBEDDED = web.AppKey("embedded", EmbeddedProcess)
# Motor's AsyncIOMotorClient or PyMongo's AsyncMongoClient (see driver.py).
DB_CLIENT = web.AppKey("db_client", Any)
# The database of the MFlix and PIA Lara collections, on DB_CLIENT.
DATABASE = web.AppKey("database", Any)


def client_options(settings: Settings) -> dict[str, Any]:
    mongo = settings.mongodb
    return {
        "maxPoolSize": mongo.max_pool_size,
        "wTimeoutMS": mongo.wtimeout_ms,
        "serverSelectionTimeoutMS": mongo.server_selection_timeout_ms,
        "connectTimeoutMS": mongo.connect_timeout_ms,
        "appname": mongo.appname,
        "retryWrites": mongo.retry_writes,
        "tz_aware": False,
    }


def open_client(settings: Settings, uri: str, listeners: list[Any] | None = None, *,
                bounded: bool = False) -> Any:
    """A client; ``bounded``: every operation within ``mongodb.timeout_ms`` (the
    service's; the command-line tools' bulk work is not bounded)."""
    options = client_options(settings)
    if listeners:
        options["event_listeners"] = listeners
    if bounded and settings.mongodb.timeout_ms:
        options["timeoutMS"] = settings.mongodb.timeout_ms
    return driver.create_client(settings.mongodb.driver, uri, **options)


def embedded_process(settings: Settings) -> EmbeddedProcess:
    emb = settings.embedded
    return EmbeddedProcess(
        settings.data_dir / "db",
        host=emb.host,
        port=emb.port,
        replica_set=emb.replica_set,
        history_size=emb.history_size,
        startup_timeout=emb.startup_timeout,
    )


async def embedded_database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the embedded server when no URI is configured (before the client),
    and keep it running: restarted on its port and data directory whenever it
    exits, as a service manager would restart a mongod."""
    settings = app[SETTINGS]
    if not settings.mongodb.embedded:
        yield
        return
    process = embedded_process(settings)
    await process.start()
    app[EMBEDDED] = process
    try:
        async with running("embedded-database", functools.partial(keep_running, process),
                           initial_backoff=0.2, max_backoff=5.0):
            yield
    finally:
        await process.stop()


async def keep_running(process: EmbeddedProcess) -> None:
    """Restart the embedded server each time it exits. Its committed writes are
    in its data directory (SQLite in WAL mode survives a killed process), and
    the drivers find it again on the same address."""
    while True:
        code = await process.exited()
        if code is not None:
            log.error("the embedded database exited (code %s): restarting it", code)
            process.restarts += 1
        await process.start()


def database_uri(app: web.Application) -> str:
    settings = app[SETTINGS]
    if settings.mongodb.uri:
        return settings.mongodb.uri
    return app[EMBEDDED].uri


async def database_client_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = open_client(settings, database_uri(app), app[METRICS].listeners(),
                         bounded=True)
    app[DB_CLIENT] = client
    app[DATABASE] = database = client.get_database(settings.mongodb.database)
    try:
        await indexes.ensure_indexes(database)
    except BaseException:
        await driver.close_client(client)
        raise
    log.info("connected with %s to database %r", settings.mongodb.driver, settings.mongodb.database)
    try:
        yield
    finally:
        await close_quickly(client)


async def close_quickly(client: Any) -> None:
    """Close the client; ending its server sessions is given CLOSE_LIMIT, so a
    hung database cannot hold shutdown."""
    with pymongo.timeout(CLOSE_LIMIT):
        try:
            async with asyncio.timeout(CLOSE_LIMIT):
                await driver.close_client(client)
        except TimeoutError:
            log.warning("the database client did not close within %.0f s", CLOSE_LIMIT)


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
    """``(client, database)`` outside the web app (CLI, scripts); starts the
    embedded server for the duration when no URI is configured."""
    async with contextlib.AsyncExitStack() as stack:
        uri = settings.mongodb.uri
        if not uri:
            process = await stack.enter_async_context(embedded_process(settings))
            uri = process.uri
        client = open_client(settings, uri)
        stack.push_async_callback(driver.close_client, client)
        yield client, client.get_database(settings.mongodb.database)
