"""Lesson 4 — basic aggregation.

The average IMDb rating of one director's films, then every director's
average with ``$unwind`` / ``$group`` / ``$sort`` (the pipeline the service's
``/api/v1/stats/directors`` view is built from).
"""

from __future__ import annotations

from collections import defaultdict

from _shared import check, lesson, load_movies, run

from pialara_async.repositories.stats import director_ratings_pipeline


async def main() -> None:
    async with lesson("basic_aggregation") as (_client, db):
        data = await load_movies(db)
        rated = [m for m in data.movies if isinstance(m["imdb"]["rating"], float)]
        director = rated[0]["directors"][0]
        result = await db.movies.aggregate([
            {"$match": {"directors": director, "imdb.rating": {"$type": "number"}}},
            {"$group": {"_id": None, "average": {"$avg": "$imdb.rating"}}},
        ]).to_list(None)
        ratings = [m["imdb"]["rating"] for m in rated if director in m["directors"]]
        print(f"{director}: {result[0]['average']:.2f} over {len(ratings)} films")
        check(abs(result[0]["average"] - sum(ratings) / len(ratings)) < 1e-9,
              "the average of one director's films")

        # The course's pipeline, without its final $merge.
        pipeline = [*director_ratings_pipeline(refreshed=None)[:-2],  # type: ignore[arg-type]
                    {"$sort": {"average_rating": -1, "_id": 1}}, {"$limit": 5}]
        top = await db.movies.aggregate(pipeline).to_list(None)
        by_director: dict[str, list[float]] = defaultdict(list)
        for movie in rated:
            for name in movie["directors"]:
                by_director[name].append(movie["imdb"]["rating"])
        best = max(sum(v) / len(v) for v in by_director.values())
        for row in top:
            print(f"  {row['_id']:<28} {row['average_rating']:.2f}  ({row['movies']} films)")
        check(abs(top[0]["average_rating"] - best) < 1e-9, "$unwind/$group/$sort finds the best")


if __name__ == "__main__":
    run(main)
