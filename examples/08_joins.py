"""Lesson 8 — joins with an expressive ``$lookup``.

Comments joined into movies with ``let`` and a sub-pipeline (newest first),
and the number of comments per movie counted inside the lookup itself.
"""

from __future__ import annotations

from collections import Counter

from _shared import check, lesson, load_movies, run

from pialara_async.repositories.movies import movie_with_comments_pipeline


async def main() -> None:
    async with lesson("joins") as (_client, db):
        data = await load_movies(db)
        await db.comments.create_index([("movie_id", 1), ("date", -1)])
        counts = Counter(c["movie_id"] for c in data.comments)
        busiest, expected = counts.most_common(1)[0]

        movie = (await db.movies.aggregate(movie_with_comments_pipeline(busiest))
                 .to_list(None))[0]
        dates = [c["date"] for c in movie["comments"]]
        check(len(dates) == expected, f"{expected} comments joined into the movie")
        check(dates == sorted(dates, reverse=True), "newest first")

        counted = await db.movies.aggregate([
            {"$match": {"_id": {"$in": [m["_id"] for m in data.movies[:20]]}}},
            {"$lookup": {"from": "comments", "let": {"id": "$_id"},
                         "pipeline": [{"$match": {"$expr": {"$eq": ["$movie_id", "$$id"]}}},
                                      {"$count": "n"}],
                         "as": "comment_count"}},
            {"$project": {"title": 1, "comments": {
                "$ifNull": [{"$arrayElemAt": ["$comment_count.n", 0]}, 0]}}},
        ]).to_list(None)
        check(all(row["comments"] == counts.get(row["_id"], 0) for row in counted),
              "comments counted inside the lookup")


if __name__ == "__main__":
    run(main)
