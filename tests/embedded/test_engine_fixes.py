"""mongoeco engine fixes (embedded/engine_fixes.py), checked on the engine itself."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mongoeco import AsyncMongoClient
from mongoeco.engines._sqlite_write_scope import sqlite_write_scope
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.errors import InvalidOperation

from pialara_async.embedded import engine_fixes


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[SQLiteEngine, Any]]:
    engine_fixes.install()
    engine = engine_fixes.LayeredSQLiteEngine(str(tmp_path / "engine.sqlite3"))
    client = AsyncMongoClient(engine)
    await engine.connect()
    yield engine, client
    await engine.disconnect()


async def test_a_write_whose_session_ends_under_it_is_rolled_back(
    engine: tuple[SQLiteEngine, Any],
) -> None:
    sqlite, client = engine
    collection = client.get_database("fixes").get_collection("things")
    await collection.insert_one({"_id": 1, "n": 1})
    session = client.start_session()
    runtime = sqlite._session_runtime
    connection = sqlite._connection

    def write_while_the_session_ends() -> None:
        with sqlite_write_scope(
            connection,
            begin_write=lambda conn: runtime.begin_write(conn, session),
            commit_write=lambda conn: runtime.commit_write(conn, session),
            rollback_write=lambda conn: runtime.rollback_write(conn, session),
        ):
            connection.execute("DELETE FROM documents")
            session.close()  # as endSessions does while the write runs

    with pytest.raises(InvalidOperation):
        write_while_the_session_ends()

    assert connection.in_transaction is False
    # Nothing of the half-done write remains, and the engine takes writes again.
    assert await collection.find_one({"_id": 1}) == {"_id": 1, "n": 1}
    await collection.insert_one({"_id": 2})
    assert await collection.count_documents({}) == 2


async def test_a_transaction_that_read_can_still_write_after_another_connection_did(
    engine: tuple[SQLiteEngine, Any], tmp_path: Path,
) -> None:
    # The engine's change delivery writes through a connection of its own. A
    # transaction begun deferred read, that connection committed, and the
    # transaction's first write failed at once with "database is locked".
    _sqlite, client = engine
    collection = client.get_database("fixes").get_collection("things")
    await collection.insert_one({"_id": 1, "n": 1})
    other = sqlite3.connect(tmp_path / "engine.sqlite3", timeout=0.2)
    session = client.start_session()
    session.start_transaction()
    assert await collection.find_one({"_id": 1}, session=session) is not None
    # The other connection waits for the transaction (and gives up quickly).
    with contextlib.suppress(sqlite3.OperationalError), other:
        other.execute("CREATE TABLE IF NOT EXISTS elsewhere (x)")
        other.execute("INSERT INTO elsewhere VALUES (1)")
    await collection.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
    session.commit_transaction()  # mongoeco's session: a plain call
    other.close()
    assert (await collection.find_one({"_id": 1}))["n"] == 2


async def test_sessions_are_pruned_rarely_and_live_ones_kept(
    engine: tuple[SQLiteEngine, Any],
) -> None:
    _engine, client = engine
    kept = client.start_session()
    for _ in range(5000):
        client.start_session().close()
    # Closed sessions go once the table doubles: it stays bounded...
    assert len(client._sessions) <= 2 * 1024 + 2
    # ...and an open one is never dropped.
    assert client._sessions[kept.session_id] is kept
    assert kept.active
