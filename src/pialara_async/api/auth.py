"""Who is calling: bearer tokens checked against live sessions and the user record."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from aiohttp import web
from bson import ObjectId

from pialara_async import keys
from pialara_async.repositories import users
from pialara_async.security import tokens


@dataclass(frozen=True, slots=True)
class Caller:
    user: users.User
    session_id: str


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def caller_from_token(request: web.Request, token: str) -> Caller | None:
    return (await standing(request, token))[0]


async def standing(request: web.Request, token: str) -> tuple[Caller | None, str]:
    """The token's caller, or None and why the token no longer works."""
    try:
        claims = tokens.read(request.config_dict[keys.TOKEN_SECRET], token)
    except tokens.ExpiredToken:
        return None, "the token expired: sign in again"
    except tokens.InvalidToken:
        return None, "the token is invalid"
    db = request.config_dict[keys.DATABASE]
    user = await users.session_user(db, claims.session_id, tokens.fingerprint(token))
    if user is not None and str(user.id) == claims.user_id:
        return Caller(user, claims.session_id), ""
    if ObjectId.is_valid(claims.user_id) and await users.by_id(db, ObjectId(claims.user_id)):
        return None, "signed out, or the password was changed"
    return None, "the account was deleted"


async def start_session(request: web.Request, user: users.User) -> str:
    """Open a session for ``user`` and return its signed token."""
    db = request.config_dict[keys.DATABASE]
    ttl = datetime.timedelta(minutes=request.config_dict[keys.SETTINGS].auth.token_ttl_minutes)
    now = datetime.datetime.now(datetime.UTC)
    session_id = await users.open_session(db, user, (now + ttl).replace(tzinfo=None))
    return await reissue(request, user, session_id)


async def reissue(request: web.Request, user: users.User, session_id: str) -> str:
    """A fresh token for an existing session (the previous one stops working)."""
    ttl = datetime.timedelta(minutes=request.config_dict[keys.SETTINGS].auth.token_ttl_minutes)
    token = tokens.issue(request.config_dict[keys.TOKEN_SECRET], str(user.id), session_id, ttl)
    await users.bind_token(request.config_dict[keys.DATABASE], session_id,
                           tokens.fingerprint(token))
    return token
