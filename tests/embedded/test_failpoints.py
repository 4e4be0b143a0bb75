"""MongoDB's failCommand fail point, which the drivers' own tests rely on: it
fires for every command, by code, label, closed connection or write concern."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, WriteConcernError

from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.settings import Settings

APP = "failpoint-test"


@pytest.fixture
async def app_client(private_server: EmbeddedProcess, settings: Settings) -> (
    AsyncIterator[Any]
):
    client = driver.create_client(settings.mongodb.driver, private_server.uri, appName=APP,
                                  retryReads=False, retryWrites=False)
    yield client
    await driver.close_client(client)


async def fail(client: Any, mode: Any, **data: Any) -> None:
    await client.admin.command({"configureFailPoint": "failCommand", "mode": mode,
                                "data": {"appName": APP, **data}})


async def test_a_command_fails_with_the_code_and_labels_given_then_works(
    app_client: Any, private_client: Any
) -> None:
    items = app_client.get_database("fp").items
    await items.insert_one({"_id": 1})
    await fail(private_client, {"times": 1}, failCommands=["find"], errorCode=2,
               errorLabels=["SomeLabel"])
    # Another application's client is not concerned.
    assert await private_client.get_database("fp").items.find_one({"_id": 1})
    with pytest.raises(OperationFailure) as failed:
        await items.find_one({"_id": 1})
    assert failed.value.code == 2
    assert failed.value.has_error_label("SomeLabel")
    assert await items.find_one({"_id": 1}) == {"_id": 1}  # once only


async def test_a_closed_connection_is_a_network_error_and_retried_reads_succeed(
    app_client: Any, private_client: Any, private_server: EmbeddedProcess, settings: Settings
) -> None:
    items = app_client.get_database("fp").items
    await items.insert_one({"_id": 1})
    await fail(private_client, {"times": 1}, failCommands=["find"], closeConnection=True)
    with pytest.raises(AutoReconnect):
        await items.find_one({"_id": 1})
    retrying = driver.create_client(settings.mongodb.driver, private_server.uri, appName=APP)
    try:
        await fail(private_client, {"times": 1}, failCommands=["find"], closeConnection=True)
        found = await retrying.get_database("fp").items.find_one({"_id": 1})
        assert found == {"_id": 1}
    finally:
        await driver.close_client(retrying)


async def test_a_retryable_write_error_is_labelled_and_the_retry_applies_once(
    private_server: EmbeddedProcess, private_client: Any, settings: Settings
) -> None:
    retrying = driver.create_client(settings.mongodb.driver, private_server.uri, appName=APP)
    try:
        await fail(private_client, {"times": 1}, failCommands=["insert"], errorCode=91)
        await retrying.get_database("fp").rows.insert_one({"_id": "once"})
        assert await private_client.get_database("fp").rows.count_documents({}) == 1
    finally:
        await driver.close_client(retrying)


async def test_a_write_concern_error_is_reported_after_the_write(
    app_client: Any, private_client: Any
) -> None:
    await fail(private_client, {"times": 1}, failCommands=["insert"],
               writeConcernError={"code": 100, "errmsg": "not enough data-bearing nodes"})
    with pytest.raises(WriteConcernError) as failed:
        await app_client.get_database("fp").rows.insert_one({"_id": "w"})
    assert failed.value.code == 100
    assert await private_client.get_database("fp").rows.count_documents({"_id": "w"}) == 1


async def test_off_and_skip_modes(app_client: Any, private_client: Any) -> None:
    items = app_client.get_database("fp").items
    await fail(private_client, {"skip": 1}, failCommands=["aggregate"], errorCode=2)
    assert await items.count_documents({}) == 0  # skipped
    with pytest.raises(OperationFailure):
        await items.count_documents({})
    await private_client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert await items.count_documents({}) == 0
    with pytest.raises(OperationFailure) as refused:
        await private_client.admin.command({"configureFailPoint": "failCommand",
                                            "mode": "sometimes", "data": {}})
    assert refused.value.code == 2


async def test_a_retryable_write_is_applied_once_when_its_answer_is_lost(
    private_server: EmbeddedProcess, private_client: Any, settings: Settings
) -> None:
    retrying = driver.create_client(settings.mongodb.driver, private_server.uri, appName=APP)
    rows = retrying.get_database("fp").rows
    try:
        # Applied, then the connection closes before the answer: the retry
        # gets the recorded result.
        await private_client.admin.command({"configureFailPoint": "onPrimaryTransactionalWrite",
                                            "mode": {"times": 1}})
        await rows.update_one({"_id": 1}, {"$inc": {"n": 1}}, upsert=True)
        assert (await rows.find_one({"_id": 1}))["n"] == 1
        # Failing before anything is applied, on the attempt and its retry.
        await private_client.admin.command({"configureFailPoint": "onPrimaryTransactionalWrite",
                                            "mode": {"times": 2},
                                            "data": {"failBeforeCommitExceptionCode": 1}})
        with pytest.raises(AutoReconnect):
            await rows.update_one({"_id": 1}, {"$inc": {"n": 1}})
        assert (await rows.find_one({"_id": 1}))["n"] == 1
    finally:
        await driver.close_client(retrying)


async def test_a_change_stream_resumes_after_a_resumable_get_more_error_only(
    private_client: Any,
) -> None:
    items = private_client.get_database("fp").items
    await private_client.admin.command({"configureFailPoint": "failGetMoreAfterCursorCheckout",
                                        "mode": {"times": 1}, "data": {"errorCode": 6}})
    stream = await driver.watch(items, max_await_time_ms=200)
    async with stream:
        await items.insert_one({"_id": "seen"})
        change = await stream.next()  # the driver resumed after HostUnreachable
        assert change["documentKey"] == {"_id": "seen"}
    await private_client.admin.command({"configureFailPoint": "failGetMoreAfterCursorCheckout",
                                        "mode": {"times": 1}, "data": {"errorCode": 2}})
    stream = await driver.watch(items, max_await_time_ms=200)
    async with stream:
        await items.insert_one({"_id": "lost"})
        with pytest.raises(OperationFailure) as failed:
            await stream.next()
        assert failed.value.code == 2


async def test_a_transient_commit_error_is_labelled_so_the_transaction_is_retried(
    app_client: Any, private_client: Any
) -> None:
    rows = app_client.get_database("fp").rows
    await fail(private_client, {"times": 2}, failCommands=["commitTransaction"], errorCode=24)

    async def work(session: Any) -> None:
        await rows.insert_one({"_id": "retried"}, session=session)

    await driver.run_transaction(app_client, work)
    assert await rows.count_documents({"_id": "retried"}) == 1


async def test_commands_with_a_time_limit_time_out_while_max_time_always_times_out(
    private_client: Any,
) -> None:
    items = private_client.get_database("fp").items
    await private_client.admin.command({"configureFailPoint": "maxTimeAlwaysTimeOut",
                                        "mode": "alwaysOn"})
    try:
        assert await items.count_documents({}) == 0  # no maxTimeMS: served
        with pytest.raises(OperationFailure) as expired:
            await items.find({}).max_time_ms(1000).to_list(None)
        assert expired.value.code == 50
    finally:
        await private_client.admin.command({"configureFailPoint": "maxTimeAlwaysTimeOut",
                                            "mode": "off"})
    assert await items.find({}).max_time_ms(1000).to_list(None) == []
