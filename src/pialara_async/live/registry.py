"""Every open websocket, so shutdown can close them all with 1001 (going away)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web


class WebSocketRegistry:
    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: web.WebSocketResponse) -> None:
        self._sockets.add(socket)

    def discard(self, socket: web.WebSocketResponse) -> None:
        self._sockets.discard(socket)

    async def close_all(self, message: bytes = b"server shutdown") -> None:
        sockets, self._sockets = list(self._sockets), set()

        async def close(socket: web.WebSocketResponse) -> None:
            with contextlib.suppress(Exception):
                await socket.close(code=WSCloseCode.GOING_AWAY, message=message)

        # Concurrently: one peer that does not answer the close must not hold up the rest.
        await asyncio.gather(*(close(socket) for socket in sockets))
