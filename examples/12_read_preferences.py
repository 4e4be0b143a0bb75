"""Lesson 12 — read preferences and read concerns at each level.

Set on the client, a database or a collection, the innermost setting wins.
On a replica set, ``secondaryPreferred`` may read from a secondary; read
concern ``majority`` returns only data a majority has acknowledged.
"""

from __future__ import annotations

from _shared import check, lesson, run
from pymongo import ReadPreference
from pymongo.read_concern import ReadConcern


async def main() -> None:
    async with lesson("read_preferences", readPreference="primaryPreferred",
                      readConcernLevel="local") as (client, db):
        check(client.read_preference == ReadPreference.PRIMARY_PREFERRED,
              "client: primaryPreferred")
        check(client.read_concern.level == "local", "client: read concern local")

        reports = client.get_database(db.name, read_preference=ReadPreference.SECONDARY_PREFERRED)
        check(reports.read_preference == ReadPreference.SECONDARY_PREFERRED,
              "database: secondaryPreferred overrides the client")
        check(reports.read_concern.level == "local", "database inherits the read concern")

        audited = reports.get_collection("ledger", read_concern=ReadConcern("majority"),
                                         read_preference=ReadPreference.PRIMARY)
        check(audited.read_preference == ReadPreference.PRIMARY, "collection: primary")
        check(audited.read_concern.level == "majority", "collection: read concern majority")

        await db.ledger.insert_one({"amount": 10})
        check(await audited.count_documents({}) == 1, "a majority read sees the write")


if __name__ == "__main__":
    run(main)
