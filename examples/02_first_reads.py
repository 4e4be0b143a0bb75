"""Lesson 2 — first reads.

``find_one``, ``find`` with a filter, projections with and without ``_id``,
``count_documents``, and the two ways to consume a cursor: ``async for`` and
``to_list``.
"""

from __future__ import annotations

from _shared import check, lesson, load_movies, run


async def main() -> None:
    async with lesson("first_reads") as (_client, db):
        data = await load_movies(db)
        one = await db.movies.find_one({"title": data.movies[0]["title"]})
        check(one is not None and one["_id"] == data.movies[0]["_id"], "find_one by title")

        # A projection names the fields to return; _id comes unless excluded.
        with_id = await db.movies.find_one({}, {"title": 1})
        check(set(with_id) == {"_id", "title"}, "projection keeps _id by default")
        without_id = await db.movies.find_one({}, {"title": 1, "_id": 0})
        check(set(without_id) == {"title"}, "projection without _id")

        dramas = db.movies.find({"genres": "Drama"}, {"title": 1})
        titles = [movie["title"] async for movie in dramas]  # async for
        expected = sum("Drama" in m["genres"] for m in data.movies)
        check(len(titles) == expected, f"{expected} dramas with async for")
        check(await db.movies.count_documents({"genres": "Drama"}) == expected,
              "count_documents agrees")
        first_five = await db.movies.find({"genres": "Drama"}).to_list(5)  # to_list
        check(len(first_five) == min(5, expected), "to_list(5) returns at most five")


if __name__ == "__main__":
    run(main)
