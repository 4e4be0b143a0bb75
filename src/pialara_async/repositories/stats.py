"""Statistics kept as materialised views, refreshed in the background.

Average IMDb rating per director needs every movie. Rather than scanning the
collection on each request, the course's ``$unwind`` / ``$group`` pipeline
writes its result with ``$merge`` into ``director_stats`` (indexed), and
requests read that small collection.
"""

from __future__ import annotations

import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from pialara_async.db import driver

DIRECTOR_STATS = "director_stats"
INDEXES = [IndexModel([("movies", ASCENDING), ("average_rating", DESCENDING)],
                      name="movies_average_rating")]


def director_ratings_pipeline(refreshed: datetime.datetime) -> list[dict[str, Any]]:
    """The course's pipeline: directors, their average IMDb rating and film count."""
    return [
        {"$match": {"imdb.rating": {"$type": "number"}, "directors.0": {"$exists": True}}},
        {"$unwind": "$directors"},
        {"$group": {"_id": "$directors",
                    "average_rating": {"$avg": "$imdb.rating"},
                    "movies": {"$sum": 1}}},
        {"$set": {"refreshed": refreshed}},
        {"$merge": {"into": DIRECTOR_STATS, "whenMatched": "replace",
                    "whenNotMatched": "insert"}},
    ]


async def refresh_director_stats(db: Any) -> int:
    """Recompute the view; returns how many directors it holds."""
    refreshed = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    await driver.aggregate_list(db.movies, director_ratings_pipeline(refreshed))
    # Directors who no longer have rated movies.
    await db[DIRECTOR_STATS].delete_many({"refreshed": {"$ne": refreshed}})
    return await db[DIRECTOR_STATS].count_documents({})


async def top_directors(db: Any, min_movies: int, limit: int) -> list[dict[str, Any]]:
    cursor = db[DIRECTOR_STATS].find(
        {"movies": {"$gte": min_movies}}, {"average_rating": 1, "movies": 1}
    ).sort([("average_rating", DESCENDING), ("_id", ASCENDING)]).limit(limit)
    return [{"director": row["_id"], "average_rating": row["average_rating"],
             "movies": row["movies"]} async for row in cursor]
