"""A mixed load of MFlix users, and the checks of what it left in the database.

Used by the suite (``tests/test_mixed_load.py``: correctness, 30 s) and by
``bench/service_at_scale.py`` (figures, 60 s). Each client is a signed-in user
who, in a loop, reads movie pages and lists, posts and deletes its own
comments and saves its preferences; a prober asks ``/ready`` meanwhile. Every
write the service acknowledged is then looked for in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from bson import ObjectId

TIMEOUT = 15.0  # what a client waits before it counts a request as timed out
PASSWORD = "mixed load password"
# Share of each action in a client's loop.
WEIGHTS = {"movie page": 35, "list": 15, "post comment": 20, "delete comment": 12,
           "preferences": 10, "search": 8}
# The split load: writers only comment, on a few movies; readers only read.
WRITER_WEIGHTS = {"post comment": 60, "delete comment": 40}
READER_WEIGHTS = {"movie page": 60, "list": 20, "search": 20}


@dataclass
class Report:
    seconds: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    failures: list[str] = field(default_factory=list)  # 5xx and unexpected answers
    ready_probes: int = 0
    ready_failures: int = 0
    # What the service acknowledged, for verify().
    posted: dict[str, tuple[ObjectId, str]] = field(default_factory=dict)  # text -> movie, email
    deleted: set[ObjectId] = field(default_factory=set)
    # Deletions whose answer never came (timed out): applied or not.
    in_doubt: set[ObjectId] = field(default_factory=set)
    comment_ids: dict[str, ObjectId] = field(default_factory=dict)  # text -> id
    preferences: dict[str, dict[str, str]] = field(default_factory=dict)  # email -> last saved
    # Filled by verify().
    lost: list[str] = field(default_factory=list)
    counter_mismatches: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)  # seconds
    timeouts_by_action: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def reads_answered(self) -> int:
        return sum(len(self.by_action.get(action, [])) for action in READER_WEIGHTS)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def acknowledged_writes(self) -> int:
        return len(self.posted) + len(self.deleted) + len(self.preferences)


async def register(http: aiohttp.ClientSession, base: str, email: str) -> str:
    async with http.post(f"{base}/api/v1/user/register", json={
            "name": f"Load {email.split('@')[0]}", "email": email,
            "password": PASSWORD}) as response:
        body = await response.json()
        if response.status != 201:
            raise RuntimeError(f"registration failed: {response.status} {body}")
        return str(body["auth_token"])


class _Client:
    def __init__(self, http: aiohttp.ClientSession, base: str, email: str, token: str,
                 movies: list[ObjectId], report: Report, seed: int,
                 weights: dict[str, int] = WEIGHTS) -> None:
        self.http, self.base, self.email, self.token = http, base, email, token
        self.movies = movies
        self.weights = weights
        self.report = report
        self.random = random.Random(seed)
        self.mine: list[tuple[ObjectId, str]] = []  # (comment id, text), not yet deleted

    async def _call(self, action: str, method: str, path: str,
                    body: dict[str, Any] | None = None) -> tuple[int, Any]:
        self.report.requests[action] += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                async with self.http.request(
                        method, f"{self.base}{path}", json=body,
                        headers={"Authorization": f"Bearer {self.token}"}) as response:
                    payload = await response.json(content_type=None)
                    status = response.status
        except TimeoutError:
            self.report.timeouts += 1
            self.report.timeouts_by_action[action] += 1
            return 0, None
        took = time.perf_counter() - started
        self.report.latencies.append(took)
        self.report.by_action.setdefault(action, []).append(took)
        self.report.statuses[status] += 1
        if status >= 500:
            self.report.failures.append(f"{action}: {status} {str(payload)[:200]}")
        return status, payload

    def _expect(self, action: str, status: int, wanted: int, payload: Any) -> bool:
        if status == wanted:
            return True
        if status and status < 500:
            self.report.failures.append(f"{action}: {status} {str(payload)[:200]}")
        return False

    async def step(self) -> None:
        action = self.random.choices(list(self.weights), weights=list(self.weights.values()))[0]
        if action == "delete comment" and not self.mine:
            action = "post comment"
        movie = self.random.choice(self.movies)
        if action == "movie page":
            status, payload = await self._call(action, "GET", f"/api/v1/movies/id/{movie}")
            self._expect(action, status, 200, payload)
        elif action == "list":
            page = self.random.randrange(5)
            status, payload = await self._call(action, "GET", f"/api/v1/movies/?page={page}")
            self._expect(action, status, 200, payload)
        elif action == "search":
            status, payload = await self._call(action, "GET",
                                               "/api/v1/movies/search?genre=Drama")
            self._expect(action, status, 200, payload)
        elif action == "post comment":
            text = f"load {uuid.uuid4().hex}"
            status, payload = await self._call(action, "POST", "/api/v1/movies/comment",
                                               {"movie_id": str(movie), "comment": text})
            if self._expect(action, status, 200, payload):
                posted = next((c for c in payload["comments"] if c["text"] == text), None)
                if posted is None:
                    self.report.failures.append(f"{action}: the reply lacks the new comment")
                    return
                comment_id = ObjectId(posted["_id"])
                self.report.posted[text] = (movie, self.email)
                self.report.comment_ids[text] = comment_id
                self.mine.append((comment_id, text))
        elif action == "delete comment":
            comment_id, text = self.mine.pop(self.random.randrange(len(self.mine)))
            status, payload = await self._call(action, "DELETE", "/api/v1/movies/comment",
                                               {"comment_id": str(comment_id)})
            if self._expect(action, status, 200, payload):
                self.report.deleted.add(comment_id)
            elif status == 0:
                self.report.in_doubt.add(comment_id)
        else:
            preferences = {"favourite": self.random.choice(["Drama", "Comedy", "Western"]),
                           "stamp": uuid.uuid4().hex[:8]}
            status, payload = await self._call(action, "PUT", "/api/v1/user/update-preferences",
                                               {"preferences": preferences})
            if self._expect(action, status, 201, payload):
                self.report.preferences[self.email] = preferences
                self.token = payload.get("auth_token", self.token)


async def _probe_ready(http: aiohttp.ClientSession, base: str, report: Report,
                       stop: asyncio.Event) -> None:
    while not stop.is_set():
        report.ready_probes += 1
        try:
            async with asyncio.timeout(TIMEOUT), http.get(f"{base}/ready") as response:
                if response.status != 200:
                    report.ready_failures += 1
        except TimeoutError:
            report.ready_failures += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)  # a probe every half second


async def run(base: str, movies: list[ObjectId], *, clients: int = 32,
              seconds: float = 30.0, seed: int = 1, writers: int = 0,
              hot_movies: int = 10) -> Report:
    """Run the load against the service at ``base`` and return what happened.

    With ``writers``, the load is split: that many clients only post and delete
    comments, all on the first ``hot_movies`` movies (people commenting together
    on a few popular ones), and the other clients only read.
    """
    report = Report()
    connector = aiohttp.TCPConnector(limit=clients + 4)
    async with aiohttp.ClientSession(connector=connector) as http:
        tag = uuid.uuid4().hex[:8]
        emails = [f"load{n}-{tag}@mflix.example" for n in range(clients)]
        tokens = await asyncio.gather(*(register(http, base, e) for e in emails))
        users = []
        for n, (email, token) in enumerate(zip(emails, tokens, strict=True)):
            if not writers:
                users.append(_Client(http, base, email, token, movies, report, seed + n))
            elif n < writers:
                users.append(_Client(http, base, email, token, movies[:hot_movies], report,
                                     seed + n, WRITER_WEIGHTS))
            else:
                users.append(_Client(http, base, email, token, movies, report, seed + n,
                                     READER_WEIGHTS))
        stop = asyncio.Event()
        deadline = time.monotonic() + seconds

        async def loop(client: _Client) -> None:
            while time.monotonic() < deadline:
                await client.step()

        prober = asyncio.create_task(_probe_ready(http, base, report, stop))
        started = time.monotonic()
        await asyncio.gather(*(loop(u) for u in users))
        report.seconds = time.monotonic() - started
        stop.set()
        await prober
    return report


async def verify(db: Any, report: Report) -> Report:
    """Look for every acknowledged write; compare each movie's counter with its comments."""
    texts = list(report.posted)
    found = {c["text"]: c async for c in db.comments.find({"text": {"$in": texts}})}
    for text, (movie, email) in report.posted.items():
        comment_id = report.comment_ids[text]
        if comment_id in report.in_doubt:
            continue
        if comment_id in report.deleted:
            if text in found:
                report.lost.append(f"deleted comment {comment_id} is still there")
        elif text not in found:
            report.lost.append(f"acknowledged comment {comment_id} is missing")
        elif found[text]["movie_id"] != movie or found[text]["email"] != email:
            report.lost.append(f"comment {comment_id} has the wrong movie or author")
    for email, preferences in report.preferences.items():
        user = await db.users.find_one({"email": email}, {"preferences": 1})
        if user is None or user.get("preferences") != preferences:
            report.lost.append(f"the last preferences of {email} were not kept")
    movies = {movie for movie, _email in report.posted.values()}
    for movie in movies:
        stored = await db.movies.find_one({"_id": movie}, {"num_mflix_comments": 1})
        counted = await db.comments.count_documents({"movie_id": movie})
        if stored is None or stored.get("num_mflix_comments") != counted:
            report.counter_mismatches.append(
                f"movie {movie}: counter {stored and stored.get('num_mflix_comments')}, "
                f"{counted} comments")
    return report
