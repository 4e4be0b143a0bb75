"""Who is calling: the bearer token of a request, read by the people service."""

from __future__ import annotations

from aiohttp import web

from pialara_async.models import Caller
from pialara_async.services.people import PEOPLE


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def standing(request: web.Request, token: str) -> tuple[Caller | None, str]:
    """The token's caller, or None and why the token no longer works."""
    return await request.config_dict[PEOPLE].standing(token)
