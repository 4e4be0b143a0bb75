"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from pialara_async import keys
from pialara_async.api.errors import UNAVAILABLE_ERRORS
from pialara_async.api.openapi import describe
from pialara_async.jsonio import json_response
from pialara_async.repositories import server

routes = web.RouteTableDef()

READY_TIMEOUT = 2.0


class Status(BaseModel):
    """Service status."""

    status: str
    reason: str | None = None


@routes.get("/health")
@describe("Liveness: the process answers (no database access)", tags=("health",),
          responses={200: Status})
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/ready")
@describe("Readiness: the database answers a ping", tags=("health",),
          responses={200: Status, 503: Status})
async def ready(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await server.ping(request.config_dict[keys.DATABASE])
    except (TimeoutError, *UNAVAILABLE_ERRORS) as error:
        reason = "database ping timed out" if isinstance(error, TimeoutError) else str(error)
        return json_response({"status": "unavailable", "reason": reason[:300]}, status=503)
    return json_response({"status": "ready"})
