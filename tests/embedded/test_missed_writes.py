"""Writes the layer's indexes never heard of: they are noticed and rebuilt.

The embedded server runs in this process here, so that a write can be made
without a change event, as mongoeco would when it records a gap in its
history (a write it could not publish): the row changed under the engine,
and the hub told of a gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pialara_async.db import driver
from pialara_async.embedded.server import EmbeddedServer
from tests.conftest import REAL_MONGODB

pytestmark = pytest.mark.skipif(REAL_MONGODB, reason="the embedded server's own layer")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / "db")
    await server.start()
    yield server
    await server.stop()


async def _write_without_an_event(server: EmbeddedServer, db_name: str, coll_name: str,
                                  document: dict[str, Any]) -> None:
    async def write() -> None:
        assert server._client is not None
        engine = server._client._engine
        engine = getattr(engine, "engine", engine)
        with engine._lock, engine._connection:
            engine._connection.execute(
                "UPDATE documents SET document = ? WHERE db_name = ? AND coll_name = ? "
                "AND storage_key = ?",
                (engine._serialize_document(document), db_name, coll_name,
                 engine._storage_key(document["_id"])))
        server._client.get_database("admin")._change_hub.mark_gap()

    await server._engine.run(write())


async def test_a_gap_in_the_change_history_rebuilds_the_layers_indexes(
    server: EmbeddedServer,
) -> None:
    client = driver.create_client("pymongo", server.uri)
    try:
        items = client.get_database("gaps").items
        await items.create_index("n")
        await items.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])
        # Served by the layer's index on n, and its document cache.
        assert await items.count_documents({"n": {"$gte": 2}}) == 1
        assert await items.find_one({"n": 1}) == {"_id": 1, "n": 1}

        await _write_without_an_event(server, "gaps", "items", {"_id": 1, "n": 5})

        assert await items.count_documents({"n": {"$gte": 2}}) == 2
        assert await items.find_one({"_id": 1}) == {"_id": 1, "n": 5}
        assert await items.find_one({"n": 1}) is None
        assert server._layer is not None
        assert server._layer.catalog.rebuilds_after_missed_writes == 1
    finally:
        await driver.close_client(client)
