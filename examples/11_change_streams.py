"""Lesson 11 — change streams.

Watch a collection with a pipeline and ``full_document="updateLookup"``, keep
the resume token, stop watching, write more, then resume from the token and
see exactly what was missed.
"""

from __future__ import annotations

from _shared import check, lesson, run


async def main() -> None:
    async with lesson("change_streams") as (_client, db):
        pipeline = [{"$match": {"operationType": {"$in": ["insert", "update"]},
                                "fullDocument.genre": "Drama"}}]
        async with db.movies.watch(pipeline, full_document="updateLookup",
                                   max_await_time_ms=500) as stream:
            await db.movies.insert_one({"_id": 1, "title": "Ikiru", "genre": "Drama"})
            await db.movies.insert_one({"_id": 2, "title": "Airplane!", "genre": "Comedy"})
            await db.movies.update_one({"_id": 1}, {"$set": {"year": 1952}})
            seen = []
            while len(seen) < 2:
                change = await stream.try_next()
                if change is not None:
                    seen.append(change)
            check([c["operationType"] for c in seen] == ["insert", "update"],
                  "the comedy was filtered out on the server")
            check(seen[1]["fullDocument"]["year"] == 1952, "updateLookup gives the document")
            token = stream.resume_token  # save it: a restart resumes from here

        await db.movies.insert_one({"_id": 3, "title": "Tokyo Story", "genre": "Drama"})
        await db.movies.insert_one({"_id": 4, "title": "Stalker", "genre": "Drama"})

        async with db.movies.watch(pipeline, resume_after=token,
                                   max_await_time_ms=500) as resumed:
            missed = []
            while len(missed) < 2:
                change = await resumed.try_next()
                if change is not None:
                    missed.append(change["fullDocument"]["title"])
        check(missed == ["Tokyo Story", "Stalker"], "resumed: exactly what was missed")


if __name__ == "__main__":
    run(main)
