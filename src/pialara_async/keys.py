"""Typed keys of everything the application holds."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pialara_async.api.openapi import OpenAPIRegistry
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.live.registry import WebSocketRegistry
from pialara_async.live.state import Live
from pialara_async.metrics import METRICS as METRICS  # this process's metrics
from pialara_async.security.passwords import PasswordHashing
from pialara_async.security.rate_limits import RateLimits
from pialara_async.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
EMBEDDED = web.AppKey("embedded", EmbeddedProcess)
# Motor's AsyncIOMotorClient or PyMongo's AsyncMongoClient (see db/driver.py).
DB_CLIENT = web.AppKey("db_client", Any)
DATABASE = web.AppKey("database", Any)
WEBSOCKETS = web.AppKey("websockets", WebSocketRegistry)
OPENAPI = web.AppKey("openapi", OpenAPIRegistry)
# The token signing key (configured, or generated into the data directory).
TOKEN_SECRET = web.AppKey("token_secret", str)
LIVE = web.AppKey("live", Live)
# Password hashing and verification, off the event loop.
PASSWORDS = web.AppKey("passwords", PasswordHashing)
# Request budgets per client address, account and socket.
RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
