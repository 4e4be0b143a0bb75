"""Comment writes of the MFlix contract (``/api/v1/movies/comment``), signed-in users only."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from pialara_async import keys
from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint
from pialara_async.api.errors import ApiError
from pialara_async.jsonio import json_response
from pialara_async.repositories import comments

routes = web.RouteTableDef()
TAGS = ("comments",)

HexId = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{24}$")]
Text = Annotated[StrictStr, Field(min_length=1, max_length=5000)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


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


class CommentList(BaseModel):
    """The movie's comments after the change, newest first."""

    comments: list[dict[str, Any]]


def _failure(error: Exception) -> ApiError:
    if isinstance(error, comments.NotYours):
        return ApiError(403, "this comment belongs to someone else")
    if isinstance(error, comments.MovieNotFound):
        return ApiError(404, "no movie has this id")
    return ApiError(404, "no comment has this id")


async def _answer(call: Call[Any, Any, Any], movie_id: ObjectId) -> web.Response:
    return json_response({"comments": await comments.for_movie(call.db, movie_id)})


@routes.post("/movies/comment")
@endpoint("Comment on a movie", tags=TAGS, body=NewComment, access=SIGNED_IN,
          responses={200: CommentList}, errors={404: "no such movie"})
async def add_comment(call: Call[None, NewComment, None]) -> web.Response:
    movie_id = ObjectId(call.body.movie_id)
    try:
        await comments.add(call.db, call.app(keys.DB_CLIENT), call.user, movie_id,
                           call.body.comment)
    except comments.MovieNotFound as error:
        raise _failure(error) from None
    return await _answer(call, movie_id)


@routes.put("/movies/comment")
@endpoint("Edit one's own comment", tags=TAGS, body=CommentEdit, access=SIGNED_IN,
          responses={200: CommentList},
          errors={403: "someone else's comment", 404: "no such comment"})
async def edit_comment(call: Call[None, CommentEdit, None]) -> web.Response:
    try:
        movie_id = await comments.edit(call.db, call.user, ObjectId(call.body.comment_id),
                                       call.body.updated_comment)
    except (comments.NotYours, comments.CommentNotFound) as error:
        raise _failure(error) from None
    return await _answer(call, movie_id)


@routes.delete("/movies/comment")
@endpoint("Delete one's own comment", tags=TAGS, body=CommentDeletion, access=SIGNED_IN,
          responses={200: CommentList},
          errors={403: "someone else's comment", 404: "no such comment"})
async def delete_comment(call: Call[None, CommentDeletion, None]) -> web.Response:
    try:
        movie_id = await comments.remove(call.db, call.app(keys.DB_CLIENT), call.user,
                                         ObjectId(call.body.comment_id))
    except (comments.NotYours, comments.CommentNotFound) as error:
        raise _failure(error) from None
    return await _answer(call, movie_id)
