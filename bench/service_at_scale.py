"""The service at sample_mflix scale, on the embedded database with default settings.

    .venv/bin/python bench/service_at_scale.py                     # everything, ~10 min
    .venv/bin/python bench/service_at_scale.py --data-dir /tmp/b   # keep the data, reuse it
    .venv/bin/python bench/service_at_scale.py --drivers motor --mixed-seconds 20

1. Seeds the benchmark size (23,530 movies, 50,000 comments) with ``pialara-async
   seed`` and default settings, and imports MongoDB's 50,304-comment mongodump
   (``../shared/sample_mflix/comments.bson.gz`` or ``--dump``) with
   ``pialara-async import``; prints how long each took.
2. Starts ``pialara-async serve`` cold on that data.
3. For every movie route plus ``/countries``, ``/movies/genres`` and
   ``/stats/directors``: the first (cold) request, single-client p50/p99, and
   requests/s at 32 clients, through the service and through the same
   repository call made directly with Motor; service ÷ driver at p50.
4. Runs the mixed load of ``bench/mixed_load.py`` (32 users: movie pages, lists,
   comments posted and deleted, preferences) for 60 s, once per driver, and
   prints requests, timeouts, 5xx, acknowledged vs present writes and counter
   mismatches.
5. Runs the split load, once per driver: half the users only post and delete
   comments on the 10 most popular movies, the other half only read; prints
   reads answered and p50/p99 per kind of request (writers must not starve
   readers, whichever driver's pool shape).

Figures, not assertions: everything runs on this machine at once.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import mixed_load  # beside this script; the suite runs it too (tests/test_mixed_load.py)
from bson import ObjectId

from pialara_async.db import driver
from pialara_async.readiness import wait_until_ready
from pialara_async.repositories import movies, server, stats

ROOT = Path(__file__).resolve().parent.parent



DATABASE = "sample_mflix"
SHARED_DUMP = ROOT.parent / "shared" / "sample_mflix" / "comments.bson.gz"
Call = Callable[[], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    # Every load client comes from 127.0.0.1: the per-address budgets of a
    # public service would refuse the benchmark's own sign-ups.
    limits = {"PIALARA_LIMITS__REGISTER_PER_ADDRESS": "100000/minute",
              "PIALARA_LIMITS__LOGIN_PER_ADDRESS": "100000/minute"}
    return {**env, "PIALARA_DATA_DIR": str(data_dir), **limits, **settings}


async def command(data_dir: Path, *args: str, **settings: str) -> float:
    """Run ``pialara-async ARGS``; seconds it took (exits on failure)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pialara_async", *args, env=environment(data_dir, **settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode:
        raise SystemExit(f"pialara-async {' '.join(args)} failed:\n{err.decode()[-2000:]}")
    print("   ", out.decode().strip().splitlines()[0] if out.strip() else "")
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Service:
    """``pialara-async serve`` on the data directory, its embedded database inside."""

    def __init__(self, data_dir: Path, driver_name: str) -> None:
        self.data_dir = data_dir
        self.driver = driver_name
        self.port = free_port()
        self.database_port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.database_port}/?replicaSet=pialara"

    async def start(self, http: aiohttp.ClientSession) -> float:
        started = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pialara_async", "serve", "--port", str(self.port),
            env=environment(self.data_dir, PIALARA_EMBEDDED__PORT=str(self.database_port),
                            PIALARA_MONGODB__DRIVER=self.driver,
                            PIALARA_SERVER__ACCESS_LOG="false", PIALARA_LOG__LEVEL="WARNING"),
            stdout=asyncio.subprocess.DEVNULL)
        await wait_until_ready(self.base, within=600, process=self.process)
        return time.perf_counter() - started

    def pids(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [self.process.pid, *map(int, children.read_text().split())] \
            if children.exists() else [self.process.pid]

    async def settle(self, quiet: float = 0.15, longest: float = 120.0) -> float:
        """Wait until the service and its database are idle (the start's index
        warm-up and statistics refresh done); seconds waited."""
        def cpu_seconds() -> float:
            total = 0
            for pid in self.pids():
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
            return total / os.sysconf("SC_CLK_TCK")

        started = time.perf_counter()
        while time.perf_counter() - started < longest:
            before = cpu_seconds()
            await asyncio.sleep(1)
            if cpu_seconds() - before < quiet:
                break
        return time.perf_counter() - started

    def memory(self) -> str:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        child = children.read_text().split() if children.exists() else []
        database = f", embedded database {rss_mb(int(child[0])):.0f} MB" if child else ""
        return f"service {rss_mb(self.process.pid):.0f} MB{database}"

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def timed(call: Call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def single(call: Call, requests: int) -> tuple[float, float]:
    latencies = [await timed(call) for _ in range(requests)]
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49], quantiles[98]


async def concurrent(call: Call, requests: int, clients: int) -> float:
    """Requests per second with ``clients`` at a time."""
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return requests / (time.perf_counter() - started)


async def routes(args: argparse.Namespace, http: aiohttp.ClientSession, service: Service,
                 db: Any, client: Any) -> None:
    # The first request of all, cold, also names the movie, cast member and
    # genre the other routes ask for: the most popular movie's.
    started = time.perf_counter()
    async with http.get(f"{service.base}/api/v1/movies/") as response:
        top = (await response.json())["movies"][0]
    first_cold = (time.perf_counter() - started) * 1000
    actor, genre, movie_id = top["cast"][0], top["genres"][0], ObjectId(top["_id"])
    country = args.country

    def get(path: str, **params: Any) -> Call:
        async def call() -> None:
            async with http.get(f"{service.base}{path}", params=params) as response:
                if response.status != 200:
                    raise SystemExit(f"{path} answered {response.status}")
                await response.read()
        return call

    table: list[tuple[str, Call, Call]] = [
        ("/movies/", get("/api/v1/movies/"), lambda: movies.search(db, movies.Search(), 0)),
        ("/movies/?page=100", get("/api/v1/movies/", page=100),
         lambda: movies.search(db, movies.Search(), 100)),
        ("/search?text=war", get("/api/v1/movies/search", text="war"),
         lambda: movies.search(db, movies.Search("text", text="war"), 0)),
        ("/search?cast=…", get("/api/v1/movies/search", cast=actor),
         lambda: movies.search(db, movies.Search("cast", values=(actor,)), 0)),
        (f"/search?genre={genre}", get("/api/v1/movies/search", genre=genre),
         lambda: movies.search(db, movies.Search("genre", values=(genre,)), 0)),
        ("/facet-search?cast=…", get("/api/v1/movies/facet-search", cast=actor),
         lambda: movies.facet_search(db, [actor], 0)),
        ("/id/{id}", get(f"/api/v1/movies/id/{movie_id}"),
         lambda: movies.with_comments(db, movie_id)),
        ("/config-options", get("/api/v1/movies/config-options"),
         lambda: server.connection_role(client)),
        (f"/countries?{country}", get("/api/v1/movies/countries", countries=country),
         lambda: movies.titles_in_countries(db, [country])),
        ("/movies/genres", get("/api/v1/movies/genres"),
         lambda: movies.genres_with_counts(db)),
        ("/stats/directors", get("/api/v1/stats/directors"),
         lambda: stats.top_directors(db, 1, 20)),
    ]
    colds = [first_cold] + [await timed(call) for _n, call, _d in table[1:]]
    settled = await service.settle()
    titles = len(await movies.titles_in_countries(db, [country]))
    print(f"\n3. Routes ({titles} titles in {country}); single client: {args.requests} "
          f"requests; {args.clients} clients: {args.concurrent_requests} requests")
    print(f"   cold: each route's first request right after the start; then {settled:.0f} s "
          "until the start's index warm-up and statistics refresh were done")
    print("   service: cold, p50, p99, req/s | the driver alone: p50, p99, req/s | "
          "service p50 ÷ driver p50, driver req/s ÷ service req/s")
    header = (f"{'route':<22}{'cold':>8}{'p50':>8}{'p99':>8}{'req/s':>7} |"
              f"{'p50':>8}{'p99':>8}{'req/s':>7} |{'p50':>6}{'req/s':>7}")
    print(header)
    print("-" * len(header))
    for (name, through_service, through_driver), cold in zip(table, colds, strict=True):
        s50, s99 = await single(through_service, args.requests)
        srps = await concurrent(through_service, args.concurrent_requests, args.clients)
        d50, d99 = await single(through_driver, args.requests)
        drps = await concurrent(through_driver, args.concurrent_requests, args.clients)
        print(f"{name:<22}{cold:>6.0f}ms{s50:>6.1f}ms{s99:>6.1f}ms{srps:>7.0f} |"
              f"{d50:>6.1f}ms{d99:>6.1f}ms{drps:>7.0f} |{s50 / d50:>6.2f}{drps / srps:>7.2f}")


def quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


async def mixed(args: argparse.Namespace, http: aiohttp.ClientSession, service: Service,
                db: Any, writers: int = 0) -> None:
    ids = [m["_id"] for m in await db.movies.find({}, {"_id": 1}).sort(
        movies.POPULARITY, -1).limit(50).to_list(None)]
    report = await mixed_load.run(service.base, ids, clients=args.clients,
                                  seconds=args.mixed_seconds, writers=writers)
    await mixed_load.verify(db, report)
    present = report.acknowledged_writes - len(report.lost)
    latencies = sorted(report.latencies)
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    ready = report.ready_probes - report.ready_failures
    print(f"   {service.driver}: {report.total} requests in {report.seconds:.0f} s "
          f"({report.total / report.seconds:.0f}/s, p99 {p99:.0f} ms), "
          f"{report.timeouts} timeouts, {report.server_errors} 5xx, "
          f"{len(report.failures)} unexpected answers; /ready 200 {ready}/{report.ready_probes}; "
          f"writes acknowledged {report.acknowledged_writes}, present {present}; "
          f"counter mismatches {len(report.counter_mismatches)}")
    if writers:
        print(f"   reads answered {report.reads_answered}; timeouts by kind "
              f"{dict(report.timeouts_by_action) or 'none'}")
        for action, took in sorted(report.by_action.items()):
            print(f"     {action:<16} {len(took):>6}  p50 {quantile(took, 0.5):6.0f} ms"
                  f"  p99 {quantile(took, 0.99):6.0f} ms")
    for line in (report.failures + report.lost + report.counter_mismatches)[:5]:
        print("     ", line)


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="pialara-scale-"))
    seeded = data_dir / ".seeded"
    print(f"data: {data_dir}\n1. Loading (default settings)")
    if not seeded.exists():
        took = await command(data_dir, "seed", "--movies", str(args.movies), "--comments",
                             str(args.comments))
        print(f"   seed of {args.movies} movies and {args.comments} comments: {took:.0f} s")
        seeded.touch()
    else:
        print("   seed: reusing the data already in", data_dir)
    dump = Path(args.dump)
    if await asyncio.to_thread(dump.exists):
        took = await command(data_dir, "import", "--drop", str(dump),
                             PIALARA_MONGODB__DATABASE="bench_import")
        print(f"   import of {dump.name}: {took:.0f} s")
    else:
        print(f"   import: no dump at {dump} (--dump)")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        for number, driver_name in enumerate(args.drivers):
            service = Service(data_dir, driver_name)
            ready = await service.start(http)
            print(f"\n2. Service on {driver_name}, started cold: ready in {ready:.1f} s")
            client = driver.create_client("motor", service.database_uri, maxPoolSize=64)
            db = client.get_database(DATABASE)
            try:
                if number == 0:
                    await routes(args, http, service, db, client)
                print(f"\n4. Mixed load, {args.clients} users, {args.mixed_seconds:.0f} s")
                await mixed(args, http, service, db)
                writers = args.clients // 2
                print(f"\n5. Split load: {writers} writers on 10 movies, "
                      f"{args.clients - writers} readers, {args.mixed_seconds:.0f} s")
                await mixed(args, http, service, db, writers=writers)
                print(f"   memory: {service.memory()}")
            finally:
                await driver.close_client(client)
                await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=23_530)
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--dump", default=str(SHARED_DUMP))
    parser.add_argument("--country", default="Sweden", help="for /countries")
    parser.add_argument("--requests", type=int, default=50, help="single-client, per route")
    parser.add_argument("--concurrent-requests", type=int, default=640)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--mixed-seconds", type=float, default=60.0)
    parser.add_argument("--drivers", nargs="+", default=["motor", "pymongo"])
    parser.add_argument("--data-dir", help="keep the data here; a rerun reuses the seed")
    asyncio.run(main(parser.parse_args()))
