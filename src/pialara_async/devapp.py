"""Entry point for ``make dev`` (aiohttp-devtools ``adev runserver``, auto-reload)."""

from __future__ import annotations

from aiohttp import web

from pialara_async.app import create_app
from pialara_async.settings import load_settings


def create_dev_app() -> web.Application:
    return create_app(load_settings())
