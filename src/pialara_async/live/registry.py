"""Every open websocket, so shutdown can close them all with 1001 (going away)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

CLOSE_TIMEOUT = 2.0


async def close_socket(socket: web.WebSocketResponse, request: web.Request, code: int,
                       message: bytes) -> None:
    """Close politely; a peer that does not read gets its connection aborted."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await socket.close(code=code, message=message)
    except (TimeoutError, ConnectionError, RuntimeError):
        if request.transport is not None:
            request.transport.abort()


class WebSocketRegistry:
    def __init__(self) -> None:
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: web.WebSocketResponse, request: web.Request) -> None:
        self._sockets[socket] = request

    def discard(self, socket: web.WebSocketResponse) -> None:
        self._sockets.pop(socket, None)

    async def close_all(self, message: bytes = b"server shutdown") -> None:
        sockets, self._sockets = self._sockets, {}
        # Concurrently: one peer that does not answer the close must not hold up the rest.
        with contextlib.suppress(Exception):
            await asyncio.gather(*(close_socket(socket, request, WSCloseCode.GOING_AWAY, message)
                                   for socket, request in sockets.items()))

# Every open websocket of the application.
WEBSOCKETS = web.AppKey("websockets", WebSocketRegistry)
