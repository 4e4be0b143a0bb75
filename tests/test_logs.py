"""JSON logs on request: one object per line, with the request's fields and no secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from pialara_async import logs
from pialara_async.settings import LogSettings
from tests.accounts import Account


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    logs.configure(LogSettings(format="json"), stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def test_access_lines_are_json_with_the_request_fields(
    client: TestClient, technician: Account, json_lines: io.StringIO, db: Any
) -> None:
    response = await client.get("/api/v1/users/me?token=leaked-secret",
                                headers=technician.headers)
    assert response.status == 200
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "pialara_async.access"]
    assert len(access) == 1
    line = access[0]
    assert line["route"] == "/api/v1/users/me"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["user_id"] == str(technician.id)
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level"} <= set(line)
    text = json_lines.getvalue()
    assert "leaked-secret" not in text
    assert technician.token not in text
    assert "$argon2" not in text


def test_text_is_the_default() -> None:
    assert LogSettings().format == "text"
    assert not isinstance(logs.formatter(LogSettings()), logs.JsonFormatter)
