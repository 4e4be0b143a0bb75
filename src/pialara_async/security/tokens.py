"""Signed bearer tokens (JWT, HS256 only).

A token names a session (``sid``) and its user (``sub``); the session must
still exist for the token to work, so logout, deletion and password changes
revoke tokens at once. Claims are never trusted for authorization: the user
record is read from the database on each request.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

import jwt
from aiohttp import web

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    pass


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    session_id: str


def issue(secret: str, user_id: str, session_id: str, ttl: datetime.timedelta,
          *, now: datetime.datetime | None = None) -> str:
    issued = now or datetime.datetime.now(datetime.UTC)
    payload = {"sub": user_id, "sid": session_id, "iat": issued, "exp": issued + ttl}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read(secret: str, token: str) -> TokenClaims:
    """Claims of a valid token; ``InvalidToken`` for anything else (alg none included)."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM],
                             options={"require": ["exp", "iat", "sub", "sid"]})
    except jwt.ExpiredSignatureError as error:
        raise ExpiredToken(str(error)) from None
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    if not isinstance(payload.get("sub"), str) or not isinstance(payload.get("sid"), str):
        raise InvalidToken("malformed claims")
    return TokenClaims(payload["sub"], payload["sid"])


def fingerprint(token: str) -> str:
    """What a session stores instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()

# The token signing key (configured, or generated into the data directory).
TOKEN_SECRET = web.AppKey("token_secret", str)
