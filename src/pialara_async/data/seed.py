"""``seed``: the generated demo data set, loaded in bulk."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

import bcrypt

from pialara_async.data.generate import Sizes, generate
from pialara_async.data.load import insert_batches
from pialara_async.models import Role
from pialara_async.repositories import indexes, stats
from pialara_async.security.passwords import PasswordHashing
from pialara_async.services.people import People
from pialara_async.settings import Settings


def unusable_password_hash() -> str:
    """A real bcrypt hash of a secret nobody sees (cost 4: demo data only)."""
    return bcrypt.hashpw(secrets.token_bytes(24), bcrypt.gensalt(rounds=4)).decode()


@dataclass(frozen=True, slots=True)
class DemoAccount:
    role: str
    email: str
    password: str
    id: Any = None  # the account's ObjectId


async def seed_demo_data(db: Any, sizes: Sizes, seed: int) -> dict[str, int]:
    """Replace the sample collections with a generated data set; counts per collection."""
    data = generate(sizes, seed, unusable_password_hash())
    counts: dict[str, int] = {}
    for name, documents in data.collections().items():
        await db.drop_collection(name)
        counts[name] = await insert_batches(db[name], documents, total=len(documents))
    await indexes.ensure_indexes(db)
    await stats.refresh_director_stats(db)
    return counts


async def create_demo_accounts(db: Any, client: Any, settings: Settings) -> list[DemoAccount]:
    """PIA Lara's three roles: an admin, a technician and a client of that technician.

    Each gets a fresh random password, returned once to be printed; there are
    no well-known default passwords.
    """
    hashing = PasswordHashing.for_settings(settings.auth, workers=1)
    try:
        return await _create_demo_accounts(
            db, People(db, client, hashing, settings.mongodb.wtimeout_ms))
    finally:
        hashing.close()


async def _create_demo_accounts(db: Any, people: People) -> list[DemoAccount]:
    accounts = []
    technician_id = None
    demo: tuple[tuple[Role, str, str], ...] = (
        ("admin", "Administradora Demo", "admin@pialara.example"),
        ("technician", "Técnico Demo", "tecnico@pialara.example"),
        ("client", "Cliente Demo", "cliente@pialara.example"),
    )
    for role, name, email in demo:
        password = secrets.token_urlsafe(12)
        await db.users.delete_one({"email": email})
        profile = {"sex": "female", "birth_date": datetime.datetime(1988, 3, 14),
                   "pathology": "dysarthria"} if role == "client" else None
        user = await people.create(name=name, email=email, password=password, role=role,
                                   technician_id=technician_id if role == "client" else None,
                                   profile=profile)
        if role == "technician":
            technician_id = user.id
        accounts.append(DemoAccount(role, email, password, user.id))
    return accounts
