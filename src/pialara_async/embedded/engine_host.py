"""A thread with an event loop of its own, where the engine and the layer run.

mongoeco does CPU-heavy Python work on the loop that calls it (command
validation, codecs, aggregation stages, change-stream dispatch). On the loop
that speaks the wire protocol, that work delayed heartbeats by seconds:
measured, a 1,000-document insert kept ``hello`` unanswered for more than 5 s,
drivers marked the server unknown, cleared their pools and retried the write.
Here the wire loop only frames messages and answers the handshake; every
other command runs on this thread's loop. The interpreter switches threads
every few milliseconds, so the wire loop keeps answering whatever the engine
is doing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any


class EngineHost:
    def __init__(self, name: str = "embedded-engine") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "engine host not started"
        return self._loop

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()

    def submit[T](self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the engine loop; cancelling the caller cancels it there."""
        return await asyncio.wrap_future(self.submit(coroutine))

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop = self._thread = None
