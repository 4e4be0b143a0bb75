"""What every example shares: one client for the whole program, and a database.

``MONGODB_URI`` when set (a replica set, for transactions and change streams);
otherwise an embedded server the example starts for itself. Each example works
in a database of its own (``EXAMPLES_DB`` or ``examples_<lesson>``), dropped
at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

# Runnable from a checkout without installing: the package lives in src/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from motor.motor_asyncio import AsyncIOMotorClient

from pialara_async.data.generate import Sizes, generate
from pialara_async.embedded.process import EmbeddedProcess


class LessonFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    """Stop the example with a non-zero exit when what it demonstrates does not hold."""
    if not condition:
        raise LessonFailed(what)
    print(f"  ✓ {what}")


@contextlib.asynccontextmanager
async def lesson(name: str, **client_options: Any) -> AsyncIterator[tuple[Any, Any]]:
    """``(client, database)`` for one lesson; cleans up after itself."""
    async with contextlib.AsyncExitStack() as stack:
        uri = os.environ.get("MONGODB_URI", "")
        if not uri:
            # Kept on disk (a temporary folder) so change history survives
            # between watchers, as on a real server.
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="pialara-lesson-"))
            server = await stack.enter_async_context(EmbeddedProcess(Path(folder)))
            uri = server.uri
        options = {"serverSelectionTimeoutMS": 5000, **client_options}
        client = AsyncIOMotorClient(uri, **options)
        stack.callback(client.close)
        database = client[os.environ.get("EXAMPLES_DB", f"examples_{name}")]
        stack.push_async_callback(client.drop_database, database.name)
        yield client, database


async def load_movies(db: Any, movies: int = 150, comments: int = 400) -> Any:
    """A small generated sample_mflix data set (the same every run)."""
    data = generate(Sizes(movies=movies, comments=comments, users=30, theaters=5), seed=11)
    await db.movies.insert_many(data.movies)
    await db.comments.insert_many(data.comments)
    return data


def run(main: Callable[[], Awaitable[None]]) -> None:
    try:
        asyncio.run(main())
    except LessonFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        raise SystemExit(1) from None
