"""The driver seam: transactions retried as MongoDB's drivers specify, on both drivers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from pialara_async.db import driver


async def test_conflicting_transactions_are_retried_until_each_commits_once(
    mongo_client: Any, db: Any
) -> None:
    await db.counters.insert_one({"_id": "n", "value": 0, "log": []})

    async def increment(number: int) -> None:
        async def work(session: Any) -> None:
            found = await db.counters.find_one({"_id": "n"}, session=session)
            await db.counters.update_one(
                {"_id": "n"}, {"$set": {"value": found["value"] + 1},
                               "$push": {"log": number}}, session=session)
            # Still open while the others write: a conflict found at commit
            # (the embedded server's way) or at the write (a replica set's).
            await asyncio.sleep(0.01)

        await driver.run_transaction(mongo_client, work)

    await asyncio.gather(*(increment(n) for n in range(12)))
    counter = await db.counters.find_one({"_id": "n"})
    assert counter["value"] == 12  # a read-modify-write per transaction, none lost
    assert sorted(counter["log"]) == list(range(12))  # each applied exactly once


async def test_a_failing_transaction_leaves_nothing_and_raises(
    mongo_client: Any, db: Any
) -> None:
    async def work(session: Any) -> None:
        await db.counters.insert_one({"_id": "half"}, session=session)
        raise OperationFailure("refused", code=2)

    with pytest.raises(OperationFailure):
        await driver.run_transaction(mongo_client, work)
    assert await db.counters.count_documents({}) == 0
