"""Consent texts and every client's consent record.

``consent_texts``: one document per published version, ``{version, text,
language, published_at, published_by}``, never changed once written (the
unique ``version`` makes two publications at once take two numbers).

``consents``: the record, only ever appended to, ``{client_id, version,
action: "accepted" | "withdrawn", at, recorded_by, method: "online" |
"paper", signed_by?}``. A client's consent is in force when their latest
entry accepts the version in force.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from pialara_async import clock

INDEXES = {
    "consent_texts": [IndexModel([("version", DESCENDING)], unique=True, name="version_unique")],
    "consents": [IndexModel([("client_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                            name="client_latest")],
}
PUBLIC_TEXT = {"_id": 0, "published_by": 0}


async def current_text(db: Any) -> dict[str, Any] | None:
    """The version in force: the latest published."""
    found: dict[str, Any] | None = await db.consent_texts.find_one(
        {}, PUBLIC_TEXT, sort=[("version", DESCENDING)])
    return found


async def texts(db: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await db.consent_texts.find(
        {}, PUBLIC_TEXT).sort("version", DESCENDING).to_list(None)
    return found


async def publish(db: Any, text: str, language: str, published_by: ObjectId) -> dict[str, Any]:
    """Publish the next version; a publication at the same moment takes the one after."""
    while True:
        latest = await current_text(db)
        document = {"version": 1 if latest is None else latest["version"] + 1, "text": text,
                    "language": language, "published_at": clock.now(),
                    "published_by": published_by}
        try:
            await db.consent_texts.insert_one(document)
        except DuplicateKeyError:
            continue
        return {k: v for k, v in document.items() if k not in PUBLIC_TEXT}


async def record(db: Any, entry: dict[str, Any]) -> dict[str, Any]:
    document = {**entry, "at": clock.now()}
    result = await db.consents.insert_one(document)
    return {**document, "_id": result.inserted_id}


async def latest(db: Any, client_id: ObjectId, session: Any = None) -> dict[str, Any] | None:
    """A client's latest consent entry."""
    found: dict[str, Any] | None = await db.consents.find_one(
        {"client_id": client_id}, sort=[("at", DESCENDING), ("_id", DESCENDING)],
        session=session)
    return found


async def history(db: Any, client_id: ObjectId) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await db.consents.find({"client_id": client_id}) \
        .sort([("at", DESCENDING), ("_id", DESCENDING)]).to_list(None)
    return found


def in_force_version(entry: dict[str, Any] | None, current: int | None) -> int | None:
    """The version a client's consent is in force for, from their latest
    entry and the version in force; None when it is not."""
    if entry is None or current is None or entry["action"] != "accepted":
        return None
    return current if entry["version"] == current else None
