"""Comment writes of the MFlix contract (``/api/v1/movies/comment``), signed-in users only."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from pydantic import BaseModel, Field, StrictStr
from pydantic.json_schema import SkipJsonSchema

from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint
from pialara_async.api.fields import HexId, StoredId, Strict
from pialara_async.db.client import DB_CLIENT
from pialara_async.models import User
from pialara_async.refusals import CommentNotFound, MovieNotFound, NotYours
from pialara_async.repositories import comments

routes = web.RouteTableDef()
TAGS = ("comments",)

Text = Annotated[StrictStr, Field(min_length=1, max_length=5000)]


class NewComment(Strict):
    movie_id: HexId
    comment: Text


class CommentEdit(Strict):
    comment_id: HexId
    updated_comment: Text
    movie_id: HexId | None = None


class CommentDeletion(Strict):
    comment_id: HexId
    movie_id: HexId | None = None


class Comment(BaseModel):
    """A comment as the contract shows it. ``mine``, only to a signed-in
    caller: whether it is theirs to edit. The account it belongs to stays
    internal."""

    id: StoredId = Field(alias="_id")
    name: str | None = None
    email: str | None = None
    movie_id: StoredId | None = None
    text: str | None = None
    date: datetime.datetime | None = None
    mine: bool | SkipJsonSchema[None] = None

    @classmethod
    def shown_to(cls, viewer: User | None, document: dict[str, Any]) -> Comment:
        comment = cls.model_validate(document)
        if viewer is not None:
            comment.mine = document.get("user_id") == viewer.id
        return comment


def comments_shown_to(viewer: User | None, documents: list[dict[str, Any]]) -> list[Comment]:
    return [Comment.shown_to(viewer, document) for document in documents]


class CommentList(BaseModel):
    """The movie's comments after the change, newest first."""

    comments: list[Comment]


async def _answer(call: Call[Any, Any, Any], movie_id: ObjectId) -> CommentList:
    return CommentList(comments=comments_shown_to(call.user,
                                                  await comments.for_movie(call.db, movie_id)))


@routes.post("/movies/comment")
@endpoint("Comment on a movie", tags=TAGS, body=NewComment, access=SIGNED_IN,
          responses={200: CommentList}, refuses=(MovieNotFound,))
async def add_comment(call: Call[None, NewComment, None]) -> CommentList:
    movie_id = ObjectId(call.body.movie_id)
    await comments.add(call.db, call.app(DB_CLIENT), call.user, movie_id, call.body.comment)
    return await _answer(call, movie_id)


@routes.put("/movies/comment")
@endpoint("Edit one's own comment", tags=TAGS, body=CommentEdit, access=SIGNED_IN,
          responses={200: CommentList}, refuses=(NotYours, CommentNotFound))
async def edit_comment(call: Call[None, CommentEdit, None]) -> CommentList:
    movie_id = await comments.edit(call.db, call.user, ObjectId(call.body.comment_id),
                                   call.body.updated_comment)
    return await _answer(call, movie_id)


@routes.delete("/movies/comment")
@endpoint("Delete one's own comment", tags=TAGS, body=CommentDeletion, access=SIGNED_IN,
          responses={200: CommentList}, refuses=(NotYours, CommentNotFound))
async def delete_comment(call: Call[None, CommentDeletion, None]) -> CommentList:
    movie_id = await comments.remove(call.db, call.app(DB_CLIENT), call.user,
                                     ObjectId(call.body.comment_id))
    return await _answer(call, movie_id)
