"""Field types and the strict base model shared by the routes' input models.

Strict: an object or array where a string belongs (``{"email": {"$ne": null}}``)
is refused, so no operator reaches a query.
"""

from __future__ import annotations

from typing import Annotated

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictStr, WithJsonSchema

from pialara_async.security.passwords import MAX_LENGTH, MIN_LENGTH


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# An ObjectId as 24 hex digits, in either case (as ObjectId reads it).
HEX_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
HexId = Annotated[StrictStr, Field(pattern=HEX_ID_PATTERN)]
# A password being chosen, and one given to prove who one is (any length up to the bound).
NewPassword = Annotated[StrictStr, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
GivenPassword = Annotated[StrictStr, Field(max_length=MAX_LENGTH)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=100)]


def _stored_id(value: object) -> ObjectId:
    if not isinstance(value, ObjectId):
        raise ValueError("an ObjectId")
    return value


# An ObjectId read from the database, in a response (written as its hex string).
StoredId = Annotated[ObjectId, PlainValidator(_stored_id),
                     WithJsonSchema({"type": "string", "pattern": HEX_ID_PATTERN})]


def object_id(value: str | None) -> ObjectId | None:
    return None if value is None else ObjectId(value)
