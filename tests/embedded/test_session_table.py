"""The embedded server's session table on its own: what a transaction's commit
does when something else happened while it waited for the engine."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from bson import Binary
from bson.binary import UUID_SUBTYPE

from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.transactions import SessionTable


class Engine:
    """Stands for mongoeco: answers every statement, records what was committed."""

    def __init__(self) -> None:
        self.access = EngineAccess()
        self.committed: list[object] = []
        self.rolled_back: list[object] = []
        self.rollback = asyncio.Event()
        self.executed = 0
        self.table = SessionTable(self.access, self.execute, self.end_private)

    async def execute(self, body: dict[str, Any], _connection: Any, _now: Any) -> dict[str, Any]:
        self.executed += 1
        return {"ok": 1.0, "n": 1}

    def end_private(self, lsid: dict[str, Any], commit: bool) -> None:
        if commit:
            self.committed.append(lsid)
        else:
            self.rolled_back.append(lsid)
            self.rollback.set()


def _body(lsid: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"lsid": lsid, "txnNumber": 1, "autocommit": False, **fields}


@pytest.fixture
async def engine_with_a_transaction() -> tuple[Engine, dict[str, Any]]:
    engine = Engine()
    lsid = {"id": Binary(uuid.uuid4().bytes, UUID_SUBTYPE)}
    await engine.table.statement("insert", _body(lsid, insert="rows", documents=[{"r": 1}],
                                                 startTransaction=True), None, None)
    return engine, lsid


async def test_a_commit_that_waited_while_an_abort_arrived_applies_nothing(
    engine_with_a_transaction: tuple[Engine, dict[str, Any]],
) -> None:
    engine, lsid = engine_with_a_transaction
    async with engine.access.exclusive():  # another transaction's statement runs
        commit = asyncio.create_task(engine.table.commit(_body(lsid, commitTransaction=1),
                                                         None))
        await asyncio.sleep(0)
        assert engine.access.waiting == 1
        await engine.table.abort(_body(lsid, abortTransaction=1))
    with pytest.raises(CommandError) as refused:
        await commit
    assert refused.value.code == 251  # NoSuchTransaction
    assert engine.committed == []


async def test_a_statement_that_waited_while_an_abort_arrived_is_refused(
    engine_with_a_transaction: tuple[Engine, dict[str, Any]],
) -> None:
    engine, lsid = engine_with_a_transaction
    async with engine.access.exclusive():
        statement = asyncio.create_task(engine.table.statement(
            "insert", _body(lsid, insert="rows", documents=[{"r": 2}]), None, None))
        await asyncio.sleep(0)
        await engine.table.abort(_body(lsid, abortTransaction=1))
    with pytest.raises(CommandError) as refused:
        await statement
    assert refused.value.code == 251
    with pytest.raises(CommandError):
        await engine.table.commit(_body(lsid, commitTransaction=1), None)
    assert engine.committed == []


async def test_statements_that_follow_each_other_run_once_each(
    engine_with_a_transaction: tuple[Engine, dict[str, Any]],
) -> None:
    engine, lsid = engine_with_a_transaction
    for n in range(99):
        await engine.table.statement("insert", _body(lsid, insert="rows",
                                                     documents=[{"r": n}]), None, None)
    await engine.table.commit(_body(lsid, commitTransaction=1), None)
    assert engine.executed == 100  # no statement replayed: one pass, linear in statements
    assert len(engine.committed) == 1
    assert engine.rolled_back == []
    assert not engine.access.busy


async def test_an_idle_transaction_gives_the_engine_to_whoever_asks(
    engine_with_a_transaction: tuple[Engine, dict[str, Any]],
) -> None:
    engine, lsid = engine_with_a_transaction
    # Far shorter than the transaction would keep it idle: given back at once.
    async with engine.access.shared(0.001):
        assert len(engine.rolled_back) == 1
    await engine.table.statement("insert", _body(lsid, insert="rows", documents=[{"r": 2}]),
                                 None, None)
    assert engine.executed == 3  # the first statement replayed, then the second
    await engine.table.commit(_body(lsid, commitTransaction=1), None)
    assert len(engine.committed) == 1


async def test_an_idle_transaction_is_rolled_back_when_it_has_waited_long_enough(
    engine_with_a_transaction: tuple[Engine, dict[str, Any]],
) -> None:
    engine, lsid = engine_with_a_transaction
    await asyncio.wait_for(engine.rollback.wait(), 5)
    assert not engine.access.busy  # given back though nobody asked
    await engine.table.abort(_body(lsid, abortTransaction=1))
    assert engine.committed == []
