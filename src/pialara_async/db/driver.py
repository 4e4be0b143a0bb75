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
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pymongo import WriteConcern

Driver = Literal["motor", "pymongo"]


def create_client(driver: Driver, uri: str, **options: Any) -> Any:
    """A client of the chosen driver; ``options`` are MongoClient keyword options."""
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri, **options)
    from pymongo import AsyncMongoClient

    return AsyncMongoClient(uri, **options)


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


def majority(collection: Any, wtimeout_ms: int) -> Any:
    """The collection with write concern majority, for writes that must not be lost."""
    return collection.with_options(write_concern=WriteConcern(w="majority", wtimeout=wtimeout_ms))
