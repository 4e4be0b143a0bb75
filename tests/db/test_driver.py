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


async def test_gridfs_stores_a_stream_bit_for_bit(db: Any) -> None:
    bucket = driver.gridfs_bucket(db, "clips")
    data = bytes(range(256)) * 2000  # 512,000 bytes: a chunk of 255 KiB and a part
    upload = bucket.open_upload_stream("clip", chunk_size_bytes=255 * 1024,
                                       metadata={"contentType": "audio/wav"})
    for start in range(0, len(data), 64 * 1024):  # as a request body arrives
        await upload.write(data[start:start + 64 * 1024])
    await upload.close()
    download = await bucket.open_download_stream(upload._id)
    assert await download.read() == data
    await driver.seek(download, 300_000)
    assert await download.read(10) == data[300_000:300_010]
    assert await db["clips.chunks"].count_documents({"files_id": upload._id}) == 2


async def test_an_aborted_gridfs_upload_leaves_no_file_and_no_chunk(db: Any) -> None:
    bucket = driver.gridfs_bucket(db, "clips")
    upload = bucket.open_upload_stream("clip", chunk_size_bytes=1024)
    await upload.write(b"x" * 5000)
    await upload.abort()
    assert await db["clips.chunks"].count_documents({}) == 0
    assert await db["clips.files"].count_documents({}) == 0
