"""Accounts for the API tests: created through the repository, signed in over HTTP."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.repositories import users
from pialara_async.security.passwords import PasswordHashing

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: ObjectId
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/user/login",
                                 json={"email": email, "password": password})
    assert response.status == 201, await response.text()
    return (await response.json())["auth_token"]


@pytest.fixture
def hashing() -> Any:
    passwords = PasswordHashing(workers=1)
    yield passwords
    passwords.close()


@pytest.fixture
def make_account(client: TestClient, db: Any, mongo_client: Any,
                 hashing: PasswordHashing) -> Any:
    async def make(email: str, *, role: Any = None,
                   technician: Account | None = None, profile: dict[str, Any] | None = None,
                   name: str = "") -> Account:
        user = await users.create(
            db, hashing, name=name or email.split("@")[0].title(), email=email,
            password=PASSWORD, wtimeout_ms=2500, role=role,
            technician_id=technician.id if technician else None, profile=profile,
            client=mongo_client)
        return Account(user.id, email, await login(client, email))

    return make


@pytest.fixture
async def admin(make_account: Any) -> Account:
    return await make_account("admin@pialara.example", role="admin")


@pytest.fixture
async def technician(make_account: Any) -> Account:
    return await make_account("tecnico@pialara.example", role="technician")


@pytest.fixture
async def other_technician(make_account: Any) -> Account:
    return await make_account("otro@pialara.example", role="technician")


@pytest.fixture
async def client_account(make_account: Any, technician: Account) -> Account:
    return await make_account(
        "cliente@pialara.example", role="client", technician=technician,
        profile={"sex": "female", "birth_date": datetime.datetime(1990, 5, 17),
                 "pathology": "dysarthria"})
