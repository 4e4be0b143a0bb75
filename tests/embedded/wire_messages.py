"""Raw wire-protocol messages, for tests that must drop a connection mid-command."""

from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any, Self

import bson
from pymongo.uri_parser import parse_uri

OP_MSG = 2013
_request_ids = itertools.count(1)


def op_msg(command: dict[str, Any], request_id: int | None = None) -> bytes:
    """One OP_MSG carrying ``command`` as its body section."""
    body = b"\x00\x00\x00\x00" + b"\x00" + bson.encode(command)
    request = next(_request_ids) if request_id is None else request_id
    return struct.pack("<iiii", 16 + len(body), request, 0, OP_MSG) + body


class WireConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, uri: str) -> Self:
        host, port = parse_uri(uri)["nodelist"][0]
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, message: bytes) -> None:
        self._writer.write(message)
        await self._writer.drain()

    async def reply(self) -> dict[str, Any]:
        length, _request, _response_to, op_code = struct.unpack(
            "<iiii", await self._reader.readexactly(16))
        payload = await self._reader.readexactly(length - 16)
        assert op_code == OP_MSG
        return bson.decode(payload[5:])

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        await self.send(op_msg(command))
        return await asyncio.wait_for(self.reply(), 60)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
