"""``serve --workers N``: N service processes on one port.

The parent starts nothing that serves HTTP itself. It runs the embedded
database when no URI is configured (one server for all workers, supervised
here), then N workers, each ``pialara-async serve`` with its own client,
change streams and live feed, bound to the same port with ``SO_REUSEPORT``
so the kernel spreads connections among them. A worker that dies is started
again; SIGTERM or SIGINT stops the workers (each within its shutdown
timeout), then the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys

from pialara_async.background.supervisor import stop
from pialara_async.db.client import embedded_database
from pialara_async.settings import Settings

log = logging.getLogger(__name__)


def default_workers(settings: Settings) -> int:
    """One per CPU on a real deployment; one on the embedded database, whose
    single engine process is the bottleneck more workers would only queue on."""
    if settings.mongodb.embedded:
        return 1
    return max(1, os.cpu_count() or 1)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def serve_workers(settings: Settings, host: str, port: int, count: int) -> int:
    """Run ``count`` workers until a signal; returns the exit code."""
    env = dict(os.environ)
    if not settings.mongodb.embedded:
        env["PIALARA_MONGODB__URI"] = settings.mongodb.uri  # from the file or the environment
    stack = contextlib.AsyncExitStack()
    async with stack:
        if settings.mongodb.embedded:
            uri, _process = await stack.enter_async_context(
                embedded_database(settings, supervised=True))
            env.pop("MONGODB_URI", None)
            env["PIALARA_MONGODB__URI"] = uri
        port = port or free_port(host)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stopping.set)
        workers = [asyncio.create_task(_worker(index, env, host, port, settings, stopping),
                                       name=f"worker-{index}") for index in range(count)]
        log.info("serving on http://%s:%d with %d workers", host, port, count)
        await stopping.wait()
        await asyncio.gather(*workers, return_exceptions=True)
    return 0


async def _worker(index: int, env: dict[str, str], host: str, port: int, settings: Settings,
                  stopping: asyncio.Event) -> None:
    """One worker process, started again whenever it exits before ``stopping``."""
    worker_env = {**env, "PIALARA_SERVER__WORKER": str(index),
                  "PIALARA_SERVER__REUSE_PORT": "true"}
    while not stopping.is_set():
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pialara_async", "serve", "--workers", "1",
            "--host", host, "--port", str(port), env=worker_env)
        exited = asyncio.create_task(process.wait())
        waiting = asyncio.create_task(stopping.wait())
        await asyncio.wait({exited, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.is_set():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(settings.server.shutdown_timeout + 10):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
            await stop(exited)
            return
        await stop(waiting)
        log.error("worker %d exited (code %s): starting it again", index, process.returncode)
        await asyncio.sleep(0.5)
