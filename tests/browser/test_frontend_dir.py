"""``server.frontend_dir`` in Chromium: a built single-page front-end (as the
MFlix React build is) served at ``/``, with ``index.html`` for its client routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from pialara_async.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

INDEX = """<!doctype html><html><head><meta charset="utf-8"><title>SPA</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/css/main.css">
<script type="module" src="/static/js/main.js"></script></head>
<body><h1 id="route"></h1><p id="count"></p>
<a id="go" href="/movies/page/2">next</a></body></html>"""

# Root-absolute paths and client-side routes, as a React build has them.
SCRIPT = """
const show = () => { document.getElementById("route").textContent = location.pathname; };
document.getElementById("go").addEventListener("click", (event) => {
  event.preventDefault();
  history.pushState({}, "", event.target.getAttribute("href"));
  show();
});
window.addEventListener("popstate", show);
show();
const answer = await fetch("/api/v1/movies/").then((response) => response.json());
document.getElementById("count").textContent = `${answer.total_results} movies`;
"""


@pytest.fixture
async def spa(aiohttp_client: Any, tmp_path: Path, mongo_uri: str, database_name: str,
              db: Any) -> TestClient:
    build = tmp_path / "build"
    (build / "static" / "js").mkdir(parents=True)
    (build / "static" / "css").mkdir()
    (build / "index.html").write_text(INDEX)
    (build / "static" / "js" / "main.js").write_text(SCRIPT)
    (build / "static" / "css" / "main.css").write_text("h1 { color: rgb(1, 2, 3); }")
    await db.movies.insert_many([{"title": f"Movie {n}"} for n in range(3)])
    settings = make_settings(tmp_path, mongo_uri, database_name,
                             server={"frontend_dir": str(build)})
    return await aiohttp_client(create_app(settings))


async def test_a_deep_link_gets_the_index_and_the_app_runs_on_the_api(
    page: Page, spa: TestClient,
) -> None:
    await page.goto(str(spa.make_url("/movies/id/573a1390f29313caabcd4135")))
    await expect(page.locator("#route")).to_have_text("/movies/id/573a1390f29313caabcd4135")
    await expect(page.locator("#count")).to_have_text("3 movies")
    assert await page.locator("#route").evaluate("node => getComputedStyle(node).color") == \
        "rgb(1, 2, 3)"  # the stylesheet, served as it is
    await page.click("#go")
    await expect(page.locator("#route")).to_have_text("/movies/page/2")
    await page.reload()  # the client route survives a reload: the index again
    await expect(page.locator("#route")).to_have_text("/movies/page/2")


async def test_pia_laras_screens_stay_at_app(page: Page, spa: TestClient) -> None:
    await page.goto(str(spa.make_url("/")))
    await expect(page.locator("#route")).to_have_text("/")  # no redirect to /app/
    await page.goto(str(spa.make_url("/app/")))
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
