"""JSON as the MFlix contract writes BSON values."""

from __future__ import annotations

import datetime

import orjson
from bson import Decimal128, Int64, ObjectId

from pialara_async.jsonio import dumps


def test_bson_values_are_written_as_the_contract_says() -> None:
    oid = ObjectId("573a1390f29313caabcd42e8")
    written = orjson.loads(dumps({
        "_id": oid, "when": datetime.datetime(1903, 12, 1, 8, 5, 9, 123000),
        "aware": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "old": datetime.datetime(999, 1, 2), "day": datetime.date(2001, 2, 3),
        "small": Int64(5), "huge": Int64(2**60), "price": Decimal128("1.10"),
        "nested": [{"id": oid}]}))
    assert written == {
        "_id": "573a1390f29313caabcd42e8", "when": "1903-12-01 08:05:09",
        "aware": "2020-01-02 03:04:05", "old": "0999-01-02 00:00:00", "day": "2001-02-03",
        "small": 5, "huge": {"$numberLong": str(2**60)}, "price": {"$numberDecimal": "1.10"},
        "nested": [{"id": "573a1390f29313caabcd42e8"}]}
