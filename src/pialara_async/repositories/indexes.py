"""Every index the queries rely on, created idempotently (at startup and by ``seed``)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel

from pialara_async.repositories import consents, phrases, recordings, stats
from pialara_async.repositories.movies import POPULARITY

INDEXES: dict[str, list[IndexModel]] = {
    "movies": [
        # The sample data set's own text index (name included), so an imported
        # dump that already has it is left alone.
        IndexModel([("cast", TEXT), ("fullplot", TEXT), ("genres", TEXT), ("title", TEXT)],
                   name="cast_text_fullplot_text_genres_text_title_text"),
        # The paged orders (``movies.DEFAULT_SORT``), ``_id`` last.
        IndexModel([(POPULARITY, DESCENDING), ("_id", DESCENDING)], name="popularity_id"),
        IndexModel([("cast", ASCENDING), (POPULARITY, DESCENDING), ("_id", DESCENDING)],
                   name="cast_popularity_id"),
        IndexModel([("genres", ASCENDING), (POPULARITY, DESCENDING), ("_id", DESCENDING)],
                   name="genres_popularity_id"),
        IndexModel([("countries", ASCENDING)], name="countries"),
    ],
    stats.DIRECTOR_STATS: stats.INDEXES,
    "users": [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("role", ASCENDING), ("name", ASCENDING)], name="role_name"),
        IndexModel([("technician_id", ASCENDING), ("name", ASCENDING)], name="technician_name"),
    ],
    "sessions": [
        IndexModel([("user_oid", ASCENDING)], name="user_oid"),
        # Expired sessions are removed by MongoDB's TTL monitor.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
    ],
    "comments": [
        IndexModel([("movie_id", ASCENDING), ("date", DESCENDING)], name="movie_id_date"),
    ],
    **phrases.INDEXES,
    **consents.INDEXES,
    **recordings.INDEXES,
}


# Indexes of earlier versions that a declared one replaces.
REPLACED: dict[str, list[str]] = {
    "movies": ["popularity", "cast_popularity", "genres_popularity"],
}


async def ensure_indexes(db: Any) -> list[str]:
    """Create what is missing and drop what was replaced; returns the names of
    all declared indexes."""
    created: list[str] = []
    for collection, models in INDEXES.items():
        created += await db[collection].create_indexes(models)
    for collection, names in REPLACED.items():
        existing = await db[collection].index_information()
        for name in set(existing) & set(names):
            await db[collection].drop_index(name)
    return created
