"""Every index the queries rely on, created idempotently (at startup and by ``seed``)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel

from pialara_async.repositories import stats
from pialara_async.repositories.movies import POPULARITY

INDEXES: dict[str, list[IndexModel]] = {
    "movies": [
        # The sample data set's own text index (name included), so an imported
        # dump that already has it is left alone.
        IndexModel([("cast", TEXT), ("fullplot", TEXT), ("genres", TEXT), ("title", TEXT)],
                   name="cast_text_fullplot_text_genres_text_title_text"),
        IndexModel([(POPULARITY, DESCENDING)], name="popularity"),
        IndexModel([("cast", ASCENDING), (POPULARITY, DESCENDING)], name="cast_popularity"),
        IndexModel([("genres", ASCENDING), (POPULARITY, DESCENDING)], name="genres_popularity"),
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
}


async def ensure_indexes(db: Any) -> list[str]:
    """Create what is missing; returns the names of all declared indexes."""
    created: list[str] = []
    for collection, models in INDEXES.items():
        created += await db[collection].create_indexes(models)
    return created
