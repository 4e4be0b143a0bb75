"""A phrase ready to record (consent accepted, phrase assigned), and sending
a recording over HTTP: shared by the API and live feed tests."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.accounts import Account

RECORDINGS_URL = "/api/v1/recordings"


@pytest.fixture
async def phrase(client: TestClient, admin: Account, technician: Account,
                 client_account: Account) -> str:
    """A phrase assigned to the client, who accepted the consent in force."""
    await client.post("/api/v1/consent/versions", headers=admin.headers,
                      json={"text": "Acepto que se usen mis grabaciones de voz."})
    await client.post("/api/v1/consent/mine", headers=client_account.headers,
                      json={"version": 1})
    created = await client.post("/api/v1/phrases", headers=technician.headers,
                                json={"text": "El perro come pan.", "tag": "101b1"})
    phrase_id = (await created.json())["phrase"]["_id"]
    await client.post(f"/api/v1/clients/{client_account.id}/phrases",
                      headers=technician.headers, json={"phrase_ids": [phrase_id]})
    return str(phrase_id)


async def send(client: TestClient, who: Account, phrase_id: str, data: bytes,
               content_type: str) -> Any:
    return await client.post(RECORDINGS_URL, params={"phrase_id": phrase_id}, data=data,
                             headers={**who.headers, "Content-Type": content_type})
