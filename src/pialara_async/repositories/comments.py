"""Comments: the movie page's list and the signed-in user's writes.

Each write and the movie's ``num_mflix_comments`` counter change together in
one transaction (the callback API retries transient errors), and ownership is
part of the write's own filter, so there is no read-then-write race.

A comment belongs to the account that wrote it (``user_id``), not to an
e-mail address: an address can change hands (an account deleted and the
address registered again, an administrator changing a user's address), the
account id cannot. ``name`` and ``email`` stay on each comment for display, as
in the MFlix data; the sample data's comments, which have only those, are
linked to the accounts of their addresses by ``pialara-async migrate``.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.read_concern import ReadConcern

from pialara_async import clock
from pialara_async.db import driver
from pialara_async.models import User
from pialara_async.refusals import CommentNotFound, MovieNotFound, NotYours


async def for_movie(db: Any, movie_id: ObjectId) -> list[dict[str, Any]]:
    """A movie's comments, newest first (served by the ``movie_id, date`` index)."""
    return await db.comments.find({"movie_id": movie_id}).sort("date", DESCENDING).to_list(None)


async def ids_for_movie(db: Any, movie_id: ObjectId) -> list[ObjectId]:
    return [c["_id"] async for c in db.comments.find({"movie_id": movie_id}, {"_id": 1})]


async def add(db: Any, client: Any, user: User, movie_id: ObjectId, text: str) -> ObjectId:
    comment: dict[str, Any] = {"name": user.name, "email": user.email, "user_id": user.id,
               "movie_id": movie_id, "text": text, "date": clock.now()}

    async def write(session: Any) -> None:
        counted = await db.movies.update_one(
            {"_id": movie_id}, {"$inc": {"num_mflix_comments": 1}}, session=session)
        if counted.matched_count == 0:
            raise MovieNotFound()
        comment.pop("_id", None)  # a retried transaction inserts afresh
        await db.comments.insert_one(comment, session=session)

    await driver.run_transaction(client, write)
    inserted: ObjectId = comment["_id"]
    return inserted


async def _why_not(db: Any, comment_id: ObjectId) -> Exception:
    exists = await db.comments.count_documents({"_id": comment_id}, limit=1)
    return NotYours() if exists else CommentNotFound()


async def edit(db: Any, user: User, comment_id: ObjectId, text: str) -> ObjectId:
    """Change the text of the user's own comment; returns its movie id."""
    updated = await db.comments.find_one_and_update(
        {"_id": comment_id, "user_id": user.id},
        {"$set": {"text": text, "date": clock.now()}},
        projection={"movie_id": 1})
    if updated is None:
        raise await _why_not(db, comment_id)
    return updated["movie_id"]


async def remove(db: Any, client: Any, user: User, comment_id: ObjectId) -> ObjectId:
    """Delete the user's own comment and decrement its movie's counter together."""
    removed: dict[str, Any] = {}

    async def write(session: Any) -> None:
        removed.clear()
        document = await db.comments.find_one_and_delete(
            {"_id": comment_id, "user_id": user.id}, projection={"movie_id": 1},
            session=session)
        if document is None:
            return
        removed.update(document)
        await db.movies.update_one({"_id": document["movie_id"]},
                                   {"$inc": {"num_mflix_comments": -1}}, session=session)

    await driver.run_transaction(client, write)
    if not removed:
        raise await _why_not(db, comment_id)
    return removed["movie_id"]


def comment_report_pipeline() -> list[dict[str, Any]]:
    return [
        {"$group": {"_id": "$email", "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": 20},
    ]


async def comment_report(db: Any) -> list[dict[str, Any]]:
    """The 20 addresses with the most comments, read with read concern majority."""
    comments = db.comments.with_options(read_concern=ReadConcern("majority"))
    return await driver.aggregate_list(comments, comment_report_pipeline())
