"""PIA Lara's web interface, served by the service itself under ``/app/``.

Static pages with native ES modules (no build step, nothing fetched from the
internet) that are a client of the service's own JSON API, with the same
bearer tokens: no second login system and no rule written twice. ``/``
redirects here unless ``server.frontend_dir`` serves another front-end there.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"

# The pages load only their own files and talk only to their own service (the
# API and its websocket): an injected script or a framing page gets nowhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def routes(*, home: bool) -> web.RouteTableDef:
    """``/app/`` and its files; with ``home``, ``/`` redirects there too."""
    table = web.RouteTableDef()

    if home:
        @table.get("/")
        async def to_the_app(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("/app/")

    @table.get("/app")
    async def app_without_slash(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/app/")

    @table.get("/app/")
    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    table.static("/app", STATIC)
    return table
