"""Every command on a data directory that a running service owns works through
that service's database, so its pages and live feed see the writes at once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from pialara_async.embedded.ownership import current_owner
from pialara_async.readiness import wait_until_ready
from pialara_async.workers import free_port
from tests.cli.conftest import cli

# Processes of their own: left out of make test-fast.
pytestmark = pytest.mark.slow

ACCOUNT = re.compile(r"^\s+admin\s+(\S+)\s+(\S+)$", re.MULTILINE)


async def serve(data_dir: Path, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    env |= {"PIALARA_DATA_DIR": str(data_dir), "PIALARA_SERVER__PORT": str(port)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def total(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(f"{base}/api/v1/movies/") as response:
        return int((await response.json())["total_results"])


async def test_commands_on_a_served_directory_go_through_its_server(tmp_path: Path) -> None:
    env = {"PIALARA_DATA_DIR": str(tmp_path)}
    seeded = await asyncio.to_thread(cli, "seed", "--movies", "20", "--comments", "10", env=env)
    assert seeded.returncode == 0, seeded.stderr
    port = free_port("127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    service = await serve(tmp_path, port)
    others: list[asyncio.subprocess.Process] = []
    try:
        await wait_until_ready(base, within=60, process=service)
        owner = current_owner(tmp_path / "db")
        assert owner is not None
        async with aiohttp.ClientSession() as http:
            assert await total(http, base) == 20
            # seed: the running service serves the new data and the new password.
            again = await asyncio.to_thread(cli, "seed", "--movies", "30", "--comments", "10",
                                            env=env)
            assert again.returncode == 0, again.stderr
            assert await total(http, base) == 30
            email, password = ACCOUNT.findall(again.stdout)[0]
            async with http.post(f"{base}/api/v1/user/login",
                                 json={"email": email, "password": password}) as login:
                assert login.status == 201
            # import: its documents are there at once.
            movies = tmp_path / "movies.json"
            movies.write_text("\n".join(json.dumps({"title": f"Imported {n}"})
                                        for n in range(5)))
            imported = await asyncio.to_thread(cli, "import", str(movies), env=env)
            assert imported.returncode == 0, imported.stderr
            assert await total(http, base) == 35
            for command in (("migrate",), ("check",)):
                result = await asyncio.to_thread(cli, *command, env=env)
                assert result.returncode == 0, (command, result.stderr)
            # A second serve on the directory is a client of the same server.
            second_port = free_port("127.0.0.1")
            others.append(await serve(tmp_path, second_port))
            second = f"http://127.0.0.1:{second_port}"
            await wait_until_ready(second, within=60, process=others[0])
            assert await total(http, second) == 35
        # embedded-db cannot serve it twice: one line naming the owner.
        refused = await asyncio.to_thread(cli, "embedded-db", "--port", "0", env=env)
        assert refused.returncode == 1
        assert refused.stderr.strip().count("\n") == 0
        assert f"process {owner.pid} at {owner.uri}" in refused.stderr
        assert current_owner(tmp_path / "db") == owner  # nobody else opened the engine
    finally:
        for process in (*others, service):
            if process.returncode is None:
                process.terminate()
                await process.wait()
