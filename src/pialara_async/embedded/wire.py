"""The wire front: mongoeco's proxy, with the engine on a thread of its own.

The proxy's loop reads and writes messages and answers what a driver's
monitor sends (``hello``, ``isMaster``, ``ping``) itself, so heartbeats are
answered within milliseconds whatever the engine is doing. Every other command
is decoded, executed and encoded on the ``EngineHost`` loop.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire._request_state import WireRequestState
from mongoeco.wire.protocol import OP_MSG, OP_QUERY

from pialara_async.embedded.engine_host import EngineHost

# Answered on the wire loop: they never touch the engine or a session.
HANDSHAKE_COMMANDS = frozenset({"hello", "isMaster", "ismaster"})
LOCAL_COMMANDS = HANDSHAKE_COMMANDS | {"ping"}


def _cstring_end(data: bytes, start: int) -> int:
    end = data.index(b"\x00", start)
    return end


def _first_key(document: bytes, start: int) -> str | None:
    """Name of the first element of the BSON document at ``start``."""
    if start + 5 > len(document):
        return None
    name_start = start + 4 + 1  # size, then the element's type byte
    end = _cstring_end(document, name_start)
    return document[name_start:end].decode("utf-8", "replace")


def command_name(op_code: int, payload: bytes) -> str | None:
    """The command a message carries, read without decoding it (None: unknown)."""
    try:
        if op_code == OP_MSG:
            position = 4  # flag bits
            while position < len(payload):
                kind = payload[position]
                position += 1
                if kind == 0:
                    return _first_key(payload, position)
                if kind == 1:  # a document sequence: size, identifier, documents
                    (size,) = struct.unpack_from("<i", payload, position)
                    position += size
                else:
                    return None
            return None
        if op_code == OP_QUERY:
            collection_end = _cstring_end(payload, 4)
            return _first_key(payload, collection_end + 1 + 8)
    except (ValueError, struct.error, IndexError):
        return None
    return None


class LayeredProxy(AsyncMongoEcoProxyServer):
    """mongoeco's proxy whose commands run on ``engine`` (set before ``start``)."""

    engine: EngineHost
    handshake: Any  # async (context) -> reply, safe on the wire loop
    closing: set[int]  # connection ids to close instead of answering (fail points)
    _server: Any  # mongoeco's listening asyncio.Server, None once closed

    async def _dispatch_wire_request(self, header: Any, payload: bytes, *,
                                     connection: Any) -> bytes | None:
        if command_name(header.op_code, payload) in LOCAL_COMMANDS:
            return await self._dispatch_locally(header, payload, connection=connection)
        dispatch = super()._dispatch_wire_request(header, payload, connection=connection)
        response = await self.engine.run(dispatch)
        if connection.connection_id in self.closing:
            self.closing.discard(connection.connection_id)
            # mongoeco's connection handler closes the socket on a ConnectionError.
            raise ConnectionResetError("closed by the failCommand fail point")
        return response

    async def _dispatch_locally(self, header: Any, payload: bytes, *,
                                connection: Any) -> bytes | None:
        request_id = next(self._request_ids)
        state = WireRequestState()
        try:
            state.context = self._decode_wire_context(header, payload, connection, state)
            state.phase = "execute"
            state.result = await self.handshake(state.context)
            state.outcome = "completed"
        except Exception as error:
            self._wire_failure(error, header, state)
        return self._render_wire_result(header, request_id, state)

    async def close_listener(self) -> None:
        """Stop accepting and end every connection (the engine is closed separately)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            server.abort_clients()
        while self._handlers:
            handlers = tuple(self._handlers)
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            self._handlers.difference_update(handlers)
        if server is not None:
            await server.wait_closed()
