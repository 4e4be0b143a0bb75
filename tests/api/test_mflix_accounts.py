"""The MFlix user routes: happy paths, and attempts that must fail."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import bcrypt
import jwt
import pytest
from aiohttp.test_utils import TestClient

from pialara_async.security import tokens
from pialara_async.security.tokens import TOKEN_SECRET
from tests.accounts import PASSWORD, Account, login

REGISTER = "/api/v1/user/register"


async def register(client: TestClient, email: str = "ana@mflix.example",
                   password: str = PASSWORD, name: str = "Ana Torres") -> Any:
    return await client.post(REGISTER, json={"name": name, "email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_preferences_logout(client: TestClient, db: Any) -> None:
    created = await register(client)
    assert created.status == 201
    body = await created.json()
    assert body["info"] == {"email": "ana@mflix.example", "name": "Ana Torres", "preferences": {}}
    stored = await db.users.find_one({"email": "ana@mflix.example"})
    assert stored["password"].startswith("$argon2id$")

    token = await login(client, "ana@mflix.example")
    updated = await client.put("/api/v1/user/update-preferences", headers=bearer(token),
                               json={"preferences": {"favorite_cast": "Meryl Streep",
                                                     "preferred_language": "Spanish"}})
    assert updated.status == 201
    result = await updated.json()
    assert result["info"]["preferences"]["favorite_cast"] == "Meryl Streep"
    new_token = result["auth_token"]

    out = await client.post("/api/v1/user/logout", headers=bearer(new_token))
    assert out.status == 201
    assert await out.json() == {"status": "logged out"}
    refused = await client.post("/api/v1/user/logout", headers=bearer(new_token))
    assert refused.status == 401


async def test_preferences_saved_once_when_the_answer_is_lost(
    client: TestClient, db: Any, fail_point: Any
) -> None:
    assert (await register(client)).status == 201
    token = await login(client, "ana@mflix.example")
    # The next retryable write is applied, then its connection closes before
    # the answer: the driver retries it, and gets the recorded result.
    await fail_point("onPrimaryTransactionalWrite", {"times": 1})
    updated = await client.put("/api/v1/user/update-preferences", headers=bearer(token),
                               json={"preferences": {"favorite_cast": "Meryl Streep"}})
    assert updated.status == 201
    assert await fail_point("onPrimaryTransactionalWrite", "off") == 1  # it did fire
    stored = await db.users.find_one({"email": "ana@mflix.example"})
    assert stored["preferences"] == {"favorite_cast": "Meryl Streep"}


async def test_registration_rules(client: TestClient) -> None:
    short = await register(client, password="short", name="Bo")
    assert short.status == 411
    body = await short.json()
    assert body["status"] == "fail"
    assert set(body["error"]) == {"password", "name"}
    too_long = await register(client, password="x" * 129)
    assert too_long.status == 411
    assert (await register(client)).status == 201
    taken = await register(client)
    assert taken.status == 400
    assert await taken.json() == {"error": {"email": "A user with the given email already "
                                                     "exists."}}
    bad_email = await register(client, email="not-an-email")
    assert bad_email.status == 400


async def test_concurrent_registrations_of_one_email_create_one_user(
    client: TestClient, db: Any
) -> None:
    results = await asyncio.gather(*(register(client, email="same@mflix.example")
                                     for _ in range(8)))
    assert sorted(r.status for r in results) == [201] + [400] * 7
    assert await db.users.count_documents({"email": "same@mflix.example"}) == 1


async def test_wrong_credentials_answer_alike(client: TestClient) -> None:
    await register(client)
    wrong_password = await client.post("/api/v1/user/login",
                                       json={"email": "ana@mflix.example", "password": "nope-nope"})
    no_account = await client.post("/api/v1/user/login",
                                   json={"email": "nobody@mflix.example", "password": "nope-nope"})
    assert wrong_password.status == no_account.status == 401
    assert await wrong_password.json() == await no_account.json()


@pytest.mark.parametrize("body", [
    {"email": {"$ne": None}, "password": PASSWORD},
    {"email": "ana@mflix.example", "password": {"$gt": ""}},
    {"email": ["ana@mflix.example"], "password": PASSWORD},
    {"email": "ana@mflix.example"},
    {"email": "ana@mflix.example", "password": PASSWORD, "$where": "1"},
])
async def test_operator_injection_is_400(client: TestClient, body: dict[str, Any]) -> None:
    await register(client)
    response = await client.post("/api/v1/user/login", json=body)
    assert response.status == 400
    assert "auth_token" not in await response.text()


async def test_preferences_keys_cannot_be_operators(client: TestClient) -> None:
    await register(client)
    token = await login(client, "ana@mflix.example")
    for prefs in ({"$set": "x"}, {"a.b": "x"}, {"nested": {"$gt": 1}}):
        response = await client.put("/api/v1/user/update-preferences", headers=bearer(token),
                                    json={"preferences": prefs})
        assert response.status == 400


async def test_bcrypt_login_upgrades_the_hash(client: TestClient, db: Any) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await db.users.insert_one({"name": "Ned Stark", "email": "sean_bean@gameofthron.es",
                               "password": legacy})
    await login(client, "sean_bean@gameofthron.es")
    upgraded = (await db.users.find_one({"email": "sean_bean@gameofthron.es"}))["password"]
    assert upgraded.startswith("$argon2id$")
    await login(client, "sean_bean@gameofthron.es")  # and the new hash verifies


async def test_tokens_that_must_be_refused(client: TestClient, db: Any) -> None:
    await register(client)
    token = await login(client, "ana@mflix.example")
    secret = client.app[TOKEN_SECRET]
    claims = tokens.read(secret, token)
    now = datetime.datetime.now(datetime.UTC)
    payload = {"sub": claims.user_id, "sid": claims.session_id, "iat": now,
               "exp": now + datetime.timedelta(hours=1)}
    forged = jwt.encode(payload, "another key" * 4, algorithm="HS256")
    expired = jwt.encode({**payload, "iat": now - datetime.timedelta(hours=2),
                          "exp": now - datetime.timedelta(hours=1)}, secret, algorithm="HS256")
    unsigned = jwt.encode(payload, None, algorithm="none")
    other_alg = jwt.encode(payload, secret, algorithm="HS512")
    # Valid signature, but a session that the database never recorded for it.
    unknown_session = tokens.issue(secret, claims.user_id, "f" * 32, datetime.timedelta(hours=1))
    for bad in (forged, expired, unsigned, other_alg, unknown_session, "garbage", token + "x"):
        response = await client.post("/api/v1/user/logout", headers=bearer(bad))
        assert response.status == 401, bad
    assert (await client.post("/api/v1/user/logout", headers=bearer(token))).status == 201


async def test_delete_needs_the_password_and_revokes(client: TestClient, db: Any) -> None:
    await register(client)
    token = await login(client, "ana@mflix.example")
    wrong = await client.delete("/api/v1/user/delete", headers=bearer(token),
                                json={"password": "not the one"})
    assert wrong.status == 401
    deleted = await client.delete("/api/v1/user/delete", headers=bearer(token),
                                  json={"password": PASSWORD})
    assert deleted.status == 201
    assert await deleted.json() == {"status": "deleted"}
    assert await db.users.count_documents({"email": "ana@mflix.example"}) == 0
    assert await db.sessions.count_documents({"user_id": "ana@mflix.example"}) == 0
    assert (await client.post("/api/v1/user/logout", headers=bearer(token))).status == 401


async def test_admin_check_reads_the_database(
    client: TestClient, db: Any, admin: Account
) -> None:
    ok = await client.get("/api/v1/user/admin", headers=admin.headers)
    assert ok.status == 202
    assert await ok.json() == {"status": "success"}
    await db.users.update_one({"_id": admin.id}, {"$unset": {"role": ""}})
    demoted = await client.get("/api/v1/user/admin", headers=admin.headers)
    assert demoted.status == 401  # same token, the database decides
    assert (await client.get("/api/v1/user/admin")).status == 401


async def test_role_alone_gives_rights(
    client: TestClient, db: Any, make_account: Any
) -> None:
    # An unmigrated MFlix flag grants nothing: ``migrate`` turns it into the role.
    legacy = await make_account("old.admin@mflix.example")
    await db.users.update_one({"_id": legacy.id}, {"$set": {"isAdmin": True}})
    assert (await client.get("/api/v1/user/admin", headers=legacy.headers)).status == 401


async def test_comment_report_for_admins_only(
    client: TestClient, db: Any, admin: Account, client_account: Account
) -> None:
    await db.comments.insert_many(
        [{"email": "a@x.example", "text": "t"} for _ in range(3)]
        + [{"email": "b@x.example", "text": "t"} for _ in range(5)])
    response = await client.get("/api/v1/user/comment-report", headers=admin.headers)
    assert response.status == 200
    assert (await response.json())["report"] == [{"_id": "b@x.example", "count": 5},
                                                 {"_id": "a@x.example", "count": 3}]
    refused = await client.get("/api/v1/user/comment-report", headers=client_account.headers)
    assert refused.status == 401


async def test_make_admin_needs_an_admin(
    client: TestClient, db: Any, admin: Account, client_account: Account
) -> None:
    body = {"name": "Second Admin", "email": "boss@pialara.example", "password": PASSWORD}
    assert (await client.post("/api/v1/user/make-admin", json=body)).status == 401
    refused = await client.post("/api/v1/user/make-admin", json=body,
                                headers=client_account.headers)
    assert refused.status == 401
    made = await client.post("/api/v1/user/make-admin", json=body, headers=admin.headers)
    assert made.status == 201
    assert (await made.json())["info"]["isAdmin"] is True


async def test_no_response_or_session_holds_a_password_hash(
    client: TestClient, db: Any, admin: Account
) -> None:
    await register(client)
    token = await login(client, "ana@mflix.example")
    texts = [await (await client.get("/api/v1/users", headers=admin.headers)).text(),
             await (await client.get("/api/v1/users/me", headers=bearer(token))).text()]
    assert all("$argon2" not in text and "password" not in text for text in texts)
    async for session in db.sessions.find():
        assert session["jwt"] != token  # only a fingerprint is stored
        assert "password" not in session


@pytest.mark.parametrize("email", ["status.7f3a@abc.x49", "ana@pialara.test",
                                   "o'brien+mflix@sub.example.org"])
async def test_any_valid_address_registers(client: TestClient, email: str) -> None:
    response = await register(client, email=email)
    assert response.status == 201, await response.text()
    assert (await response.json())["info"]["email"] == email
    await login(client, email)


async def test_the_domain_of_an_address_is_found_in_any_case(
    client: TestClient, db: Any
) -> None:
    created = await register(client, email="Ana.Torres@MFlix.Example")
    assert created.status == 201
    stored = await db.users.find_one({}, {"email": 1})
    assert stored["email"] == "Ana.Torres@mflix.example"  # the part before @ as typed
    await login(client, "Ana.Torres@mflix.example")
    await login(client, "Ana.Torres@MFLIX.EXAMPLE")
    taken = await register(client, email="Ana.Torres@mflix.EXAMPLE")
    assert taken.status == 400


async def test_a_failed_login_says_so_under_password(client: TestClient) -> None:
    # The MFlix front-end shows error.email, error.password or error.name only.
    await register(client)
    for email in ("ana@mflix.example", "nobody@mflix.example"):
        response = await client.post("/api/v1/user/login",
                                     json={"email": email, "password": "wrong password"})
        assert response.status == 401
        body = await response.json()
        assert set(body["error"]) == {"password"}
        assert body["error"]["password"]


async def test_saving_preferences_keeps_the_session(client: TestClient) -> None:
    await register(client)
    token = await login(client, "ana@mflix.example")
    for language in ("Spanish", "English"):
        saved = await client.put("/api/v1/user/update-preferences", headers=bearer(token),
                                 json={"preferences": {"preferred_language": language}})
        assert saved.status == 201
        assert (await saved.json())["auth_token"] == token
    # The token the front-end kept still posts, reads and signs out.
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status == 200
    assert (await client.post("/api/v1/user/logout", headers=bearer(token))).status == 201


async def test_a_preference_name_with_a_nul_is_refused(client: TestClient) -> None:
    # BSON names cannot hold a NUL: the driver refused the write with a 500.
    await register(client)
    token = await login(client, "ana@mflix.example")
    response = await client.put("/api/v1/user/update-preferences", headers=bearer(token),
                                json={"preferences": {"\u0000s": None}})
    assert response.status == 400
