"""Change streams through the driver, on the embedded server or a real replica set."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from bson import ObjectId
from pymongo.errors import OperationFailure

from pialara_async.db import driver
from pialara_async.embedded.process import EmbeddedProcess
from pialara_async.settings import Settings

AWAIT_MS = 200


async def next_change(stream: Any, attempts: int = 50) -> dict[str, Any]:
    """The next event; each try_next waits up to the stream's maxAwaitTimeMS."""
    for _ in range(attempts):
        change = await stream.try_next()
        if change is not None:
            return change
    raise AssertionError("no change event arrived")


async def test_insert_update_replace_delete_events(db: Any) -> None:
    items = db.items
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        inserted = await items.insert_one({"name": "a", "n": 1})
        await items.update_one({"_id": inserted.inserted_id}, {"$set": {"n": 2}})
        await items.replace_one({"_id": inserted.inserted_id}, {"name": "b"})
        await items.delete_one({"_id": inserted.inserted_id})
        events = [await next_change(stream) for _ in range(4)]
    assert [e["operationType"] for e in events] == ["insert", "update", "replace", "delete"]
    assert all(e["documentKey"] == {"_id": inserted.inserted_id} for e in events)
    assert all(e["ns"] == {"db": db.name, "coll": "items"} for e in events)
    assert events[0]["fullDocument"] == {"_id": inserted.inserted_id, "name": "a", "n": 1}
    assert events[2]["fullDocument"] == {"_id": inserted.inserted_id, "name": "b"}
    assert "fullDocument" not in events[1]  # default mode: no lookup for updates
    assert "fullDocument" not in events[3]
    tokens = [e["_id"] for e in events]
    assert len({str(t) for t in tokens}) == 4


