"""Comment writes of the MFlix contract (``/api/v1/movies/comment``), signed-in users only."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from pialara_async import keys
from pialara_async.api.auth import require_caller
from pialara_async.api.errors import ApiError
from pialara_async.api.openapi import describe
from pialara_async.api.validation import parse_body
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


async def _answer(request: web.Request, movie_id: ObjectId) -> web.Response:
    found = await comments.for_movie(request.config_dict[keys.DATABASE], movie_id)
    return json_response({"comments": found})


@routes.post("/movies/comment")
@describe("Comment on a movie", tags=TAGS, body=NewComment,
          responses={200: CommentList, 404: "no such movie"}, auth=True)
async def add_comment(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, NewComment)
    movie_id = ObjectId(body.movie_id)
    try:
        await comments.add(request.config_dict[keys.DATABASE], request.config_dict[keys.DB_CLIENT],
                           caller.user, movie_id, body.comment)
    except comments.MovieNotFound as error:
        raise _failure(error) from None
    return await _answer(request, movie_id)


@routes.put("/movies/comment")
@describe("Edit one's own comment", tags=TAGS, body=CommentEdit,
          responses={200: CommentList, 403: "someone else's", 404: "no such comment"}, auth=True)
async def edit_comment(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, CommentEdit)
    try:
        movie_id = await comments.edit(request.config_dict[keys.DATABASE], caller.user,
                                       ObjectId(body.comment_id), body.updated_comment)
    except (comments.NotYours, comments.CommentNotFound) as error:
        raise _failure(error) from None
    return await _answer(request, movie_id)


@routes.delete("/movies/comment")
@describe("Delete one's own comment", tags=TAGS, body=CommentDeletion,
          responses={200: CommentList, 403: "someone else's", 404: "no such comment"}, auth=True)
async def delete_comment(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, CommentDeletion)
    try:
        movie_id = await comments.remove(
            request.config_dict[keys.DATABASE], request.config_dict[keys.DB_CLIENT],
            caller.user, ObjectId(body.comment_id))
    except (comments.NotYours, comments.CommentNotFound) as error:
        raise _failure(error) from None
    return await _answer(request, movie_id)
