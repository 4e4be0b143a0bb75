"""Budgets per address and per account: past one, 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from pialara_async.app import create_app
from tests.accounts import PASSWORD
from tests.conftest import make_settings


async def limited_client(aiohttp_client: Any, tmp_path: Path, mongo_uri: str,
                         database_name: str, **limits: str) -> TestClient:
    settings = make_settings(tmp_path, mongo_uri, database_name, limits=limits)
    return await aiohttp_client(create_app(settings))


async def test_registrations_per_address(
    aiohttp_client: Any, tmp_path: Path, mongo_uri: str, database_name: str, db: Any
) -> None:
    client = await limited_client(aiohttp_client, tmp_path, mongo_uri, database_name,
                                  register_per_address="3/hour")
    statuses = []
    for number in range(5):
        response = await client.post("/api/v1/user/register", json={
            "name": f"User {number}", "email": f"u{number}@mflix.example",
            "password": PASSWORD})
        statuses.append(response.status)
    assert statuses == [201, 201, 201, 429, 429]
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    body = await response.json()
    assert body["retry_after"] == int(response.headers["Retry-After"])
    assert await db.users.count_documents({}) == 3  # the refused ones wrote nothing


async def test_logins_per_account_and_per_address(
    aiohttp_client: Any, tmp_path: Path, mongo_uri: str, database_name: str, db: Any
) -> None:
    client = await limited_client(aiohttp_client, tmp_path, mongo_uri, database_name,
                                  login_per_account="2/minute", login_per_address="5/minute")
    for email in ("ana@mflix.example", "bea@mflix.example"):
        await client.post("/api/v1/user/register",
                          json={"name": "Some One", "email": email, "password": PASSWORD})

    async def login(email: str, password: str = "wrong password") -> int:
        response = await client.post("/api/v1/user/login",
                                     json={"email": email, "password": password})
        return response.status

    # Guessing one account's password: stopped after two tries, even with the
    # right one, and whatever the case of the domain.
    assert [await login("ana@mflix.example"), await login("ana@MFLIX.example"),
            await login("ana@mflix.example", PASSWORD)] == [401, 401, 429]
    # Another account from the same address still signs in, until the address's budget.
    assert await login("bea@mflix.example", PASSWORD) == 201
    assert await login("bea@mflix.example", PASSWORD) == 201
    assert await login("bea@mflix.example", PASSWORD) == 429
