"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from pialara_async.api.endpoint import Call, endpoint, serialise
from pialara_async.api.errors import UNAVAILABLE_ERRORS
from pialara_async.db import driver
from pialara_async.db.client import DATABASE, DB_CLIENT, EMBEDDED
from pialara_async.jsonio import json_response
from pialara_async.metrics import METRICS
from pialara_async.repositories import server

routes = web.RouteTableDef()

READY_TIMEOUT = 2.0


class Readiness(BaseModel):
    """Service status."""

    status: str
    reason: str | None = None


@routes.get("/health")
@endpoint("Liveness: the process answers (no database access)", tags=("health",),
          responses={200: Readiness})
async def health(call: Call[None, None, None]) -> Readiness:
    return Readiness(status="ok")


@routes.get("/ready")
@endpoint("Readiness: the database answers a ping", tags=("health",),
          responses={200: Readiness, 503: Readiness})
async def ready(call: Call[None, None, None]) -> web.Response | Readiness:
    request = call.request
    embedded = request.config_dict.get(EMBEDDED)
    if embedded is not None and not embedded.serving:
        return unavailable("the embedded database is not running: it is being restarted")
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await server.ping(request.config_dict[DATABASE])
    except (TimeoutError, *UNAVAILABLE_ERRORS) as error:
        # The cause the driver's monitors saw (connection refused, a DNS
        # failure…) says more than the ping's own timeout.
        causes = driver.server_errors(request.config_dict[DB_CLIENT])
        reason = "; ".join(causes) if causes else (
            "database ping timed out" if isinstance(error, TimeoutError) else str(error))
        return unavailable(reason)
    return Readiness(status="ready")


def unavailable(reason: str) -> web.Response:
    body = Readiness(status="unavailable", reason=reason[:300])
    return json_response(serialise(body), status=503)


@routes.get("/metrics")
@endpoint("Prometheus metrics of this process: requests, database commands and pool, "
          "event-loop lag, the live feed", tags=("health",),
          responses={200: "the Prometheus text format"})
async def metrics(call: Call[None, None, None]) -> web.Response:
    body = generate_latest(call.app(METRICS).registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
