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
from pymongo import ASCENDING, ReturnDocument, WriteConcern
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


class RoleRuleBroken(Exception):
    """A change refused because it would break a rule about roles."""


class HasClients(RoleRuleBroken):
    """A technician who still cares for clients cannot be deleted or demoted."""


class LastAdmin(RoleRuleBroken):
    """The last administrator cannot be deleted or demoted."""


class TechnicianRequired(RoleRuleBroken):
    """A client needs a technician, and it must be an existing one."""


class OnlyClientsHaveTechnicians(RoleRuleBroken):
    pass


# Every change that could break a rule about roles increments this document in
# its transaction: two such transactions write one document, so a real server
# makes one of them retry and see what the other did (no write skew).
GUARD_COLLECTION = "invariants"
GUARD_ID = "user_roles"


@dataclass(frozen=True, slots=True)
class User:
    id: ObjectId
    name: str
    email: str
    role: Role | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    technician_id: ObjectId | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        # The role is the one source of rights. MFlix's isAdmin flag is mapped
        # to it when data is imported or migrated, and echoed in responses.
        return self.role == "admin"

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> User:
        return cls(
            id=document["_id"],
            name=document.get("name", ""),
            email=document["email"],
            role=document.get("role"),
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
    db: Any, hashing: passwords.PasswordHashing, *, name: str, email: str, password: str,
    wtimeout_ms: int, role: Role | None = None, technician_id: ObjectId | None = None,
    profile: dict[str, Any] | None = None, client: Any = None,
) -> User:
    """Insert with write concern majority: an account must not be lost. A client
    (which needs ``client``, the driver client) is created in a transaction that
    checks its technician."""
    document: dict[str, Any] = {"name": name, "email": email,
                                "password": await hashing.hash(password),
                                "preferences": {},
                                "created_at": _now()}
    if role is not None:
        document["role"] = role
    if profile:
        document["profile"] = profile
    if role == "client":
        if technician_id is None:
            raise TechnicianRequired("a client needs a technician")
        document["technician_id"] = technician_id

        async def insert(session: Any) -> Any:
            await _guard(db, session)
            await _check_technician(db, technician_id, session)
            return await db.users.insert_one(document, session=session)

        try:
            result = await _transaction(client, insert, wtimeout_ms)
        except DuplicateKeyError:
            raise EmailTaken(email) from None
    else:
        if technician_id is not None:
            raise OnlyClientsHaveTechnicians("only clients have a technician")
        try:
            result = await driver.majority(db.users, wtimeout_ms).insert_one(document)
        except DuplicateKeyError:
            raise EmailTaken(email) from None
    document["_id"] = result.inserted_id
    return User.from_document(document)


async def authenticate(db: Any, hashing: passwords.PasswordHashing, email: str,
                       password: str) -> User | None:
    """The user if the password is right; a legacy bcrypt hash is upgraded to argon2id."""
    document = await db.users.find_one({"email": email})
    stored = document.get("password") if document else None
    check = await hashing.verify(password, stored if isinstance(stored, str) else None)
    if document is None or not check.ok:
        return None
    if check.rehash:
        # Matched on the old hash: a concurrent password change wins.
        await db.users.update_one({"_id": document["_id"], "password": stored},
                                  {"$set": {"password": await hashing.hash(password)}})
    return User.from_document(document)


async def password_matches(db: Any, hashing: passwords.PasswordHashing, user_id: ObjectId,
                           password: str) -> bool:
    document = await db.users.find_one({"_id": user_id}, {"password": 1})
    stored = document.get("password") if document else None
    return (await hashing.verify(password, stored if isinstance(stored, str) else None)).ok


async def set_password(db: Any, hashing: passwords.PasswordHashing, user_id: ObjectId,
                       password: str, wtimeout_ms: int) -> None:
    await driver.majority(db.users, wtimeout_ms).update_one(
        {"_id": user_id}, {"$set": {"password": await hashing.hash(password)}})


async def set_preferences(db: Any, user_id: ObjectId, preferences: dict[str, Any]) -> User | None:
    document = await db.users.find_one_and_update(
        {"_id": user_id}, {"$set": {"preferences": preferences}},
        projection=PUBLIC, return_document=ReturnDocument.AFTER)
    return None if document is None else User.from_document(document)


