"""The movies part of the MFlix v1 contract, and the genre and director statistics."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from pialara_async.api.comments import Comment, comments_shown_to
from pialara_async.api.endpoint import OPTIONAL, Call, endpoint
from pialara_async.api.errors import ApiError
from pialara_async.api.fields import StoredId
from pialara_async.db.client import DB_CLIENT
from pialara_async.refusals import NotFound
from pialara_async.repositories import movies, server, stats
from pialara_async.settings import SETTINGS

routes = web.RouteTableDef()

# 500 pages of 20: deep enough for any person paging, shallow enough that
# skip stays cheap.
MAX_PAGE = 500
TAGS = ("movies",)


def _lenient_page(value: Any) -> Any:
    """The contract: a page that is not an integer counts as 0."""
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"[+-]?\d{1,30}", value.strip()) else 0
    return value


# What the contract accepts, as the query string carries it: an integer from
# 0 to MAX_PAGE, or any text that is not an integer (counted as 0).
PAGE_SCHEMA = {
    "type": "string",
    "pattern": r"^(?!\s*[+-]?\d{1,30}\s*$)|^\s*(\+?0*(\d{1,2}|[1-4]\d\d|500)|-0+)\s*$",
    "description": "zero-based page, at most 500; not an integer: 0",
}
PageNumber = Annotated[int, Field(ge=0, le=MAX_PAGE), BeforeValidator(_lenient_page),
                       WithJsonSchema(PAGE_SCHEMA)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: PageNumber = Field(0, description="zero-based page; not an integer: 0")


class SearchQuery(PageQuery):
    text: str | SkipJsonSchema[None] = Field(None, max_length=200,
                                             description="text search (wins)")
    cast: list[Name] = Field(default_factory=list, max_length=10,
                             description="cast members, any of (wins over genre)")
    genre: list[Name] = Field(default_factory=list, max_length=10,
                              description="genres, any of")


class MoviePath(BaseModel):
    # Described as an ObjectId; checked by the handler, which answers the
    # contract's 400 "Not found" for anything else.
    movie_id: Annotated[str, WithJsonSchema({"type": "string", "pattern": "^[0-9a-fA-F]{24}$"})]


class CountriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    countries: list[Name] = Field(min_length=1, max_length=20)


class DirectorsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    min_movies: int = Field(1, ge=1, le=1000)
    limit: int = Field(20, ge=1, le=100)


class MoviePage(BaseModel):
    """A page of movies."""

    movies: list[dict[str, Any]]
    page: int
    filters: dict[str, Any]
    entries_per_page: int
    total_results: int


class FacetedPage(MoviePage):
    """A page of movies with runtime and rating facets over all matches (no
    facets without cast: then a search's page)."""

    facets: dict[str, list[dict[str, Any]]] | SkipJsonSchema[None] = None


class Movie(BaseModel):
    """A movie, as stored, with its comments."""

    model_config = ConfigDict(extra="allow")
    id: StoredId = Field(alias="_id")
    comments: list[Comment] = Field(default_factory=list)


class MovieDetail(BaseModel):
    """One movie with its comments, newest first."""

    movie: Movie
    updated_type: str


class Titles(BaseModel):
    """Movies of the countries, `_id` and `title` only."""

    titles: list[dict[str, Any]]


class ConfigOptions(BaseModel):
    """Connection settings the front-end shows."""

    model_config = ConfigDict(extra="allow")
    pool_size: int
    wtimeout: int


class GenreCounts(BaseModel):
    """Every genre with its movie count, most first."""

    genres: list[dict[str, Any]]


class DirectorRatings(BaseModel):
    """Directors by average IMDb rating."""

    directors: list[dict[str, Any]]




@routes.get("/movies/")
@endpoint("Movies by popularity (tomatoes.viewer.numReviews)", tags=TAGS, query=PageQuery,
          responses={200: MoviePage})
async def list_movies(call: Call[PageQuery, None, None]) -> MoviePage:
    return await _searched(call.db, SearchQuery(page=call.query.page), MoviePage)


@routes.get("/movies/search")
@endpoint("Search by text, cast or genre (text wins over cast over genre)", tags=TAGS,
          query=SearchQuery, responses={200: MoviePage})
async def search_movies(call: Call[SearchQuery, None, None]) -> MoviePage:
    return await _searched(call.db, call.query, MoviePage)


async def _searched[P: MoviePage](db: Any, query: SearchQuery, model: type[P]) -> P:
    search = movies.Search.choose(query.text, query.cast, query.genre)
    result = await movies.search(db, search, query.page)
    return model(movies=result.movies, page=query.page, filters=search.filters(),
                 entries_per_page=movies.ENTRIES_PER_PAGE, total_results=result.total)


def _object_id(value: str) -> ObjectId:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        # 400 with "Not found", as the course's solution answers: the MFlix
        # front-end's /status page checks exactly this.
        raise ApiError(400, "Not found") from None


@routes.get("/movies/id/{movie_id}")
@endpoint("A movie with its comments, newest first", tags=TAGS, path=MoviePath, access=OPTIONAL,
          responses={200: MovieDetail},
          errors={400: 'not an ObjectId ("Not found")'}, refuses=(NotFound,))
async def get_movie(call: Call[None, None, MoviePath]) -> MovieDetail:
    movie_id = _object_id(call.path.movie_id)
    movie = await movies.with_comments(call.db, movie_id)
    if movie is None:
        raise NotFound()
    shown = Movie.model_validate(
        {**movie, "comments": comments_shown_to(call.caller.user if call.caller else None,
                                                movie.get("comments", []))})
    return MovieDetail(movie=shown, updated_type=movies.updated_type(movie))


@routes.get("/movies/countries")
@endpoint("Titles of the movies made in any of the countries (all of them)", tags=TAGS,
          query=CountriesQuery, responses={200: Titles})
async def movies_by_country(call: Call[CountriesQuery, None, None]) -> Titles:
    return Titles(titles=await movies.titles_in_countries(call.db, call.query.countries))


@routes.get("/movies/facet-search")
@endpoint("Cast search with runtime and rating facets over all matches (without cast: "
          "a search, answered as /search)", tags=TAGS, query=SearchQuery,
          responses={200: FacetedPage})
async def facet_search(call: Call[SearchQuery, None, None]) -> FacetedPage:
    query = call.query
    if not query.cast:
        return await _searched(call.db, query, FacetedPage)
    result = await movies.facet_search(call.db, query.cast, query.page)
    return FacetedPage(movies=result.movies, page=query.page, filters={"cast": query.cast},
                       entries_per_page=movies.ENTRIES_PER_PAGE, total_results=result.total,
                       facets={"runtime": result.runtime, "rating": result.rating})


@routes.get("/movies/config-options")
@endpoint("Pool size, write-concern timeout and the connection's role", tags=TAGS,
          responses={200: ConfigOptions})
async def config_options(call: Call[None, None, None]) -> ConfigOptions:
    settings = call.app(SETTINGS)
    role = await server.connection_role(call.app(DB_CLIENT))
    return ConfigOptions(pool_size=settings.mongodb.max_pool_size,
                         wtimeout=settings.mongodb.wtimeout_ms, **(role or {}))


@routes.get("/movies/genres")
@endpoint("Every genre with its number of movies", tags=TAGS, responses={200: GenreCounts})
async def genres(call: Call[None, None, None]) -> GenreCounts:
    return GenreCounts(genres=await movies.genres_with_counts(call.db))


@routes.get("/stats/directors")
@endpoint("Directors by average IMDb rating, with at least min_movies films",
          tags=("stats",), query=DirectorsQuery, responses={200: DirectorRatings})
async def directors(call: Call[DirectorsQuery, None, None]) -> DirectorRatings:
    rows = await stats.top_directors(call.db, call.query.min_movies, call.query.limit)
    return DirectorRatings(directors=rows)
