"""Users: the queries and pipelines over ``users``.

Password hashes are read and written only here, and only as opaque strings
(hashing is the people service's); every ``User`` handed out is without one.
Query and update documents are built from fixed keys only: no user-supplied
key is ever spliced into them.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from pialara_async.db import driver
from pialara_async.models import Role, User
from pialara_async.refusals import EmailTaken

PAGE_SIZE = 20
# Everything but the password hash.
PUBLIC = {"password": 0}

# Every change that could break a rule about roles increments this document in
# its transaction: two such transactions write one document, so a real server
# makes one of them retry and see what the other did (no write skew).
GUARD_COLLECTION = "invariants"
GUARD_ID = "user_roles"


def _user(document: dict[str, Any] | None) -> User | None:
    return None if document is None else User.from_document(document)


async def by_id(db: Any, user_id: ObjectId, session: Any = None) -> User | None:
    return _user(await db.users.find_one({"_id": user_id}, PUBLIC, session=session))


async def within(db: Any, user_id: ObjectId, scope: dict[str, Any],
                 session: Any = None) -> User | None:
    """The user if it lies within ``scope`` (what the caller may see)."""
    return _user(await db.users.find_one({"_id": user_id, **scope}, PUBLIC, session=session))


async def insert(db: Any, document: dict[str, Any], *, wtimeout_ms: int = 0,
                 session: Any = None) -> User:
    """Insert a new user (with write concern majority outside a transaction: an
    account must not be lost); EmailTaken when the address has an account."""
    users = db.users if session is not None else driver.majority(db.users, wtimeout_ms)
    try:
        result = await users.insert_one(document, session=session)
    except DuplicateKeyError:
        raise EmailTaken() from None
    return User.from_document({**document, "_id": result.inserted_id})


async def with_password_hash(db: Any, email: str) -> tuple[User, str | None] | None:
    """The account of ``email`` and its stored password hash."""
    document = await db.users.find_one({"email": email})
    if document is None:
        return None
    stored = document.get("password")
    return User.from_document(document), stored if isinstance(stored, str) else None


async def password_hash(db: Any, user_id: ObjectId) -> str | None:
    document = await db.users.find_one({"_id": user_id}, {"password": 1})
    stored = document.get("password") if document else None
    return stored if isinstance(stored, str) else None


async def set_password_hash(db: Any, user_id: ObjectId, hashed: str, *, wtimeout_ms: int = 0,
                            replacing: str | None = None) -> None:
    """Store a new hash; ``replacing``: only while the old one is still there
    (a concurrent password change wins over a rehash)."""
    query: dict[str, Any] = {"_id": user_id}
    if replacing is not None:
        query["password"] = replacing
    await driver.majority(db.users, wtimeout_ms).update_one(query, {"$set": {"password": hashed}})


async def set_preferences(db: Any, user_id: ObjectId, preferences: dict[str, Any]) -> User | None:
    return _user(await db.users.find_one_and_update(
        {"_id": user_id}, {"$set": {"preferences": preferences}},
        projection=PUBLIC, return_document=ReturnDocument.AFTER))


async def update(db: Any, user_id: ObjectId, update: dict[str, Any], *,
                 scope: dict[str, Any] | None = None, session: Any = None) -> User | None:
    """Apply ``update`` to the user within ``scope``; the user after it, or None."""
    try:
        document = await db.users.find_one_and_update(
            {"_id": user_id, **(scope or {})}, update, projection=PUBLIC,
            return_document=ReturnDocument.AFTER, session=session)
    except DuplicateKeyError:
        raise EmailTaken() from None
    return _user(document)


async def delete(db: Any, user_id: ObjectId, session: Any = None) -> None:
    await db.users.delete_one({"_id": user_id}, session=session)


async def bump_role_guard(db: Any, session: Any) -> None:
    """Write the one guard document every change of roles writes (see GUARD_ID)."""
    await db[GUARD_COLLECTION].update_one({"_id": GUARD_ID}, {"$inc": {"version": 1}},
                                          upsert=True, session=session)


async def other_admin_exists(db: Any, user_id: ObjectId, session: Any = None) -> bool:
    return bool(await db.users.count_documents({"role": "admin", "_id": {"$ne": user_id}},
                                               limit=1, session=session))


async def has_clients(db: Any, technician_id: ObjectId, session: Any = None) -> bool:
    return bool(await db.users.count_documents({"technician_id": technician_id}, limit=1,
                                               session=session))


async def is_technician(db: Any, user_id: ObjectId, session: Any = None) -> bool:
    return bool(await db.users.count_documents({"_id": user_id, "role": "technician"},
                                               limit=1, session=session))


async def page(db: Any, *, role: Role | None, search: str | None, page_number: int) -> (
    tuple[list[User], int]
):
    query: dict[str, Any] = {}
    if role is not None:
        query["role"] = role
    if search:
        pattern = re.compile(re.escape(search), re.IGNORECASE)
        query["$or"] = [{"name": pattern}, {"email": pattern}]
    cursor = db.users.find(query, PUBLIC).sort([("name", ASCENDING), ("_id", ASCENDING)]) \
        .skip(page_number * PAGE_SIZE).limit(PAGE_SIZE)
    found = [User.from_document(d) async for d in cursor]
    return found, await db.users.count_documents(query)


async def technicians(db: Any) -> list[User]:
    cursor = db.users.find({"role": "technician"}, PUBLIC).sort(
        [("name", ASCENDING), ("_id", ASCENDING)])
    return [User.from_document(d) async for d in cursor]


def age_expression(birth: str, today: datetime.datetime) -> dict[str, Any]:
    """Whole years from ``birth`` to ``today``, counting a birthday only once reached."""
    return {"$subtract": [
        {"$subtract": [{"$year": today}, {"$year": birth}]},
        {"$cond": [
            {"$or": [
                {"$lt": [{"$month": today}, {"$month": birth}]},
                {"$and": [{"$eq": [{"$month": today}, {"$month": birth}]},
                          {"$lt": [{"$dayOfMonth": today}, {"$dayOfMonth": birth}]}]},
            ]},
            1, 0,
        ]},
    ]}


def clients_pipeline(technician_id: ObjectId, today: datetime.datetime) -> list[dict[str, Any]]:
    """A technician's clients: name, sex, age (computed by the database) and pathology."""
    return [
        {"$match": {"role": "client", "technician_id": technician_id}},
        {"$sort": {"name": 1, "_id": 1}},
        {"$project": {
            "name": 1,
            "sex": "$profile.sex",
            "pathology": "$profile.pathology",
            "age": {"$cond": [{"$eq": [{"$type": "$profile.birth_date"}, "date"]},
                              age_expression("$profile.birth_date", today), None]},
        }},
    ]


async def clients_of(db: Any, technician_id: ObjectId,
                     today: datetime.datetime) -> list[dict[str, Any]]:
    return await driver.aggregate_list(db.users, clients_pipeline(technician_id, today))


async def client_ids_of(db: Any, technician_id: ObjectId) -> list[ObjectId]:
    """The ids of a technician's current clients."""
    return [u["_id"] async for u in db.users.find(
        {"role": "client", "technician_id": technician_id}, {"_id": 1})]
