"""Request bodies and query strings validated by pydantic models.

Models use strict string fields, so an object or array where a string belongs
(``{"email": {"$ne": null}}``) is a 400 and never reaches a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from pialara_async.api.errors import ApiError


def validation_messages(error: ValidationError) -> dict[str, str]:
    """``{field: message}``, the contract's shape for an error object."""
    messages: dict[str, str] = {}
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        messages.setdefault(field, item["msg"])
    return messages


def parse_model[M: BaseModel](model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        refused = ApiError(400, validation_messages(error))
        refused.validation = error
        raise refused from None


async def parse_body[M: BaseModel](request: web.Request, model: type[M]) -> M:
    """The body validated in JSON mode: strict models take JSON's own types,
    dates as ``YYYY-MM-DD`` strings included."""
    raw = await request.read()
    if not raw:
        raise ApiError(400, "a JSON body is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        refused = ApiError(400, validation_messages(error))
        refused.validation = error
        raise refused from None


def parse_query[M: BaseModel](request: web.Request, model: type[M]) -> M:
    """Query parameters; a parameter given several times becomes a list."""
    query: Mapping[str, str] = request.query
    data: dict[str, Any] = {}
    for key in query:
        values = query.getall(key)  # type: ignore[attr-defined]
        data[key] = values if len(values) > 1 or _is_list(model, key) else values[0]
    return parse_model(model, data)


def _is_list(model: type[BaseModel], key: str) -> bool:
    field = model.model_fields.get(key)
    return field is not None and getattr(field.annotation, "__origin__", None) is list
