"""What a route answers is built from its response model."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field

from pialara_async.api.endpoint import serialise


class Inner(BaseModel):
    id: ObjectId = Field(alias="_id")
    note: str | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)


class Outer(BaseModel):
    items: list[Inner]
    free: dict[str, Any]
    maybe: int | None = None


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str


def test_only_the_models_members_and_only_those_set() -> None:
    first, second = ObjectId(), ObjectId()
    answer = Outer.model_validate({"items": [{"_id": first, "note": "n", "user_id": 1},
                                             {"_id": second}],
                                   "free": {"nested": {"kept": [1, 2]}}, "leak": True})
    assert serialise(answer) == {"items": [{"_id": first, "note": "n"}, {"_id": second}],
                                 "free": {"nested": {"kept": [1, 2]}}}


def test_extra_members_where_the_model_allows_them() -> None:
    assert serialise(Open.model_validate({"kind": "k", "role": "r"})) == {"kind": "k",
                                                                         "role": "r"}
