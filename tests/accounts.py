"""Accounts for the API tests: created through the repository, signed in over HTTP."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.security.passwords import PasswordHashing
from pialara_async.services.people import People
from pialara_async.settings import Settings

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
def hashing(settings: Settings) -> Any:
    passwords = PasswordHashing.for_settings(settings.auth, workers=1)
    yield passwords
    passwords.close()


@pytest.fixture
def make_account(client: TestClient, db: Any, mongo_client: Any,
                 hashing: PasswordHashing) -> Any:
    async def make(email: str, *, role: Any = None,
                   technician: Account | None = None, profile: dict[str, Any] | None = None,
                   name: str = "") -> Account:
        people = People(db, mongo_client, hashing, wtimeout_ms=2500)
        user = await people.create(
            name=name or email.split("@")[0].title(), email=email, password=PASSWORD,
            role=role, technician_id=technician.id if technician else None, profile=profile)
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
