"""The middlewares every request passes: its id, its metrics and access log
line, and its failure answered as JSON (from ``errors.ANSWERS``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from pialara_async.api.errors import ApiError, answer_for
from pialara_async.jsonio import json_response
from pialara_async.metrics import METRICS, observe_request

log = logging.getLogger("pialara_async.api")
access_log = logging.getLogger("pialara_async.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
# The signed-in caller's user id, once a route has read it (for the logs).
USER_ID = web.RequestKey("user_id", str)
# Whether to write one log line per request (server.access_log).
ACCESS_LOG = web.AppKey("access_log", bool)

REQUEST_ID_HEADER = "X-Request-ID"

# Query parameters that may carry a credential: their values never reach a log.
SECRET_PARAMETERS = frozenset({"token", "access_token", "auth_token", "refresh_token",
                               "id_token", "password", "secret", "key", "api_key",
                               "apikey", "jwt", "session", "code"})
REDACTED = "redacted"
CLIENT_CLOSED_REQUEST = 499


def loggable_url(request: web.Request) -> str:
    """The request's path and query, with credential values replaced."""
    url = request.rel_url
    if not url.query:
        return str(url)
    return str(url.with_query([(name, REDACTED if name.lower() in SECRET_PARAMETERS else value)
                               for name, value in url.query.items()]))


def _request_id(request: web.Request) -> str:
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a caller's id only when it is short and plain, so logs stay clean.
    if 0 < len(supplied) <= 64 and supplied.replace("-", "").isalnum():
        return supplied
    return uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def route_of(request: web.Request) -> str:
    """The route's template (``/api/v1/users/{user_id}``), never the concrete
    path, so metrics and logs group by route; "unmatched" for a 404."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each request counted and timed by route and status (``/metrics``) and,
    with ``server.access_log``, one log line: request id, route, status,
    duration, user id (never a token: credentials in the query are redacted)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED_REQUEST  # aiohttp cancels the handler of a gone client
        raise
    finally:
        route = route_of(request)
        metrics = request.config_dict.get(METRICS)
        if metrics is not None:
            observe_request(metrics, request.method, route, status, started)
        if request.config_dict.get(ACCESS_LOG, True):
            duration = (time.perf_counter() - started) * 1000
            user = request.get(USER_ID, "-")
            access_log.info(
                '%s "%s %s" %s %.1fms id=%s user=%s', request.remote, request.method,
                loggable_url(request), status, duration, request.get(REQUEST_ID, "-"), user,
                extra={"request_id": request.get(REQUEST_ID), "route": route,
                       "method": request.method, "status": status,
                       "duration_ms": round(duration, 1), "user_id": user,
                       "remote": request.remote})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason if exc.status != 405 else f"method {request.method} not allowed"
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-type"}
        headers.pop("Content-Length", None)
        return json_response({"error": reason}, status=exc.status, headers=headers)
    except ConnectionResetError:
        # The client went away mid-request: nothing failed here, and nothing can
        # be delivered; the status (nginx's 499) is for the access log.
        log.info("client disconnected (id=%s) on %s %s", request.get(REQUEST_ID),
                 request.method, request.path)
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    except Exception as exc:
        request_id = request.get(REQUEST_ID)
        answer = answer_for(type(exc))
        if answer is None:
            log.exception("unhandled error (id=%s) on %s %s", request_id, request.method,
                          request.path)
            return json_response({"error": "internal server error", "request_id": request_id},
                                 status=500)
        body = answer.body(exc)
        if answer.logged:
            log.warning("%s (id=%s): %s", answer.description, request_id, exc)
            body["request_id"] = request_id
        return json_response(body, status=answer.status, headers=answer.headers(exc))
