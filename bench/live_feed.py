"""Live feed benchmark: thousands of websocket subscribers of one movie's comments.

    .venv/bin/python bench/live_feed.py                  # 1,000 then 5,000 subscribers
    .venv/bin/python bench/live_feed.py --subscribers 200 --comments 50

Starts the embedded database (or uses MONGODB_URI) and ``pialara-async serve``
in child processes, connects the subscribers, then writes ``--comments``
comments through the driver. For each delivery it measures the time from the
write's acknowledgement to the receipt, and prints p50/p99 latency, delivered
events per second, and how many change streams the service opened (one per
watched collection, whatever the number of sockets). Target: p99 under
250 ms at 5,000 subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess

DATABASE = "bench_live"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_round(base: str, db: object, movie_id: object, subscribers: int,
                    comments: int) -> None:
    topic = f"movie:{movie_id}:comments"
    connector = aiohttp.TCPConnector(limit=0)
    latencies: list[float] = []
    written: dict[str, float] = {}
    received = 0
    done = asyncio.Event()
    expected = subscribers * comments

    async with aiohttp.ClientSession(base, connector=connector) as http:
        sockets = []
        for start in range(0, subscribers, 250):
            batch = await asyncio.gather(*(http.ws_connect("/api/v1/live")
                                           for _ in range(start, min(start + 250, subscribers))))
            sockets += batch
        for ws in sockets:
            await ws.send_json({"action": "subscribe", "topic": topic})
        await asyncio.gather(*(ws.receive() for ws in sockets))  # "subscribed"

        async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            async for message in ws:
                event = json.loads(message.data)
                text = (event.get("document") or {}).get("text")
                if text in written:
                    latencies.append((time.perf_counter() - written[text]) * 1000)
                    received += 1
                    if received == expected:
                        done.set()

        readers = [asyncio.create_task(reader(ws)) for ws in sockets]
        started = time.perf_counter()
        for n in range(comments):
            text = f"bench comment {subscribers}-{n}"
            result = db.comments.insert_one({"movie_id": movie_id, "text": text,  # type: ignore[attr-defined]
                                             "name": "bench", "email": "bench@example.org"})
            written[text] = time.perf_counter()
            await result
            written[text] = time.perf_counter()  # acknowledged: committed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"{subscribers:>6} subscribers  {comments} comments  delivered {received}/{expected}"
          f"  p50 {q[49]:7.1f} ms  p99 {q[98]:7.1f} ms  {received / elapsed:9.0f} events/s")


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    uri = os.environ.get("MONGODB_URI", "")
    embedded = None
    if not uri:
        embedded = EmbeddedProcess(Path(tempfile.mkdtemp(prefix="pialara-live-")) / "db")
        uri = await embedded.start()
    client = driver.create_client("motor", uri)
    db = client.get_database(DATABASE)
    await client.drop_database(DATABASE)
    movie_id = (await db.movies.insert_one({"title": "Bench", "num_mflix_comments": 0})
                ).inserted_id
    port = free_port()
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", "serve", "--port", str(port),
        env={**os.environ, "MONGODB_URI": uri, "PIALARA_MONGODB__DATABASE": DATABASE,
             "PIALARA_SERVER__ACCESS_LOG": "false", "PIALARA_LOG__LEVEL": "WARNING"})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(base) as http:
            for _ in range(300):
                try:
                    async with http.get("/ready") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the feeds open their change streams after startup
        for subscribers in args.subscribers:
            await run_round(base, db, movie_id, subscribers, args.comments)
        async with aiohttp.ClientSession(base) as http, http.get("/api/v1/live/stats") as stats:
            figures = await stats.json()
        print(f"change streams opened by the service: {figures['change_streams']}; "
              f"slow consumers closed: {figures['slow_consumers_closed']}")
    finally:
        service.terminate()
        await service.wait()
        await driver.close_client(client)
        if embedded is not None:
            await embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--comments", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
