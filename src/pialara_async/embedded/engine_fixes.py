"""Fixes to mongoeco's SQLite engine, applied in the embedded server's process.

1. Keep every committed write's change event when other events take tokens.

mongoeco's SQLite engine hands committed writes to the change-stream hub from
a transactional outbox, numbered by the outbox, and drops any whose number is
below the hub's next token, taking it for a re-delivery. Events published
outside the outbox (the ``invalidate`` of a dropped collection, events of
writes inside a transaction) also take hub tokens, so after each of them the
next committed write's event was silently dropped: measured, the first insert
after dropping a collection never reached any change stream.

Here a delivery is a repeat only when its outbox number was already delivered
in this process; a new one is published at the hub's next token. Deliveries
resume after the engine's persisted consumer checkpoint, so across a restart
only a crash between publishing and checkpointing could repeat an event
(recorded in docs/embedded.md).

2. Inserts cost O(1), not O(n).

Each insert loaded and decoded every document of the collection to compare
``_id`` values by logical equality: 100 ms per insert at 1,500 movies, 242 ms
at 50,000 comments. The engine already finds an equal ``_id`` through its
storage key; only numeric ids (``1 == 1.0 == Int64(1)``) need the comparison
by value, and the engine still scans for those.

3. A write whose session ends under it is rolled back, not left open.

A write checks its session before committing and again before rolling back.
When the session was ended meanwhile (a driver ends the sessions of a client it
closes while an operation of theirs still runs), both checks failed, the
rollback was skipped, and the SQLite transaction stayed open: every later
write then waited on its lock and the server stopped answering. The rollback
now undoes the write's own transaction or savepoint whatever the session's
state. (The command layer also lets running commands finish before their
session ends; this is the engine-level guarantee.)

4. ``$merge`` costs O(1) per document, not O(n).

For each merged document without a stored twin under its storage key, the
engine decoded every document of the target collection looking for an equal
``_id``: merging 300 documents took 2.4 s, 1,000 took 17.5 s, and the
directors view of the benchmark data set never finished. As in fix 2, only
numeric ids need that comparison by value; the scan is skipped for the rest.

5. The change-stream journal costs O(1) per event, not O(history).

Once the history held its maximum, every new event pruned one old event, and
every prune rewrote the whole journal: with 100,000 retained events, each write
re-encoded and wrote about 60 MB. Each event's JSON is now encoded once, when
it is appended to the log, and kept for the next compaction, which only joins
the kept strings; and the history is pruned a quarter at a time, so a
compaction follows only every ``history / 4`` events (or 16 MB of log).

6. The change outbox drops only changes it has delivered.

The outbox kept at most 10,000 changes and pruned the oldest beyond that even
when nobody had delivered them yet: one command writing more than 10,000
documents (an ``insert`` of 12,000, a ``delete_many`` over a large collection)
pruned its own first changes before delivery, the delivery then failed, and
mongoeco marked change-stream history as permanently broken (persisted, so it
survived restarts): every change stream, and every index the layer keeps from
changes, stopped. Now changes are pruned once every consumer has them.

7. A history broken before is a gap, not an outage.

A data directory whose journal was marked broken (by fix 6's bug or a failed
disk write) now starts with its history cleared: streams can be opened again,
and a resume token from before answers ``ChangeStreamHistoryLost``, as when
MongoDB's oplog no longer holds a token.

8. ``$gt``, ``$gte``, ``$lt`` and ``$lte`` compare within a type bracket.

MongoDB's comparison operators only match values of the query value's type
bracket (numbers with numbers, strings with strings...): ``{n: {$gte: 10}}``
matches neither ``"after"`` nor ``null`` nor ``[1, "x"]``. mongoeco compared
across brackets by sort order (a string is "greater" than every number), in
its matcher and in the SQL it generates. Both now stay in the bracket
(``MinKey`` and ``MaxKey`` still compare with everything, as in MongoDB).

9. ``$in`` and ``$nin`` take lists of any length.

mongoeco's SQL for ``$in`` chains one clause per value with ``OR``, which
SQLite parses as a tree as deep as the list is long: past about 300 values
the query failed with "Expression tree is too large (maximum depth 1000)".
Long lists are now translated in groups joined as a balanced tree.

10. A write whose filter names an ``_id`` reads that one document.

mongoeco finds a single document by its storage key only when the filter is
exactly ``{_id: value}``; ``{_id: value, email: ...}`` (a comment's owner in
the filter of its update or delete) scanned the whole collection: 500-700 ms
among 50,000 comments, inside the transaction that also counts the comment.
A conjunction holding an ``_id`` equality now reads that document and checks
the whole filter on it.

12. Delivering a write's changes starts no thread.

Each write's delivery took a lease on the outbox, started a thread to renew
it every 10 s, and joined that thread at the end: for a delivery that takes
milliseconds, the thread was a quarter of the cost of a small write (1,000
replacements: 2.7 s, 1.95 s without it). The delivering thread now renews the
lease itself between changes when 10 s have passed.

11. ``distinct`` leaves out documents that lack the field.

mongoeco counted a missing field as the value ``null``; MongoDB's distinct
lists only values present (a collection where no document has the field
gives an empty list).

13. A dropped collection's change streams see ``drop``, then ``invalidate``.

mongoeco published only an ``invalidate`` when a collection was dropped, even
one that did not exist, and nothing when a whole database was dropped, so a
stream on one of its collections never learnt. MongoDB sends ``drop`` and
then ``invalidate`` to the collection's streams (for ``dropDatabase`` too, to
each collection's, and then ``dropDatabase`` and ``invalidate`` to the
database's streams), and nothing for a collection that was not there. A
database stream goes on after one of its collections is dropped: mongoeco let
the collection's ``invalidate`` end it.

14. A session transaction takes SQLite's write lock when it begins.

mongoeco began a session transaction with a deferred ``BEGIN``. Its change
delivery writes through a connection of its own, so when that connection
committed after the transaction's first read, the transaction's first write
failed at once with "database is locked" (SQLite cannot upgrade a read
snapshot that another writer has passed; the busy timeout does not apply):
under load, a comment's transaction answered 500. ``BEGIN IMMEDIATE`` takes
the write lock up front, so the other connection waits its turn instead. The
embedded server runs one transaction statement at a time, so nothing of the
engine's own waits behind it.

17. A new session costs O(1), not O(sessions).

Each ``start_session`` rebuilt the client's table of live sessions to drop
closed ones: with every logical session a client names kept for 30 minutes,
20,000 sessions made each new one cost 8 ms. Closed sessions are now dropped
only when the table has doubled since the last time (amortised O(1)).

15. Expired documents are left to the TTL monitor.

mongoeco purged documents past a TTL index's expiry inside reads and writes,
deleting rows without a change event: change streams never saw those deletes
and the layer's indexes and document cache kept the documents (a ``count``
answered 2 with 1 stored). Through the wire it did not even fire. On MongoDB a
background monitor deletes them with ordinary deletes; the layer's
``TTLMonitor`` (ttl.py) does that, so mongoeco's purge does nothing.

16. A failed journal write stops no change stream.

A write to the change-stream journal that failed (a full disk) raised out of
the publication, and mongoeco marked the history unavailable for good: every
change stream failed from then on, the layer's indexes stopped hearing of
writes (reads went stale), and the write's client saw nothing. The journal
only carries the history across restarts, so now the failure is logged, the
events are still delivered, and the history on disk is marked broken so that
the next start begins it afresh (fix 7) rather than resume across a hole.

18. Update events carry ``updateDescription`` (update_events.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from typing import Any

from bson import MaxKey, MinKey
from mongoeco._change_streams import hub as hub_module
from mongoeco._change_streams.journal import snapshot_to_document
from mongoeco._change_streams.models import ChangeStreamScope
from mongoeco.api._async import _collection_reads
from mongoeco.api._async import _database_admin_read_commands as _read_commands
from mongoeco.api._async import _database_admin_write_commands as _write_commands
from mongoeco.api._async import client as _async_client
from mongoeco.api._async import collection as _async_collection
from mongoeco.core import _filtering_matching
from mongoeco.core.collation import normalize_collation
from mongoeco.core.filtering import QueryEngine
from mongoeco.core.identity import id_contains_numeric_value
from mongoeco.core.query_plan import AndCondition, EqualsCondition
from mongoeco.engines import (
    _sqlite_fast_paths,
    _sqlite_outbox,
    _sqlite_read_fast_path_runtime,
    sqlite_query,
)
from mongoeco.engines import sqlite as sqlite_engine_module
from mongoeco.engines._sqlite_session_runtime import SQLiteSessionRuntime
from mongoeco.engines.adapter import EngineSpiAdapter
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.errors import InvalidOperation, OperationFailure
from mongoeco.types import DistinctCommandResult

from pialara_async.embedded import bson_order, seam, update_events

log = logging.getLogger(__name__)
_installed = False
_lock = threading.Lock()
_delivered: dict[int, int] = {}


def _deliver_committed_change(sink: Any, change: Any) -> None:
    with _lock:
        if change.sequence <= _delivered.get(id(sink), 0):
            return
        _delivered[id(sink)] = change.sequence
    # Moves the hub's counter up to the outbox number only (never down), which
    # records skipped numbers as a gap as before.
    sink.align_commit_sequence(change.sequence)
    if change.is_gap:
        sink.mark_gap()
    elif change.payload is not None:
        sink.publish(**change.payload)


_register_consumer = _sqlite_outbox.register_consumer


def _register_consumer_within_outbox(conn: Any, consumer_id: str, *,
                                     initial_checkpoint: int | None, **options: Any) -> int:
    # mongoeco proposes the journal's last token as the starting checkpoint; with
    # events published outside the outbox (fix 1) the journal runs ahead of the
    # outbox and the proposal was refused at restart. Never start past the outbox.
    if initial_checkpoint is not None:
        initial_checkpoint = min(initial_checkpoint, _sqlite_outbox._max_sequence(conn))
    return _register_consumer(conn, consumer_id, initial_checkpoint=initial_checkpoint,
                              **options)


_validate_unique = SQLiteEngine._validate_document_against_unique_indexes


def _validate_unique_without_scan(
    self: SQLiteEngine, db_name: str, coll_name: str, document: Any, **options: Any
) -> None:
    # The engine itself still scans when the _id holds a numeric value.
    options["scan_payload_id"] = False
    _validate_unique(self, db_name, coll_name, document, **options)


_rollback_write = SQLiteSessionRuntime.rollback_write


def _rollback_write_whatever_the_session(
    self: SQLiteSessionRuntime, conn: Any, context: Any
) -> None:
    try:
        self._ensure_transaction_session_can_use_engine(context)
    except InvalidOperation:
        # The session ended or lost its transaction: undo this write's own
        # frame (its savepoint, or the transaction it began) without it.
        context = None
    _rollback_write(self, conn, context)


# Fix 4. The engine's merge holds its lock while it runs, on one thread: a
# thread-local flag tells the one by-value scan that follows a storage-key miss
# to yield nothing.
_merge_state = threading.local()
_merge_document = SQLiteEngine._merge_document_sync
_load_existing_document = SQLiteEngine._load_existing_document_for_storage_key
_load_documents = SQLiteEngine._load_documents


def _merge_document_without_id_scan(self: SQLiteEngine, *args: Any, **options: Any) -> Any:
    document = args[2] if len(args) > 2 else options["document"]
    _merge_state.ids_by_key = "_id" in document and not id_contains_numeric_value(document["_id"])
    try:
        return _merge_document(self, *args, **options)
    finally:
        _merge_state.ids_by_key = _merge_state.skip_scan = False


def _load_existing_document_noting_a_miss(self: SQLiteEngine, *args: Any, **options: Any) -> Any:
    found = _load_existing_document(self, *args, **options)
    if found is None and getattr(_merge_state, "ids_by_key", False):
        _merge_state.skip_scan = True
    return found


def _load_documents_unless_skipped(self: SQLiteEngine, db_name: str, coll_name: str) -> Any:
    if getattr(_merge_state, "skip_scan", False):
        _merge_state.skip_scan = False
        return iter(())
    return _load_documents(self, db_name, coll_name)


# Fix 5. Each event's journal JSON, by hub and token, kept while the event is.
_encoded: dict[int, dict[int, str]] = {}
_Hub = hub_module.ChangeStreamHub


def _event_json(hub: Any, event: Any) -> str:
    kept = _encoded.setdefault(id(hub), {})
    payload = kept.get(event.token)
    if payload is None:
        payload = kept[event.token] = json.dumps(
            snapshot_to_document(event), separators=(",", ":"), sort_keys=True)
    return payload


def _journal_write_failed(hub: Any, error: OSError) -> None:
    """Fix 16: the journal only carries history across restarts; live delivery goes on.

    The history on disk now misses events, so it is marked broken: the next
    start begins it afresh (fix 7), and older resume tokens answer
    ChangeStreamHistoryLost, instead of resuming across a silent hole.
    """
    if not hub.__dict__.get("_pialara_journal_failed"):
        hub._pialara_journal_failed = True
        log.error("the change-stream journal %s could not be written (%s): events are "
                  "still delivered, and the next start begins the history afresh",
                  hub._journal_path, error)
    try:
        hub._persist_degraded_locked(error)
    except OSError as marker_error:
        log.error("the change-stream journal cannot be marked broken either (%s)",
                  marker_error)


def _append_journal_event_once(self: Any, event: Any) -> None:
    if self._journal_event_log_path is None:
        return
    payload = _event_json(self, event)
    checksum = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    # The same line journal.journal_event_entry writes (sorted keys, compact).
    line = f'{{"checksum":"{checksum}","event":{payload},"version":1}}\n'
    try:
        with open(self._journal_event_log_path, "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError as error:
        _journal_write_failed(self, error)
        return
    self._journal_log_entries_since_compaction += 1
    self._journal_log_bytes_since_compaction += len(line.encode("utf-8"))


def _persist_from_kept_json(self: Any) -> None:
    if self._journal_path is None:
        return
    events = ",".join(_event_json(self, event) for event in self._events)
    kept = _encoded.get(id(self), {})
    first = self._events[0].token if self._events else self._next_token
    for token in [t for t in kept if t < first]:
        del kept[token]
    # The document journal.journal_payload writes (sorted keys, compact).
    payload = (f'{{"base_offset":{self._base_offset},"events":[{events}],'
               f'"next_token":{self._next_token},"version":1}}')
    temp_path = f"{self._journal_path}.tmp"
    try:
        with open(temp_path, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(temp_path, self._journal_path)
    except OSError as error:
        _journal_write_failed(self, error)


def _prune_a_quarter_at_a_time(self: Any) -> bool:
    limit = self._max_retained_events
    if limit is None or len(self._events) <= limit + limit // 4:
        return False
    excess = len(self._events) - limit
    del self._events[:excess]
    self._base_offset += excess
    return True


# Fix 6.
def _compact_delivered_changes(conn: Any, *, max_entries: int) -> int:
    newest = _sqlite_outbox._max_sequence(conn)
    row = conn.execute("SELECT MIN(checkpoint) FROM change_outbox_consumers").fetchone()
    delivered = newest if row is None or row[0] is None else int(row[0])
    target = max(_sqlite_outbox._pruned_through(conn), delivered)
    if target <= 0:
        return 0
    removed = conn.execute("DELETE FROM change_outbox WHERE sequence <= ?", (target,))
    conn.execute("DELETE FROM change_outbox_identities WHERE sequence <= ?",
                 (min(target, max(0, newest - max_entries)),))
    conn.execute("UPDATE change_outbox_state SET pruned_through = MAX(pruned_through, ?) "
                 "WHERE singleton = 1", (target,))
    return max(0, removed.rowcount)


# Fix 7.
def _clear_broken_history(self: Any) -> None:
    path = self._journal_degraded_path
    if path is None or not os.path.exists(path):
        return
    log.warning("change-stream history of %s was marked broken: starting it afresh "
                "(older resume tokens answer ChangeStreamHistoryLost)", self._journal_path)
    if self._next_token > 1:
        self._record_gap_range_locked(1, self._next_token - 1)
    self._base_offset += len(self._events)
    self._events = []
    _persist_from_kept_json(self)
    if self._journal_event_log_path is not None and os.path.exists(
            self._journal_event_log_path):
        os.remove(self._journal_event_log_path)
    os.remove(path)


# Fix 8.
_comparison_matches: Any = _filtering_matching.FilteringMatchingMixin._comparison_matches_candidate
_translate_comparison = sqlite_query._translate_comparison


def _bracket(value: Any) -> Any:
    return bson_order.order_key(value)[0]


def _crosses_brackets(target: Any) -> bool:
    return isinstance(target, MinKey | MaxKey) or type(target).__name__ in ("MinKey", "MaxKey")


def _comparison_within_bracket(cls: Any, candidate: Any, target: Any, operator: str,
                               **options: Any) -> bool:
    if not _crosses_brackets(target) and not (
            isinstance(candidate, list) and isinstance(target, list)) and \
            _bracket(candidate) != _bracket(target):
        return False
    return _comparison_matches.__func__(cls, candidate, target, operator, **options)


def _translate_comparison_within_bracket(operator: str, field: str, value: Any) -> Any:
    if _crosses_brackets(value):
        return _translate_comparison(operator, field, value)
    return sqlite_query._translate_scalar_or_array_same_type_comparison(operator, field, value)


# Fix 9.
_translate_membership = sqlite_query._translate_membership
_MEMBERSHIP_GROUP = 64


def _balanced(parts: list[tuple[str, list[Any]]], joiner: str) -> tuple[str, list[Any]]:
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left_sql, left_params = _balanced(parts[:middle], joiner)
    right_sql, right_params = _balanced(parts[middle:], joiner)
    return f"(({left_sql}){joiner}({right_sql}))", [*left_params, *right_params]


def _translate_membership_in_groups(field: str, values: Any, *, negated: bool,
                                    **options: Any) -> Any:
    values = tuple(values)
    if len(values) <= _MEMBERSHIP_GROUP:
        return _translate_membership(field, values, negated=negated, **options)
    parts = [_translate_membership(field, values[start:start + _MEMBERSHIP_GROUP],
                                   negated=negated, **options)
             for start in range(0, len(values), _MEMBERSHIP_GROUP)]
    sql, params = _balanced([(sql, list(params)) for sql, params in parts],
                            " AND " if negated else " OR ")
    return sql, params


# Fix 10.
_select_first = _sqlite_fast_paths.select_first_document_for_plan


def _select_first_by_id(*, db_name: str, coll_name: str, plan: Any,
                        storage_key_for_id: Any, fetchone: Any, deserialize_document: Any,
                        **options: Any) -> Any:
    if isinstance(plan, AndCondition):
        by_id = next((c for c in plan.clauses if isinstance(c, EqualsCondition)
                      and c.field == "_id" and not id_contains_numeric_value(c.value)), None)
        if by_id is not None:
            row = fetchone("SELECT storage_key, document FROM documents "
                           "WHERE db_name = ? AND coll_name = ? AND storage_key = ?",
                           (db_name, coll_name, storage_key_for_id(by_id.value)))
            if row is None:
                return None
            document = deserialize_document(row[1])
            return (row[0], document) if QueryEngine.match_plan(document, plan) else None
    return _select_first(db_name=db_name, coll_name=coll_name, plan=plan,
                         storage_key_for_id=storage_key_for_id, fetchone=fetchone,
                         deserialize_document=deserialize_document, **options)


# Fix 11.
_resolve_distinct = _collection_reads.resolve_distinct_candidates


def _distinct_values_present(values: list[Any], *, exact_found: bool,
                             exact_value: Any) -> list[Any]:
    if not values and not exact_found:
        return []
    return _resolve_distinct(values, exact_found=exact_found, exact_value=exact_value)


async def _execute_distinct_command(self: Any, collection_name: str, key: str,
                                    operation: Any, *, session: Any = None) -> Any:
    """mongoeco's distinct command (``_database_admin_read_commands``), missing
    fields left out."""
    values_seen: list[Any] = []
    collation = normalize_collation(operation.collation)
    collection = self._admin._database.get_collection(collection_name)
    async for document in collection._build_cursor(operation, session=session):
        values = QueryEngine.extract_values(document, key)
        if not values:
            found, value = QueryEngine._get_field_value(document, key)
            if not found or isinstance(value, list):
                continue
            values = [value]
        for candidate in values[1:] if isinstance(values[0], list) else values:
            if not any(QueryEngine._values_equal(seen, candidate,
                                                 dialect=self._admin._mongodb_dialect,
                                                 collation=collation)
                       for seen in values_seen):
                values_seen.append(candidate)
    return DistinctCommandResult(values=values_seen)


# Fix 12.
class _InlineLeaseRenewal:
    """Stands for mongoeco's heartbeat state: renews the dispatch lease from the
    dispatching thread whenever ``_HEARTBEAT`` seconds have passed."""

    def __init__(self, engine: Any, consumer_id: str, generation: int) -> None:
        self._engine = engine
        self._consumer_id = consumer_id
        self._generation = generation
        self._renewed = time.monotonic()

    def raise_if_failed(self) -> None:
        if time.monotonic() - self._renewed < _HEARTBEAT:
            return
        engine = self._engine
        with engine._change_delivery_storage() as conn:
            renewed = _sqlite_outbox.renew_consumer_lease(
                conn, self._consumer_id, (engine._change_dispatch_owner, self._generation),
                now_epoch=time.time(), ttl_seconds=sqlite_engine_module.
                _CHANGE_DISPATCH_LEASE_TTL_SECONDS)
            conn.commit()
        if not renewed:
            raise OperationFailure("change consumer dispatch lease was lost")
        self._renewed = time.monotonic()


_HEARTBEAT = sqlite_engine_module._CHANGE_DISPATCH_HEARTBEAT_SECONDS


def _dispatch_without_a_thread(self: Any, consumer_id: str, consumer: Any) -> None:
    dispatch_key = f"{self._change_dispatch_scope}\0{consumer_id}"
    with sqlite_engine_module._SQLITE_CHANGE_DISPATCH.hold(dispatch_key):
        generation = self._acquire_change_dispatch_lease(consumer_id)
        try:
            self._dispatch_committed_changes_serial(
                consumer_id, consumer, generation=generation,
                heartbeat=_InlineLeaseRenewal(self, consumer_id, generation))
        finally:
            self._release_change_dispatch_lease(consumer_id, generation)


async def _drop_announced(self: Any, *, session: Any = None) -> None:
    self._ensure_session_active(session)
    existed = self._collection_name in await self._engine.list_collections(
        self._db_name, context=session)
    await self._engine.drop_collection(self._db_name, self._collection_name, context=session)
    if existed:
        _announce_drop(self, session)


def _announce_drop(collection: Any, session: Any) -> None:
    for operation in ("drop", "invalidate"):
        collection._publish_change_event(operation_type=operation, document_key={},
                                         session=session)


async def _drop_database_announced(self: Any, name: str, *, session: Any = None) -> None:
    names = await self._engine.list_collections(name, context=session)
    await _original_drop_database(self, name, session=session)
    database = self.get_database(name)
    for collection_name in names:
        _announce_drop(database.get_collection(collection_name), session)
    if names:
        _announce_database_dropped(database._change_hub, name)


def _announce_database_dropped(hub: Any, name: str) -> None:
    # The database's own streams see it end; coll_name "" marks an event of
    # the database itself (see _matches_as_mongodb).
    for operation in ("dropDatabase", "invalidate"):
        hub.publish(operation_type=operation, db_name=name, coll_name="", document_key={})


_command_drop_database = _write_commands.DatabaseAdminWriteCommandService.command_drop_database


async def _command_drop_database_announced(self: Any, *, session: Any = None) -> Any:
    # The wire's dropDatabase drops each collection (each announced), then
    # the database's end is announced.
    admin = self._admin
    existed = bool(await admin._engine.list_collections(admin._db_name, context=session))
    result = await _command_drop_database(self, session=session)
    if existed:
        _announce_database_dropped(admin._database._change_hub, admin._db_name)
    return result


def _matches_as_mongodb(self: Any, event: Any) -> bool:
    # Fix 13 too: an ``invalidate`` ends only the streams it is for, a
    # collection's or (after ``dropDatabase``) a database's; cluster streams
    # see neither. mongoeco's scope let a database stream take a collection's
    # invalidate, and so end when any of its collections was dropped.
    if self.db_name is not None and event.db_name != self.db_name:
        return False
    if self.coll_name is not None:
        return bool(event.coll_name == self.coll_name)
    if event.operation_type == "invalidate":
        return self.db_name is not None and event.coll_name == ""
    return True


_original_drop_database = _async_client.AsyncMongoClient.drop_database


def _start_transaction_holding_the_write_lock(self: Any, session: Any) -> None:
    engine = self._engine
    with engine._lock:
        if engine._connection is None:
            raise InvalidOperation("SQLiteEngine must be connected before starting a "
                                   "transaction")
        if engine._transaction_owner_session_id is not None:
            raise InvalidOperation("SQLiteEngine already has an active transaction bound "
                                   "to another session")
        connection = engine._connection
        self._ensure_write_state_usable(connection)
        connection.execute("BEGIN IMMEDIATE")
        engine._transaction_owner_session_id = session.session_id
        engine._mvcc_version += 1
        self.sync_session_state(session, transaction_active=True)


# Fix 17.
_start_session = _async_client.AsyncMongoClient.start_session
_PRUNE_AT_LEAST = 1024


def _start_session_pruning_rarely(self: Any, **options: Any) -> Any:
    live = self._sessions
    if len(live) < self.__dict__.get("_pialara_prune_at", _PRUNE_AT_LEAST):
        # mongoeco's start_session prunes the table it finds: give it an empty one.
        self._sessions = {}
        try:
            session = _start_session(self, **options)
        finally:
            live.update(self._sessions)
            self._sessions = live
        return session
    session = _start_session(self, **options)  # prunes every closed session
    self._pialara_prune_at = max(_PRUNE_AT_LEAST, 2 * len(self._sessions))
    return session


def _no_inline_ttl_purge(self: Any, *args: Any, **kwargs: Any) -> int:
    return 0  # fix 15: TTLMonitor deletes expired documents, with events


class LayeredSQLiteEngine(SQLiteEngine):
    """mongoeco's SQLite engine with the fixes that are its own methods, as a
    subclass: another SQLiteEngine in the process keeps mongoeco's code."""

    _validate_document_against_unique_indexes = _validate_unique_without_scan  # fix 2
    _merge_document_sync = _merge_document_without_id_scan  # fix 4
    _load_existing_document_for_storage_key = _load_existing_document_noting_a_miss
    _load_documents = _load_documents_unless_skipped
    dispatch_committed_changes = _dispatch_without_a_thread  # fix 12
    _purge_expired_documents_sync = _no_inline_ttl_purge  # fix 15


