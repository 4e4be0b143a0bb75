"""Cursor replies for documents the layer found itself."""

from __future__ import annotations

from typing import Any


def first_batch(cursor_store: Any, context: Any, documents: list[Any], namespace: str,
                command: dict[str, Any] | None = None) -> dict[str, Any]:
    """The reply to a ``find`` or ``aggregate``: the first batch its ``batchSize``
    allows, the rest kept in mongoeco's cursor store for ``getMore``."""
    reply = {"cursor": {"firstBatch": documents, "id": 0, "ns": namespace}, "ok": 1.0}
    return cursor_store.materialize_command_result(
        context.command_document if command is None else command, reply,
        lsid=context.raw_body.get("lsid"), connection=context.connection)
