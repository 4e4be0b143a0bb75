"""Movies in Chromium: search and paging, a movie page, and comments that
follow the live feed across people, reconnections and resets."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from playwright.async_api import Page, WebSocketRoute, expect

from tests.accounts import PASSWORD, Account
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.browser

PER_PAGE = 20


@pytest.fixture
def data(movies_data: tuple[str, Any]) -> Any:
    return movies_data[1]


def results(page: Page) -> Any:
    return page.locator("#movie-results .movies > li")


async def search_for(page: Page, by: str, terms: str) -> None:
    await page.get_by_label("Buscar por").select_option(label=by)
    await page.get_by_label("Términos").fill(terms)
    await page.get_by_role("button", name="Buscar").click()


async def test_movies_are_searched_by_title_cast_and_genre_with_paging(
    page: Page, movies_client: TestClient, data: Any,
) -> None:
    await page.goto(str(movies_client.make_url("/app/#/movies")))  # no sign-in needed
    total = len(data.movies)
    await expect(page.locator(".page-status")).to_have_text(
        f"Página 1 de {-(-total // PER_PAGE)} · {total} resultados")
    await expect(results(page)).to_have_count(PER_PAGE)

    movie = data.movies[3]
    await search_for(page, "Título y texto", f'"{movie["title"]}"')
    await expect(results(page).first).to_contain_text(movie["title"])

    actor = data.movies[0]["cast"][0]
    acted = [m for m in data.movies if actor in m["cast"]]
    await search_for(page, "Reparto", actor)
    assert len(acted) <= PER_PAGE
    await expect(results(page)).to_have_count(len(acted))
    shown = await results(page).locator("strong").all_text_contents()
    assert sorted(shown) == sorted(m["title"] for m in acted)

    # Genres are searched as a comma-separated list of any of them.
    genres = [g for g, _ in Counter(g for m in data.movies for g in m["genres"]).most_common(2)]
    count = sum(1 for m in data.movies if set(genres) & set(m["genres"]))
    assert count > PER_PAGE  # the data set makes this a paged search
    await search_for(page, "Género", ", ".join(genres))
    await expect(page.locator(".page-status")).to_have_text(
        f"Página 1 de {-(-count // PER_PAGE)} · {count} resultados")
    await page.get_by_role("link", name="Siguiente").click()
    await expect(page.locator(".page-status")).to_contain_text("Página 2 de")
    await expect(results(page)).to_have_count(min(PER_PAGE, count - PER_PAGE))
    for item in await results(page).locator(".meta").all_text_contents():
        assert any(genre in item for genre in genres)


async def test_a_movie_page_shows_its_details_and_comments(
    page: Page, movies_client: TestClient, data: Any,
) -> None:
    counts = Counter(c["movie_id"] for c in data.comments)
    movie_id, count = counts.most_common(1)[0]
    movie = next(m for m in data.movies if m["_id"] == movie_id)
    await page.goto(str(movies_client.make_url("/app/#/movies")))
    await page.goto(str(movies_client.make_url(f"/app/#/movies/{movie_id}")))
    await expect(page.get_by_role("heading", level=1)).to_have_text(movie["title"])
    await expect(page.locator(".facts")).to_contain_text(", ".join(movie["directors"]))
    await expect(page.locator("#comments > li")).to_have_count(count)
    newest = max((c for c in data.comments if c["movie_id"] == movie_id), key=lambda c: c["date"])
    await expect(page.locator("#comments > li").first).to_contain_text(newest["text"])
    await expect(page.get_by_role("link", name="Inicia sesión para comentar.")).to_be_visible()


@pytest.fixture
async def movie(db: Any) -> ObjectId:
    inserted = await db.movies.insert_one({
        "title": "El espíritu de la colmena", "year": 1973, "genres": ["Drama"],
        "directors": ["Víctor Erice"], "cast": ["Ana Torrent"], "runtime": 97,
        "num_mflix_comments": 0})
    return inserted.inserted_id


async def open_movie(page: Page, client: TestClient, movie: ObjectId) -> None:
    await page.goto(str(client.make_url(f"/app/#/movies/{movie}")))
    await expect(page.locator(".live-status")).to_have_text("En directo")


async def test_a_comment_posted_edited_and_deleted_in_one_browser_shows_in_another(
    new_page: Any, client: TestClient, technician: Account, client_account: Account,
    movie: ObjectId,
) -> None:
    writer, reader = await new_page(), await new_page()
    await sign_in(writer, client, technician.email, PASSWORD)
    await sign_in(reader, client, client_account.email, PASSWORD)
    await open_movie(writer, client, movie)
    await open_movie(reader, client, movie)
    await expect(reader.locator("#comments")).to_have_text("Aún no hay comentarios.")

    await writer.get_by_label("Tu comentario").fill("Una película inolvidable.")
    await writer.get_by_role("button", name="Publicar").click()
    await expect(writer.locator("#comments > li")).to_have_count(1)
    shown = reader.locator("#comments > li")
    await expect(shown).to_contain_text("Una película inolvidable.")
    await expect(shown).to_contain_text("Tecnico")  # the author's name
    # Only the author may edit or delete it.
    await expect(shown.get_by_role("button")).to_have_count(0)

    mine = writer.locator("#comments > li").first
    await mine.get_by_role("button", name="Editar").click()
    await writer.get_by_label("Editar el comentario").fill("Una obra maestra.")
    await writer.get_by_role("button", name="Guardar").click()
    await expect(shown).to_contain_text("Una obra maestra.")
    await expect(shown).not_to_contain_text("inolvidable")

    await writer.locator("#comments > li").first.get_by_role("button", name="Eliminar").click()
    await expect(reader.locator("#comments")).to_have_text("Aún no hay comentarios.")


class LiveLink:
    """The page's live websocket, passed through Playwright: the test can cut
    it, hold the server's messages back, or speak as the server."""

    def __init__(self) -> None:
        self.pages: list[WebSocketRoute] = []
        self.sent: list[dict[str, Any]] = []  # by the page
        self.received: list[dict[str, Any]] = []  # from the server
        self.deliver = True
        self.arrived = asyncio.Event()

    def handle(self, page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()
        self.pages.append(page_side)

        def to_server(message: str | bytes) -> None:
            self.sent.append(json.loads(message))
            server.send(message)

        def to_page(message: str | bytes) -> None:
            self.received.append(json.loads(message))
            self.arrived.set()
            if self.deliver:
                page_side.send(message)

        page_side.on_message(to_server)
        server.on_message(to_page)

    async def seen(self, predicate: Any) -> dict[str, Any]:
        """The latest message from the server that matches, once it has come."""
        while True:
            self.arrived.clear()
            found = [m for m in self.received if predicate(m)]
            if found:
                return found[-1]
            await asyncio.wait_for(self.arrived.wait(), 15)


@pytest.fixture
async def link(page: Page) -> LiveLink:
    """The page's live websocket, passed through the test."""
    passed = LiveLink()
    await page.route_web_socket(re.compile(r".*/api/v1/live$"), passed.handle)
    return passed


async def post_comment(client: TestClient, account: Account, movie: ObjectId, text: str) -> None:
    response = await client.post("/api/v1/movies/comment", headers=account.headers,
                                 json={"movie_id": str(movie), "comment": text})
    assert response.status == 200


async def test_after_a_lost_connection_the_page_catches_up_with_since(
    page: Page, client: TestClient, technician: Account, movie: ObjectId, link: LiveLink,
) -> None:
    await open_movie(page, client, movie)
    await post_comment(client, technician, movie, "Primero")
    await expect(page.locator("#comments")).to_contain_text("Primero")
    first = await link.seen(lambda m: m.get("op") == "insert")

    link.deliver = False  # this event is lost with the connection
    await post_comment(client, technician, movie, "Mientras tanto")
    await link.seen(lambda m: m.get("op") == "insert" and m["id"] != first["id"])
    link.deliver = True
    await link.pages[0].close()

    await expect(page.locator("#comments")).to_contain_text("Mientras tanto")
    await expect(page.locator(".live-status")).to_have_text("En directo")
    assert len(link.pages) == 2
    again = [m for m in link.sent if m.get("action") == "subscribe"][-1]
    assert again == {"action": "subscribe", "topic": f"movie:{movie}:comments",
                     "since": first["id"]}
    await expect(page.locator("#comments > li")).to_have_count(2)


async def test_on_reset_the_page_refetches(
    page: Page, client: TestClient, technician: Account, movie: ObjectId, link: LiveLink,
) -> None:
    await open_movie(page, client, movie)
    link.deliver = False
    await post_comment(client, technician, movie, "Sin aviso")
    await link.seen(lambda m: m.get("op") == "insert")
    await expect(page.locator("#comments")).to_have_text("Aún no hay comentarios.")
    link.pages[0].send(json.dumps({"topic": f"movie:{movie}:comments", "op": "reset",
                                   "reason": "missed events are no longer available"}))
    await expect(page.locator("#comments")).to_contain_text("Sin aviso")
