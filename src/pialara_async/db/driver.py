"""The driver seam: every difference between Motor and PyMongo's async API.

Motor (the default, as the design card asks) reached end of life on
2026-05-14; PyMongo's ``AsyncMongoClient`` is its successor. Repositories and
services use the functions here for the few calls whose shape differs, and the
ordinary collection API (``find``, ``insert_one``…) for the rest, which both
drivers share.

| call               | Motor                   | PyMongo async                 |
|--------------------|-------------------------|-------------------------------|
| ``aggregate``      | returns a cursor        | coroutine returning a cursor  |
| ``watch``          | opens on first use      | coroutine, opens at once      |
| ``start_session``  | coroutine               | plain call                    |
| ``start_transaction`` | plain call           | coroutine                     |
| ``close``          | plain call              | coroutine                     |
| topology           | on ``client.delegate``  | on the client                 |
| GridFS bucket      | ``AsyncIOMotorGridFSBucket`` | ``gridfs.AsyncGridFSBucket`` |
| ``GridOut.seek``   | plain call              | coroutine                     |

Transactions go through ``run_transaction`` on both: Motor's ``with_transaction``
commits when ``start_transaction``'s context exits, outside its retry loop, so
a write conflict at commit reached the caller instead of being retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from pymongo import WriteConcern
from pymongo.errors import PyMongoError

MAX_TIME_EXPIRED = 50

Driver = Literal["motor", "pymongo"]


def create_client(driver: Driver, uri: str, **options: Any) -> Any:
    """A client of the chosen driver; ``options`` are MongoClient keyword options."""
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri, **options)
    from pymongo import AsyncMongoClient

    return AsyncMongoClient(uri, **options)


def gridfs_bucket(db: Any, bucket_name: str) -> Any:
    """A GridFS bucket of ``db``, from the driver ``db`` belongs to. Both take
    the same calls: ``open_upload_stream`` (its ``write``, ``close`` and
    ``abort`` awaited), ``open_download_stream`` (``read``, ``seek``),
    ``delete``."""
    from motor.motor_asyncio import AsyncIOMotorDatabase

    if isinstance(db, AsyncIOMotorDatabase):
        from motor.motor_asyncio import AsyncIOMotorGridFSBucket

        return AsyncIOMotorGridFSBucket(db, bucket_name=bucket_name)
    from gridfs import AsyncGridFSBucket

    return AsyncGridFSBucket(db, bucket_name=bucket_name)


async def seek(download: Any, position: int) -> None:
    """Move a GridFS download stream to ``position``."""
    await _resolve(download.seek(position))


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def close_client(client: Any) -> None:
    await _resolve(client.close())


async def aggregate(
    collection: Any, pipeline: Sequence[Mapping[str, Any]], **options: Any
) -> Any:
    """Run an aggregation; returns an async cursor with ``to_list`` and ``async for``."""
    return await _resolve(collection.aggregate(list(pipeline), **options))


async def aggregate_list(
    collection: Any, pipeline: Sequence[Mapping[str, Any]], length: int | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    cursor = await aggregate(collection, pipeline, **options)
    return await cursor.to_list(length)


async def watch(target: Any, pipeline: Sequence[Mapping[str, Any]] = (), **options: Any) -> Any:
    """Open a change stream on a collection, database or client, now.

    Motor sends the ``aggregate`` only on first use, so events written between
    ``watch()`` and that use would be missed; entering its context opens it
    (PyMongo async opens in ``watch()`` already, and entering is a no-op).
    """
    stream = await _resolve(target.watch(list(pipeline), **options))
    return await stream.__aenter__()


async def start_session(client: Any, **options: Any) -> Any:
    return await _resolve(client.start_session(**options))


async def start_transaction(session: Any, **options: Any) -> None:
    """Start a transaction by hand (``with_transaction`` is the same on both)."""
    await _resolve(session.start_transaction(**options))


async def run_transaction(
    client: Any, work: Callable[[Any], Awaitable[Any]], *,
    write_concern: WriteConcern | None = None, time_limit: float | None = None,
) -> Any:
    """``work(session)`` in a transaction, retried as MongoDB's drivers specify:
    the whole transaction on ``TransientTransactionError`` (from ``work`` or the
    commit), the commit alone on ``UnknownTransactionCommitResult``; retries
    stop after ``time_limit`` seconds (by default the client's ``timeoutMS``,
    else 30 s: never longer than the request that started it) and the last
    error is raised. ``work`` must be safe to run again."""
    deadline = time.monotonic() + (time_limit or operation_timeout(client) or 30.0)
    attempt = 0
    async with await start_session(client) as session:
        while True:
            attempt += 1
            await start_transaction(session, write_concern=write_concern)
            try:
                result = await work(session)
            except BaseException as exc:
                if session.in_transaction:
                    with contextlib.suppress(PyMongoError):
                        await session.abort_transaction()
                if _transient(exc) and time.monotonic() < deadline:
                    await _backoff(attempt)
                    continue
                raise
            if not session.in_transaction:
                return result  # ``work`` ended the transaction itself
            while True:
                try:
                    await session.commit_transaction()
                    return result
                except PyMongoError as exc:
                    if exc.has_error_label("UnknownTransactionCommitResult") and \
                            time.monotonic() < deadline and \
                            getattr(exc, "code", None) != MAX_TIME_EXPIRED:
                        continue
                    if _transient(exc) and time.monotonic() < deadline:
                        break
                    raise
            await _backoff(attempt)


def _transient(error: BaseException) -> bool:
    return isinstance(error, PyMongoError) and error.has_error_label("TransientTransactionError")


async def _backoff(attempt: int) -> None:
    # Jittered, so two transactions that conflicted do not meet again at once.
    await asyncio.sleep(random.uniform(0, min(0.1, 0.002 * 2 ** attempt)))


def _pymongo_client(client: Any) -> Any:
    # Both clients answer an unknown attribute with a database: Motor's is told
    # apart by its type, and the PyMongo client it wraps is read.
    return client.delegate if type(client).__module__.startswith("motor") else client


def operation_timeout(client: Any) -> float | None:
    """The client's ``timeoutMS``, in seconds (None: unbounded)."""
    return _pymongo_client(client).options.timeout


def server_errors(client: Any) -> list[str]:
    """Why the client's servers are unreachable, as its monitors last saw it
    (e.g. "connection refused")."""
    description = _pymongo_client(client).topology_description
    return [str(server.error) for server in description.server_descriptions().values()
            if server.error is not None]


def majority(collection: Any, wtimeout_ms: int) -> Any:
    """The collection with write concern majority, for writes that must not be lost."""
    return collection.with_options(write_concern=WriteConcern(w="majority", wtimeout=wtimeout_ms))
