"""Waiting from outside for a served instance to be ready: for the tools
that start ``serve`` in another process (tests, benchmarks, the screenshot
script), which have nothing to await but its ``/ready`` answer."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def wait_until_ready(base_url: str, *, within: float = 30.0, interval: float = 0.1,
                           process: asyncio.subprocess.Process | None = None) -> float:
    """Poll ``{base_url}/ready`` until it answers 200; the seconds it took.
    TimeoutError past ``within`` seconds; RuntimeError if ``process`` exits meanwhile."""
    started = time.perf_counter()
    deadline = started + within
    async with aiohttp.ClientSession() as http:
        while True:
            if process is not None and process.returncode is not None:
                raise RuntimeError(f"the service exited ({process.returncode}) during startup")
            try:
                async with http.get(f"{base_url}/ready") as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass  # not listening yet
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{base_url} was not ready within {within:.0f} s")
            await asyncio.sleep(interval)
