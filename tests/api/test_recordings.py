"""Recordings over HTTP: sent by a client for an assigned phrase under a
consent in force, judged by decoding, stored whole or not at all, heard with
ranges by those who may, and deleted by their author until reviewed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from pialara_async.services.recordings import RECORDINGS
from tests.accounts import Account
from tests.audio_files import FORMATS, encode
from tests.conftest import eventually
from tests.recording_setup import RECORDINGS_URL, send


async def stored_counts(db: Any) -> tuple[int, int, int]:
    return (await db["audio.files"].count_documents({}),
            await db["audio.chunks"].count_documents({}),
            await db.recordings.count_documents({}))


@pytest.mark.parametrize("media_type", sorted(FORMATS))
async def test_a_recording_is_measured_stored_and_heard_bit_for_bit(
    client: TestClient, db: Any, client_account: Account, technician: Account,
    phrase: str, media_type: str
) -> None:
    data = encode(media_type, 2.0)
    sent_as = f"{media_type};codecs=opus" if "webm" in media_type else media_type
    response = await send(client, client_account, phrase, data, sent_as)
    assert response.status == 201, await response.text()
    recording = (await response.json())["recording"]
    assert recording["duration"] == pytest.approx(2.0, abs=0.05)
    assert (recording["status"], recording["consent_version"], recording["size"]) == (
        "pending", 1, len(data))
    assert recording["content_type"] == sent_as
    heard = await client.get(f"{RECORDINGS_URL}/{recording['_id']}/audio",
                             headers=technician.headers)
    assert heard.status == 200
    assert await heard.read() == data
    assert heard.headers["Content-Type"].startswith(media_type)
    assert heard.headers["Cache-Control"] == "private, no-store"
    assert heard.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(("data", "media_type", "why"), [
    (encode("audio/webm", 2.0, kind="silence"), "audio/webm", "silent"),
    (encode("audio/wav", 0.3), "audio/wav", "too short"),
    (encode("audio/ogg", 61.0), "audio/ogg", "too long"),
    (encode("audio/webm", 3.0)[:20_000], "audio/webm", "incomplete"),
    (encode("audio/wav", 2.0), "audio/webm", "not audio/webm"),
    (b"not audio at all" * 100, "audio/flac", "could not be decoded"),
    (encode("audio/wav", 2.0), "audio/mpeg", "send Opus in WebM or Ogg, WAV or FLAC"),
], ids=["silent", "short", "long", "truncated", "mislabelled", "garbage", "type"])
async def test_an_unusable_recording_is_refused_with_nothing_stored(
    client: TestClient, db: Any, client_account: Account, phrase: str, data: bytes,
    media_type: str, why: str
) -> None:
    response = await send(client, client_account, phrase, data, media_type)
    assert response.status == 400
    assert why in (await response.json())["error"]
    assert await stored_counts(db) == (0, 0, 0)
    spool = client.app[RECORDINGS].spool_dir
    assert list(spool.iterdir()) == []


async def test_recording_needs_an_assigned_active_phrase_and_a_consent_in_force(
    client: TestClient, db: Any, admin: Account, technician: Account,
    client_account: Account, phrase: str
) -> None:
    data = encode("audio/wav", 1.0)
    other = await client.post("/api/v1/phrases", headers=technician.headers,
                              json={"text": "No asignada.", "tag": "9"})
    unassigned = (await other.json())["phrase"]["_id"]
    assert (await send(client, client_account, unassigned, data, "audio/wav")).status == 404
    assert (await send(client, client_account, str(ObjectId()), data,
                       "audio/wav")).status == 404

    await client.delete("/api/v1/consent/mine", headers=client_account.headers)
    withdrawn = await send(client, client_account, phrase, data, "audio/wav")
    assert withdrawn.status == 403
    assert "consent" in (await withdrawn.json())["error"]
    await client.post("/api/v1/consent/mine", headers=client_account.headers,
                      json={"version": 1})
    await client.post("/api/v1/consent/versions", headers=admin.headers,
                      json={"text": "Segunda versión del consentimiento informado."})
    assert (await send(client, client_account, phrase, data, "audio/wav")).status == 403

    await client.post("/api/v1/consent/mine", headers=client_account.headers,
                      json={"version": 2})
    await client.patch(f"/api/v1/phrases/{phrase}", headers=technician.headers,
                       json={"active": False})
    assert (await send(client, client_account, phrase, data, "audio/wav")).status == 409
    assert await stored_counts(db) == (0, 0, 0)
    assert (await send(client, technician, phrase, data, "audio/wav")).status == 403


async def test_a_body_over_ten_mebibytes_is_refused(
    client: TestClient, db: Any, client_account: Account, phrase: str
) -> None:
    big = b"\0" * (10 * 1024 * 1024 + 1)
    declared = await send(client, client_account, phrase, big, "audio/wav")
    assert declared.status == 413

    async def chunked() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(11):
            yield b"\0" * (1024 * 1024)

    streamed = await client.post(RECORDINGS_URL, params={"phrase_id": phrase}, data=chunked(),
                                 headers={**client_account.headers,
                                          "Content-Type": "audio/wav"})
    assert streamed.status == 413
    assert await stored_counts(db) == (0, 0, 0)


async def test_a_client_that_disconnects_mid_upload_leaves_nothing(
    client: TestClient, db: Any, client_account: Account, phrase: str
) -> None:
    data = encode("audio/wav", 3.0)
    _reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write((f"POST {RECORDINGS_URL}?phrase_id={phrase} HTTP/1.1\r\n"
                  f"Host: {client.host}\r\nAuthorization: Bearer {client_account.token}\r\n"
                  f"Content-Type: audio/wav\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                 + data[:len(data) // 2])
    await writer.drain()
    spool = client.app[RECORDINGS].spool_dir
    await eventually(lambda: any(spool.iterdir()), what="the upload being spooled")
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: not any(spool.iterdir()), what="the spooled part removed")
    assert await stored_counts(db) == (0, 0, 0)


async def test_ranges_of_a_recording(client: TestClient, client_account: Account,
                                     phrase: str) -> None:
    data = encode("audio/wav", 2.0)
    recording = (await (await send(client, client_account, phrase, data,
                                   "audio/wav")).json())["recording"]
    url = f"{RECORDINGS_URL}/{recording['_id']}/audio"
    size = len(data)
    for asked, start, stop in (("bytes=0-99", 0, 100), ("bytes=1000-30999", 1000, 31000),
                               ("bytes=-500", size - 500, size),
                               (f"bytes=40000-{size + 999}", 40000, size),
                               ("bytes=300000-", 300000, size)):
        if start >= size:
            continue
        part = await client.get(url, headers={**client_account.headers, "Range": asked})
        assert part.status == 206, asked
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert await part.read() == data[start:stop]
    for unsatisfiable in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=5-2",
                          "pages=1-2"):
        refused = await client.get(url, headers={**client_account.headers,
                                                 "Range": unsatisfiable})
        assert refused.status == 416, unsatisfiable
        assert refused.headers["Content-Range"] == f"bytes */{size}"


async def test_only_the_client_their_technician_and_admins_know_of_a_recording(
    client: TestClient, admin: Account, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any, phrase: str
) -> None:
    recording = (await (await send(client, client_account, phrase, encode("audio/wav", 1.0),
                                   "audio/wav")).json())["recording"]
    other_client = await make_account("otra@pialara.example", role="client",
                                      technician=other_technician)
    url = f"{RECORDINGS_URL}/{recording['_id']}"
    for who, status in ((client_account, 200), (technician, 200), (admin, 200),
                        (other_technician, 404), (other_client, 404)):
        for path in (url, url + "/audio"):
            assert (await client.get(path, headers=who.headers)).status == status, who.email
        listed = await (await client.get(RECORDINGS_URL, headers=who.headers)).json()
        assert listed["total_results"] == (1 if status == 200 else 0), who.email
    assert (await client.get(url + "/audio")).status == 401
    # Reassigned to another technician, the client's recordings go with them.
    await client.patch(f"/api/v1/users/{client_account.id}", headers=admin.headers,
                       json={"technician_id": str(other_technician.id)})
    assert (await client.get(url, headers=technician.headers)).status == 404
    assert (await client.get(url, headers=other_technician.headers)).status == 200


async def test_a_client_deletes_their_recording_until_it_is_reviewed(
    client: TestClient, db: Any, technician: Account, client_account: Account, phrase: str
) -> None:
    first = (await (await send(client, client_account, phrase, encode("audio/wav", 1.0),
                               "audio/wav")).json())["recording"]
    second = (await (await send(client, client_account, phrase, encode("audio/flac", 1.0),
                                "audio/flac")).json())["recording"]
    assert (await client.delete(f"{RECORDINGS_URL}/{first['_id']}",
                                headers=technician.headers)).status == 403
    deleted = await client.delete(f"{RECORDINGS_URL}/{first['_id']}",
                                  headers=client_account.headers)
    assert deleted.status == 204
    assert await db["audio.chunks"].count_documents(
        {"files_id": ObjectId(first["file_id"])}) == 0
    assert await db["audio.files"].count_documents({}) == 1
    await db.recordings.update_one({"_id": ObjectId(second["_id"])},
                                   {"$set": {"status": "accepted"}})
    reviewed = await client.delete(f"{RECORDINGS_URL}/{second['_id']}",
                                   headers=client_account.headers)
    assert reviewed.status == 409
    assert (await client.delete(f"{RECORDINGS_URL}/{first['_id']}",
                                headers=client_account.headers)).status == 404


async def review(client: TestClient, who: Account, recording_id: str, **body: Any) -> Any:
    return await client.put(f"{RECORDINGS_URL}/{recording_id}/review", headers=who.headers,
                            json=body)


async def test_a_technician_reviews_and_a_rejection_asks_for_another_take(
    client: TestClient, technician: Account, other_technician: Account,
    client_account: Account, phrase: str
) -> None:
    first = (await (await send(client, client_account, phrase, encode("audio/wav", 1.0),
                               "audio/wav")).json())["recording"]
    progress = await (await client.get("/api/v1/phrases/mine",
                                       headers=client_account.headers)).json()
    assert progress["recorded"] == 1
    assert (await review(client, other_technician, first["_id"],
                         status="rejected", reason="noise")).status == 404
    assert (await review(client, client_account, first["_id"],
                         status="accepted")).status == 403
    rejected = await review(client, technician, first["_id"], status="rejected",
                            reason="cut_off", note="se corta al final")
    body = (await rejected.json())["recording"]
    assert (body["status"], body["review"]["reason"], body["review"]["by"]) == (
        "rejected", "cut_off", str(technician.id))
    progress = await (await client.get("/api/v1/phrases/mine",
                                       headers=client_account.headers)).json()
    assert progress["recorded"] == 0  # to record again
    again = await review(client, technician, first["_id"], status="accepted")
    assert again.status == 409

    second = (await (await send(client, client_account, phrase, encode("audio/wav", 1.0),
                                "audio/wav")).json())["recording"]
    accepted = await review(client, technician, second["_id"], status="accepted",
                            transcript="el perro come pa")
    assert (await accepted.json())["recording"]["review"]["transcript"] == "el perro come pa"
    listed = await (await client.get(RECORDINGS_URL, params={"status": "accepted"},
                                     headers=technician.headers)).json()
    assert [r["_id"] for r in listed["recordings"]] == [second["_id"]]
    for bad in ({"status": "rejected"}, {"status": "accepted", "reason": "noise"},
                {"status": "maybe"}, {"status": "rejected", "reason": "boring"}):
        assert (await review(client, technician, second["_id"], **bad)).status == 400, bad


async def test_a_review_and_a_deletion_at_once_end_in_one_state(
    client: TestClient, db: Any, technician: Account, client_account: Account, phrase: str
) -> None:
    for _ in range(5):
        recording = (await (await send(client, client_account, phrase,
                                       encode("audio/wav", 1.0), "audio/wav")).json())["recording"]
        reviewed, deleted, reviewed_again = await asyncio.gather(
            review(client, technician, recording["_id"], status="accepted"),
            client.delete(f"{RECORDINGS_URL}/{recording['_id']}",
                          headers=client_account.headers),
            review(client, technician, recording["_id"], status="rejected", reason="other"))
        statuses = sorted([reviewed.status, deleted.status, reviewed_again.status])
        stored = await db.recordings.find_one({"_id": ObjectId(recording["_id"])})
        if deleted.status == 204:  # the deletion came first: both reviews find it gone
            assert statuses == [204, 404, 404]
            assert stored is None
            assert await db["audio.chunks"].count_documents(
                {"files_id": ObjectId(recording["file_id"])}) == 0
        else:  # one review came first; the other review and the deletion found it reviewed
            assert statuses == [200, 409, 409]
            assert stored["status"] in ("accepted", "rejected")


async def test_erasure_deletes_every_recording_and_its_audio_and_is_logged(
    client: TestClient, db: Any, admin: Account, technician: Account,
    client_account: Account, make_account: Any, phrase: str
) -> None:
    ids = [(await (await send(client, client_account, phrase, encode(kind, 1.0),
                              kind)).json())["recording"]["_id"]
           for kind in ("audio/wav", "audio/webm", "audio/flac")]
    other = await make_account("otro.cliente@pialara.example", role="client",
                               technician=technician)
    await client.post("/api/v1/consent/mine", headers=other.headers, json={"version": 1})
    await client.post(f"/api/v1/clients/{other.id}/phrases", headers=technician.headers,
                      json={"all": True})
    kept = (await (await send(client, other, phrase, encode("audio/wav", 1.0),
                              "audio/wav")).json())["recording"]
    erasure_url = f"/api/v1/clients/{client_account.id}/erasure"
    assert (await client.post(erasure_url, headers=technician.headers)).status == 403
    assert (await client.post(erasure_url, headers=other.headers)).status == 404

    erased = await client.post(erasure_url, headers=client_account.headers)
    assert erased.status == 200
    log = (await erased.json())["erasure"]
    assert sorted(log["recordings"]) == sorted(ids)
    assert log["requested_by"] == str(client_account.id)
    # Nothing of theirs is left: no recording, no file, no chunk; the other client's stay.
    assert await db.recordings.count_documents({"client_id": client_account.id}) == 0
    assert await db["audio.files"].count_documents({}) == 1
    assert await db["audio.chunks"].count_documents(
        {"files_id": {"$ne": ObjectId(kept["file_id"])}}) == 0
    stored_log = await db.erasures.find_one({"client_id": client_account.id})
    assert set(stored_log) == {"_id", "client_id", "recordings", "requested_by", "at"}
    # Their consent is withdrawn: nothing new arrives.
    refused = await send(client, client_account, phrase, encode("audio/wav", 1.0), "audio/wav")
    assert refused.status == 403
    by_admin = await client.post(f"/api/v1/clients/{other.id}/erasure", headers=admin.headers)
    assert (await by_admin.json())["erasure"]["recordings"] == [kept["_id"]]
    assert await stored_counts(db) == (0, 0, 0)


async def test_the_summary_counts_by_status_and_pathology_and_minutes_per_client(
    client: TestClient, admin: Account, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any, phrase: str
) -> None:
    ids = [(await (await send(client, client_account, phrase, encode("audio/wav", seconds),
                              "audio/wav")).json())["recording"]["_id"]
           for seconds in (3.0, 3.0, 1.0)]
    await review(client, technician, ids[0], status="accepted")
    await review(client, technician, ids[1], status="accepted")
    await review(client, technician, ids[2], status="rejected", reason="noise")
    stranger = await make_account("ajeno@pialara.example", role="client",
                                  technician=other_technician,
                                  profile={"pathology": "aphasia"})
    await client.post("/api/v1/consent/mine", headers=stranger.headers, json={"version": 1})
    await client.post(f"/api/v1/clients/{stranger.id}/phrases",
                      headers=other_technician.headers, json={"all": True})
    await send(client, stranger, phrase, encode("audio/wav", 2.0), "audio/wav")

    everything = await (await client.get(f"{RECORDINGS_URL}/summary",
                                         headers=admin.headers)).json()
    assert everything["by_status"] == {"accepted": 2, "pending": 1, "rejected": 1}
    assert everything["by_pathology"] == [{"pathology": "dysarthria", "count": 3},
                                          {"pathology": "aphasia", "count": 1}]
    assert everything["accepted_minutes"] == [
        {"client_id": str(client_account.id), "name": "Cliente", "minutes": 0.1}]
    theirs = await (await client.get(f"{RECORDINGS_URL}/summary",
                                     headers=other_technician.headers)).json()
    assert theirs["by_status"] == {"pending": 1}
    assert (await client.get(f"{RECORDINGS_URL}/summary",
                             headers=client_account.headers)).status == 403
