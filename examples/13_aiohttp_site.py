"""Lesson 13 — the Motor tutorial's aiohttp application.

A tiny site whose pages are MongoDB documents: the client is made at startup
in a cleanup context and stored on the application under a typed key, and the
handler reads the page by its name. The example serves it on a free port,
fetches a page and a missing one, and shuts down cleanly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from _shared import check, lesson, run
from aiohttp import ClientSession, web

PAGES = web.AppKey("pages", Any)


async def page(request: web.Request) -> web.Response:
    document = await request.app[PAGES].find_one({"_id": request.match_info["name"]})
    if document is None:
        raise web.HTTPNotFound(text="no such page")
    return web.Response(text=f"<h1>{document['title']}</h1><p>{document['body']}</p>",
                        content_type="text/html")


def make_app(db: Any) -> web.Application:
    app = web.Application()

    async def pages_ctx(app: web.Application) -> AsyncIterator[None]:
        app[PAGES] = db.pages  # the lesson's client; a real app would create it here
        yield

    app.cleanup_ctx.append(pages_ctx)
    app.router.add_get("/pages/{name}", page)
    return app


async def main() -> None:
    async with lesson("aiohttp_site") as (_client, db):
        await db.pages.insert_many([
            {"_id": "motor", "title": "Motor", "body": "An async driver for MongoDB."},
            {"_id": "aiohttp", "title": "aiohttp", "body": "An async web framework."},
        ])
        runner = web.AppRunner(make_app(db))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with ClientSession(f"http://127.0.0.1:{port}") as http:
                async with http.get("/pages/motor") as response:
                    html = await response.text()
                    check(response.status == 200 and "<h1>Motor</h1>" in html,
                          "a page served from its document")
                async with http.get("/pages/nothing") as response:
                    check(response.status == 404, "a missing page is 404")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    run(main)
