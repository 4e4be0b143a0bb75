"""The command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pialara_async.db import driver
from pialara_async.db.client import open_client
from pialara_async.settings import Settings
from tests.cli.conftest import cli

# The command in processes of its own: left out of make test-fast.
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_describes_the_deployment(mongo_uri: str) -> None:
    result = cli("check", env={"MONGODB_URI": mongo_uri})
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["topology"] == "replica set"
    assert lines["replica set"] != "-"
    assert lines["change streams"] == "yes"
    assert lines["transactions"] == "yes"
    assert lines["server version"]


def test_check_unreachable_is_exit_2_in_one_line() -> None:
    port = free_port()  # nothing listens there
    result = cli("check", env={
        "MONGODB_URI": f"mongodb://127.0.0.1:{port}/",
        "PIALARA_MONGODB__SERVER_SELECTION_TIMEOUT_MS": "300",
    })
    assert result.returncode == 2
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_starts_the_embedded_server_when_no_uri(tmp_path: Path) -> None:
    result = cli("check", env={"PIALARA_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "replica set: pialara" in result.stdout
    assert (tmp_path / "db" / "mongoeco.sqlite3").exists()


async def test_seed_generates_the_data_and_indexes(
    mongo_uri: str, settings: Settings, db: Any
) -> None:
    env = {"MONGODB_URI": mongo_uri, "PIALARA_MONGODB__DATABASE": settings.mongodb.database}
    first = await asyncio.to_thread(
        cli, "seed", "--movies", "40", "--comments", "90", "--users", "12", env=env
    )
    assert first.returncode == 0, first.stderr
    assert "movies: 40" in first.stdout
    assert await db.movies.count_documents({}) == 40
    assert await db.comments.count_documents({}) == 90
    assert await db.users.count_documents({}) == 12 + 3  # and the PIA Lara demo accounts
    assert await db.users.count_documents({"role": {"$in": ["admin", "technician",
                                                            "client"]}}) == 3
    assert "PIA Lara demo accounts" in first.stdout
    passwords = [line.split()[-1] for line in first.stdout.splitlines()
                 if "@pialara.example" in line]
    assert len(passwords) == 3
    assert len(set(passwords)) == 3
    info = await db.users.index_information()
    assert info["email_unique"]["unique"] is True
    # PIA Lara's demo: phrases assigned to the demo client, who consented, and a
    # few synthetic recordings of theirs, whole in GridFS.
    assert await db.phrases.count_documents({}) == 40
    demo_client = await db.users.find_one({"email": "cliente@pialara.example"})
    assert await db.assignments.count_documents({"client_id": demo_client["_id"]}) == 40
    assert await db.consents.count_documents({"client_id": demo_client["_id"],
                                              "action": "accepted"}) == 1
    recorded = await db.recordings.find({"synthetic": True}).to_list(None)
    assert len(recorded) == 3
    assert {r["client_id"] for r in recorded} == {demo_client["_id"]}
    for recording in recorded:
        stored = await db["audio.files"].find_one({"_id": recording["file_id"]})
        assert stored["length"] == recording["size"]
    again = await asyncio.to_thread(cli, "seed", "--if-empty", env=env)
    assert again.returncode == 0
    assert "already has movies" in again.stdout
    assert await db.movies.count_documents({}) == 40


async def test_embedded_db_serves_other_tools(tmp_path: Path, settings: Settings) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "embedded-db", "--port", str(port),
        "--data-dir", str(tmp_path / "standalone"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        assert ready["port"] == port
        client = open_client(settings, f"mongodb://127.0.0.1:{port}/?replicaSet=pialara")
        try:
            await client.tools.things.insert_one({"from": "a script"})
            assert await client.tools.things.count_documents({}) == 1
        finally:
            await driver.close_client(client)
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


@pytest.mark.parametrize("command", ["serve", "seed", "check", "embedded-db", "import", "migrate"])
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


async def test_serve_on_the_embedded_database_and_stop_on_sigterm(tmp_path: Path) -> None:
    import aiohttp

    port = free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    environment["PIALARA_DATA_DIR"] = str(tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=environment,
    )
    assert process.stdout is not None
    try:
        while b"Running on" not in (line := await asyncio.wait_for(process.stdout.readline(), 60)):
            assert line, "serve exited before listening"
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for path in ("/health", "/ready"):
                async with http.get(path) as response:
                    assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(process.stdout.read(), 60)
        assert await process.wait() == 0, output.decode()
    assert b"Traceback" not in output
    # The embedded server (a child process) went down with the service.
    leftover = await asyncio.to_thread(
        subprocess.run, ["pgrep", "-f", str(tmp_path)], capture_output=True, check=False
    )
    assert leftover.returncode == 1, leftover.stdout
