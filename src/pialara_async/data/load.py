"""Batched bulk inserts with a progress bar, shared by ``seed`` and ``import``."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from tqdm import tqdm

BATCH_SIZE = 1000


def progress(total: int | None, description: str) -> tqdm[Any]:
    # disable=None: a bar on a terminal, silence in logs and CI.
    return tqdm(total=total, desc=description, unit="doc", disable=None, leave=False)


async def insert_batches(
    collection: Any,
    documents: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
    *,
    total: int | None = None,
    batch_size: int = BATCH_SIZE,
    written: list[int] | None = None,
) -> int:
    """Insert in ordered batches; returns how many were written.

    ``written`` (a one-item list) is kept current so a caller can report how
    far a failed load got.
    """
    counter = written if written is not None else [0]
    batch: list[dict[str, Any]] = []
    with progress(total, collection.name) as bar:

        async def flush() -> None:
            await collection.insert_many(batch, ordered=True)
            counter[0] += len(batch)
            bar.update(len(batch))
            batch.clear()

        if isinstance(documents, AsyncIterable):
            async for document in documents:
                batch.append(document)
                if len(batch) >= batch_size:
                    await flush()
        else:
            for document in documents:
                batch.append(document)
                if len(batch) >= batch_size:
                    await flush()
        if batch:
            await flush()
    return counter[0]
