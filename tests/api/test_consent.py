"""Consent: numbered versions published by administrators, accepted by clients
or recorded on paper by their technician, withdrawn, and every entry kept."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from bson import ObjectId

from tests.accounts import Account

CONSENT = "/api/v1/consent"
TEXT = "Acepto que mis grabaciones de voz se usen para investigación."


def client_consent(client_id: ObjectId) -> str:
    return f"/api/v1/clients/{client_id}/consent"


async def publish(client: TestClient, admin: Account, text: str = TEXT) -> int:
    response = await client.post(f"{CONSENT}/versions", headers=admin.headers,
                                 json={"text": text})
    assert response.status == 201, await response.text()
    return int((await response.json())["consent"]["version"])


async def test_a_client_accepts_the_version_in_force_and_withdraws(
    client: TestClient, admin: Account, client_account: Account
) -> None:
    nothing = await client.get(CONSENT, headers=client_account.headers)
    assert nothing.status == 409  # nothing published yet
    assert await publish(client, admin) == 1
    current = await (await client.get(CONSENT, headers=client_account.headers)).json()
    assert current["consent"] == {"version": 1, "text": TEXT, "language": "es",
                                  "published_at": current["consent"]["published_at"]}
    accepted = await client.post(f"{CONSENT}/mine", headers=client_account.headers,
                                 json={"version": 1})
    assert accepted.status == 201
    mine = await (await client.get(f"{CONSENT}/mine", headers=client_account.headers)).json()
    assert (mine["in_force"], mine["version"], mine["current_version"]) == (True, 1, 1)

    withdrawn = await client.delete(f"{CONSENT}/mine", headers=client_account.headers)
    assert (await withdrawn.json())["entry"]["action"] == "withdrawn"
    mine = await (await client.get(f"{CONSENT}/mine", headers=client_account.headers)).json()
    assert mine["in_force"] is False
    assert [e["action"] for e in mine["history"]] == ["withdrawn", "accepted"]  # kept


async def test_a_new_version_must_be_accepted_anew(
    client: TestClient, admin: Account, client_account: Account
) -> None:
    await publish(client, admin)
    await client.post(f"{CONSENT}/mine", headers=client_account.headers, json={"version": 1})
    assert await publish(client, admin, TEXT + " Versión revisada.") == 2
    mine = await (await client.get(f"{CONSENT}/mine", headers=client_account.headers)).json()
    assert (mine["in_force"], mine["current_version"]) == (False, 2)
    stale = await client.post(f"{CONSENT}/mine", headers=client_account.headers,
                              json={"version": 1})
    assert stale.status == 409
    assert "version 2" in (await stale.json())["error"]
    versions = await (await client.get(f"{CONSENT}/versions", headers=admin.headers)).json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]  # both kept, unchanged


async def test_a_technician_records_a_paper_consent_for_their_client(
    client: TestClient, admin: Account, technician: Account, client_account: Account
) -> None:
    await publish(client, admin)
    paper = await client.post(client_consent(client_account.id), headers=technician.headers,
                              json={"version": 1, "signed_by": "María López (tutora)"})
    assert paper.status == 201
    entry = (await paper.json())["entry"]
    assert (entry["method"], entry["signed_by"], entry["recorded_by"]) == (
        "paper", "María López (tutora)", str(technician.id))
    status = await (await client.get(client_consent(client_account.id),
                                     headers=technician.headers)).json()
    assert status["in_force"] is True
    await client.delete(client_consent(client_account.id), headers=admin.headers)
    status = await (await client.get(client_consent(client_account.id),
                                     headers=admin.headers)).json()
    assert status["in_force"] is False
    assert status["history"][0]["recorded_by"] == str(admin.id)


async def test_who_may_do_what_with_consent(
    client: TestClient, admin: Account, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any
) -> None:
    await publish(client, admin)
    other_client = await make_account("otra@pialara.example", role="client",
                                      technician=other_technician)
    for who, path, status in (
            (technician, client_consent(other_client.id), 404),
            (client_account, client_consent(client_account.id), 403),
            (technician, client_consent(technician.id), 404)):
        assert (await client.get(path, headers=who.headers)).status == status
        paper = await client.post(path, headers=who.headers,
                                  json={"version": 1, "signed_by": "x"})
        assert paper.status == status
    assert (await client.post(f"{CONSENT}/versions", headers=technician.headers,
                              json={"text": TEXT})).status == 403
    assert (await client.post(f"{CONSENT}/mine", headers=technician.headers,
                              json={"version": 1})).status == 403
    assert (await client.get(CONSENT)).status == 401


async def test_bad_consent_input_is_refused(client: TestClient, admin: Account,
                                            client_account: Account) -> None:
    for body in ({"text": "corto"}, {"text": TEXT, "language": "es-ES"}, {"text": 1}):
        assert (await client.post(f"{CONSENT}/versions", headers=admin.headers,
                                  json=body)).status == 400, body
    for body in ({}, {"version": "1"}, {"version": 0}, {"version": {"$gt": 0}}):
        assert (await client.post(f"{CONSENT}/mine", headers=client_account.headers,
                                  json=body)).status == 400, body
