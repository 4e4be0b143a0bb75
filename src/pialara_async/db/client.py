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
from pialara_async.embedded.ownership import DataDirectoryInUse, current_owner
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.metrics import METRICS
from pialara_async.repositories import indexes
from pialara_async.settings import SETTINGS, Settings

log = logging.getLogger(__name__)

CLOSE_LIMIT = 1.0

# The embedded server, when no URI is configured and this process started it.
EMBEDDED = web.AppKey("embedded", EmbeddedProcess)
# The embedded database's address: ours, or that of the process owning the directory.
DATABASE_URI = web.AppKey("database_uri", str)
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


@contextlib.asynccontextmanager
async def embedded_database(settings: Settings, *, supervised: bool) -> (
    AsyncIterator[tuple[str, EmbeddedProcess | None]]
):
    """``(uri, process)`` of the embedded database on the configured data
    directory. When a live server owns the directory (another ``serve``,
    ``embedded-db``…), its URI, as a client of it (process None): one engine
    per directory, so every process sees every write. Otherwise a server of
    our own for the duration; ``supervised``: restarted on its port and
    data directory whenever it exits, as a service manager restarts a mongod."""
    owner = await asyncio.to_thread(current_owner, settings.data_dir / "db")
    if owner is not None:
        log.info("the embedded database is served by process %d: using it at %s",
                 owner.pid, owner.uri)
        yield owner.uri, None
        return
    process = embedded_process(settings)
    try:
        await process.start()
    except DataDirectoryInUse as error:  # another process took it meanwhile
        if error.owner is None:
            raise
        yield error.owner.uri, None
        return
    try:
        if not supervised:
            yield process.uri, process
            return
        async with running("embedded-database", functools.partial(keep_running, process),
                           initial_backoff=0.2, max_backoff=5.0):
            yield process.uri, process
    finally:
        await process.stop()


async def embedded_database_ctx(app: web.Application) -> AsyncIterator[None]:
    """The embedded database when no URI is configured (before the client)."""
    settings = app[SETTINGS]
    if not settings.mongodb.embedded:
        yield
        return
    async with embedded_database(settings, supervised=True) as (uri, process):
        app[DATABASE_URI] = uri
        if process is not None:
            app[EMBEDDED] = process
        yield


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
    return settings.mongodb.uri or app[DATABASE_URI]


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
    """``(client, database)`` outside the web app (CLI, scripts). With no URI
    configured: the embedded server that owns the data directory, or one
    started for the duration."""
    async with contextlib.AsyncExitStack() as stack:
        uri = settings.mongodb.uri
        if not uri:
            uri, _process = await stack.enter_async_context(
                embedded_database(settings, supervised=False))
        client = open_client(settings, uri)
        stack.push_async_callback(driver.close_client, client)
        yield client, client.get_database(settings.mongodb.database)
