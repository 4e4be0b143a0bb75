"""Phrases: written, imported, retired and assigned by technicians and
administrators; read by the clients they are assigned to."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from bson import ObjectId

from tests.accounts import Account

PHRASES = "/api/v1/phrases"


def client_phrases(client_id: ObjectId) -> str:
    return f"/api/v1/clients/{client_id}/phrases"


async def create(client: TestClient, who: Account, text: str, tag: str) -> dict[str, Any]:
    response = await client.post(PHRASES, headers=who.headers, json={"text": text, "tag": tag})
    assert response.status == 201, await response.text()
    return (await response.json())["phrase"]


async def test_technicians_write_list_change_and_retire_phrases(
    client: TestClient, technician: Account
) -> None:
    first = await create(client, technician, "El perro come pan.", "101b1")
    await create(client, technician, "La casa es roja.", "102a1")
    await create(client, technician, "Buenos días.", "201a")
    assert first["language"] == "es"
    assert first["active"] is True
    by_tag = await (await client.get(PHRASES, params={"tag": "10"},
                                     headers=technician.headers)).json()
    assert [p["tag"] for p in by_tag["phrases"]] == ["101b1", "102a1"]
    assert by_tag["total_results"] == 2

    changed = await client.patch(f"{PHRASES}/{first['_id']}", headers=technician.headers,
                                 json={"text": "El perro come mucho pan.", "notes": "r"})
    assert (await changed.json())["phrase"]["text"] == "El perro come mucho pan."
    retired = await client.patch(f"{PHRASES}/{first['_id']}", headers=technician.headers,
                                 json={"active": False})
    assert (await retired.json())["phrase"]["active"] is False
    active = await (await client.get(PHRASES, params={"active": "true"},
                                     headers=technician.headers)).json()
    assert [p["tag"] for p in active["phrases"]] == ["102a1", "201a"]


async def test_a_recorded_phrase_keeps_its_text_and_is_retired_not_deleted(
    client: TestClient, db: Any, technician: Account, client_account: Account
) -> None:
    phrase = await create(client, technician, "Tres tristes tigres.", "301")
    path = f"{PHRASES}/{phrase['_id']}"
    await db.recordings.insert_one({"phrase_id": ObjectId(phrase["_id"]),
                                    "client_id": client_account.id, "status": "pending"})
    refused = await client.patch(path, headers=technician.headers, json={"text": "Otra."})
    assert refused.status == 409
    assert "retire" in (await refused.json())["error"]
    assert (await client.delete(path, headers=technician.headers)).status == 409
    notes = await client.patch(path, headers=technician.headers, json={"notes": "ok"})
    assert notes.status == 200
    unrecorded = await create(client, technician, "Sin grabar.", "302")
    assert (await client.delete(f"{PHRASES}/{unrecorded['_id']}",
                                headers=technician.headers)).status == 204
    assert (await client.get(f"{PHRASES}/{unrecorded['_id']}",
                             headers=technician.headers)).status == 404


async def test_an_import_names_every_bad_line_and_writes_nothing(
    client: TestClient, db: Any, admin: Account
) -> None:
    bad = "tag,text\n101,Una frase.\n102\n,Sin etiqueta.\n104,\"Con, coma.\"\nun tag,x\n"
    refused = await client.post(f"{PHRASES}/import", headers=admin.headers,
                                json={"csv": bad})
    assert refused.status == 400
    assert (await refused.json())["error"] == {
        "line 3": "expected two columns: tag,text",
        "line 4": "the tag must have 1 to 40 letters, digits, dots, dashes or underscores",
        "line 6": "the tag must have 1 to 40 letters, digits, dots, dashes or underscores"}
    assert await db.phrases.count_documents({}) == 0

    good = "101,Una frase.\n\n104,\"Con, coma.\"\n"
    imported = await client.post(f"{PHRASES}/import", headers=admin.headers,
                                 json={"csv": good, "language": "en"})
    assert (await imported.json()) == {"imported": 2}
    texts = sorted([d["text"] async for d in db.phrases.find({"language": "en"})])
    assert texts == ["Con, coma.", "Una frase."]

    # Any line ending; a quote left open is named, not a server error.
    endings = await client.post(f"{PHRASES}/import", headers=admin.headers,
                                json={"csv": "201,Uno.\r\n202,Dos.\r203,Tres.\n"})
    assert (await endings.json()) == {"imported": 3}
    for broken in ("301,\"sin cerrar\n302,x", "\U000f5400\r\x89\xe1"):
        refused = await client.post(f"{PHRASES}/import", headers=admin.headers,
                                    json={"csv": broken})
        assert refused.status == 400, broken
    assert await db.phrases.count_documents({}) == 5


async def test_technicians_assign_phrases_to_their_clients_who_see_their_progress(
    client: TestClient, db: Any, technician: Account, client_account: Account
) -> None:
    ids = [(await create(client, technician, f"Frase {n}.", tag))["_id"]
           for n, tag in enumerate(["a1", "a2", "b1"])]
    assign = client_phrases(client_account.id)
    by_tag = await client.post(assign, headers=technician.headers, json={"tag_prefix": "a"})
    assert (await by_tag.json()) == {"changed": 2}
    again = await client.post(assign, headers=technician.headers, json={"all": True})
    assert (await again.json()) == {"changed": 1}  # the two already assigned stay
    await db.recordings.insert_one({"phrase_id": ObjectId(ids[1]),
                                    "client_id": client_account.id, "status": "accepted"})
    await db.recordings.insert_one({"phrase_id": ObjectId(ids[2]),
                                    "client_id": client_account.id, "status": "rejected"})

    mine = await (await client.get(f"{PHRASES}/mine", headers=client_account.headers)).json()
    assert [(p["tag"], p["recorded"]) for p in mine["phrases"]] == [
        ("a1", False), ("a2", True), ("b1", False)]  # a rejected one is to record again
    assert (mine["recorded"], mine["total"]) == (1, 3)
    seen_by_technician = await (await client.get(assign, headers=technician.headers)).json()
    assert seen_by_technician == mine

    taken_back = await client.delete(assign, headers=technician.headers,
                                     json={"phrase_ids": [ids[0]]})
    assert (await taken_back.json()) == {"changed": 1}
    mine = await (await client.get(f"{PHRASES}/mine", headers=client_account.headers)).json()
    assert mine["total"] == 2


async def test_who_may_do_what_with_phrases(
    client: TestClient, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any
) -> None:
    phrase = await create(client, technician, "Hola.", "1")
    assign = client_phrases(client_account.id)
    other_client = await make_account("otra@pialara.example", role="client",
                                      technician=other_technician)
    # Clients do not write or assign phrases.
    assert (await client.post(PHRASES, headers=client_account.headers,
                              json={"text": "x", "tag": "x"})).status == 403
    assert (await client.post(assign, headers=client_account.headers,
                              json={"all": True})).status == 403
    # Another technician's client is not there for this technician.
    assert (await client.post(client_phrases(other_client.id), headers=technician.headers,
                              json={"all": True})).status == 404
    assert (await client.get(client_phrases(other_client.id),
                             headers=technician.headers)).status == 404
    # A client sees only their own.
    assert (await client.get(client_phrases(other_client.id),
                             headers=client_account.headers)).status == 404
    # Phrases are not assigned to technicians.
    assert (await client.post(client_phrases(other_technician.id),
                              headers=technician.headers, json={"all": True})).status == 404
    assert (await client.get(PHRASES)).status == 401
    assert (await client.get(f"{PHRASES}/{phrase['_id']}",
                             headers=client_account.headers)).status == 403


async def test_bad_phrase_input_is_refused(client: TestClient, technician: Account,
                                           client_account: Account) -> None:
    for body in ({"text": "", "tag": "1"}, {"text": "x", "tag": "a b"},
                 {"text": {"$ne": None}, "tag": "1"}, {"text": "x", "tag": "1",
                                                     "language": "spanish"},
                 {"text": "x" * 501, "tag": "1"}, {"text": "x", "tag": "1", "extra": 1},
                 {"text": "dos\nlíneas", "tag": "1"}):
        response = await client.post(PHRASES, headers=technician.headers, json=body)
        assert response.status == 400, body
    for body in ({}, {"all": True, "tag_prefix": "a"}, {"phrase_ids": ["nothex"]},
                 {"all": False}):
        response = await client.post(client_phrases(client_account.id),
                                     headers=technician.headers, json=body)
        assert response.status == 400, body
