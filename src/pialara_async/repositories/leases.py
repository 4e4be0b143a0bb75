"""Leases in the database: one holder at a time across processes and hosts.

A lease is a document ``{_id: name, holder, until}``. Taking it succeeds when
it is free, expired, or already ours; two processes racing for a free lease
both upsert, and the unique ``_id`` lets exactly one of them win.
"""

from __future__ import annotations

import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from pialara_async import clock

LEASES = "leases"


async def take(db: Any, name: str, holder: str, seconds: float) -> bool:
    """Take or extend the lease ``name`` for ``seconds``; False while another holds it."""
    now = clock.now()
    try:
        found = await db[LEASES].find_one_and_update(
            {"_id": name, "$or": [{"until": {"$lte": now}}, {"holder": holder}]},
            {"$set": {"holder": holder, "until": now + datetime.timedelta(seconds=seconds)}},
            upsert=True, return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        return False  # held by another, unexpired: the upsert's insert lost
    return found is not None and found["holder"] == holder


async def release(db: Any, name: str, holder: str) -> None:
    await db[LEASES].delete_one({"_id": name, "holder": holder})
