"""Rights follow the account while a socket stays open: what needed them is
taken away, with the reason, once they are gone."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from pialara_async.live.session import RIGHTS_CHECK_SECONDS
from pialara_async.repositories import users
from pialara_async.services.people import PEOPLE
from tests.accounts import PASSWORD, Account
from tests.live.conftest import nothing_more, receive, socket_for, subscribe

USERS = "/api/v1/users"


async def revoked(ws: Any, topic: str) -> tuple[dict[str, Any], float]:
    """The revocation of ``topic`` (other events may come first), and its delay."""
    started = time.monotonic()
    while True:
        message = await receive(ws, timeout=3.0)
        if message.get("type") == "revoked":
            assert message["topic"] == topic
            return message, time.monotonic() - started


async def test_a_demoted_admin_loses_the_users_topic_within_a_second(
    client: TestClient, admin: Account, make_account: Any
) -> None:
    second = await make_account("second.admin@pialara.example", role="admin")
    ws = await socket_for(client, second.token)
    assert (await subscribe(ws, "users"))["type"] == "subscribed"
    demoted = await client.patch(f"{USERS}/{second.id}", headers=admin.headers,
                                 json={"role": "technician"})
    assert demoted.status == 200
    message, delay = await revoked(ws, "users")
    assert delay < 5 * RIGHTS_CHECK_SECONDS  # generous: a busy machine is slow, not wrong
    assert "administrators only" in message["reason"]
    # No more user changes, health data included, reach that socket.
    await client.patch(f"{USERS}/me", headers=admin.headers, json={"name": "Renamed Admin"})
    await nothing_more(ws, within=0.5)
    # The public topics stay.
    assert (await subscribe(ws, "movies"))["type"] == "subscribed"


@pytest.mark.parametrize("how", ["logout", "password change", "deletion"])
async def test_losing_the_session_takes_the_topics_away(
    client: TestClient, admin: Account, technician: Account, client_account: Account,
    how: str,
) -> None:
    ws = await socket_for(client, technician.token)
    assert (await subscribe(ws, "clients"))["type"] == "subscribed"
    if how == "logout":
        response = await client.post("/api/v1/user/logout", headers=technician.headers)
        expected = "signed out"
    elif how == "password change":
        other = await client.post("/api/v1/user/login",
                                  json={"email": technician.email, "password": PASSWORD})
        other_token = (await other.json())["auth_token"]
        # Changed from another session: this socket's session is revoked.
        response = await client.put(f"{USERS}/me/password",
                                    headers={"Authorization": f"Bearer {other_token}"},
                                    json={"old_password": PASSWORD,
                                          "new_password": "another secret"})
        expected = "password"
    else:
        await client.delete(f"{USERS}/{client_account.id}", headers=admin.headers)
        response = await client.delete(f"{USERS}/{technician.id}", headers=admin.headers)
        expected = "deleted"
    assert response.status < 300
    message, delay = await revoked(ws, "clients")
    assert delay < 5 * RIGHTS_CHECK_SECONDS  # generous: a busy machine is slow, not wrong
    assert expected in message["reason"]


async def test_an_expired_token_takes_the_topics_away(
    client: TestClient, db: Any, admin: Account
) -> None:
    user = await users.by_id(db, admin.id)
    assert user is not None
    people = dataclasses.replace(client.app[PEOPLE], token_ttl=datetime.timedelta(seconds=2))
    token = await people.sign_in(user)
    ws = await socket_for(client, token)
    assert (await subscribe(ws, "users"))["type"] == "subscribed"
    message = await asyncio.wait_for(revoked(ws, "users"), 4.0)
    assert "expired" in message[0]["reason"]


async def test_signing_in_as_someone_else_keeps_only_what_they_may(
    client: TestClient, admin: Account, client_account: Account
) -> None:
    ws = await socket_for(client, admin.token)
    assert (await subscribe(ws, "users"))["type"] == "subscribed"
    await ws.send_json({"action": "auth", "token": client_account.token})
    assert (await receive(ws))["type"] == "authenticated"
    message = await receive(ws)
    assert (message["type"], message["topic"]) == ("revoked", "users")
