"""The course's migrations: what they change, and that a second run changes nothing."""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.data.migrations import migrate, migrate_accounts, parse_lastupdated


def test_parse_lastupdated_keeps_milliseconds() -> None:
    assert parse_lastupdated("2015-08-13 00:27:59.177000000") == datetime.datetime(
        2015, 8, 13, 0, 27, 59, 177000)
    assert parse_lastupdated("2015-08-13 00:27:59") == datetime.datetime(2015, 8, 13, 0, 27, 59)
    assert parse_lastupdated("last tuesday") is None


async def test_migrate_converts_and_is_idempotent(db: Any) -> None:
    await db.movies.insert_many([
        {"_id": 1, "lastupdated": "2015-08-13 00:27:59.177000000", "imdb": {"rating": "7.4"}},
        {"_id": 2, "lastupdated": "2015-09-01 10:00:00.000000000", "imdb": {"rating": ""}},
        {"_id": 3, "lastupdated": datetime.datetime(2015, 1, 1), "imdb": {"rating": 6.1}},
        {"_id": 4, "lastupdated": "garbage", "imdb": {"rating": "n/a"}},
    ])
    first = {r.name: (r.changed, r.skipped) for r in await migrate(db)}
    assert first["lastupdated to date"] == (2, 1)
    assert first["imdb.rating to number"] == (2, 1)
    one = await db.movies.find_one({"_id": 1})
    assert one["lastupdated"] == datetime.datetime(2015, 8, 13, 0, 27, 59, 177000)
    assert one["imdb"]["rating"] == 7.4
    assert "rating" not in (await db.movies.find_one({"_id": 2}))["imdb"]
    assert (await db.movies.find_one({"_id": 3}))["imdb"]["rating"] == 6.1
    second = {r.name: r.changed for r in await migrate(db)}
    assert set(second.values()) == {0}


async def test_updated_type_follows_the_migration(client: TestClient, db: Any) -> None:
    movie_id = ObjectId()
    await db.movies.insert_one({"_id": movie_id, "lastupdated": "2015-08-13 00:27:59.177000000"})
    before = await (await client.get(f"/api/v1/movies/id/{movie_id}")).json()
    assert before["updated_type"] == "<class 'str'>"
    await migrate(db)
    after = await (await client.get(f"/api/v1/movies/id/{movie_id}")).json()
    assert after["updated_type"] == "<class 'datetime.datetime'>"
    assert after["movie"]["lastupdated"] == "2015-08-13 00:27:59"


async def test_account_migrations_make_role_the_one_source_of_rights(db: Any) -> None:
    legacy_admin, demoted, plain = ObjectId(), ObjectId(), ObjectId()
    await db.users.insert_many([
        {"_id": legacy_admin, "email": "old.admin@MFLIX.example", "isAdmin": True},
        {"_id": demoted, "email": "was.admin@mflix.example", "isAdmin": True,
         "role": "technician"},
        {"_id": plain, "email": "Viewer@Mflix.Example"},
        {"_id": ObjectId(), "email": "twin@mflix.example"},
        {"_id": ObjectId(), "email": "twin@MFLIX.example"},
    ])
    await db.comments.insert_many([
        {"email": "Viewer@mflix.example", "text": "mine"},   # the address once lowered
        {"email": "nobody@mflix.example", "text": "orphan"},
    ])
    results = {r.name: (r.changed, r.skipped) for r in await migrate_accounts(db)}
    assert results == {"isAdmin to role": (1, 0),
                       "e-mail domains to lower case": (2, 1),
                       "comments to their accounts": (1, 1)}
    assert await db.users.count_documents({"isAdmin": {"$exists": True}}) == 0
    assert (await db.users.find_one({"_id": legacy_admin}))["role"] == "admin"
    assert (await db.users.find_one({"_id": demoted}))["role"] == "technician"
    assert (await db.users.find_one({"_id": plain}))["email"] == "Viewer@mflix.example"
    mine = await db.comments.find_one({"text": "mine"})
    assert mine["user_id"] == plain
    assert "user_id" not in await db.comments.find_one({"text": "orphan"})
    again = {r.name: r.changed for r in await migrate_accounts(db)}
    assert set(again.values()) == {0}
