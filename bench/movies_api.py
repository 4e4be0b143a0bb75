"""Movies API benchmark: the service against the same queries straight through Motor.

    .venv/bin/python bench/movies_api.py                 # benchmark size, embedded server
    .venv/bin/python bench/movies_api.py --movies 2000 --comments 5000 --requests 200
    MONGODB_URI=mongodb://host/?replicaSet=rs0 .venv/bin/python bench/movies_api.py

Seeds the data set (23,530 movies and 50,000 comments by default: the real
set's size) into a database of its own, starts ``pialara-async serve`` in a
child process, then for each route measures p50/p99 latency and requests per
second at ``--concurrency`` clients, and the same repository call issued
directly through Motor in the same run. Prints service ÷ driver at p50; the
target is at most 1.15.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from pialara_async.data.generate import Sizes, generate
from pialara_async.data.seed import seed_demo_data
from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.repositories import movies

DATABASE = "bench_mflix"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(call: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> (
    tuple[float, float, float]
):
    """(p50 ms, p99 ms, requests/s) of ``requests`` calls, ``concurrency`` at a time."""
    for _ in range(min(concurrency, 8)):  # warm up pools, caches and the text index
        await call()
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49], quantiles[98], requests / elapsed


async def wait_ready(http: aiohttp.ClientSession, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise SystemExit("the service exited during startup")
        try:
            async with http.get("/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the service did not become ready")


async def main(args: argparse.Namespace) -> None:
    uri = os.environ.get("MONGODB_URI", "")
    embedded = None
    if not uri:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="pialara-bench-"))
        embedded = EmbeddedProcess(data_dir / "db")
        uri = await embedded.start()
    client = driver.create_client("motor", uri, maxPoolSize=50)
    db = client.get_database(DATABASE)
    sizes = Sizes(movies=args.movies, comments=args.comments, users=500, theaters=100)
    try:
        if await db.movies.estimated_document_count() != args.movies:
            started = time.perf_counter()
            await seed_demo_data(db, sizes, seed=args.seed)
            print(f"seeded {args.movies} movies, {args.comments} comments "
                  f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        data = generate(sizes, seed=args.seed)
        actor = Counter(n for m in data.movies for n in m["cast"]).most_common(1)[0][0]
        busiest = Counter(c["movie_id"] for c in data.comments).most_common(1)[0][0]
        word = Counter(w.lower() for m in data.movies for w in m["title"].split()
                       if len(w) > 5).most_common(1)[0][0]

        port = free_port()
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pialara_async", "serve", "--port", str(port),
            env={**os.environ, "MONGODB_URI": uri, "PIALARA_MONGODB__DATABASE": DATABASE,
                 "PIALARA_SERVER__ACCESS_LOG": "false", "PIALARA_LOG__LEVEL": "WARNING"},
            stdout=asyncio.subprocess.DEVNULL,
        )
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                         connector=connector) as http:
            await wait_ready(http, service)

            def http_get(path: str, **params: Any) -> Callable[[], Awaitable[None]]:
                async def call() -> None:
                    async with http.get(path, params=params) as response:
                        assert response.status == 200, response.status
                        await response.read()
                return call

            routes: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
                ("/api/v1/movies/", http_get("/api/v1/movies/"),
                 lambda: movies.search(db, movies.Search(), 0)),
                (f"/search?text={word}", http_get("/api/v1/movies/search", text=word),
                 lambda: movies.search(db, movies.Search("text", text=word), 0)),
                ("/search?cast=…", http_get("/api/v1/movies/search", cast=actor),
                 lambda: movies.search(db, movies.Search("cast", values=(actor,)), 0)),
                ("/id/{id}", http_get(f"/api/v1/movies/id/{busiest}"),
                 lambda: movies.with_comments(db, busiest)),
                ("/facet-search", http_get("/api/v1/movies/facet-search", cast=actor),
                 lambda: movies.facet_search(db, [actor], 0)),
            ]
            print(f"{args.movies} movies, {args.comments} comments; {args.requests} requests "
                  f"per route at {args.concurrency} concurrent clients\n")
            header = (f"{'route':<24}{'service p50':>12}{'p99':>9}{'req/s':>8}"
                      f"{'driver p50':>12}{'p99':>9}{'req/s':>8}{'ratio p50':>11}")
            print(header)
            print("-" * len(header))
            for name, through_service, through_driver in routes:
                s50, s99, srps = await measure(through_service, args.requests, args.concurrency)
                d50, d99, drps = await measure(through_driver, args.requests, args.concurrency)
                print(f"{name:<24}{s50:>10.1f}ms{s99:>7.1f}ms{srps:>8.0f}"
                      f"{d50:>10.1f}ms{d99:>7.1f}ms{drps:>8.0f}{s50 / d50:>11.2f}")
        service.terminate()
        await service.wait()
    finally:
        await driver.close_client(client)
        if embedded is not None:
            await embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=23_530)
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", help="keep the embedded data here to reuse it")
    asyncio.run(main(parser.parse_args()))
