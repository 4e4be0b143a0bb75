"""Lesson 5 — writes and upserts.

What ``insert_one`` and ``insert_many`` return, an upsert that is idempotent
(running it twice leaves one document), and ``DuplicateKeyError`` from a
unique index.
"""

from __future__ import annotations

from _shared import check, lesson, run
from pymongo.errors import DuplicateKeyError


async def main() -> None:
    async with lesson("writes") as (_client, db):
        one = await db.users.insert_one({"name": "Ana", "email": "ana@example.org"})
        check(one.acknowledged and one.inserted_id is not None, "insert_one gives the new _id")
        many = await db.users.insert_many([{"name": "Luis", "email": "luis@example.org"},
                                           {"name": "Eva", "email": "eva@example.org"}])
        check(len(many.inserted_ids) == 2, "insert_many gives every new _id")

        # An upsert keyed on what identifies the document: safe to repeat.
        for _ in range(2):
            result = await db.ratings.update_one(
                {"movie": "Metropolis", "user": "ana@example.org"},
                {"$set": {"stars": 5}}, upsert=True)
        check(await db.ratings.count_documents({}) == 1, "two upserts, one document")
        check(result.matched_count == 1 and result.upserted_id is None,
              "the second upsert matched instead of inserting")

        await db.users.create_index("email", unique=True)
        try:
            await db.users.insert_one({"name": "Ana again", "email": "ana@example.org"})
            check(False, "a duplicate email is refused")
        except DuplicateKeyError as error:
            check(error.code == 11000, f"DuplicateKeyError {error.code} on the unique index")


if __name__ == "__main__":
    run(main)
