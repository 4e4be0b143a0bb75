"""Lesson 3 — cursor methods and their aggregation equivalents, side by side.

``limit``, ``sort`` on one and on two keys, ``skip`` and counting, each as a
cursor method and as the pipeline stage that does the same: the outputs must
be identical.
"""

from __future__ import annotations

from _shared import check, lesson, load_movies, run
from pymongo import ASCENDING, DESCENDING


async def main() -> None:
    async with lesson("cursor_methods") as (_client, db):
        await load_movies(db)
        movies = db.movies
        projection = {"_id": 0, "title": 1, "year": 1}
        match = {"genres": "Comedy"}

        limited = await movies.find(match, projection).sort("title", 1).limit(5).to_list(None)
        piped = await movies.aggregate([{"$match": match}, {"$sort": {"title": 1}},
                                        {"$limit": 5}, {"$project": projection}]).to_list(None)
        check(limited == piped, "limit(5) == $limit: 5")

        two_keys = [("year", ASCENDING), ("title", DESCENDING)]
        sorted_cursor = await movies.find(match, projection).sort(two_keys).to_list(None)
        sorted_pipeline = await movies.aggregate([
            {"$match": match}, {"$sort": {"year": 1, "title": -1}}, {"$project": projection},
        ]).to_list(None)
        check(sorted_cursor == sorted_pipeline, "sort on two keys == $sort on two keys")

        skipped = await movies.find(match, projection).sort("title", 1).skip(3).to_list(None)
        skipped_pipeline = await movies.aggregate([
            {"$match": match}, {"$sort": {"title": 1}}, {"$skip": 3}, {"$project": projection},
        ]).to_list(None)
        check(skipped == skipped_pipeline, "skip(3) == $skip: 3")

        counted = await movies.count_documents(match)
        counted_pipeline = await movies.aggregate([{"$match": match},
                                                   {"$count": "comedies"}]).to_list(None)
        check([{"comedies": counted}] == counted_pipeline, "count_documents == $count")


if __name__ == "__main__":
    run(main)
