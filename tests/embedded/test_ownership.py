"""One engine per data directory: a second server refuses it, naming the owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from pialara_async.embedded.ownership import DataDirectoryInUse, current_owner
from pialara_async.embedded.process import EmbeddedProcess
from tests.conftest import REAL_MONGODB

pytestmark = pytest.mark.skipif(REAL_MONGODB, reason="starts embedded servers of its own")


async def test_a_second_server_on_the_directory_is_refused_naming_the_owner(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "db"
    assert current_owner(directory) is None
    async with EmbeddedProcess(directory) as first:
        owner = current_owner(directory)
        assert owner is not None
        assert (owner.uri, owner.port) == (first.uri, first.port)
        second = EmbeddedProcess(directory)
        with pytest.raises(DataDirectoryInUse) as refused:
            await second.start()
        assert refused.value.owner == owner
        assert f"process {owner.pid} at {first.uri}" in str(refused.value)
        assert not second.running
    assert current_owner(directory) is None  # a clean stop frees it


async def test_a_killed_owner_frees_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    first = EmbeddedProcess(directory)
    await first.start()
    await first.kill()  # as kill -9: no chance to clean up; the kernel drops the lock
    assert current_owner(directory) is None
    async with EmbeddedProcess(directory) as second:
        owner = current_owner(directory)
        assert owner is not None
        assert owner.port == second.port