def _replacements() -> list[tuple[Any, str, Any]]:
    """Every attribute of mongoeco this module replaces: (owner, name, replacement)."""
    return [
        (EngineSpiAdapter, "_deliver_committed_change", staticmethod(_deliver_committed_change)),
        (sqlite_engine_module, "_sqlite_register_consumer", _register_consumer_within_outbox),
        (SQLiteSessionRuntime, "rollback_write", _rollback_write_whatever_the_session),
        (_Hub, "_append_journal_event_locked", _append_journal_event_once),
        (_Hub, "_persist_locked", _persist_from_kept_json),
        (_Hub, "_prune_locked", _prune_a_quarter_at_a_time),
        (_Hub, "_load_degraded_marker", _clear_broken_history),
        (_filtering_matching.FilteringMatchingMixin, "_comparison_matches_candidate",
         classmethod(_comparison_within_bracket)),
        (sqlite_query, "_translate_comparison", _translate_comparison_within_bracket),
        (sqlite_query, "_translate_membership", _translate_membership_in_groups),
        (_collection_reads, "resolve_distinct_candidates", _distinct_values_present),
        (_async_collection, "_resolve_distinct_candidates", _distinct_values_present),
        (_read_commands.DatabaseAdminReadCommandService, "execute_distinct_command",
         _execute_distinct_command),
        (_sqlite_fast_paths, "select_first_document_for_plan", _select_first_by_id),
        (_sqlite_read_fast_path_runtime, "_sqlite_select_first_document_for_plan",
         _select_first_by_id),
        (_sqlite_outbox, "compact_change_outbox", _compact_delivered_changes),
        (sqlite_engine_module, "_sqlite_compact_change_outbox", _compact_delivered_changes),
        (SQLiteSessionRuntime, "start_session_transaction",
         _start_transaction_holding_the_write_lock),
        (_async_collection.AsyncCollection, "drop", _drop_announced),
        (_async_client.AsyncMongoClient, "drop_database", _drop_database_announced),
        (_async_client.AsyncMongoClient, "start_session", _start_session_pruning_rarely),
        (ChangeStreamScope, "matches", _matches_as_mongodb),
        (_write_commands.DatabaseAdminWriteCommandService, "command_drop_database",
         _command_drop_database_announced),
        *update_events.replacements(),
    ]


def install() -> None:
    """Put every replacement in place, once per process (deliberate rebindings
    of another package's attributes, checked by the seam)."""
    global _installed
    if not _installed:
        seam.check_subclass(LayeredSQLiteEngine)
        seam.rebind(_replacements())
        _installed = True
