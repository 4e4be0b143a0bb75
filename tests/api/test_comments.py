"""Comment writes: ownership in the query, counters kept exact by transactions."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from tests.accounts import Account

COMMENT = "/api/v1/movies/comment"


@pytest.fixture
async def movie_id(db: Any) -> ObjectId:
    result = await db.movies.insert_one({"title": "Metropolis", "num_mflix_comments": 0})
    return result.inserted_id


async def post(client: TestClient, account: Account, movie_id: Any, text: str) -> Any:
    return await client.post(COMMENT, headers=account.headers,
                             json={"movie_id": str(movie_id), "comment": text})


async def test_add_edit_delete_own_comment(
    client: TestClient, db: Any, technician: Account, movie_id: ObjectId
) -> None:
    first = await post(client, technician, movie_id, "first")
    assert first.status == 200
    second = await post(client, technician, movie_id, "second")
    listed = (await second.json())["comments"]
    assert [c["text"] for c in listed] == ["second", "first"]  # newest first
    assert listed[0]["email"] == technician.email
    comment_id = listed[1]["_id"]
    edited = await client.put(COMMENT, headers=technician.headers,
                              json={"comment_id": comment_id, "updated_comment": "edited",
                                    "movie_id": str(movie_id)})
    assert edited.status == 200
    assert [c["text"] for c in (await edited.json())["comments"]] == ["edited", "second"]
    deleted = await client.delete(COMMENT, headers=technician.headers,
                                  json={"comment_id": comment_id, "movie_id": str(movie_id)})
    assert deleted.status == 200
    assert [c["text"] for c in (await deleted.json())["comments"]] == ["second"]
    assert (await db.movies.find_one({"_id": movie_id}))["num_mflix_comments"] == 1


async def test_someone_elses_comment_is_403_unknown_is_404(
    client: TestClient, db: Any, technician: Account, client_account: Account,
    movie_id: ObjectId
) -> None:
    mine = (await (await post(client, technician, movie_id, "mine")).json())["comments"][0]
    for method, body in ((client.put, {"comment_id": mine["_id"], "updated_comment": "x"}),
                         (client.delete, {"comment_id": mine["_id"]})):
        response = await method(COMMENT, headers=client_account.headers, json=body)
        assert response.status == 403
        unknown = await method(COMMENT, headers=client_account.headers,
                               json={**body, "comment_id": str(ObjectId())})
        assert unknown.status == 404
    assert (await db.comments.find_one({"_id": ObjectId(mine["_id"])}))["text"] == "mine"


async def test_bad_comment_input(
    client: TestClient, technician: Account, movie_id: ObjectId
) -> None:
    assert (await post(client, technician, ObjectId(), "x")).status == 404
    assert (await post(client, technician, "nope", "x")).status == 400
    assert (await post(client, technician, movie_id, "")).status == 400
    injected = await client.post(COMMENT, headers=technician.headers,
                                 json={"movie_id": {"$ne": None}, "comment": "x"})
    assert injected.status == 400
    anonymous = await client.post(COMMENT, json={"movie_id": str(movie_id), "comment": "x"})
    assert anonymous.status == 401


async def test_concurrent_adds_and_deletes_keep_the_counter_exact(
    client: TestClient, db: Any, technician: Account, movie_id: ObjectId
) -> None:
    async def add(n: int) -> None:
        assert (await post(client, technician, movie_id, f"c{n}")).status == 200

    await asyncio.gather(*(add(n) for n in range(30)))
    ids = [c["_id"] async for c in db.comments.find({"movie_id": movie_id}, {"_id": 1})]
    doomed = random.Random(3).sample(ids, 12)

    async def delete(comment_id: ObjectId) -> None:
        response = await client.delete(COMMENT, headers=technician.headers,
                                       json={"comment_id": str(comment_id)})
        assert response.status == 200

    await asyncio.gather(*(delete(c) for c in doomed), *(add(n) for n in range(30, 40)))
    count = await db.comments.count_documents({"movie_id": movie_id})
    assert count == 30 - 12 + 10
    assert (await db.movies.find_one({"_id": movie_id}))["num_mflix_comments"] == count


async def test_comments_follow_the_account_not_the_address(
    client: TestClient, db: Any, admin: Account, make_account: Any, movie_id: ObjectId
) -> None:
    ana = await make_account("ana@pialara.example", role="technician")
    posted = (await (await post(client, ana, movie_id, "by ana")).json())["comments"][0]
    # Her address changes: the comment is still hers.
    moved = await client.patch(f"/api/v1/users/{ana.id}", headers=admin.headers,
                               json={"email": "ana.torres@pialara.example"})
    assert moved.status == 200
    edit = {"comment_id": posted["_id"], "updated_comment": "still mine"}
    assert (await client.put(COMMENT, headers=ana.headers, json=edit)).status == 200
    # Whoever takes her old address gets nothing of hers.
    newcomer = await make_account("ana@pialara.example", role="technician")
    for method, body in ((client.put, {"comment_id": posted["_id"], "updated_comment": "x"}),
                         (client.delete, {"comment_id": posted["_id"]})):
        assert (await method(COMMENT, headers=newcomer.headers, json=body)).status == 403
    # Her account deleted and the address registered again: still nobody's.
    await db.users.delete_one({"_id": newcomer.id})
    await client.patch(f"/api/v1/users/{ana.id}", headers=admin.headers,
                       json={"email": "ana@pialara.example"})
    await client.delete(f"/api/v1/users/{ana.id}", headers=admin.headers)
    again = await make_account("ana@pialara.example", role="technician")
    refused = await client.delete(COMMENT, headers=again.headers,
                                  json={"comment_id": posted["_id"]})
    assert refused.status == 403
    assert (await db.comments.find_one({"_id": ObjectId(posted["_id"])}))["user_id"] == ana.id


async def test_comments_show_the_contract_members_and_whether_they_are_mine(
    client: TestClient, technician: Account, client_account: Account, movie_id: ObjectId
) -> None:
    contract = {"_id", "name", "email", "movie_id", "text", "date"}
    await post(client, technician, movie_id, "by the technician")
    answer = await post(client, client_account, movie_id, "by the client")
    listed = (await answer.json())["comments"]
    # The account a comment belongs to stays internal.
    assert [set(c) for c in listed] == [contract | {"mine"}] * 2
    assert {c["text"]: c["mine"] for c in listed} == {"by the client": True,
                                                      "by the technician": False}
    anonymous = await (await client.get(f"/api/v1/movies/id/{movie_id}")).json()
    assert [set(c) for c in anonymous["movie"]["comments"]] == [contract] * 2
    signed_in = await (await client.get(f"/api/v1/movies/id/{movie_id}",
                                        headers=technician.headers)).json()
    assert {c["text"]: c["mine"] for c in signed_in["movie"]["comments"]} == {
        "by the client": False, "by the technician": True}


async def test_a_comment_whose_commit_fails_transiently_is_stored_once(
    client: TestClient, db: Any, technician: Account, movie_id: ObjectId, fail_point: Any
) -> None:
    # WriteConflict at commit, twice: the service retries the whole transaction.
    await fail_point("failCommand", {"times": 2}, failCommands=["commitTransaction"],
                     errorCode=112)
    assert (await post(client, technician, movie_id, "despite conflicts")).status == 200
    assert await fail_point("failCommand", "off") == 2
    assert await db.comments.count_documents({"movie_id": movie_id}) == 1
    assert (await db.movies.find_one({"_id": movie_id}))["num_mflix_comments"] == 1


async def test_a_comment_whose_commit_connection_closes_is_stored_once(
    client: TestClient, db: Any, technician: Account, movie_id: ObjectId, fail_point: Any
) -> None:
    # The connection closes as the commit is sent: the outcome is unknown, so
    # the driver retries the commit, which must not apply the comment twice.
    await fail_point("failCommand", {"times": 1}, failCommands=["commitTransaction"],
                     closeConnection=True)
    assert (await post(client, technician, movie_id, "through a cut")).status == 200
    assert await fail_point("failCommand", "off") == 1
    assert await db.comments.count_documents({"movie_id": movie_id}) == 1
    assert (await db.movies.find_one({"_id": movie_id}))["num_mflix_comments"] == 1
