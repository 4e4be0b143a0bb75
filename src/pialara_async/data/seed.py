"""``seed``: the generated demo data set, loaded in bulk."""

from __future__ import annotations

import secrets
from typing import Any

import bcrypt

from pialara_async.data.generate import Sizes, generate
from pialara_async.data.load import insert_batches
from pialara_async.repositories import indexes, stats


def unusable_password_hash() -> str:
    """A real bcrypt hash of a secret nobody sees (cost 4: demo data only)."""
    return bcrypt.hashpw(secrets.token_bytes(24), bcrypt.gensalt(rounds=4)).decode()


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
