"""Movie queries of the MFlix contract and the aggregations around them.

Filters and pipelines are small pure functions (``search_filter``,
``movie_with_comments_pipeline``, ``facets_pipeline``…) so tests and
``examples/`` can reuse them; the coroutines run them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from bson import ObjectId
from pymongo import DESCENDING

from pialara_async.db import driver

ENTRIES_PER_PAGE = 20
POPULARITY = "tomatoes.viewer.numReviews"
# Every paged order ends with ``_id``, so documents with equal keys keep one
# order from page to page (none repeated, none skipped). Descending like the
# keys before it, so one index walk serves the whole order.
DEFAULT_SORT: list[tuple[str, Any]] = [(POPULARITY, DESCENDING), ("_id", DESCENDING)]
TEXT_SCORE = {"$meta": "textScore"}
RUNTIME_BOUNDARIES = [0, 60, 90, 120, 180]
RATING_BOUNDARIES = [0, 50, 70, 90, 100]

SearchKind = Literal["text", "cast", "genre"]


@dataclass(frozen=True, slots=True)
class Search:
    """One search as the contract defines it: text wins over cast over genre."""

    kind: SearchKind | None = None
    text: str = ""
    values: tuple[str, ...] = ()

    @classmethod
    def choose(cls, text: str | None, cast: list[str], genres: list[str]) -> Search:
        if text:
            return cls("text", text=text)
        if cast:
            return cls("cast", values=tuple(cast))
        if genres:
            return cls("genre", values=tuple(genres))
        return cls()

    def filters(self) -> dict[str, Any]:
        """The ``filters`` member of the response."""
        if self.kind == "text":
            return {"search": self.text}
        if self.kind is None:
            return {}
        return {self.kind: list(self.values)}


def search_filter(search: Search) -> dict[str, Any]:
    if search.kind == "text":
        return {"$text": {"$search": search.text}}
    if search.kind == "cast":
        return {"cast": {"$in": list(search.values)}}
    if search.kind == "genre":
        return {"genres": {"$in": list(search.values)}}
    return {}


@dataclass(frozen=True, slots=True)
class Page:
    movies: list[dict[str, Any]]
    total: int


async def search(db: Any, query: Search, page: int) -> Page:
    """A page of movies for ``query`` and the number of all matches."""
    movies = db.movies
    where = search_filter(query)
    if query.kind == "text":
        cursor = movies.find(where, {"score": TEXT_SCORE}).sort(
            [("score", TEXT_SCORE), ("_id", DESCENDING)])
    else:
        cursor = movies.find(where).sort(DEFAULT_SORT)
    cursor = cursor.skip(page * ENTRIES_PER_PAGE).limit(ENTRIES_PER_PAGE)
    if where:
        found, total = await asyncio.gather(cursor.to_list(None), movies.count_documents(where))
    else:
        # All movies: the collection's own count, not a scan.
        found, total = await asyncio.gather(cursor.to_list(None),
                                            movies.estimated_document_count())
    return Page(found, total)


def movie_with_comments_pipeline(movie_id: ObjectId) -> list[dict[str, Any]]:
    """The movie and its comments, newest first, by an expressive ``$lookup``."""
    return [
        {"$match": {"_id": movie_id}},
        {"$lookup": {
            "from": "comments",
            "let": {"movie_id": "$_id"},
            "pipeline": [
                {"$match": {"$expr": {"$eq": ["$movie_id", "$$movie_id"]}}},
                {"$sort": {"date": DESCENDING}},
            ],
            "as": "comments",
        }},
    ]


async def with_comments(db: Any, movie_id: ObjectId) -> dict[str, Any] | None:
    found = await driver.aggregate_list(db.movies, movie_with_comments_pipeline(movie_id), 1)
    return found[0] if found else None


def updated_type(movie: dict[str, Any]) -> str:
    """The type of ``lastupdated`` as the original Python service printed it:
    ``<class 'datetime.datetime'>`` after ``migrate``, ``<class 'str'>`` before."""
    return str(type(movie.get("lastupdated")))


async def titles_in_countries(db: Any, countries: list[str]) -> list[dict[str, Any]]:
    """Every movie made in any of ``countries``: ``_id`` and ``title`` only.

    Unbounded by the contract; served by the ``countries`` index.
    """
    cursor = db.movies.find({"countries": {"$in": countries}}, {"title": 1})
    return await cursor.to_list(None)


def facets_pipeline(cast: list[str], page: int) -> list[dict[str, Any]]:
    """Movies with any of ``cast``: one page, the total, and two facets over all matches."""
    bucket_output = {"count": {"$sum": 1}}
    return [
        {"$match": {"cast": {"$in": cast}}},
        {"$sort": dict(DEFAULT_SORT)},
        {"$facet": {
            "movies": [{"$skip": page * ENTRIES_PER_PAGE}, {"$limit": ENTRIES_PER_PAGE}],
            "runtime": [{"$bucket": {"groupBy": "$runtime", "boundaries": RUNTIME_BOUNDARIES,
                                     "default": "other", "output": bucket_output}}],
            "rating": [{"$bucket": {"groupBy": "$metacritic", "boundaries": RATING_BOUNDARIES,
                                    "default": "other", "output": bucket_output}}],
            "total": [{"$count": "count"}],
        }},
    ]


@dataclass(frozen=True, slots=True)
class FacetPage:
    movies: list[dict[str, Any]]
    runtime: list[dict[str, Any]]
    rating: list[dict[str, Any]]
    total: int


async def facet_search(db: Any, cast: list[str], page: int) -> FacetPage:
    result = (await driver.aggregate_list(db.movies, facets_pipeline(cast, page)))[0]
    total = result["total"][0]["count"] if result["total"] else 0
    return FacetPage(result["movies"], result["runtime"], result["rating"], total)


async def genres_with_counts(db: Any) -> list[dict[str, Any]]:
    """Every genre and its number of movies, most first.

    ``distinct`` and one count per genre run on the ``genres`` index.
    """
    genres = await db.movies.distinct("genres")
    counts = await asyncio.gather(*(db.movies.count_documents({"genres": g}) for g in genres))
    rows = [{"genre": g, "count": n} for g, n in zip(genres, counts, strict=True)]
    return sorted(rows, key=lambda row: (-row["count"], row["genre"]))
