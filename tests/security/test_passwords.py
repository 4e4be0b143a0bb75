"""Password hashing runs off the event loop: the loop keeps serving while logins run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pialara_async.app import create_app
from pialara_async.security.passwords import MEMORY_KIB, TIME_COST, Hasher, PasswordHashing
from pialara_async.services.people import People
from pialara_async.settings import load_settings
from tests.accounts import PASSWORD
from tests.conftest import make_settings


async def worst_lag(work: Any) -> float:
    """The longest the loop was late for a 1 ms timer while ``work`` ran."""
    worst = 0.0
    done = False

    async def tick() -> None:
        nonlocal worst
        while not done:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - started - 0.001)

    ticker = asyncio.create_task(tick())
    try:
        await work
    finally:
        done = True
        await ticker
    return worst


def test_the_service_hashes_at_the_recommended_cost() -> None:
    auth = load_settings().auth
    assert (auth.argon2_memory_kib, auth.argon2_time_cost) == (MEMORY_KIB, TIME_COST) == (65536, 3)


async def test_logins_leave_the_event_loop_responsive(
    aiohttp_client: Any, tmp_path: Path, mongo_uri: str, database_name: str, db: Any,
    mongo_client: Any,
) -> None:
    # At the real cost (the suite's own settings make hashes cheap).
    settings = make_settings(tmp_path, mongo_uri, database_name,
                             auth={"argon2_memory_kib": MEMORY_KIB, "argon2_time_cost": TIME_COST})
    client = await aiohttp_client(create_app(settings))
    hashing = PasswordHashing.for_settings(settings.auth, workers=1)
    try:
        await People(db, mongo_client, hashing).create(
            name="Cliente", email="cliente@pialara.example", password=PASSWORD)
    finally:
        hashing.close()
    hasher = Hasher()
    started = time.perf_counter()
    hasher.verify(PASSWORD, hasher.hash(PASSWORD))
    one_hash = (time.perf_counter() - started) / 2  # what each call blocks when run inline

    async def logins() -> None:
        responses = await asyncio.gather(*(
            client.post("/api/v1/user/login",
                        json={"email": "cliente@pialara.example", "password": PASSWORD})
            for _ in range(4)))
        assert [r.status for r in responses] == [201] * 4

    lag = await worst_lag(logins())
    assert lag < one_hash / 2, (lag, one_hash)


async def test_hashing_is_bounded_and_verifies() -> None:
    hashing = PasswordHashing(workers=2)
    try:
        hashes = await asyncio.gather(*(hashing.hash(f"secret {n}") for n in range(5)))
        assert len(set(hashes)) == 5
        checks = await asyncio.gather(hashing.verify("secret 3", hashes[3]),
                                      hashing.verify("secret 3", hashes[4]),
                                      hashing.verify("secret 3", None))
        assert [c.ok for c in checks] == [True, False, False]
        assert hashing.workers == 2
    finally:
        hashing.close()
