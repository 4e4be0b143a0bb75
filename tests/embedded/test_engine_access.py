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
