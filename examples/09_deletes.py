"""Lesson 9 — deletes: ``delete_one``, ``delete_many`` and ``deleted_count``."""

from __future__ import annotations

from _shared import check, lesson, run


async def main() -> None:
    async with lesson("deletes") as (_client, db):
        await db.comments.insert_many([{"movie": "A", "spam": True}, {"movie": "A", "spam": True},
                                       {"movie": "B", "spam": True}, {"movie": "B"}])
        one = await db.comments.delete_one({"spam": True})
        check(one.deleted_count == 1, "delete_one removes the first match only")
        many = await db.comments.delete_many({"spam": True})
        check(many.deleted_count == 2, "delete_many removes the other two")
        none = await db.comments.delete_many({"spam": True})
        check(none.deleted_count == 0, "nothing left to delete: deleted_count 0")
        check(await db.comments.count_documents({}) == 1, "the clean comment stays")


if __name__ == "__main__":
    run(main)
