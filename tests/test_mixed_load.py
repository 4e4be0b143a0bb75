"""Thirty-two users at once: nothing times out, fails or is lost.

The load (``bench/mixed_load.py``, shared with ``bench/service_at_scale.py``)
reads movie pages and lists, posts and deletes comments (each in a
transaction with the movie's counter) and saves preferences, while
``/ready`` is probed. The figures of the same load at the benchmark's scale
are in ``bench/service_at_scale.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from bench import mixed_load

from pialara_async.app import create_app
from pialara_async.data.generate import Sizes
from pialara_async.data.seed import seed_demo_data
from pialara_async.settings import Settings

# A load: left out of make test-fast.
pytestmark = pytest.mark.slow


async def test_thirty_two_users_for_thirty_seconds(
    aiohttp_server: Any, settings: Settings, db: Any
) -> None:
    await seed_demo_data(db, Sizes(movies=300, comments=900, users=10), seed=5)
    movies = [m["_id"] async for m in db.movies.find({}, {"_id": 1}).limit(30)]
    server = await aiohttp_server(create_app(settings))
    report = await mixed_load.run(str(server.make_url("")).rstrip("/"), movies,
                                  clients=32, seconds=30)
    await mixed_load.verify(db, report)
    assert report.total > 32 * 10, report.requests
    assert report.timeouts == 0
    assert report.server_errors == 0, report.failures[:5]
    assert report.failures == []
    assert report.ready_probes > 10
    assert report.ready_failures == 0
    assert report.posted
    assert report.deleted
    assert report.preferences
    assert report.lost == []
    assert report.counter_mismatches == []


@pytest.mark.parametrize("writers", [16, 25], ids=["32-users", "50-users"])
async def test_writers_on_a_few_movies_do_not_starve_readers(
    aiohttp_server: Any, settings: Settings, db: Any, writers: int
) -> None:
    """Users comment without pause on ten movies while as many others read:
    32 users, and 50 (as many connections at once as PyMongo's pool opens).

    On PyMongo's driver every writer holds a connection of its own, so the
    embedded engine always has exclusive requests queued: reads must still be
    served in turn (they timed out with 503 when new reads queued behind any
    waiting writer).
    """
    await seed_demo_data(db, Sizes(movies=300, comments=900, users=10), seed=6)
    movies = [m["_id"] async for m in db.movies.find({}, {"_id": 1}).limit(30)]
    server = await aiohttp_server(create_app(settings))
    seconds = 20
    report = await mixed_load.run(str(server.make_url("")).rstrip("/"), movies,
                                  clients=2 * writers, seconds=seconds, writers=writers)
    await mixed_load.verify(db, report)
    assert report.timeouts == 0, dict(report.timeouts_by_action)
    assert report.server_errors == 0, report.failures[:5]
    assert report.failures == []
    assert report.ready_failures == 0
    # Every reader is answered about once a second at the very least.
    assert report.reads_answered >= writers * seconds, dict(report.requests)
    assert len(report.posted) >= writers * 5
    assert report.deleted
    assert report.lost == []
    assert report.counter_mismatches == []
