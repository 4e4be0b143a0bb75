"""Lesson 7 — updates.

``update_one`` and ``update_many`` with ``$set``, ``$inc``, ``$push``,
``$pull`` and the positional operator ``$``, and what their results tell.
"""

from __future__ import annotations

from _shared import check, lesson, run


async def main() -> None:
    async with lesson("updates") as (_client, db):
        await db.movies.insert_many([
            {"_id": 1, "title": "Metropolis", "views": 0, "tags": ["silent"],
             "ratings": [{"by": "ana", "stars": 3}, {"by": "eva", "stars": 4}]},
            {"_id": 2, "title": "Nosferatu", "views": 0, "tags": ["silent", "horror"]},
        ])
        result = await db.movies.update_one({"_id": 1}, {"$set": {"year": 1927},
                                                         "$inc": {"views": 1}})
        check((result.matched_count, result.modified_count) == (1, 1),
              "update_one: matched 1, modified 1")
        result = await db.movies.update_many({"tags": "silent"}, {"$inc": {"views": 10}})
        check(result.modified_count == 2, "update_many: both silent films")

        await db.movies.update_one({"_id": 2}, {"$push": {"tags": "expressionism"}})
        await db.movies.update_one({"_id": 2}, {"$pull": {"tags": "horror"}})
        tags = (await db.movies.find_one({"_id": 2}))["tags"]
        check(tags == ["silent", "expressionism"], "$push then $pull")

        # The positional $ updates the array element the filter matched.
        await db.movies.update_one({"_id": 1, "ratings.by": "eva"},
                                   {"$set": {"ratings.$.stars": 5}})
        ratings = (await db.movies.find_one({"_id": 1}))["ratings"]
        check(ratings[1] == {"by": "eva", "stars": 5} and ratings[0]["stars"] == 3,
              "positional $ changed only Eva's rating")

        nothing = await db.movies.update_one({"_id": 99}, {"$set": {"x": 1}})
        check(nothing.matched_count == 0, "no match: matched_count 0, nothing created")


if __name__ == "__main__":
    run(main)
