"""Every index the queries rely on, created idempotently (at startup and by ``seed``)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("email", ASCENDING)], unique=True, name="email_unique")],
    "sessions": [IndexModel([("user_id", ASCENDING)], name="user_id")],
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
