"""JSON errors for every failure, and the middlewares that produce them."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from pialara_async.jsonio import json_response
from pialara_async.metrics import METRICS, observe_request
from pialara_async.security.rate_limits import TooManyRequests

log = logging.getLogger("pialara_async.api")
access_log = logging.getLogger("pialara_async.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
# The signed-in caller's user id, once a route has read it (for the logs).
USER_ID = web.RequestKey("user_id", str)
# Whether to write one log line per request (server.access_log).
ACCESS_LOG = web.AppKey("access_log", bool)

REQUEST_ID_HEADER = "X-Request-ID"

UNAVAILABLE_ERRORS = (
    ServerSelectionTimeoutError,
    NetworkTimeout,
    ExecutionTimeout,
    AutoReconnect,
    ConnectionFailure,
)

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


class ApiError(Exception):
    """An error answered to the client as ``{"error": ...}`` with ``status``."""

    def __init__(self, status: int, error: Any, **extra: Any) -> None:
        super().__init__(error if isinstance(error, str) else repr(error))
        self.status = status
        self.error = error
        self.extra = extra
        self.validation: Any = None  # the pydantic ValidationError behind a 400

    def body(self) -> dict[str, Any]:
        return {**self.extra, "error": self.error}


def bad_request(error: Any) -> ApiError:
    return ApiError(400, error)


def not_found(error: Any = "Not found") -> ApiError:
    return ApiError(404, error)


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
    except TooManyRequests as exc:
        return json_response({"error": "too many requests: try again later",
                              "retry_after": exc.retry_after}, status=429,
                             headers={"Retry-After": str(exc.retry_after)})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason if exc.status != 405 else f"method {request.method} not allowed"
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-type"}
        headers.pop("Content-Length", None)
        return json_response({"error": reason}, status=exc.status, headers=headers)
    except WTimeoutError as exc:
        # The primary has the write; only its replication was not confirmed in
        # time. Retrying could apply it twice, so the client is told exactly that.
        log.warning("write concern timed out (id=%s): %s", request.get(REQUEST_ID), exc)
        return json_response(
            {"error": "the write may have been applied but was not confirmed in time: "
                      "check before retrying",
             "may_have_been_applied": True, "request_id": request.get(REQUEST_ID)},
            status=504)
    except ConnectionResetError:
        # The client went away mid-request: nothing failed here, and nothing can
        # be delivered; the status (nginx's 499) is for the access log.
        log.info("client disconnected (id=%s) on %s %s", request.get(REQUEST_ID),
                 request.method, request.path)
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("database unavailable (id=%s): %s", request.get(REQUEST_ID), exc)
        return json_response(
            {"error": "the database is unavailable, try again shortly",
             "request_id": request.get(REQUEST_ID)},
            status=503,
            headers={"Retry-After": "2"},
        )
    except Exception:
        request_id = request.get(REQUEST_ID)
        log.exception("unhandled error (id=%s) on %s %s", request_id, request.method, request.path)
        return json_response(
            {"error": "internal server error", "request_id": request_id}, status=500
        )
