"""The movies routes of the MFlix contract, against a generated data set.

Expected answers are computed here from the generated documents, in plain
Python, independently of the service's queries.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

PER_PAGE = 20


def popularity(movie: dict[str, Any]) -> int:
    # Missing sorts last in a descending sort.
    return movie.get("tomatoes", {}).get("viewer", {}).get("numReviews", -1)


def by_popularity(movies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(movies, key=popularity, reverse=True)


def ids(movies: list[dict[str, Any]]) -> list[str]:
    return [str(m["_id"]) for m in movies]


def assert_popularity_order(returned: list[dict[str, Any]]) -> None:
    values = [popularity(m) for m in returned]
    assert values == sorted(values, reverse=True)


@pytest.fixture
def data(movies_data: tuple[str, Any]) -> Any:
    return movies_data[1]


async def get(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def test_first_page_by_popularity(movies_client: TestClient, data: Any) -> None:
    body = await get(movies_client, "/api/v1/movies/")
    assert body["page"] == 0
    assert body["filters"] == {}
    assert body["entries_per_page"] == PER_PAGE
    assert body["total_results"] == len(data.movies)
    assert len(body["movies"]) == PER_PAGE
    assert_popularity_order(body["movies"])
    expected = by_popularity(data.movies)
    assert [popularity(m) for m in body["movies"]] == [popularity(m) for m in expected[:PER_PAGE]]


async def test_paging_edges(movies_client: TestClient, data: Any) -> None:
    pages = -(-len(data.movies) // PER_PAGE)
    seen: list[str] = []
    for page in range(pages):
        body = await get(movies_client, "/api/v1/movies/", page=page)
        assert body["page"] == page
        seen += ids(body["movies"])
    assert sorted(seen) == sorted(ids(data.movies))  # every movie exactly once
    last = await get(movies_client, "/api/v1/movies/", page=pages - 1)
    assert len(last["movies"]) == len(data.movies) - (pages - 1) * PER_PAGE
    past = await get(movies_client, "/api/v1/movies/", page=pages)
    assert past["movies"] == []
    assert past["total_results"] == len(data.movies)


@pytest.mark.parametrize("page", ["abc", "1.5", ""])
async def test_page_that_is_not_an_integer_is_zero(movies_client: TestClient, page: str) -> None:
    body = await get(movies_client, "/api/v1/movies/search", genre="Drama", page=page)
    assert body["page"] == 0


@pytest.mark.parametrize("page", ["-1", "501", "99999999999"])
async def test_page_out_of_bounds_is_400(movies_client: TestClient, page: str) -> None:
    body = await get(movies_client, "/api/v1/movies/", 400, page=page)
    assert "page" in body["error"]


async def test_search_by_cast(movies_client: TestClient, data: Any) -> None:
    a, b = data.movies[0]["cast"][0], data.movies[1]["cast"][0]
    expected = [m for m in data.movies if a in m["cast"] or b in m["cast"]]
    response = await movies_client.get("/api/v1/movies/search",
                                       params=[("cast", a), ("cast", b)])
    body = await response.json()
    assert body["filters"] == {"cast": [a, b]}
    assert body["total_results"] == len(expected)
    assert set(ids(body["movies"])) <= set(ids(expected))
    assert len(body["movies"]) == min(PER_PAGE, len(expected))
    assert_popularity_order(body["movies"])


async def test_search_by_genre_pages_over_all_matches(
    movies_client: TestClient, data: Any
) -> None:
    genres = [g for g, _ in Counter(g for m in data.movies for g in m["genres"]).most_common(3)]
    expected = [m for m in data.movies if set(genres) & set(m["genres"])]
    assert len(expected) > PER_PAGE  # the data set makes this a two-page search
    seen: list[str] = []
    for page in range(2 + len(expected) // PER_PAGE):
        response = await movies_client.get(
            "/api/v1/movies/search", params=[*(("genre", g) for g in genres), ("page", page)])
        body = await response.json()
        assert body["filters"] == {"genre": genres}
        assert body["total_results"] == len(expected)
        assert_popularity_order(body["movies"])
        seen += ids(body["movies"])
    assert sorted(seen) == sorted(ids(expected))


def text_matches(movie: dict[str, Any], word: str) -> bool:
    fields = [movie["title"], movie["fullplot"], *movie["cast"], *movie["genres"]]
    return any(re.search(rf"\b{word}", value, re.IGNORECASE) for value in fields)


async def test_text_search_ordered_by_score(movies_client: TestClient, data: Any) -> None:
    expected = [m for m in data.movies if text_matches(m, "western")]
    assert expected
    body = await get(movies_client, "/api/v1/movies/search", text="western")
    assert body["filters"] == {"search": "western"}
    assert body["total_results"] == len(expected)
    assert set(ids(body["movies"])) <= set(ids(expected))
    scores = [m["score"] for m in body["movies"]]
    assert all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)


async def test_search_precedence(movies_client: TestClient, data: Any) -> None:
    actor = data.movies[0]["cast"][0]
    text_wins = await get(movies_client, "/api/v1/movies/search", text="western",
                          cast=actor, genre="Drama")
    assert text_wins["filters"] == {"search": "western"}
    cast_wins = await get(movies_client, "/api/v1/movies/search", cast=actor, genre="Drama")
    assert cast_wins["filters"] == {"cast": [actor]}


async def test_search_input_limits(movies_client: TestClient) -> None:
    too_long = await get(movies_client, "/api/v1/movies/search", 400, text="x" * 201)
    assert "text" in too_long["error"]
    response = await movies_client.get("/api/v1/movies/search",
                                       params=[("cast", f"Actor {i}") for i in range(11)])
    assert response.status == 400
    assert "cast" in (await response.json())["error"]


async def test_movie_with_comments_newest_first(movies_client: TestClient, data: Any) -> None:
    counts = Counter(c["movie_id"] for c in data.comments)
    movie_id, count = counts.most_common(1)[0]
    body = await get(movies_client, f"/api/v1/movies/id/{movie_id}")
    movie = body["movie"]
    assert movie["_id"] == str(movie_id)
    assert len(movie["comments"]) == count == movie["num_mflix_comments"]
    expected = sorted((c for c in data.comments if c["movie_id"] == movie_id),
                      key=lambda c: c["date"], reverse=True)
    assert [c["_id"] for c in movie["comments"]] == ids(expected)
    assert all(c["movie_id"] == str(movie_id) for c in movie["comments"])
    assert body["updated_type"] == "<class 'str'>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", movie["released"])


async def test_movie_without_comments(movies_client: TestClient, data: Any) -> None:
    commented = {c["movie_id"] for c in data.comments}
    quiet = next(m for m in data.movies if m["_id"] not in commented)
    body = await get(movies_client, f"/api/v1/movies/id/{quiet['_id']}")
    assert body["movie"]["comments"] == []


async def test_bad_and_unknown_movie_ids(movies_client: TestClient) -> None:
    # 400 "Not found", as the course's solution answers: the MFlix front-end's
    # /status "Error Handling" ticket checks exactly this.
    bad = await get(movies_client, "/api/v1/movies/id/not-an-id", 400)
    assert bad == {"error": "Not found"}
    missing = await get(movies_client, f"/api/v1/movies/id/{ObjectId()}", 404)
    assert missing == {"error": "Not found"}


async def test_titles_by_country(movies_client: TestClient, data: Any) -> None:
    expected = {str(m["_id"]): m["title"] for m in data.movies
                if {"UK", "France"} & set(m["countries"])}
    response = await movies_client.get("/api/v1/movies/countries",
                                       params=[("countries", "UK"), ("countries", "France")])
    body = await response.json()
    assert {t["_id"]: t["title"] for t in body["titles"]} == expected
    assert all(set(t) == {"_id", "title"} for t in body["titles"])
    missing = await get(movies_client, "/api/v1/movies/countries", 400)
    assert "countries" in missing["error"]


def expected_buckets(values: list[Any], boundaries: list[int]) -> list[dict[str, Any]]:
    counts: dict[Any, int] = defaultdict(int)
    for value in values:
        lower = next((low for low, high in itertools.pairwise(boundaries)
                      if isinstance(value, int | float) and low <= value < high), "other")
        counts[lower] += 1
    order = [*boundaries[:-1], "other"]
    return [{"_id": key, "count": counts[key]} for key in order if counts[key]]


async def test_facet_search_over_all_matches(movies_client: TestClient, data: Any) -> None:
    top_cast = Counter(name for m in data.movies for name in m["cast"]).most_common(3)
    names = [name for name, _ in top_cast]
    matches = [m for m in data.movies if set(names) & set(m["cast"])]
    response = await movies_client.get("/api/v1/movies/facet-search",
                                       params=[("cast", n) for n in names])
    body = await response.json()
    assert body["filters"] == {"cast": names}
    assert body["total_results"] == len(matches)
    assert set(ids(body["movies"])) <= set(ids(matches))
    assert_popularity_order(body["movies"])
    assert body["facets"]["runtime"] == expected_buckets(
        [m["runtime"] for m in matches], [0, 60, 90, 120, 180])
    assert body["facets"]["rating"] == expected_buckets(
        [m.get("metacritic") for m in matches], [0, 50, 70, 90, 100])
    assert sum(b["count"] for b in body["facets"]["runtime"]) == len(matches)


async def test_facet_search_without_cast_answers_as_search(movies_client: TestClient) -> None:
    body = await get(movies_client, "/api/v1/movies/facet-search", genre="War")
    searched = await get(movies_client, "/api/v1/movies/search", genre="War")
    # The contract: without cast it answers as /search, which has no facets.
    assert body == searched
    assert "facets" not in body


async def test_config_options(movies_client: TestClient) -> None:
    body = await get(movies_client, "/api/v1/movies/config-options")
    assert body["pool_size"] == 50
    assert body["wtimeout"] == 2500


async def test_genres_with_counts(movies_client: TestClient, data: Any) -> None:
    counts = Counter(g for m in data.movies for g in m["genres"])
    body = await get(movies_client, "/api/v1/movies/genres")
    assert {row["genre"]: row["count"] for row in body["genres"]} == dict(counts)
    assert [row["count"] for row in body["genres"]] == sorted(counts.values(), reverse=True)


async def test_director_statistics(movies_client: TestClient, data: Any) -> None:
    ratings: dict[str, list[float]] = defaultdict(list)
    for m in data.movies:
        if isinstance(m["imdb"]["rating"], int | float):
            for director in m["directors"]:
                ratings[director].append(m["imdb"]["rating"])
    expected = sorted(
        ({"director": d, "average_rating": sum(r) / len(r), "movies": len(r)}
         for d, r in ratings.items() if len(r) >= 2),
        key=lambda row: (-row["average_rating"], row["director"]))
    body = await get(movies_client, "/api/v1/stats/directors", min_movies=2, limit=5)
    assert [(r["director"], r["movies"]) for r in body["directors"]] == \
        [(r["director"], r["movies"]) for r in expected[:5]]
    for got, want in zip(body["directors"], expected, strict=False):
        assert got["average_rating"] == pytest.approx(want["average_rating"])
    bad = await get(movies_client, "/api/v1/stats/directors", 400, limit=1000)
    assert "limit" in bad["error"]


async def test_equal_sort_keys_page_in_id_order(client: TestClient, db: Any) -> None:
    # 45 movies alike in popularity, cast, genre and text score, inserted out of
    # ``_id`` order: every paged listing breaks their tie on ``_id`` (descending,
    # like the popularity), so the pages neither repeat nor skip one.
    movie_ids = [ObjectId() for _ in range(45)]
    shuffled = movie_ids[::2] + movie_ids[1::2]
    await db.movies.insert_many([
        {"_id": movie_id, "title": "Twin", "cast": ["Ana Torrent"], "genres": ["Drama"],
         "tomatoes": {"viewer": {"numReviews": 7}}} for movie_id in shuffled])
    await db.movies.create_index([("cast", "text"), ("fullplot", "text"),
                                  ("genres", "text"), ("title", "text")])
    expected = [str(movie_id) for movie_id in sorted(movie_ids, reverse=True)]
    queries = ["", "genre=Drama", "cast=Ana%20Torrent", "text=twin"]
    for query in queries:
        listed: list[str] = []
        for page in range(3):
            response = await client.get(f"/api/v1/movies/search?{query}&page={page}")
            assert response.status == 200, query
            listed += ids((await response.json())["movies"])
        assert listed == expected, query
    faceted: list[str] = []
    for page in range(3):
        response = await client.get(
            f"/api/v1/movies/facet-search?cast=Ana%20Torrent&page={page}")
        faceted += ids((await response.json())["movies"])
    assert faceted == expected
