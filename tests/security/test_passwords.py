"""Password hashing runs off the event loop: the loop keeps serving while logins run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient

from pialara_async.security.passwords import PasswordHashing, hash_password, verify_password
from tests.accounts import PASSWORD, Account


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


async def test_logins_leave_the_event_loop_responsive(
    client: TestClient, client_account: Account
) -> None:
    started = time.perf_counter()
    verify_password(PASSWORD, hash_password(PASSWORD))
    one_hash = (time.perf_counter() - started) / 2  # what each call blocks when run inline

    async def logins() -> None:
        responses = await asyncio.gather(*(
            client.post("/api/v1/user/login",
                        json={"email": client_account.email, "password": PASSWORD})
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
