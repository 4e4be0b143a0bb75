"""Users and their sessions: MFlix accounts and PIA Lara's roles.

Password hashes are read and written only here; every ``User`` handed out is
without one. Query and update documents are built from fixed keys only: no
user-supplied key is ever spliced into them.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern

from pialara_async.db import driver
from pialara_async.security import passwords

Role = Literal["admin", "technician", "client"]
Sex = Literal["female", "male", "other"]
PAGE_SIZE = 20
# Everything but the password hash.
PUBLIC = {"password": 0}


class EmailTaken(Exception):
    pass


class HasClients(Exception):
    """A technician who still cares for clients cannot be deleted."""


@dataclass(frozen=True, slots=True)
class User:
    id: ObjectId
    name: str
    email: str
    role: Role | None = None
    is_admin_flag: bool = False
    preferences: dict[str, Any] = field(default_factory=dict)
    technician_id: ObjectId | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        # MFlix marks admins with isAdmin; PIA Lara with role "admin": either counts.
        return self.role == "admin" or self.is_admin_flag

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> User:
        return cls(
            id=document["_id"],
            name=document.get("name", ""),
            email=document["email"],
            role=document.get("role"),
            is_admin_flag=document.get("isAdmin") is True,
            preferences=document.get("preferences") or {},
            technician_id=document.get("technician_id"),
            profile=document.get("profile") or {},
        )

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"_id": self.id, "name": self.name, "email": self.email,
                                "role": self.role, "isAdmin": self.is_admin}
        if self.role == "client":
            body["technician_id"] = self.technician_id
            body["profile"] = self.profile
        return body

    def info(self) -> dict[str, Any]:
        """The MFlix contract's ``info`` member."""
        return {"email": self.email, "name": self.name, "preferences": self.preferences,
                "isAdmin": self.is_admin}


async def by_id(db: Any, user_id: ObjectId) -> User | None:
    document = await db.users.find_one({"_id": user_id}, PUBLIC)
    return None if document is None else User.from_document(document)


async def create(
    db: Any, *, name: str, email: str, password: str, wtimeout_ms: int,
    role: Role | None = None, is_admin: bool = False, technician_id: ObjectId | None = None,
    profile: dict[str, Any] | None = None,
) -> User:
    """Insert with write concern majority: an account must not be lost."""
    document: dict[str, Any] = {"name": name, "email": email,
                                "password": passwords.hash_password(password),
                                "preferences": {},
                                "created_at": _now()}
    if role is not None:
        document["role"] = role
    if is_admin:
        document["isAdmin"] = True
    if technician_id is not None:
        document["technician_id"] = technician_id
    if profile:
        document["profile"] = profile
    try:
        result = await driver.majority(db.users, wtimeout_ms).insert_one(document)
    except DuplicateKeyError:
        raise EmailTaken(email) from None
    document["_id"] = result.inserted_id
    return User.from_document(document)


async def authenticate(db: Any, email: str, password: str) -> User | None:
    """The user if the password is right; a legacy bcrypt hash is upgraded to argon2id."""
    document = await db.users.find_one({"email": email})
    stored = document.get("password") if document else None
    check = passwords.verify_password(password, stored if isinstance(stored, str) else None)
    if document is None or not check.ok:
        return None
    if check.rehash:
        # Matched on the old hash: a concurrent password change wins.
        await db.users.update_one({"_id": document["_id"], "password": stored},
                                  {"$set": {"password": passwords.hash_password(password)}})
    return User.from_document(document)


async def password_matches(db: Any, user_id: ObjectId, password: str) -> bool:
    document = await db.users.find_one({"_id": user_id}, {"password": 1})
    stored = document.get("password") if document else None
    return passwords.verify_password(password, stored if isinstance(stored, str) else None).ok


async def set_password(db: Any, user_id: ObjectId, password: str, wtimeout_ms: int) -> None:
    await driver.majority(db.users, wtimeout_ms).update_one(
        {"_id": user_id}, {"$set": {"password": passwords.hash_password(password)}})


async def set_preferences(db: Any, user_id: ObjectId, preferences: dict[str, Any]) -> User | None:
    document = await db.users.find_one_and_update(
        {"_id": user_id}, {"$set": {"preferences": preferences}},
        projection=PUBLIC, return_document=ReturnDocument.AFTER)
    return None if document is None else User.from_document(document)


async def within(db: Any, user_id: ObjectId, scope: dict[str, Any]) -> User | None:
    """The user if it lies within ``scope`` (what the caller may see)."""
    document = await db.users.find_one({"_id": user_id, **scope}, PUBLIC)
    return None if document is None else User.from_document(document)


async def update(db: Any, user_id: ObjectId, changes: dict[str, Any],
                 scope: dict[str, Any] | None = None) -> User | None:
    """Set fields (names fixed by the caller's model) on a user within ``scope``."""
    if not changes:
        return await within(db, user_id, scope or {})
    else:
        try:
            document = await db.users.find_one_and_update(
                {"_id": user_id, **(scope or {})}, {"$set": changes},
                projection=PUBLIC, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise EmailTaken(changes.get("email", "")) from None
    return None if document is None else User.from_document(document)


async def delete(db: Any, client: Any, user: User) -> None:
    """Delete the user and all their sessions in one transaction.

    Their comments stay, attributed by name and email as in the MFlix data.
    """
    if user.role == "technician" and await db.users.count_documents(
            {"technician_id": user.id}, limit=1):
        raise HasClients(user.email)

    async def remove(session: Any) -> None:
        await db.sessions.delete_many({"user_oid": user.id}, session=session)
        await db.users.delete_one({"_id": user.id}, session=session)

    async with await driver.start_session(client) as session:
        await session.with_transaction(remove)


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
    cursor = db.users.find({"role": "technician"}, PUBLIC).sort("name", ASCENDING)
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
                     today: datetime.datetime | None = None) -> list[dict[str, Any]]:
    return await driver.aggregate_list(
        db.users, clients_pipeline(technician_id, today or _now()))


def comment_report_pipeline() -> list[dict[str, Any]]:
    return [
        {"$group": {"_id": "$email", "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": 20},
    ]


async def comment_report(db: Any) -> list[dict[str, Any]]:
    """The 20 users with most comments, read with read concern majority."""
    comments = db.comments.with_options(read_concern=ReadConcern("majority"))
    return await driver.aggregate_list(comments, comment_report_pipeline())


# --- sessions -----------------------------------------------------------------------


async def open_session(db: Any, user: User, expires: datetime.datetime) -> str:
    session_id = uuid.uuid4().hex
    await db.sessions.insert_one({"_id": session_id, "user_id": user.email, "user_oid": user.id,
                                  "jwt": "", "created_at": _now(), "expires_at": expires})
    return session_id


async def bind_token(db: Any, session_id: str, fingerprint: str) -> None:
    await db.sessions.update_one({"_id": session_id}, {"$set": {"jwt": fingerprint}})


async def session_user(db: Any, session_id: str, fingerprint: str) -> User | None:
    """The user of a live session whose token is ``fingerprint``; else None."""
    session = await db.sessions.find_one({"_id": session_id, "jwt": fingerprint})
    if session is None:
        return None
    return await by_id(db, session["user_oid"])


async def close_session(db: Any, session_id: str) -> None:
    await db.sessions.delete_one({"_id": session_id})


async def close_other_sessions(db: Any, user_id: ObjectId, keep: str) -> int:
    result = await db.sessions.delete_many({"user_oid": user_id, "_id": {"$ne": keep}})
    return result.deleted_count


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
