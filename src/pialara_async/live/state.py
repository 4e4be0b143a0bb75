"""What the live feed keeps on the application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from pialara_async.background.supervisor import stop, supervise
from pialara_async.live import topics
from pialara_async.live.feeds import FeedRunner, RecentKeys
from pialara_async.live.hub import LiveHub


@dataclass(slots=True)
class Live:
    hub: LiveHub
    runners: dict[str, FeedRunner]
    # What routing needs to know of deleted documents when the deployment keeps
    # no pre-images: comment → movie, client → technician.
    movie_of: RecentKeys = field(default_factory=RecentKeys)
    technician_of: RecentKeys = field(default_factory=RecentKeys)
    # Movies whose comments movie_of holds (learnt at subscription), bounded.
    known_movies: RecentKeys = field(default_factory=lambda: RecentKeys(10_000))
    # Deletions carry the deleted comment (pre-images): nothing to learn.
    pre_images: bool = False
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def runner_for(self, topic: str) -> FeedRunner | None:
        """The feed whose change stream a topic's events come from."""
        found = topics.lookup(topic)
        return None if found is None else self.runners.get(found.feed)

    def start(self, name: str) -> None:
        """Run a feed in a supervised task (restarted with backoff when it fails)."""
        self.tasks[name] = asyncio.create_task(
            supervise(f"change-stream:{name}", self.runners[name].run),
            name=f"change-stream:{name}")

    async def restart(self, name: str) -> None:
        """Stop a feed's task and start a new one: it resumes from its latest token."""
        await self._cancel(name)
        self.runners[name].ready.clear()
        self.start(name)

    async def _cancel(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task is not None:
            await stop(task)

    async def stop(self) -> None:
        await asyncio.gather(*(self._cancel(name) for name in list(self.tasks)))

# The live feed of the application.
LIVE = web.AppKey("live", Live)
