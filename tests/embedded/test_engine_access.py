"""Shared and exclusive access to the engine: bounded waits, no starvation."""

from __future__ import annotations

import asyncio

import pytest

from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.errors import CommandError


async def test_a_wait_past_its_limit_fails_with_the_given_error() -> None:
    access = EngineAccess()
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with access.exclusive():
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    expired = CommandError(50, "MaxTimeMSExpired", "operation exceeded time limit")
    with pytest.raises(CommandError) as raised:
        async with access.shared(0.05, expired):
            pass
    assert raised.value.code == 50
    with pytest.raises(CommandError) as locked:
        async with access.exclusive(0.05, ("TransientTransactionError",)):
            pass
    assert locked.value.code == 24
    assert locked.value.labels == ("TransientTransactionError",)
    release.set()
    await holder
    async with access.shared(0.05):  # free again
        assert access.busy


async def test_a_waiting_exclusive_holder_goes_before_new_shared_ones() -> None:
    access = EngineAccess()
    order: list[str] = []
    reading = asyncio.Event()
    finish_reading = asyncio.Event()

    async def long_read() -> None:
        async with access.shared():
            reading.set()
            await finish_reading.wait()
        order.append("first read")

    async def commit() -> None:
        async with access.exclusive():
            order.append("commit")

    async def later_read() -> None:
        async with access.shared():
            order.append("later read")

    first = asyncio.create_task(long_read())
    await reading.wait()
    committing = asyncio.create_task(commit())
    await asyncio.sleep(0)  # the commit is now waiting for the first read
    later = asyncio.create_task(later_read())
    await asyncio.sleep(0)
    assert order == []  # the later read queues behind the waiting commit
    finish_reading.set()
    await asyncio.gather(first, committing, later)
    assert order == ["first read", "commit", "later read"]


async def test_access_is_reentrant_for_the_task_that_holds_it() -> None:
    access = EngineAccess()
    async with access.exclusive(), access.shared(0.01):
        assert access.busy


async def test_a_stream_of_exclusive_holders_does_not_starve_shared_ones() -> None:
    """Writers that always have one more exclusive request queued (PyMongo's pool
    gives every writer a connection of its own) must still let reads in: a read
    waits only for the requests that arrived before it."""
    access = EngineAccess()
    stop = asyncio.Event()
    granted_exclusive = 0

    async def writer() -> None:
        nonlocal granted_exclusive
        while not stop.is_set():
            async with access.exclusive():
                granted_exclusive += 1
                await asyncio.sleep(0.001)  # a statement executing

    writers = [asyncio.create_task(writer()) for _ in range(8)]
    await asyncio.sleep(0)  # every writer takes its first step
    assert access.waiting == 7  # one holds access, the others queue behind it
    reads = 0
    for _ in range(5):
        before = granted_exclusive
        async with access.shared(1.0):  # LockTimeout if starved
            reads += 1
            # The read waited only for the writers queued before it (and the holder).
            assert granted_exclusive - before <= 8
    stop.set()
    await asyncio.gather(*writers)
    assert reads == 5


async def test_a_request_given_up_leaves_the_queue_moving() -> None:
    access = EngineAccess()
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with access.shared():
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    # An exclusive request that times out must not keep later shared ones waiting.
    with pytest.raises(CommandError):
        async with access.exclusive(0.02):
            pass
    async with access.shared(0.05):
        assert access.busy
    waiting = asyncio.create_task(access.exclusive(5).__aenter__())
    await asyncio.sleep(0)
    assert access.waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    async with access.shared(0.05):
        assert access.waiting == 0
    release.set()
    await holder
    async with access.exclusive(0.05):
        assert access.busy
