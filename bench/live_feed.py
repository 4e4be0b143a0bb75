"""Live feed benchmark: thousands of websocket subscribers of one movie's comments.

    .venv/bin/python bench/live_feed.py                  # 1,000 then 5,000 subscribers
    .venv/bin/python bench/live_feed.py --subscribers 200 --comments 50 --rate 0
    .venv/bin/python bench/live_feed.py --subscribers 5000 --workers 2
    .venv/bin/python bench/live_feed.py --subscribers 50 --comments 100 --writers 1 8

Starts the embedded database (or uses MONGODB_URI) and ``pialara-async serve
--workers N`` (``--workers``: service processes on one port, each with its own
change streams) in child processes. The subscribers live in ``--clients`` other
processes (a
real audience is not on the server's machine; here they at least do not share
the benchmark's event loop). Once all are subscribed, ``--comments`` comments
are written through the driver, ``--rate`` per second (0: each as soon as the
previous one is acknowledged). For each delivery it measures the time from the
write's acknowledgement (the commit) to the receipt, on the machine's monotonic
clock, and prints p50/p99 latency, delivered events per second, and how many
change streams the service opened (one per watched collection, whatever the
number of sockets). Target: p99 under 250 ms at 5,000 subscribers.

With ``--writers``, the comments are instead posted through the HTTP API, as
people do, by that many users at once without pause (one round per figure);
the latency then runs from the HTTP answer to the receipt: people commenting
together on one popular movie is the feed's main use.
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
import mixed_load  # beside this script
import orjson

from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess

DATABASE = "bench_live"
TEXT_PREFIX = "bench comment "
WAIT_SECONDS = 120


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- subscriber worker (a child process) ---------------------------------------

async def subscribe_all(base: str, topic: str, count: int, comments: int) -> None:
    """Connect ``count`` sockets, print READY, record receipts, print them as JSON.

    Output: ``{"receipts": [[comment number, monotonic seconds], ...]}``.
    """
    raise_file_limit()
    receipts: list[tuple[int, float]] = []
    remaining = count * comments
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as http:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        for start in range(0, count, 250):
            sockets += await asyncio.gather(*(http.ws_connect("/api/v1/live")
                                              for _ in range(start, min(start + 250, count))))
        for ws in sockets:
            await ws.send_json({"action": "subscribe", "topic": topic})
        await asyncio.gather(*(ws.receive() for ws in sockets))  # "subscribed"

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal remaining
            async for message in ws:
                now = time.perf_counter()
                text = (orjson.loads(message.data).get("document") or {}).get("text", "")
                if text.startswith(TEXT_PREFIX):
                    receipts.append((int(text.rsplit("-", 1)[1]), now))
                    remaining -= 1
                    if remaining == 0:
                        done.set()

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        print("READY", flush=True)
        stop = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))  # the parent's STOP
        await asyncio.wait([stop, asyncio.create_task(done.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    sys.stdout.write(json.dumps({"receipts": receipts}) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the stdin reader thread may still be blocked


# --- the benchmark --------------------------------------------------------------

async def post_through_http(base: str, movie_id: object, label: str, comments: int,
                            writers: int) -> dict[int, float]:
    """Post ``comments`` comments with ``writers`` users at once; the time of each answer."""
    answered: dict[int, float] = {}
    numbers = iter(range(comments))
    async with aiohttp.ClientSession() as http:
        tokens = await asyncio.gather(*(
            mixed_load.register(http, base, f"writer{n}-{time.monotonic_ns()}@bench.example")
            for n in range(writers)))

        async def writer(token: str) -> None:
            for n in numbers:
                async with http.post(f"{base}/api/v1/movies/comment",
                                     json={"movie_id": str(movie_id),
                                           "comment": f"{TEXT_PREFIX}{label}-{n}"},
                                     headers={"Authorization": f"Bearer {token}"}) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"posting answered {response.status}")
                answered[n] = time.perf_counter()

        await asyncio.gather(*map(writer, tokens))
    return answered


async def run_round(base: str, db: object, movie_id: object, subscribers: int,
                    comments: int, rate: float, workers: int, writers: int = 0) -> None:
    topic = f"movie:{movie_id}:comments"
    shares = [subscribers // workers + (1 if n < subscribers % workers else 0)
              for n in range(workers)]
    children = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--worker", base, topic, str(share), str(comments),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**28)
        for share in shares if share]
    for child in children:
        assert child.stdout is not None
        line = await child.stdout.readline()
        if line.strip() != b"READY":
            raise RuntimeError(f"a subscriber worker failed: {line!r}")

    committed: dict[int, float] = {}
    started = time.perf_counter()
    if writers:
        committed = await post_through_http(base, movie_id, str(subscribers), comments,
                                            writers)
    for n in range(comments if not writers else 0):
        if rate:
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        await db.comments.insert_one({  # type: ignore[attr-defined]
            "movie_id": movie_id, "text": f"{TEXT_PREFIX}{subscribers}-{n}",
            "name": "bench", "email": "bench@example.org"})
        committed[n] = time.perf_counter()  # acknowledged: committed

    async def collect(child: asyncio.subprocess.Process) -> list[list[float]]:
        assert child.stdout is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.wait()), WAIT_SECONDS)
        if child.returncode is None:  # not everything arrived: stop and report what did
            assert child.stdin is not None
            child.stdin.write(b"STOP\n")
            await child.stdin.drain()
        output = await child.stdout.read()
        await child.wait()
        return json.loads(output)["receipts"]

    receipts = [r for part in await asyncio.gather(*map(collect, children)) for r in part]
    last = max((t for _, t in receipts), default=time.perf_counter())
    latencies = [(t - committed[n]) * 1000 for n, t in receipts]
    expected = subscribers * comments
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    pace = f"{rate:g}/s" if rate else "unpaced"
    if writers:
        pace = f"through HTTP by {writers} writer{'s' if writers > 1 else ''}, unpaced"
    print(f"{subscribers:>6} subscribers  {comments} comments ({pace})"
          f"  delivered {len(receipts)}/{expected}"
          f"  p50 {q[49]:7.1f} ms  p99 {q[98]:7.1f} ms  max {max(latencies, default=0):7.1f} ms"
          f"  {len(receipts) / max(last - started, 1e-9):9.0f} events/s", flush=True)


async def main(args: argparse.Namespace) -> None:
    raise_file_limit()
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
        "--workers", str(args.workers),
        env={**os.environ, "MONGODB_URI": uri, "PIALARA_MONGODB__DATABASE": DATABASE,
             "PIALARA_SERVER__ACCESS_LOG": "false", "PIALARA_LOG__LEVEL": "WARNING",
             # Every subscriber comes from 127.0.0.1: the per-address budget of
             # a public service would refuse the benchmark's own audience.
             "PIALARA_LIMITS__WEBSOCKETS_PER_ADDRESS": "1000000/minute",
             "PIALARA_LIMITS__REGISTER_PER_ADDRESS": "1000000/minute"})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(base) as http:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get("/ready") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the feeds open their change streams after startup
        for subscribers in args.subscribers:
            for writers in args.writers or [0]:
                await run_round(base, db, movie_id, subscribers, args.comments, args.rate,
                                args.clients, writers)
        async with aiohttp.ClientSession(base) as http, http.get("/api/v1/live/stats") as stats:
            figures = await stats.json()
        print(f"service processes: {args.workers}; one of them reports change streams "
              f"opened {figures['change_streams']}, slow consumers closed "
              f"{figures['slow_consumers_closed']}")
    finally:
        service.terminate()
        await service.wait()
        await driver.close_client(client)
        if embedded is not None:
            await embedded.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        base, topic, count, comments = sys.argv[2:6]
        asyncio.run(subscribe_all(base, topic, int(count), int(comments)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0,
                        help="comments written per second; 0 writes each as soon as the "
                             "previous one is acknowledged")
    parser.add_argument("--workers", type=int, default=1,
                        help="service processes (serve --workers)")
    parser.add_argument("--writers", type=int, nargs="+", default=[],
                        help="post through the HTTP API with this many users at once "
                             "(one round per figure) instead of through the driver")
    parser.add_argument("--clients", type=int, default=2,
                        help="processes holding the subscribers")
    asyncio.run(main(parser.parse_args()))