async def within(db: Any, user_id: ObjectId, scope: dict[str, Any]) -> User | None:
    """The user if it lies within ``scope`` (what the caller may see)."""
    document = await db.users.find_one({"_id": user_id, **scope}, PUBLIC)
    return None if document is None else User.from_document(document)


async def update(db: Any, client: Any, user_id: ObjectId, changes: dict[str, Any],
                 scope: dict[str, Any] | None = None, *, wtimeout_ms: int = 0) -> User | None:
    """Set fields (names fixed by the caller's model) on a user within ``scope``.

    A change of role or technician runs in a transaction that keeps the rules:
    only clients have a technician (it goes when the user stops being one) and
    it is an existing technician; a technician with clients stays one; the last
    administrator stays one.
    """
    scope = scope or {}
    if not changes:
        return await within(db, user_id, scope)
    if not {"role", "technician_id"} & changes.keys():
        try:
            document = await db.users.find_one_and_update(
                {"_id": user_id, **scope}, {"$set": changes},
                projection=PUBLIC, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise EmailTaken(changes.get("email", "")) from None
        return None if document is None else User.from_document(document)

    async def change(session: Any) -> dict[str, Any] | None:
        await _guard(db, session)
        target = await db.users.find_one({"_id": user_id, **scope}, PUBLIC, session=session)
        if target is None:
            return None
        role = changes.get("role", target.get("role"))
        await _check_leaving(db, target, role, session)
        update: dict[str, Any] = {"$set": dict(changes)}
        if role == "client":
            technician = changes.get("technician_id", target.get("technician_id"))
            if technician is None:
                raise TechnicianRequired("a client needs a technician")
            await _check_technician(db, technician, session)
            update["$set"]["technician_id"] = technician
        elif "technician_id" in changes:
            raise OnlyClientsHaveTechnicians("only clients have a technician")
        elif "technician_id" in target:
            update["$unset"] = {"technician_id": ""}
        return await db.users.find_one_and_update(
            {"_id": user_id}, update, projection=PUBLIC,
            return_document=ReturnDocument.AFTER, session=session)

    try:
        document = await _transaction(client, change, wtimeout_ms)
    except DuplicateKeyError:
        raise EmailTaken(changes.get("email", "")) from None
    return None if document is None else User.from_document(document)


async def delete(db: Any, client: Any, user: User, wtimeout_ms: int = 0) -> None:
    """Delete the user and all their sessions in one transaction, unless that
    leaves clients without their technician or nobody an administrator.

    Their comments stay, attributed by name and email as in the MFlix data,
    owned by nobody (ownership follows the account's id, which is gone).
    """

    async def remove(session: Any) -> None:
        await _guard(db, session)
        target = await db.users.find_one({"_id": user.id}, PUBLIC, session=session)
        if target is None:
            return
        await _check_leaving(db, target, None, session)
        await db.sessions.delete_many({"user_oid": user.id}, session=session)
        await db.users.delete_one({"_id": user.id}, session=session)

    await _transaction(client, remove, wtimeout_ms)


async def _guard(db: Any, session: Any) -> None:
    await db[GUARD_COLLECTION].update_one({"_id": GUARD_ID}, {"$inc": {"version": 1}},
                                          upsert=True, session=session)


async def _check_leaving(db: Any, target: dict[str, Any], role: Role | None,
                         session: Any) -> None:
    """Refuse a user leaving their role (``role`` is the new one, None: deleted)
    when that breaks a rule."""
    if target.get("role") == "admin" and role != "admin" and not await \
            db.users.count_documents({"role": "admin", "_id": {"$ne": target["_id"]}},
                                     limit=1, session=session):
        raise LastAdmin("the last administrator cannot stop being one")
    if target.get("role") == "technician" and role != "technician" and await \
            db.users.count_documents({"technician_id": target["_id"]}, limit=1,
                                     session=session):
        raise HasClients("this technician still has clients")


async def _check_technician(db: Any, technician_id: ObjectId, session: Any) -> None:
    if not await db.users.count_documents({"_id": technician_id, "role": "technician"},
                                          limit=1, session=session):
        raise TechnicianRequired("no technician has this id")


async def _transaction(client: Any, work: Any, wtimeout_ms: int) -> Any:
    """``work(session)`` in a transaction (retried on transient errors), committed
    with write concern majority."""
    concern = WriteConcern("majority", wtimeout=wtimeout_ms or None)
    return await driver.run_transaction(client, work, write_concern=concern)


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
