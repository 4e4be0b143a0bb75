"""``migrate``: the course's data migrations, idempotent, in ``bulk_write`` batches.

- ``movies.lastupdated``: the raw string ``"2015-08-13 00:27:59.177000000"``
  becomes a date;
- ``movies.imdb.rating``: a number stored as a string becomes that number; an
  empty string (no rating) is removed, so only numbers remain.

And the accounts' (also run by ``import`` after loading users or comments):

- MFlix's ``isAdmin: true`` becomes ``role: "admin"`` (the role is the one
  source of rights; the flag is removed);
- e-mail domains in lower case (accounts are found by address);
- comments without an owner are linked to the account of their ``email``
  (``user_id``); comments of addresses without an account stay unowned.

Each update matches the value it read, so a document changed in between is
left for the next run; a second run finds nothing to change.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne

BATCH_SIZE = 1000
_LASTUPDATED = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?")


@dataclass(frozen=True, slots=True)
class MigrationResult:
    name: str
    changed: int
    skipped: int


def parse_lastupdated(raw: str) -> datetime.datetime | None:
    match = _LASTUPDATED.fullmatch(raw.strip())
    if match is None:
        return None
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
    fraction = (match.group(2) or "0").ljust(9, "0")
    return moment.replace(microsecond=int(fraction[:3]) * 1000)  # BSON dates: milliseconds


def lastupdated_update(document_id: Any, raw: str) -> UpdateOne | None:
    moment = parse_lastupdated(raw)
    if moment is None:
        return None
    return UpdateOne({"_id": document_id, "lastupdated": raw},
                     {"$set": {"lastupdated": moment}})


def rating_update(document_id: Any, raw: str) -> UpdateOne | None:
    text = raw.strip()
    if not text:
        return UpdateOne({"_id": document_id, "imdb.rating": raw},
                         {"$unset": {"imdb.rating": ""}})
    try:
        value = float(text)
    except ValueError:
        return None
    return UpdateOne({"_id": document_id, "imdb.rating": raw}, {"$set": {"imdb.rating": value}})


MIGRATIONS: dict[str, tuple[str, Callable[[Any, str], UpdateOne | None]]] = {
    "lastupdated to date": ("lastupdated", lastupdated_update),
    "imdb.rating to number": ("imdb.rating", rating_update),
}


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def run_migration(
    movies: Any, field: str, update: Callable[[Any, str], UpdateOne | None]
) -> tuple[int, int]:
    """(changed, skipped): skipped values could not be converted and were left."""
    changed = skipped = 0
    batch: list[UpdateOne] = []

    async def flush() -> None:
        nonlocal changed
        if batch:
            result = await movies.bulk_write(batch, ordered=False)
            changed += result.modified_count
            batch.clear()

    async for document in movies.find({field: {"$type": "string"}}, {field: 1}):
        operation = update(document["_id"], _get(document, field))
        if operation is None:
            skipped += 1
            continue
        batch.append(operation)
        if len(batch) >= BATCH_SIZE:
            await flush()
    await flush()
    return changed, skipped


async def _bulk(collection: Any, operations: Any) -> int:
    """Apply ``operations`` in batches; how many documents changed."""
    changed = 0
    batch: list[UpdateOne] = []
    async for operation in operations:
        batch.append(operation)
        if len(batch) >= BATCH_SIZE:
            changed += (await collection.bulk_write(batch, ordered=False)).modified_count
            batch.clear()
    if batch:
        changed += (await collection.bulk_write(batch, ordered=False)).modified_count
    return changed


async def admin_flags_to_roles(db: Any) -> MigrationResult:
    promoted = await db.users.update_many({"isAdmin": True, "role": {"$exists": False}},
                                          {"$set": {"role": "admin"}})
    await db.users.update_many({"isAdmin": {"$exists": True}}, {"$unset": {"isAdmin": ""}})
    return MigrationResult("isAdmin to role", promoted.modified_count, 0)


async def email_domains_lowercase(db: Any) -> MigrationResult:
    skipped = 0

    async def updates() -> Any:
        nonlocal skipped
        async for user in db.users.find({"email": {"$regex": "@.*[A-Z]"}}, {"email": 1}):
            local, _, domain = user["email"].rpartition("@")
            lower = f"{local}@{domain.lower()}"
            if await db.users.count_documents({"email": lower}, limit=1):
                skipped += 1  # another account has that address: left for a person
                continue
            yield UpdateOne({"_id": user["_id"], "email": user["email"]},
                            {"$set": {"email": lower}})

    changed = await _bulk(db.users, updates())
    return MigrationResult("e-mail domains to lower case", changed, skipped)


async def comments_to_accounts(db: Any) -> MigrationResult:
    accounts = {u["email"]: u["_id"] async for u in db.users.find({}, {"email": 1})}
    skipped = 0

    async def updates() -> Any:
        nonlocal skipped
        async for comment in db.comments.find({"user_id": {"$exists": False}}, {"email": 1}):
            owner = accounts.get(comment.get("email"))
            if owner is None:
                skipped += 1
                continue
            yield UpdateOne({"_id": comment["_id"], "user_id": {"$exists": False}},
                            {"$set": {"user_id": owner}})

    changed = await _bulk(db.comments, updates())
    return MigrationResult("comments to their accounts", changed, skipped)


async def migrate_accounts(db: Any) -> list[MigrationResult]:
    return [await admin_flags_to_roles(db), await email_domains_lowercase(db),
            await comments_to_accounts(db)]


async def migrate(db: Any) -> list[MigrationResult]:
    results = []
    for name, (field, update) in MIGRATIONS.items():
        changed, skipped = await run_migration(db.movies, field, update)
        results.append(MigrationResult(name, changed, skipped))
    return results + await migrate_accounts(db)
