"""Transactions and logical sessions on the embedded database: cost and memory.

    .venv/bin/python bench/transactions.py    # 10/50/100 statements, 100,000 sessions
    .venv/bin/python bench/transactions.py --sessions 20000 --driver pymongo

1. A transaction of n statements (each an insert, then an update of a counter)
   for each n given: how long each statement and the commit take. Statements
   that follow one another run in one private engine transaction kept open
   between them (docs/embedded.md), so the total grows linearly with n; a
   statement that finds it given back replays the ones before it.
2. ``--sessions`` logical sessions, each used for one retryable write (raw
   wire messages with an ``lsid`` of their own: a driver would reuse pooled
   sessions), then left idle: the embedded server's resident memory before and
   after (a session is kept 30 minutes after its last use, as MongoDB's
   logicalSessionTimeoutMinutes).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import struct
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import bson
from bson import Binary, Int64
from bson.binary import UUID_SUBTYPE
from pymongo.uri_parser import parse_uri

from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess

DATABASE = "bench_transactions"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_transaction(client: object, db: object, statements: int) -> tuple[list[float], float]:
    timings: list[float] = []
    async with await driver.start_session(client) as session:
        await driver.start_transaction(session)
        for n in range(statements):
            started = time.perf_counter()
            if n % 2:
                await db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}},  # type: ignore[attr-defined]
                                             upsert=True, session=session)
            else:
                await db.rows.insert_one({"n": n}, session=session)  # type: ignore[attr-defined]
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        await session.commit_transaction()
        commit = time.perf_counter() - started
    return timings, commit


async def sessions(uri: str, count: int, connections: int = 8) -> None:
    """``count`` retryable inserts, each under a logical session of its own."""
    host, port = parse_uri(uri)["nodelist"][0]
    numbers = iter(range(count))
    request_ids = itertools.count(1)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for n in numbers:
            command: dict[str, Any] = {
                "insert": "sessions", "documents": [{"n": n}], "$db": DATABASE,
                "lsid": {"id": Binary(uuid.uuid4().bytes, UUID_SUBTYPE)}, "txnNumber": Int64(1)}
            body = b"\x00\x00\x00\x00\x00" + bson.encode(command)
            writer.write(struct.pack("<iiii", 16 + len(body), next(request_ids), 0, 2013) + body)
            await writer.drain()
            length = struct.unpack("<i", await reader.readexactly(4))[0]
            await reader.readexactly(length - 4)
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(connections)))


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="pialara-transactions-")) / "db"
    async with EmbeddedProcess(data) as server:
        client = driver.create_client(args.driver, server.uri)
        db = client.get_database(DATABASE)
        try:
            print(f"1. Transactions ({args.driver})")
            for statements in args.statements:
                timings, commit = await one_transaction(client, db, statements)
                print(f"   {statements:>4} statements: first {timings[0] * 1000:6.1f} ms, "
                      f"last {timings[-1] * 1000:7.1f} ms, median "
                      f"{statistics.median(timings) * 1000:6.1f} ms, all "
                      f"{sum(timings):6.2f} s, commit {commit * 1000:7.1f} ms")
            pid = server.pid
            assert pid is not None
            before = rss_mb(pid)
            print(f"2. {args.sessions:,} logical sessions, one write each")
            started = time.perf_counter()
            await sessions(server.uri, args.sessions)
            took = time.perf_counter() - started
            stored = await db.sessions.count_documents({})
            print(f"   {took:.0f} s, {stored:,} documents; embedded server memory "
                  f"{before:.0f} MB before, "
                  f"{rss_mb(pid):.0f} MB after "
                  f"({(rss_mb(pid) - before) * 1024 * 1024 / args.sessions:.0f} bytes a session)")
        finally:
            await client.drop_database(DATABASE)
            await driver.close_client(client)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--driver", choices=["motor", "pymongo"], default="motor")
    asyncio.run(main(parser.parse_args()))
