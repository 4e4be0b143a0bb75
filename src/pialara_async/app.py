"""``create_app(settings)``: the aiohttp application and everything it owns."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_cors
from aiohttp import web

from pialara_async import frontend, webapp
from pialara_async.api import (
    comments,
    consent,
    health,
    live,
    mflix_accounts,
    middlewares,
    movies,
    openapi,
    people,
    phrases,
    recordings,
)
from pialara_async.api.openapi import OPENAPI
from pialara_async.background.stats import stats_refresher_ctx
from pialara_async.db.client import database_client_ctx, embedded_database_ctx
from pialara_async.live.registry import WEBSOCKETS, WebSocketRegistry
from pialara_async.live.service import live_ctx
from pialara_async.metrics import METRICS, Metrics, loop_lag_ctx
from pialara_async.security.passwords import PASSWORDS, PasswordHashing
from pialara_async.security.rate_limits import RATE_LIMITS, RateLimits
from pialara_async.security.tokens import TOKEN_SECRET
from pialara_async.services.consent import consent_ctx
from pialara_async.services.people import people_ctx
from pialara_async.services.phrases import phrases_ctx
from pialara_async.services.recordings import recordings_ctx
from pialara_async.settings import SETTINGS, ConfigError, Settings, token_secret

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def create_api(settings: Settings) -> web.Application:
    """The ``/api/v1`` sub-application: JSON API with CORS."""
    api = web.Application()
    api.add_routes(openapi.routes)
    api.add_routes(movies.routes)
    api.add_routes(comments.routes)
    api.add_routes(mflix_accounts.routes)
    api.add_routes(people.routes)
    api.add_routes(phrases.routes)
    api.add_routes(consent.routes)
    api.add_routes(recordings.routes)
    api.add_routes(live.routes)
    _enable_cors(api, settings.server.cors_origins)
    return api


def _enable_cors(app: web.Application, origins: list[str]) -> None:
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,  # bearer tokens, not cookies
        expose_headers=(middlewares.REQUEST_ID_HEADER,),
        allow_headers=("Authorization", "Content-Type", middlewares.REQUEST_ID_HEADER),
        allow_methods=("GET", "POST", "PUT", "PATCH", "DELETE"),
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    for route in list(app.router.routes()):
        if not isinstance(route.resource, web.StaticResource):
            cors.add(route)


async def passwords_ctx(app: web.Application) -> AsyncIterator[None]:
    """Password hashing's worker threads, for the application's lifetime."""
    hashing = PasswordHashing.for_settings(app[SETTINGS].auth)
    app[PASSWORDS] = hashing
    yield
    hashing.close()


async def _close_websockets(app: web.Application) -> None:
    # on_shutdown runs before the runner waits for handlers: open websockets
    # would otherwise hold shutdown until its timeout.
    await app[WEBSOCKETS].close_all()


def create_app(settings: Settings) -> web.Application:
    if settings.auth.test_mode:
        log.warning("!!! auth.test_mode is ON: anyone can create an administrator with "
                    "POST /api/v1/user/make-admin. Only for the MFlix front-end's UI tests; "
                    "never in production !!!")
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[
        middlewares.request_id_middleware, middlewares.observe_middleware,
        middlewares.error_middleware])
    app[SETTINGS] = settings
    app[middlewares.ACCESS_LOG] = settings.server.access_log
    app[METRICS] = Metrics()
    app[TOKEN_SECRET] = token_secret(settings)
    app[WEBSOCKETS] = WebSocketRegistry()
    app[RATE_LIMITS] = RateLimits(settings.limits)
    app[OPENAPI] = openapi.OpenAPIRegistry("pialara-async")
    # Order matters: the embedded server must run before the client connects,
    # and is stopped after the client is closed.
    app.cleanup_ctx.append(loop_lag_ctx)
    app.cleanup_ctx.append(passwords_ctx)
    app.cleanup_ctx.append(embedded_database_ctx)
    app.cleanup_ctx.append(database_client_ctx)
    app.cleanup_ctx.append(people_ctx)
    app.cleanup_ctx.append(phrases_ctx)
    app.cleanup_ctx.append(consent_ctx)
    app.cleanup_ctx.append(recordings_ctx)
    app.cleanup_ctx.append(stats_refresher_ctx)
    app.cleanup_ctx.append(live_ctx)
    app.on_shutdown.append(_close_websockets)
    app.add_routes(health.routes)
    app.add_subapp(API_PREFIX, create_api(settings))
    app.add_routes(webapp.routes(home=settings.server.frontend_dir is None))
    if settings.server.frontend_dir is not None:
        try:
            frontend.check(settings.server.frontend_dir)
        except ValueError as error:
            raise ConfigError(f"server.frontend_dir: {error}") from None
        app.add_routes(frontend.routes(settings.server.frontend_dir))  # last: a catch-all
    return app
