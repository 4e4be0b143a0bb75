"""What the live feed retains while nobody listens: bytes per retained event.

    .venv/bin/python bench/retained_events.py              # 400 comments
    .venv/bin/python bench/retained_events.py --comments 1000

Serves the app in this process on the embedded database (or MONGODB_URI),
with one movie of about 10 KB (a sample_mflix movie's size), then posts and
deletes ``--comments`` comments through the HTTP API with no socket open.
Each post and delete also changes the movie's comment counter. Every topic
keeps its recent events for ``since``; the benchmark prints how many the hub
retains and their encoded bytes, per event and in all, twice: with movie
updates carrying what changed (the service's feed) and, for comparison, with
the whole movie looked up for each (how the feed was before).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import mixed_load  # beside this script
from aiohttp.test_utils import TestServer

from pialara_async.app import create_app
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.live import feeds, service
from pialara_async.live.state import LIVE
from pialara_async.settings import load_settings


def movie_of_ten_kilobytes() -> dict[str, Any]:
    return {"title": "A long film", "year": 1999, "num_mflix_comments": 0,
            "genres": ["Drama", "History"], "fullplot": "A story told at length. " * 250,
            "cast": [f"Actor number {n}" for n in range(60)],
            "imdb": {"rating": 7.5, "votes": 1200, "id": 133093}}


def retained_bytes(app: Any) -> tuple[int, int]:
    hub = app[LIVE].hub
    entries = [entry for state in hub._topics.values() for entry in state.history]
    return len(entries), sum(len(message) for *_, message in entries)


async def run(uri: str, comments: int, whole_movies: bool) -> None:
    database = f"bench_retained_{int(whole_movies)}"
    settings = load_settings(
        data_dir=Path(tempfile.mkdtemp(prefix="pialara-retained-")),
        mongodb={"uri": uri, "database": database},
        limits={"register_per_address": "100000/second"},
        auth={"argon2_memory_kib": 256, "argon2_time_cost": 1})

    def movies_feed() -> feeds.Feed:
        feed = feeds.movies_feed()
        if whole_movies:
            feed.full_document = "updateLookup"
        return feed

    with mock.patch.object(service, "movies_feed", movies_feed):
        app = create_app(settings)
        server = TestServer(app)
        await server.start_server()
    try:
        from pialara_async.db.client import DATABASE

        db = app[DATABASE]
        await db.movies.delete_many({})
        movie_id = (await db.movies.insert_one(movie_of_ten_kilobytes())).inserted_id
        base = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as http:
            token = await mixed_load.register(http, base, "retained@bench.example")
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(comments):
                async with http.post(f"{base}/api/v1/movies/comment", headers=headers,
                                     json={"movie_id": str(movie_id),
                                           "comment": f"comment {n}"}) as posted:
                    body = await posted.json()
                mine = next(c for c in body["comments"] if c["text"] == f"comment {n}")
                async with http.delete(f"{base}/api/v1/movies/comment", headers=headers,
                                       json={"comment_id": mine["_id"],
                                             "movie_id": str(movie_id)}) as deleted:
                    await deleted.read()
        expected = 4 * comments  # comments: insert + delete; movies: 2 updates
        for _ in range(600):
            count, size = retained_bytes(app)
            if count >= expected:
                break
            await asyncio.sleep(0.05)
        label = "whole movie (before)" if whole_movies else "what changed (now)"
        print(f"movie updates carrying {label:<22} {count:>6} events retained  "
              f"{size / 1024:9.1f} KiB  {size / max(count, 1):8.0f} bytes/event", flush=True)
        await db.client.drop_database(database)
    finally:
        await server.close()


async def main(args: argparse.Namespace) -> None:
    uri = os.environ.get("MONGODB_URI", "")
    embedded = None
    if not uri:
        embedded = EmbeddedProcess(Path(tempfile.mkdtemp(prefix="pialara-retained-")) / "db")
        uri = await embedded.start()
    try:
        for whole_movies in (True, False):
            await run(uri, args.comments, whole_movies)
    finally:
        if embedded is not None:
            await embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=400)
    asyncio.run(main(parser.parse_args()))
