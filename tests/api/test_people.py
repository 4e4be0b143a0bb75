"""PIA Lara roles: what each role may do, and every attempt beyond it must fail."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.db import driver
from pialara_async.repositories.users import clients_pipeline
from tests.accounts import PASSWORD, Account, login

USERS = "/api/v1/users"


def new_user(email: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"name": email.split("@")[0].title(), "email": email, "password": PASSWORD,
            "role": role, **extra}


async def test_admin_lists_filters_and_searches(
    client: TestClient, admin: Account, technician: Account, client_account: Account
) -> None:
    everyone = await (await client.get(USERS, headers=admin.headers)).json()
    assert everyone["total_results"] == 3
    techs = await (await client.get(USERS, params={"role": "technician"},
                                    headers=admin.headers)).json()
    assert [u["email"] for u in techs["users"]] == ["tecnico@pialara.example"]
    found = await (await client.get(USERS, params={"q": "CLIENTE"}, headers=admin.headers)).json()
    assert [u["email"] for u in found["users"]] == ["cliente@pialara.example"]
    regex = await (await client.get(USERS, params={"q": ".*"}, headers=admin.headers)).json()
    assert regex["total_results"] == 0  # searched literally, not as a pattern
    bad_role = await client.get(USERS, params={"role": "$ne"}, headers=admin.headers)
    assert bad_role.status == 400


async def test_admin_creates_a_client_of_an_existing_technician(
    client: TestClient, admin: Account, technician: Account
) -> None:
    listed = await (await client.get(f"{USERS}/technicians", headers=admin.headers)).json()
    assert [u["_id"] for u in listed["users"]] == [str(technician.id)]
    without = await client.post(USERS, headers=admin.headers,
                                json=new_user("c1@pialara.example", "client"))
    assert without.status == 400
    not_a_technician = await client.post(
        USERS, headers=admin.headers,
        json=new_user("c1@pialara.example", "client", technician_id=str(admin.id)))
    assert not_a_technician.status == 400
    created = await client.post(
        USERS, headers=admin.headers,
        json=new_user("c1@pialara.example", "client", technician_id=str(technician.id),
                      profile={"sex": "male", "birth_date": "1980-02-29",
                               "pathology": "aphasia"}))
    assert created.status == 201
    user = (await created.json())["user"]
    assert user["technician_id"] == str(technician.id)
    assert user["profile"]["birth_date"] == "1980-02-29 00:00:00"
    assert "password" not in user


async def test_only_admins_reach_admin_routes(
    client: TestClient, technician: Account, client_account: Account
) -> None:
    for account in (technician, client_account):
        assert (await client.get(USERS, headers=account.headers)).status == 403
        assert (await client.get(f"{USERS}/technicians", headers=account.headers)).status == 403
        response = await client.delete(f"{USERS}/{account.id}", headers=account.headers)
        assert response.status == 403
    assert (await client.get(USERS)).status == 401


async def test_technician_creates_only_their_own_clients(
    client: TestClient, technician: Account, other_technician: Account, db: Any
) -> None:
    own = await client.post(USERS, headers=technician.headers,
                            json=new_user("c2@pialara.example", "client"))
    assert own.status == 201
    assert (await own.json())["user"]["technician_id"] == str(technician.id)
    for body in (new_user("x@pialara.example", "admin"),
                 new_user("x@pialara.example", "technician"),
                 new_user("x@pialara.example", "client",
                          technician_id=str(other_technician.id))):
        assert (await client.post(USERS, headers=technician.headers, json=body)).status == 403
    assert await db.users.count_documents({"email": "x@pialara.example"}) == 0


async def test_technician_sees_and_edits_only_their_clients(
    client: TestClient, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any
) -> None:
    stranger = await make_account("ajeno@pialara.example", role="client",
                                  technician=other_technician)
    mine = await client.get(f"{USERS}/{client_account.id}", headers=technician.headers)
    assert mine.status == 200
    assert (await client.get(f"{USERS}/{stranger.id}", headers=technician.headers)).status == 404
    assert (await client.get(f"{USERS}/{other_technician.id}",
                             headers=technician.headers)).status == 404
    edit = await client.patch(f"{USERS}/{client_account.id}", headers=technician.headers,
                              json={"profile": {"pathology": "stuttering"}})
    assert edit.status == 200
    assert (await edit.json())["user"]["profile"]["pathology"] == "stuttering"
    assert (await edit.json())["user"]["profile"]["sex"] == "female"  # untouched
    foreign = await client.patch(f"{USERS}/{stranger.id}", headers=technician.headers,
                                 json={"name": "Hijacked"})
    assert foreign.status == 404
    reassign = await client.patch(f"{USERS}/{client_account.id}", headers=technician.headers,
                                  json={"technician_id": str(other_technician.id)})
    assert reassign.status == 403


async def test_client_reads_and_edits_only_themselves(
    client: TestClient, client_account: Account, technician: Account, db: Any
) -> None:
    me = await (await client.get(f"{USERS}/me", headers=client_account.headers)).json()
    assert me["user"]["email"] == "cliente@pialara.example"
    assert (await client.get(f"{USERS}/{technician.id}",
                             headers=client_account.headers)).status == 404
    renamed = await client.patch(f"{USERS}/me", headers=client_account.headers,
                                 json={"name": "Lara", "profile": {"pathology": "none"}})
    assert renamed.status == 200
    for attempt in ({"role": "admin"}, {"technician_id": str(ObjectId())},
                    {"email": "new@pialara.example"}, {"isAdmin": True},
                    {"name": {"$set": {"role": "admin"}}}):
        response = await client.patch(f"{USERS}/me", headers=client_account.headers,
                                      json=attempt)
        assert response.status == 400, attempt
        other = await client.patch(f"{USERS}/{technician.id}", headers=client_account.headers,
                                   json=attempt)
        assert other.status in (400, 404), attempt
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["role"] == "client"
    assert stored["technician_id"] == technician.id
    assert "isAdmin" not in stored


async def test_profile_field_names_cannot_be_injected(
    client: TestClient, client_account: Account, db: Any
) -> None:
    response = await client.patch(f"{USERS}/me", headers=client_account.headers,
                                  json={"profile": {"$where": "1", "role": "admin"}})
    assert response.status == 400
    assert (await db.users.find_one({"_id": client_account.id}))["role"] == "client"


async def test_technician_client_list_with_ages(
    client: TestClient, technician: Account, client_account: Account
) -> None:
    response = await client.get(f"{USERS}/me/clients", headers=technician.headers)
    assert response.status == 200
    clients = (await response.json())["clients"]
    assert len(clients) == 1
    assert set(clients[0]) == {"_id", "name", "sex", "age", "pathology"}
    today = datetime.date.today()
    born = datetime.date(1990, 5, 17)
    expected = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    assert clients[0]["age"] == expected
    assert (await client.get(f"{USERS}/me/clients",
                             headers=client_account.headers)).status == 403


@pytest.mark.parametrize(("today", "age"), [
    (datetime.datetime(2020, 5, 16), 29),  # the day before the birthday
    (datetime.datetime(2020, 5, 17), 30),  # the birthday
    (datetime.datetime(2020, 5, 18), 30),
    (datetime.datetime(2020, 1, 1), 29),
    (datetime.datetime(2020, 12, 31), 30),
])
async def test_age_computed_by_the_database_around_birthdays(
    db: Any, today: datetime.datetime, age: int
) -> None:
    technician_id = ObjectId()
    await db.users.insert_one({"name": "C", "email": "c@x.example", "role": "client",
                               "technician_id": technician_id,
                               "profile": {"birth_date": datetime.datetime(1990, 5, 17)}})
    rows = await driver.aggregate_list(db.users, clients_pipeline(technician_id, today))
    assert rows[0]["age"] == age


async def test_leap_day_birthday(db: Any) -> None:
    technician_id = ObjectId()
    await db.users.insert_one({"name": "L", "email": "l@x.example", "role": "client",
                               "technician_id": technician_id,
                               "profile": {"birth_date": datetime.datetime(2000, 2, 29)}})
    feb28 = await driver.aggregate_list(
        db.users, clients_pipeline(technician_id, datetime.datetime(2021, 2, 28)))
    mar1 = await driver.aggregate_list(
        db.users, clients_pipeline(technician_id, datetime.datetime(2021, 3, 1)))
    assert (feb28[0]["age"], mar1[0]["age"]) == (20, 21)


async def test_password_change_revokes_other_sessions(
    client: TestClient, client_account: Account
) -> None:
    second = await login(client, client_account.email)
    wrong = await client.put(f"{USERS}/me/password", headers=client_account.headers,
                             json={"old_password": "nope nope", "new_password": "a new secret"})
    assert wrong.status == 401
    changed = await client.put(f"{USERS}/me/password", headers=client_account.headers,
                               json={"old_password": PASSWORD, "new_password": "a new secret"})
    assert changed.status == 200
    assert (await client.get(f"{USERS}/me", headers=client_account.headers)).status == 200
    revoked = await client.get(f"{USERS}/me", headers={"Authorization": f"Bearer {second}"})
    assert revoked.status == 401
    await login(client, client_account.email, "a new secret")


async def test_deleting_a_technician_with_clients_is_refused(
    client: TestClient, admin: Account, technician: Account, client_account: Account,
    db: Any
) -> None:
    refused = await client.delete(f"{USERS}/{technician.id}", headers=admin.headers)
    assert refused.status == 409
    # A code that pages translate, next to the message for people.
    assert (await refused.json())["code"] == "technician_has_clients"
    assert await db.users.count_documents({"_id": technician.id}) == 1
    deleted = await client.delete(f"{USERS}/{client_account.id}", headers=admin.headers)
    assert deleted.status == 200
    assert await db.sessions.count_documents({"user_oid": client_account.id}) == 0
    assert (await client.get(f"{USERS}/me", headers=client_account.headers)).status == 401
    assert (await client.delete(f"{USERS}/{technician.id}",
                                headers=admin.headers)).status == 200


async def test_a_demoted_admin_loses_every_right(
    client: TestClient, db: Any, admin: Account, make_account: Any
) -> None:
    second = await make_account("second.admin@pialara.example", role="admin")
    demoted = await client.patch(f"{USERS}/{second.id}", headers=admin.headers,
                                 json={"role": "technician"})
    assert demoted.status == 200
    assert (await db.users.find_one({"_id": second.id}))["role"] == "technician"
    assert (await client.get("/api/v1/user/admin", headers=second.headers)).status == 401
    assert (await client.get(USERS, headers=second.headers)).status == 403


@pytest.mark.parametrize("attempt", ["patch-role", "delete-by-id", "delete-own-account"])
async def test_the_last_admin_stays(
    client: TestClient, db: Any, admin: Account, attempt: str
) -> None:
    if attempt == "patch-role":
        response = await client.patch(f"{USERS}/{admin.id}", headers=admin.headers,
                                      json={"role": "technician"})
    elif attempt == "delete-by-id":
        response = await client.delete(f"{USERS}/{admin.id}", headers=admin.headers)
    else:
        response = await client.delete("/api/v1/user/delete", headers=admin.headers,
                                       json={"password": PASSWORD})
    assert response.status == 409
    body = await response.json()
    assert "last administrator" in body["error"]
    assert body["code"] == "last_admin"
    assert (await db.users.find_one({"_id": admin.id}))["role"] == "admin"


async def test_two_admins_demoting_each_other_at_once_leave_one(
    client: TestClient, db: Any, admin: Account, make_account: Any
) -> None:
    second = await make_account("second.admin@pialara.example", role="admin")
    results = await asyncio.gather(
        client.patch(f"{USERS}/{second.id}", headers=admin.headers, json={"role": "technician"}),
        client.patch(f"{USERS}/{admin.id}", headers=second.headers, json={"role": "technician"}))
    assert sorted(r.status for r in results) == [200, 409]
    assert await db.users.count_documents({"role": "admin"}) == 1


async def test_a_technician_gaining_a_client_while_demoted_keeps_the_invariant(
    client: TestClient, db: Any, admin: Account, technician: Account, make_account: Any
) -> None:
    # The client assignment and the demotion race; whichever wins, no client
    # is left with a technician who is not one.
    for round_number in range(4):
        await db.users.update_one({"_id": technician.id}, {"$set": {"role": "technician"}})
        someone = await make_account(f"someone{round_number}@pialara.example", role="admin")
        results = await asyncio.gather(
            client.patch(f"{USERS}/{someone.id}", headers=admin.headers,
                         json={"role": "client", "technician_id": str(technician.id)}),
            client.patch(f"{USERS}/{technician.id}", headers=admin.headers,
                         json={"role": "admin"}))
        statuses = sorted(r.status for r in results)
        assert statuses in ([200, 400], [200, 409]), statuses
        role = (await db.users.find_one({"_id": technician.id}))["role"]
        clients = await db.users.count_documents({"technician_id": technician.id})
        assert (role == "technician") == (clients == 1), (role, clients)
        await db.users.delete_one({"_id": someone.id})


async def test_a_user_who_stops_being_a_client_loses_the_technician(
    client: TestClient, db: Any, admin: Account, client_account: Account
) -> None:
    changed = await client.patch(f"{USERS}/{client_account.id}", headers=admin.headers,
                                 json={"role": "technician"})
    assert changed.status == 200
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["role"] == "technician"
    assert "technician_id" not in stored
    refused = await client.patch(f"{USERS}/{client_account.id}", headers=admin.headers,
                                 json={"technician_id": str(admin.id)})
    assert refused.status == 400
    assert "technician_id" in (await refused.json())["error"]


async def test_a_client_needs_an_existing_technician(
    client: TestClient, admin: Account, technician: Account
) -> None:
    for technician_id in (str(ObjectId()), str(admin.id)):
        refused = await client.post(USERS, headers=admin.headers,
                                    json=new_user("nuevo@pialara.example", "client",
                                                  technician_id=technician_id))
        assert refused.status == 400
        assert "technician_id" in (await refused.json())["error"]
