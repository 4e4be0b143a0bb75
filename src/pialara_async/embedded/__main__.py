"""Run the embedded server in this process: ``python -m pialara_async.embedded``.

Prints one JSON line ``{"uri": ..., "port": ...}`` on stdout once it accepts
connections (``EmbeddedProcess`` waits for it), logs to stderr, and stops
cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

from pialara_async.embedded.ownership import DataDirectoryInUse
from pialara_async.embedded.server import DEFAULT_HISTORY_SIZE, DEFAULT_SET_NAME, EmbeddedServer


async def _until_stdin_closes(stop: asyncio.Event) -> None:
    """The parent holds our stdin open: when it dies, the pipe closes and we stop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(1024):
        pass
    stop.set()


async def serve(server: EmbeddedServer, exit_with_parent: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(_until_stdin_closes(stop)) if exit_with_parent else None
    try:
        uri = await server.start()
    except DataDirectoryInUse as error:
        # One line for the parent (EmbeddedProcess), and one for a person.
        owner = None if error.owner is None else dataclasses.asdict(error.owner)
        print(json.dumps({"in_use_by": owner}), flush=True)
        logging.getLogger("embedded").error("%s", error)
        if watcher is not None:
            watcher.cancel()
        raise SystemExit(3) from None
    print(json.dumps({"uri": uri, "port": server.port}), flush=True)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pialara_async.embedded")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="omit for a temporary directory, removed at exit")
    parser.add_argument("--replica-set", default=DEFAULT_SET_NAME)
    parser.add_argument("--history-size", type=int, default=DEFAULT_HISTORY_SIZE)
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when standard input closes (the parent process died)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s embedded %(levelname)s %(message)s")
    server = EmbeddedServer(
        args.data_dir,
        host=args.host,
        port=args.port,
        set_name=args.replica_set,
        history_size=args.history_size,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(server, args.exit_with_parent))


if __name__ == "__main__":
    main()
