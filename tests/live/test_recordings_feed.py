"""Recordings arrive live: a technician sees their clients' arrivals, a client
the outcome of their reviews; nobody else, and no audio over the feed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.accounts import Account
from tests.audio_files import encode
from tests.live.conftest import nothing_more, receive, socket_for, subscribe
from tests.recording_setup import send


async def next_of(ws: Any, op: str) -> dict[str, Any]:
    event = await receive(ws, timeout=5.0)
    while event.get("op") != op:
        event = await receive(ws, timeout=5.0)
    return event


async def test_arrivals_reach_the_technician_and_reviews_the_client(
    client: TestClient, technician: Account, other_technician: Account,
    client_account: Account, make_account: Any, phrase: str
) -> None:
    other_client = await make_account("otra@pialara.example", role="client",
                                      technician=other_technician)
    watching = await socket_for(client, technician.token)
    elsewhere = await socket_for(client, other_technician.token)
    mine = await socket_for(client, client_account.token)
    not_mine = await socket_for(client, other_client.token)
    assert (await subscribe(watching, "recordings"))["type"] == "subscribed"
    await subscribe(elsewhere, "recordings")
    await subscribe(mine, "recordings:mine")
    await subscribe(not_mine, "recordings:mine")
    assert (await subscribe(mine, "recordings"))["type"] == "error"  # technicians only

    sent = await send(client, client_account, phrase, encode("audio/wav", 1.0), "audio/wav")
    recording = (await sent.json())["recording"]
    arrived = await next_of(watching, "insert")
    assert arrived["doc_id"] == recording["_id"]
    assert arrived["document"]["duration"] == recording["duration"]
    assert not {"file_id", "rms_dbfs", "peak_dbfs"} & set(arrived["document"])

    await client.put(f"/api/v1/recordings/{recording['_id']}/review",
                     headers=technician.headers, json={"status": "rejected",
                                                       "reason": "noise"})
    outcome = await next_of(mine, "update")
    assert (outcome["document"]["status"], outcome["document"]["review"]["reason"]) == (
        "rejected", "noise")
    await nothing_more(elsewhere)
    await nothing_more(not_mine)
