"""Python keys that sort and compare values as MongoDB does.

``order_key(value)`` maps a BSON value (pymongo's types, or mongoeco's internal
wrappers) to a tuple whose natural Python order is MongoDB's comparison order:
first the type bracket (MinKey, null, numbers, strings, objects, arrays,
binary, ObjectId, booleans, dates, timestamps, regular expressions, MaxKey),
then the value within it. Numbers of every width compare by value (``1 ==
1.0 == Int64(1)``), NaN below every other number; strings by code point,
which is UTF-8 byte order (the simple collation).
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from typing import Any

from bson import Binary, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp

MIN_KEY = (1, 0)
# Missing and null sort together, as in MongoDB; their keys differ so that an
# index knows which is which (distinct counts null, not missing).
MISSING = (2, 0)
NULL = (2, 1)
EMPTY_ARRAY = (2, 2)  # an empty array's index key: never equal to null or a scalar
NUMBER, STRING, OBJECT, ARRAY, BINARY, OBJECT_ID, BOOL, DATE, TIMESTAMP, REGEX = (
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
MAX_KEY = (13, 0)
OTHER = 100
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _number(value: Any) -> tuple[Any, ...]:
    if isinstance(value, float | decimal.Decimal) and value != value:  # NaN
        return (NUMBER, -math.inf, 0)
    return (NUMBER, value, 1)


def _milliseconds(value: datetime.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def order_key(value: Any) -> tuple[Any, ...]:
    if value is None:
        return NULL
    kind = type(value)
    if kind is str:
        return (STRING, value)
    if kind is bool:
        return (BOOL, value)
    if kind is int or kind is float:
        return _number(value)
    if isinstance(value, ObjectId):
        return (OBJECT_ID, value.binary)
    if isinstance(value, datetime.datetime):
        return (DATE, _milliseconds(value))
    if isinstance(value, dict):
        # MongoDB compares embedded documents element by element: the
        # value's type bracket, then the field name, then the value.
        elements = []
        for name, item in value.items():
            key = order_key(item)
            elements.append((key[0], name, key))
        return (OBJECT, tuple(elements))
    if isinstance(value, list | tuple):
        return (ARRAY, tuple(order_key(v) for v in value))
    if isinstance(value, int):  # Int64, bool handled above
        return _number(int(value))
    if isinstance(value, Decimal128):
        return _number(value.to_decimal())
    if isinstance(value, decimal.Decimal):
        return _number(value)
    inner = getattr(value, "value", None)  # mongoeco's BsonInt32/Int64/Double/Decimal128
    if type(value).__name__.startswith("Bson") and inner is not None:
        return order_key(inner)
    if isinstance(value, Binary):
        return (BINARY, (len(value), value.subtype, bytes(value)))
    if isinstance(value, uuid.UUID):
        return (BINARY, (16, 4, value.bytes))
    if isinstance(value, bytes):
        return (BINARY, (len(value), getattr(value, "subtype", 0), bytes(value)))
    if isinstance(value, Timestamp) or type(value).__name__ == "Timestamp":
        return (TIMESTAMP, (value.time, value.inc))
    if isinstance(value, Regex) or type(value).__name__ == "Regex":
        return (REGEX, (value.pattern, str(value.flags)))
    if isinstance(value, MinKey):
        return MIN_KEY
    if isinstance(value, MaxKey):
        return MAX_KEY
    if type(value).__name__ == "UndefinedType":
        return NULL
    if type(value).__name__ == "Decimal128":  # mongoeco's own
        return _number(decimal.Decimal(str(value.value)))
    return (OTHER, repr(value))


def is_plain_scalar(value: Any) -> bool:
    """A query value whose equality is exactly equality of ``order_key`` (no null,
    arrays, documents, regular expressions or NaN, whose matching has special rules)."""
    if value is None or isinstance(value, dict | list | tuple | Regex):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    key = order_key(value)
    return key[0] in (NUMBER, STRING, OBJECT_ID, BOOL, DATE, BINARY, TIMESTAMP)


def key_value(key: tuple[Any, ...]) -> Any:
    """The value of a key of a string, number, ObjectId or boolean (for ``distinct``)."""
    bracket = key[0]
    if bracket in (STRING, BOOL):
        return key[1]
    if bracket == NUMBER:
        return key[1]
    if bracket == OBJECT_ID:
        return ObjectId(key[1])
    raise ValueError("not an invertible key")
