"""``server.frontend_dir``: a built single-page front-end served at ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from pialara_async.app import create_app
from pialara_async.settings import ConfigError
from tests.conftest import make_settings

INDEX = "<!doctype html><title>MFlix</title><div id=root></div>"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    folder = tmp_path / "build"
    (folder / "static" / "js").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "static" / "js" / "main.js").write_text("console.log('mflix')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


@pytest.fixture
async def spa(aiohttp_client: Any, tmp_path: Path, mongo_uri: str, database_name: str,
              build: Path, db: Any) -> TestClient:
    settings = make_settings(tmp_path, mongo_uri, database_name,
                             server={"frontend_dir": str(build)})
    return await aiohttp_client(create_app(settings))


async def test_files_as_they_are_and_the_index_for_client_routes(spa: TestClient) -> None:
    script = await spa.get("/static/js/main.js")
    assert script.status == 200
    assert "javascript" in script.headers["Content-Type"]
    assert await script.text() == "console.log('mflix')"
    for path in ("/", "/movies/id/573a1390f29313caabcd4135", "/login", "/status"):
        page = await spa.get(path)
        assert page.status == 200, path
        assert await page.text() == INDEX


async def test_the_api_stays_the_api(spa: TestClient) -> None:
    assert (await spa.get("/health")).status == 200
    movies = await spa.get("/api/v1/movies/")
    assert movies.status == 200
    assert "movies" in await movies.json()
    unknown = await spa.get("/api/v1/nothing-here")
    assert unknown.status == 404
    assert (await unknown.json())["error"]
    assert (await spa.get("/api/v2/whatever")).status == 404


async def test_nothing_outside_the_folder_is_served(spa: TestClient) -> None:
    for path in ("/../secret.txt", "/static/../../secret.txt", "/%2e%2e/secret.txt"):
        response = await spa.get(path)
        assert "outside the build" not in await response.text(), path


def test_a_folder_without_an_index_is_refused(tmp_path: Path, mongo_uri: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = make_settings(tmp_path, mongo_uri, "x", server={"frontend_dir": str(empty)})
    with pytest.raises(ConfigError, match=r"index\.html"):
        create_app(settings)
