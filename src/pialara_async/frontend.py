"""A compiled single-page front-end served at ``/`` (``server.frontend_dir``).

MongoDB University's MFlix React build uses root-absolute paths
(``/static/...``, ``/api/v1/...``) and client-side routes: its files are
served as they are, and ``index.html`` answers any other path outside the
API, so a reload on ``/movies/id/…`` or ``/login`` works. Nothing outside the
folder is ever served (paths are resolved and checked).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from pialara_async.refusals import NotFound

INDEX = "index.html"
# Paths that belong to the service, never to the front-end.
SERVICE_PREFIXES = ("api/", "app/", "health", "ready", "metrics")


def routes(folder: Path) -> web.RouteTableDef:
    """The catch-all route (add it after every other route)."""
    root = folder.resolve()
    table = web.RouteTableDef()

    @table.get("/{path:.*}")
    async def front_end(request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        if path.startswith(SERVICE_PREFIXES):
            raise NotFound()
        file = await asyncio.to_thread(_existing_file, root, path)
        if file is None:
            file = root / INDEX  # a client-side route: the page decides
        return web.FileResponse(file)

    return table


def _existing_file(root: Path, path: str) -> Path | None:
    candidate = (root / path).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


def check(folder: Path) -> None:
    """Refuse a folder without an index.html at startup, not at the first request."""
    if not (folder / INDEX).is_file():
        raise ValueError(f"{folder} has no {INDEX}: not a built front-end")
