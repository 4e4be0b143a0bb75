"""Sign-in sessions: one document per issued token, holding its fingerprint
(never the token). A TTL index on ``expires_at`` ends them with their token."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from bson import ObjectId

from pialara_async import clock
from pialara_async.models import User
from pialara_async.repositories import users


async def open_session(db: Any, user: User, expires: datetime.datetime) -> str:
    session_id = uuid.uuid4().hex
    await db.sessions.insert_one({"_id": session_id, "user_id": user.email, "user_oid": user.id,
                                  "jwt": "", "created_at": clock.now(), "expires_at": expires})
    return session_id


async def bind_token(db: Any, session_id: str, fingerprint: str) -> None:
    await db.sessions.update_one({"_id": session_id}, {"$set": {"jwt": fingerprint}})


async def session_user(db: Any, session_id: str, fingerprint: str) -> User | None:
    """The user of a live session whose token is ``fingerprint``; else None."""
    session = await db.sessions.find_one({"_id": session_id, "jwt": fingerprint})
    if session is None:
        return None
    return await users.by_id(db, session["user_oid"])


async def close_session(db: Any, session_id: str) -> None:
    await db.sessions.delete_one({"_id": session_id})


async def close_other_sessions(db: Any, user_id: ObjectId, keep: str) -> int:
    result = await db.sessions.delete_many({"user_oid": user_id, "_id": {"$ne": keep}})
    return result.deleted_count


async def close_all_sessions(db: Any, user_id: ObjectId, session: Any = None) -> None:
    await db.sessions.delete_many({"user_oid": user_id}, session=session)
