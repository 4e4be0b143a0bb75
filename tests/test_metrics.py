"""``GET /metrics``: Prometheus text with requests, database, loop and live-feed figures."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from bson import ObjectId
from prometheus_client.parser import text_string_to_metric_families

from pialara_async.live.state import LIVE
from tests.accounts import Account


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_show_requests_database_loop_and_live_feed(
    client: TestClient, db: Any, technician: Account
) -> None:
    movie = (await db.movies.insert_one({"title": "M", "num_mflix_comments": 0})).inserted_id
    for runner in client.app[LIVE].runners.values():
        await asyncio.wait_for(runner.ready.wait(), 10)
    ws = await client.ws_connect("/api/v1/live")
    await ws.send_json({"action": "subscribe", "topic": "comments"})
    await ws.receive(timeout=5)
    for _ in range(3):
        assert (await client.get(f"/api/v1/movies/id/{ObjectId()}")).status == 404
    posted = await client.post("/api/v1/movies/comment", headers=technician.headers,
                               json={"movie_id": str(movie), "comment": "counted"})
    assert posted.status == 200
    await ws.receive(timeout=5)  # the comment's event

    samples = await scrape(client)
    # By route template, never by concrete path.
    assert value(samples, "http_requests_total", method="GET",
                 route="/api/v1/movies/id/{movie_id}", status="404") == 3
    assert value(samples, "http_requests_total", method="POST",
                 route="/api/v1/movies/comment", status="200") == 1
    assert value(samples, "http_request_duration_seconds_count", method="POST",
                 route="/api/v1/movies/comment") == 1
    assert value(samples, "mongodb_command_duration_seconds_count",
                 command="insert", outcome="ok") >= 1
    assert value(samples, "mongodb_pool_checkouts_total", outcome="ok") > 0
    assert ("event_loop_lag_seconds", ()) in samples
    assert value(samples, "live_subscribers") == 1
    assert value(samples, "live_events_published_total") >= 2  # comments + movie counter
    assert value(samples, "live_change_streams_opened_total", collection="comments") >= 1
    assert value(samples, "live_slow_consumers_closed_total") == 0
