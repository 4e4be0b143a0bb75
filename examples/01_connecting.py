"""Lesson 1 — connecting.

One client for the whole program (it holds the connection pool), its pool size
and timeouts, listing databases, and how databases and collections are lazy:
nothing exists on the server until something is written. A server that cannot
be reached raises ServerSelectionTimeoutError, which a program should handle.
"""

from __future__ import annotations

from _shared import check, lesson, run
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import ServerSelectionTimeoutError


async def main() -> None:
    async with lesson("connecting", maxPoolSize=10, connectTimeoutMS=2000) as (client, db):
        # Options live on the one client; every database and collection shares its pool.
        check(client.options.pool_options.max_pool_size == 10, "pool size of 10")
        print("databases:", await client.list_database_names())

        # Getting a database or collection sends nothing to the server.
        lazy = db.get_collection("not_yet")
        check(lazy.name not in await db.list_collection_names(), "a collection is lazy")
        await lazy.insert_one({"hello": "world"})
        check("not_yet" in await db.list_collection_names(), "the first write creates it")

    # Nothing listens on port 1: the driver gives up after serverSelectionTimeoutMS.
    unreachable = AsyncIOMotorClient("mongodb://127.0.0.1:1", serverSelectionTimeoutMS=300)
    try:
        await unreachable.admin.command("ping")
        check(False, "an unreachable server fails")
    except ServerSelectionTimeoutError as error:
        check(True, f"unreachable server handled: {type(error).__name__}")
    finally:
        unreachable.close()


if __name__ == "__main__":
    run(main)
