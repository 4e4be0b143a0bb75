"""Lesson 6 — write concerns.

``w=1`` (the primary acknowledged), ``w="majority"`` with ``wtimeout`` (a
majority of the replica set has it: it survives a failover), and ``w=0``
(fire and forget: no acknowledgement, no result to read).
"""

from __future__ import annotations

from _shared import check, lesson, run
from pymongo import WriteConcern


async def main() -> None:
    async with lesson("write_concerns") as (_client, db):
        w1 = db.get_collection("events", write_concern=WriteConcern(w=1))
        result = await w1.insert_one({"kind": "w1"})
        check(result.acknowledged, "w=1: acknowledged by the primary")

        majority = db.get_collection("events",
                                     write_concern=WriteConcern(w="majority", wtimeout=2500))
        result = await majority.insert_one({"kind": "majority"})
        check(result.acknowledged, "w=majority, wtimeout=2500: acknowledged by a majority")

        unacknowledged = db.get_collection("events", write_concern=WriteConcern(w=0))
        result = await unacknowledged.insert_one({"kind": "w0"})
        check(not result.acknowledged, "w=0: no acknowledgement (inserted_id still known)")
        # The write still happened; reading it back is the only way to know.
        for _ in range(100):
            if await db.events.count_documents({"kind": "w0"}):
                break
        check(await db.events.count_documents({}) == 3, "all three writes are there")


if __name__ == "__main__":
    run(main)
