"""Request bodies and query strings validated by pydantic models.

Models use strict string fields, so an object or array where a string belongs
(``{"email": {"$ne": null}}``) is a 400 and never reaches a query.
"""

from __future__ import annotations

from typing import Any

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


def refusal(error: ValidationError) -> ApiError:
    """The 400 for input a model refused, keeping the error for the route."""
    refused = ApiError(400, validation_messages(error))
    refused.validation = error
    return refused


def parse_model[M: BaseModel](model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise refusal(error) from None


# Errors of the whole body (no field location), and what they mean.
_BODY_ERRORS = {"json_invalid": "the body is not valid JSON",
                "model_type": "the body must be a JSON object",
                "model_attributes_type": "the body must be a JSON object"}


async def parse_body[M: BaseModel](request: web.Request, model: type[M]) -> M:
    """The body parsed and validated in one pass, in JSON mode: strict models
    take JSON's own types, dates as ``YYYY-MM-DD`` strings included."""
    raw = await request.read()
    if not raw:
        raise ApiError(400, "a JSON body is required")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        for item in error.errors():
            if not item["loc"] and item["type"] in _BODY_ERRORS:
                raise ApiError(400, _BODY_ERRORS[item["type"]]) from None
        raise refusal(error) from None


def parse_query[M: BaseModel](request: web.Request, model: type[M]) -> M:
    """Query parameters; a parameter given several times becomes a list."""
    query = request.query
    data: dict[str, Any] = {}
    for key in query:
        values = query.getall(key)
        data[key] = values if len(values) > 1 or _is_list(model, key) else values[0]
    return parse_model(model, data)


def _is_list(model: type[BaseModel], key: str) -> bool:
    field = model.model_fields.get(key)
    return field is not None and getattr(field.annotation, "__origin__", None) is list