async def test_match_pipeline_filters_on_the_server(db: Any) -> None:
    pipeline = [{"$match": {"operationType": "insert", "fullDocument.kind": "wanted"}}]
    stream = await driver.watch(db.items, pipeline, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.insert_many([{"kind": "other"}, {"kind": "wanted", "i": 1},
                                    {"kind": "other"}, {"kind": "wanted", "i": 2}])
        first = await next_change(stream)
        second = await next_change(stream)
        assert [first["fullDocument"]["i"], second["fullDocument"]["i"]] == [1, 2]
        assert await stream.try_next() is None


async def test_update_lookup_carries_the_document_after_the_update(db: Any) -> None:
    await db.items.insert_one({"_id": 1, "n": 1, "tag": "x"})
    stream = await driver.watch(
        db.items, [{"$match": {"operationType": "update"}}],
        full_document="updateLookup", max_await_time_ms=AWAIT_MS,
    )
    async with stream:
        await db.items.update_one({"_id": 1}, {"$inc": {"n": 5}})
        change = await next_change(stream)
    assert change["fullDocument"] == {"_id": 1, "n": 6, "tag": "x"}


async def test_database_level_stream_sees_every_collection(db: Any) -> None:
    stream = await driver.watch(db, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.first.insert_one({"x": 1})
        await db.second.insert_one({"x": 2})
        colls = [(await next_change(stream))["ns"]["coll"] for _ in range(2)]
    assert colls == ["first", "second"]


async def test_resume_token_advances_without_events(db: Any) -> None:
    """postBatchResumeToken moves past writes the pipeline filtered out."""
    stream = await driver.watch(
        db.items, [{"$match": {"fullDocument.keep": True}}], max_await_time_ms=AWAIT_MS
    )
    async with stream:
        start = stream.resume_token
        await db.items.insert_one({"keep": False})
        for _ in range(20):
            assert await stream.try_next() is None
            if stream.resume_token != start:
                break
        assert stream.resume_token != start
        moved = stream.resume_token
    await db.items.insert_one({"keep": True, "n": 1})
    resumed = await driver.watch(
        db.items, [{"$match": {"fullDocument.keep": True}}],
        resume_after=moved, max_await_time_ms=AWAIT_MS,
    )
    async with resumed:
        assert (await next_change(resumed))["fullDocument"]["n"] == 1


async def test_resume_after_delivers_what_was_missed(db: Any) -> None:
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.insert_one({"n": 0})
        await next_change(stream)
        token = stream.resume_token
    await db.items.insert_many([{"n": 1}, {"n": 2}])
    resumed = await driver.watch(db.items, resume_after=token, max_await_time_ms=AWAIT_MS)
    async with resumed:
        missed = [(await next_change(resumed))["fullDocument"]["n"] for _ in range(2)]
    assert missed == [1, 2]


async def test_unknown_resume_token_is_a_clear_error(db: Any) -> None:
    async def open_and_read() -> None:
        stream = await driver.watch(db.items, resume_after={"_data": "not-a-token"})
        async with stream:
            await stream.try_next()

    with pytest.raises(OperationFailure) as raised:
        await open_and_read()
    assert raised.value.code is not None
    assert "token" in str(raised.value).lower()


async def test_closed_stream_cursor_is_gone(db: Any) -> None:
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    await stream.try_next()
    cursor_id = stream._cursor.cursor_id if hasattr(stream, "_cursor") else (
        stream.delegate._cursor.cursor_id
    )
    await stream.close()
    with pytest.raises(OperationFailure) as raised:
        await db.command("getMore", cursor_id, collection="items")
    assert raised.value.code == 43  # CursorNotFound


async def test_fifty_concurrent_streams(db: Any) -> None:
    streams = [await driver.watch(db.items, max_await_time_ms=AWAIT_MS) for _ in range(50)]
    try:
        await db.items.insert_one({"_id": "one"})
        events = await asyncio.gather(*(next_change(s) for s in streams))
        assert {e["documentKey"]["_id"] for e in events} == {"one"}
        assert len(events) == 50
    finally:
        await asyncio.gather(*(s.close() for s in streams))


async def test_stream_resumes_across_a_restart_of_the_server(
    private_server: EmbeddedProcess, private_client: Any
) -> None:
    items = private_client.get_database("restart").items
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await items.insert_one({"n": 0})
        await next_change(stream)
        token = stream.resume_token
    await items.insert_one({"n": 1})
    await private_server.restart()
    await items.insert_one({"n": 2})  # the driver reconnects by itself
    resumed = await driver.watch(items, resume_after=token, max_await_time_ms=AWAIT_MS)
    async with resumed:
        after = [(await next_change(resumed))["fullDocument"]["n"] for _ in range(2)]
    assert after == [1, 2]
    assert await items.count_documents({}) == 3


async def test_open_stream_survives_a_restart_of_the_server(
    private_server: EmbeddedProcess, private_client: Any
) -> None:
    """The driver resumes an open stream by itself with its latest token."""
    items = private_client.get_database("restart").items
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await items.insert_one({"_id": ObjectId(), "n": 0})
        await next_change(stream)
        await private_server.restart()
        await items.insert_one({"n": 1})
        assert (await next_change(stream))["fullDocument"]["n"] == 1


async def test_update_events_describe_the_changed_fields(db: Any) -> None:
    await db.items.insert_one({"_id": 1, "a": 1, "b": 2})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.update_one({"_id": 1}, {"$set": {"a": 5}, "$unset": {"b": ""}})
        change = await next_change(stream)
    assert change["updateDescription"]["updatedFields"] == {"a": 5}
    assert change["updateDescription"]["removedFields"] == ["b"]
    assert change["updateDescription"]["truncatedArrays"] == []
    assert "fullDocument" not in change  # asked for by updateLookup only
    assert "wallTime" in change


async def test_update_events_describe_embedded_documents_and_arrays(db: Any) -> None:
    await db.items.insert_one({"_id": 1, "n": 1, "tags": ["a", "b", "c"],
                               "stats": {"views": 1, "likes": 2}})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.update_one({"_id": 1}, {"$inc": {"stats.views": 1},
                                                "$push": {"tags": "d"}})
        pushed = await next_change(stream)
        await db.items.update_one({"_id": 1}, [{"$set": {"tags": ["a"], "n": 1.0}}])
        truncated = await next_change(stream)
        await db.items.find_one_and_update({"_id": 1}, {"$unset": {"stats.likes": ""}})
        unset = await next_change(stream)
    assert pushed["updateDescription"]["updatedFields"] == {"stats.views": 2, "tags.3": "d"}
    # 1 and 1.0 differ in BSON: a change of type is a change.
    assert truncated["updateDescription"]["updatedFields"] == {"n": 1.0}
    assert truncated["updateDescription"]["truncatedArrays"] == [{"field": "tags", "newSize": 1}]
    assert unset["updateDescription"] == {"updatedFields": {},
                                          "removedFields": ["stats.likes"],
                                          "truncatedArrays": []}


async def test_update_events_in_a_transaction_describe_their_change(db: Any) -> None:
    await db.items.insert_one({"_id": 1, "a": 1})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        async with await driver.start_session(db.client) as session:
            await driver.start_transaction(session)
            await db.items.update_one({"_id": 1}, {"$set": {"a": 2, "b": [1]}}, session=session)
            await session.commit_transaction()
        change = await next_change(stream)
    assert change["updateDescription"]["updatedFields"] == {"a": 2, "b": [1]}


async def test_ambiguous_paths_are_disambiguated_for_expanded_events_only(db: Any) -> None:
    await db.items.insert_one({"_id": 1, "a": [{"1": 1}]})
    plain = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    expanded = await driver.watch(db.items, max_await_time_ms=AWAIT_MS,
                                  show_expanded_events=True)
    async with plain, expanded:
        await db.items.update_one({"_id": 1}, {"$set": {"a.0.1": 2}})
        seen_plain = await next_change(plain)
        seen_expanded = await next_change(expanded)
    assert seen_plain["updateDescription"]["updatedFields"] == {"a.0.1": 2}
    assert "disambiguatedPaths" not in seen_plain["updateDescription"]
    assert seen_expanded["updateDescription"]["disambiguatedPaths"] == {"a.0.1": ["a", 0, "1"]}


async def test_dropping_a_collection_emits_drop_then_invalidate(db: Any) -> None:
    await db.items.insert_one({"_id": 1})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.drop()
        changes = [await next_change(stream) for _ in range(2)]
        assert [c["operationType"] for c in changes] == ["drop", "invalidate"]
        assert changes[0]["ns"] == {"db": db.name, "coll": "items"}
        assert "documentKey" not in changes[0]
        await db.items.insert_one({"_id": 2})
        assert await stream.try_next() is None  # the stream ended at the invalidate
        assert not stream.alive


async def test_dropping_the_database_ends_its_collections_streams(db: Any) -> None:
    await db.items.insert_one({"_id": 1})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.client.drop_database(db.name)
        kinds = [(await next_change(stream))["operationType"] for _ in range(2)]
    assert kinds == ["drop", "invalidate"]


async def test_a_database_stream_outlives_its_collections_and_ends_with_the_database(
        db: Any) -> None:
    await db.items.insert_one({"_id": 1})
    stream = await driver.watch(db, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.drop()
        await db.others.insert_one({"_id": 2})
        await db.client.drop_database(db.name)
        events = [await next_change(stream) for _ in range(5)]
        with pytest.raises(StopAsyncIteration):  # the invalidate ended it
            await stream.next()
    assert [(e["operationType"], e.get("ns")) for e in events] == [
        ("drop", {"db": db.name, "coll": "items"}),
        ("insert", {"db": db.name, "coll": "others"}),
        ("drop", {"db": db.name, "coll": "others"}),
        ("dropDatabase", {"db": db.name}),
        ("invalidate", None),
    ]


async def test_only_start_after_goes_past_an_invalidate(db: Any) -> None:
    await db.items.insert_one({"_id": 1})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.drop()
        invalidate = [await next_change(stream) for _ in range(2)][1]["_id"]
    await db.items.insert_one({"_id": "after"})
    with pytest.raises(OperationFailure) as refused:  # opening the stream refuses it
        await driver.watch(db.items, resume_after=invalidate, max_await_time_ms=AWAIT_MS)
    assert refused.value.code == 260
    after = await driver.watch(db.items, start_after=invalidate, max_await_time_ms=AWAIT_MS)
    async with after:
        assert (await next_change(after))["documentKey"] == {"_id": "after"}


async def test_first_write_after_a_drop_still_reaches_streams(db: Any) -> None:
    await db.gone.insert_one({"x": 1})
    await db.gone.drop()
    stream = await driver.watch(db, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.insert_one({"_id": "after-drop"})
        change = await next_change(stream)
    assert change["documentKey"] == {"_id": "after-drop"}


async def test_restart_after_a_dropped_collection_keeps_streams_working(
    private_server: EmbeddedProcess, private_client: Any
) -> None:
    db = private_client.get_database("dropping")
    await db.gone.insert_one({"x": 1})
    await db.gone.drop()  # an event published outside the engine's outbox
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.insert_one({"n": 1})
        assert (await next_change(stream))["fullDocument"]["n"] == 1
        token = stream.resume_token
    await private_server.restart()
    await db.items.insert_one({"n": 2})
    resumed = await driver.watch(db.items, resume_after=token, max_await_time_ms=AWAIT_MS)
    async with resumed:
        assert (await next_change(resumed))["fullDocument"]["n"] == 2


async def read_once(target: Any, token: Any) -> None:
    stream = await driver.watch(target, resume_after=token, max_await_time_ms=AWAIT_MS)
    async with stream:
        await stream.try_next()


@pytest.mark.slow
async def test_pruned_history_resumes_within_its_window_across_restarts(
    tmp_path: Any, settings: Settings
) -> None:
    """A server keeping 40 events: streams resume from any retained event, before
    and after restarts (the journal is compacted as history is pruned), and a
    token that fell out of the window is ChangeStreamHistoryLost."""
    from pialara_async.db.client import open_client

    async with EmbeddedProcess(tmp_path / "db", history_size=40) as server:
        client = open_client(settings, server.uri)
        items = client.get_database("history").items
        try:
            stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
            async with stream:
                tokens = []
                for n in range(200):
                    await items.insert_one({"n": n})
                    tokens.append((await next_change(stream))["_id"])
            for restart in range(2):
                resumed = await driver.watch(items, resume_after=tokens[180],
                                             max_await_time_ms=AWAIT_MS)
                async with resumed:
                    following = [(await next_change(resumed))["fullDocument"]["n"]
                                 for _ in range(19 + restart)]
                assert following == list(range(181, 200 + restart))
                with pytest.raises(OperationFailure) as lost:
                    await read_once(items, tokens[10])
                assert lost.value.code == 286
                await server.restart()
                await items.insert_one({"n": 200 + restart})
        finally:
            await driver.close_client(client)


@pytest.mark.slow
async def test_a_write_of_more_documents_than_the_outbox_holds_keeps_streams_working(
    db: Any,
) -> None:
    """mongoeco's outbox holds 10,000 undelivered changes; one command may
    write more. Its changes must be delivered, and later ones too (a broken
    delivery used to stop every change stream for good)."""
    await db.items.insert_many([{"n": n} for n in range(12_000)])
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await db.items.insert_one({"n": "after"})
        assert (await next_change(stream))["fullDocument"]["n"] == "after"
    assert await db.items.count_documents({"n": {"$gte": 11_990}}) == 10


async def assert_history_restarted_as_a_gap(items: Any, token: Any, n: int) -> None:
    """A token from before answers 286 ChangeStreamHistoryLost; a new stream works."""
    with pytest.raises(OperationFailure) as lost:
        await read_once(items, token)
    assert lost.value.code == 286
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await items.insert_one({"n": n})
        assert (await next_change(stream))["fullDocument"]["n"] == n


async def test_history_marked_broken_restarts_as_a_gap(
    private_server: EmbeddedProcess, private_client: Any
) -> None:
    items = private_client.get_database("broken").items
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await items.insert_one({"n": 1})
        token = (await next_change(stream))["_id"]
    await private_server.stop()
    assert private_server.data_dir is not None
    (private_server.data_dir / "changestream.journal.degraded").write_text(
        '{"version": 1, "error": "a failed publication", "next_token": 2}')
    await private_server.start()
    await assert_history_restarted_as_a_gap(items, token, 2)


async def test_a_failed_journal_write_stops_neither_streams_nor_indexes(
    private_server: EmbeddedProcess, private_client: Any
) -> None:
    """The journal only carries the history across restarts: when writing it
    fails (a full or broken disk), events still reach streams and the layer's
    indexes, and the next start begins the history afresh (a gap)."""
    items = private_client.get_database("journal").items
    await items.create_index("n")
    stream = await driver.watch(items, max_await_time_ms=AWAIT_MS)
    async with stream:
        await items.insert_one({"n": 1})
        token = (await next_change(stream))["_id"]
        assert private_server.data_dir is not None
        events_log = private_server.data_dir / "changestream.journal.events"
        events_log.unlink(missing_ok=True)
        events_log.mkdir()  # appending to it now fails
        await items.insert_many([{"n": 2}, {"n": 3}])
        assert [(await next_change(stream))["fullDocument"]["n"] for _ in range(2)] == [2, 3]
        await items.delete_one({"n": 2})
        assert (await next_change(stream))["operationType"] == "delete"
    # Reads through the layer's index saw every write.
    assert [d["n"] for d in await items.find({"n": {"$gte": 1}}).sort("n", 1).to_list(None)] \
        == [1, 3]
    assert await items.count_documents({"n": {"$gte": 1}}) == 2
    await private_server.stop()
    events_log.rmdir()
    await private_server.start()
    await assert_history_restarted_as_a_gap(items, token, 4)


async def test_events_carry_their_wall_time(db: Any) -> None:
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS)
    async with stream:
        before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        await db.items.insert_one({"n": 1})
        change = await next_change(stream)
    # Drivers decode BSON dates as naive UTC by default.
    assert abs(change["wallTime"] - before) < datetime.timedelta(seconds=30)


async def keep_images(db: Any, name: str, enabled: bool = True) -> None:
    if name not in await db.list_collection_names():
        await db.create_collection(name)
    await db.command("collMod", name, changeStreamPreAndPostImages={"enabled": enabled})


async def test_pre_images_where_the_collection_keeps_them(db: Any) -> None:
    await keep_images(db, "kept")
    await db.kept.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])
    await db.plain.insert_one({"_id": 1, "n": 1})
    kept = await driver.watch(db.kept, max_await_time_ms=AWAIT_MS,
                              full_document_before_change="required")
    plain = await driver.watch(db.plain, max_await_time_ms=AWAIT_MS,
                               full_document_before_change="whenAvailable")
    async with kept, plain:
        await db.kept.update_one({"_id": 1}, {"$inc": {"n": 1}})
        await db.kept.replace_one({"_id": 2}, {"replaced": True})
        await db.kept.delete_one({"_id": 1})
        await db.plain.delete_one({"_id": 1})
        seen = [await next_change(kept) for _ in range(3)]
        without = await next_change(plain)
    assert [(e["operationType"], e["fullDocumentBeforeChange"]) for e in seen] == [
        ("update", {"_id": 1, "n": 1}), ("replace", {"_id": 2, "n": 2}),
        ("delete", {"_id": 1, "n": 2})]
    assert "updateDescription" not in seen[2]  # a delete describes no update
    assert without["operationType"] == "delete"
    assert without["fullDocumentBeforeChange"] is None


async def test_required_images_a_collection_does_not_keep_are_an_error(db: Any) -> None:
    await keep_images(db, "items", enabled=False)
    await db.items.insert_one({"_id": 1})
    stream = await driver.watch(db.items, max_await_time_ms=AWAIT_MS,
                                full_document="required")
    async with stream:
        await db.items.update_one({"_id": 1}, {"$set": {"x": 1}})
        with pytest.raises(OperationFailure) as refused:
            await next_change(stream)
    assert refused.value.code == 47  # NoMatchingDocument


async def test_post_images_when_available(db: Any) -> None:
    await keep_images(db, "kept")
    await db.kept.insert_one({"_id": 1})
    await db.plain.insert_one({"_id": 1})
    kept = await driver.watch(db.kept, max_await_time_ms=AWAIT_MS, full_document="whenAvailable")
    plain = await driver.watch(db.plain, max_await_time_ms=AWAIT_MS,
                               full_document="whenAvailable")
    async with kept, plain:
        await db.kept.update_one({"_id": 1}, {"$set": {"x": 1}})
        await db.plain.update_one({"_id": 1}, {"$set": {"x": 1}})
        assert (await next_change(kept))["fullDocument"] == {"_id": 1, "x": 1}
        assert (await next_change(plain))["fullDocument"] is None


async def test_pre_images_of_writes_in_a_transaction(db: Any) -> None:
    await keep_images(db, "kept")
    await db.kept.insert_many([{"_id": 1, "n": 1}, {"_id": 2}])
    stream = await driver.watch(db.kept, max_await_time_ms=AWAIT_MS,
                                full_document_before_change="required")
    async with stream:
        async with await driver.start_session(db.client) as session:
            await driver.start_transaction(session)
            await db.kept.update_one({"_id": 1}, {"$set": {"n": 5}}, session=session)
            await db.kept.delete_one({"_id": 2}, session=session)
            await session.commit_transaction()
        events = [await next_change(stream) for _ in range(2)]
    assert [e["fullDocumentBeforeChange"] for e in events] == [{"_id": 1, "n": 1}, {"_id": 2}]
    assert events[0]["updateDescription"]["updatedFields"] == {"n": 5}


async def test_coll_mod_changes_validation_and_refuses_what_it_cannot(db: Any) -> None:
    await db.create_collection("checked")
    await db.command("collMod", "checked", validator={"n": {"$type": "int"}})
    with pytest.raises(OperationFailure) as invalid:
        await db.checked.insert_one({"n": "text"})
    assert invalid.value.code == 121  # DocumentValidationFailure
    await db.command("collMod", "checked", validationLevel="off")
    await db.checked.insert_one({"n": "text"})
    with pytest.raises(OperationFailure) as missing:
        await db.command("collMod", "absent", validationLevel="off")
    assert missing.value.code == 26  # NamespaceNotFound
    with pytest.raises(OperationFailure) as unknown:
        await db.command("collMod", "checked", index={"name": "x_1", "hidden": True})
    assert unknown.value.code == 72
    listed = await db.command("listCollections", filter={"name": "checked"})
    assert listed["cursor"]["firstBatch"][0]["options"]["validationLevel"] == "off"
