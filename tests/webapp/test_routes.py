"""``/app/``: PIA Lara's pages as files, and ``/`` leading to them."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from pialara_async.webapp import STATIC

IMPORT = re.compile(r'^import [^;]*? from "(/app/[\w.]+)";', re.MULTILINE)


async def test_the_root_and_app_without_slash_lead_to_the_app(client: TestClient) -> None:
    for path in ("/", "/app"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"] == "/app/"


async def test_the_page_and_every_module_it_imports_are_served_as_they_are(
    client: TestClient,
) -> None:
    page = await client.get("/app/")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert '<script type="module" src="/app/main.js">' in await page.text()
    modules = {"/app/main.js"}
    for source in STATIC.glob("*.js"):
        modules |= set(IMPORT.findall(source.read_text()))
    assert len(modules) == len(list(STATIC.glob("*.js")))  # every module is used
    for path in sorted(modules):
        response = await client.get(path)
        assert response.status == 200, path
        # Browsers run a module only with a JavaScript type.
        assert response.content_type in ("text/javascript", "application/javascript"), path
        assert await response.text() == (STATIC / path.removeprefix("/app/")).read_text()


async def test_nothing_outside_the_folder_is_served(client: TestClient) -> None:
    for path in ("/app/../webapp/__init__.py", "/app/%2e%2e/__init__.py",
                 "/app/nothing.js"):
        response = await client.get(path)
        assert response.status == 404, path


async def test_the_page_loads_only_its_own_files(client: TestClient) -> None:
    page = await client.get("/app/")
    policy = dict(part.strip().split(" ", 1)
                  for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
