"""The embedded MongoDB-compatible server: mongoeco's wire server plus our layer.

``EmbeddedServer`` persists mongoeco's SQLite engine and its change-stream
journal under one data directory and puts ``CommandLayer`` between the wire
protocol and mongoeco's executor. The layer answers what mongoeco lacks (a
replica-set handshake, change-stream cursors, ``CursorNotFound``) and
serialises transactions; everything else passes through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import bson
from bson import Binary, Decimal128, Int64
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions, TypeRegistry
from mongoeco import AsyncMongoClient
from mongoeco import types as mongoeco_types
from mongoeco.core.aggregation import apply_pipeline
from mongoeco.core.bson_scalars import BsonDecimal128, BsonInt64, unwrap_bson_numeric
from mongoeco.core.expression_context import ExpressionExecutionContext
from mongoeco.errors import BulkWriteError
from mongoeco.wire._executor_support import WIRE_INTERNAL_KEYS
from mongoeco.wire._session_identity import wire_session_key
from mongoeco.wire.capabilities import WireCommandCapability
from mongoeco.wire.executor import WireCommandExecutor
from mongoeco.wire.requests import WireRequestContext

from pialara_async.embedded import (
    aggregation,
    collection_options,
    engine_fixes,
    indexes,
    lookup,
    merge,
    seam,
)
from pialara_async.embedded.change_streams import (
    DATABASE_STREAM,
    ChangeStreamBridge,
    cluster_time,
)
from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.engine_host import EngineHost
from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.failpoints import FailPoints
from pialara_async.embedded.handshake import ReplicaSetIdentity, complete_hello
from pialara_async.embedded.index_commands import IndexCommands
from pialara_async.embedded.indexes import IndexCatalog, IndexSpec
from pialara_async.embedded.ownership import DirectoryLock
from pialara_async.embedded.planner import Planner
from pialara_async.embedded.replies import first_batch
from pialara_async.embedded.stored import StoredDocuments
from pialara_async.embedded.text_commands import TextCommands
from pialara_async.embedded.text_search import TextSearch
from pialara_async.embedded.transactions import RETRYABLE_WRITES, SessionTable
from pialara_async.embedded.ttl import TTLMonitor
from pialara_async.embedded.wire import HANDSHAKE_COMMANDS, LayeredProxy

log = logging.getLogger(__name__)

DEFAULT_SET_NAME = "pialara"
# Kept events of the change-stream journal: the window within which a stopped
# watcher can resume. Older tokens answer ChangeStreamHistoryLost (286). Each
# event holds its document, in memory and in the journal.
DEFAULT_HISTORY_SIZE = 10_000
# MongoDB runs blocking stages (sort, group) over any number of documents,
# spilling to disk past its memory limit (allowDiskUse is true by default since
# 6.0). mongoeco refused pipelines over 50,000 documents unless it could
# spill: it spills past this many.
SPILL_THRESHOLD = 100_000
# The longest an ordinary command waits for a transaction's commit to finish
# executing (never for a client) when it gives no maxTimeMS.
SHARED_WAIT_SECONDS = 30.0
FEATURE_COMPATIBILITY_VERSION = "7.0"  # mongoeco answers as MongoDB 7.0.0
# MongoDB's parameters that setParameter may change here.
SETTABLE_PARAMETERS = ("transactionLifetimeLimitSeconds", "ttlMonitorSleepSecs")
_TRANSACTION_FIELDS = ("autocommit", "startTransaction", "txnNumber")
LAYER_COMMANDS = frozenset({"setParameter", "getParameter", "collMod"})
# Spellings mongod accepts besides the canonical one (PyMongo's server_info()
# sends "buildinfo").
COMMAND_ALIASES = {"buildinfo": "buildInfo"}
_UNKNOWN_COMMAND = "unsupported wire command: "
PLANNED_READS = frozenset({"find", "count", "distinct", "aggregate"})
# What MongoDB serves with readConcern "snapshot" outside a transaction.
_SNAPSHOT_READS = frozenset({"find", "aggregate", "distinct", "getMore", "killCursors"})
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # MongoDB's BSON document limit


def _as_sent(value: Any) -> Any:
    """A decoded command's values of mongoeco's own types (its wrappers of
    ``Int64``, ``Decimal128``, ``Regex``, ``Timestamp``...) as the BSON types
    they arrived as."""
    if isinstance(value, BsonInt64):
        return Int64(value.value)
    if isinstance(value, BsonDecimal128 | mongoeco_types.Decimal128):
        return Decimal128(str(value.value))
    if isinstance(value, mongoeco_types.Regex):
        return bson.Regex(value.pattern, value.flags)
    if isinstance(value, mongoeco_types.Timestamp):
        return bson.Timestamp(value.time, value.inc)
    unwrapped = unwrap_bson_numeric(value)
    if unwrapped is value:
        raise TypeError(f"cannot size {type(value).__name__}")
    return unwrapped


# Decoded commands hold uuid.UUID for binary subtype 4 (encoded back as such)
# and mongoeco's numeric wrappers.
_SIZING: CodecOptions[dict[str, Any]] = CodecOptions(
    uuid_representation=UuidRepresentation.STANDARD,
    type_registry=TypeRegistry(fallback_encoder=_as_sent))
# The signature of a cluster time from a deployment without keys.
_NO_SIGNATURE = {"hash": Binary(b"\x00" * 20), "keyId": Int64(0)}
# Commands that may carry a hint (update and delete: in each statement).
_HINTED = frozenset({"find", "count", "aggregate", "update", "delete", "findAndModify"})


def _app_name(connection: Any) -> str | None:
    """The ``appName`` a client gave in its handshake."""
    metadata = getattr(connection, "client_metadata", None) or {}
    application = metadata.get("application") if isinstance(metadata, dict) else None
    name = application.get("name") if isinstance(application, dict) else None
    return name if isinstance(name, str) else None


def _with_write_concern_outcome(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """A one-member replica set applies a write, then cannot satisfy a write
    concern that asks for more members (or a tag it does not have), and says
    so in ``writeConcernError``, as MongoDB does."""
    concern = body.get("writeConcern")
    if not isinstance(concern, dict) or not isinstance(reply, dict) or not reply.get("ok") \
            or "writeConcernError" in reply:
        return reply
    w = concern.get("w")
    if isinstance(w, int | float) and not isinstance(w, bool) and w > 1:
        error = {"code": 100, "codeName": "UnsatisfiableWriteConcern",
                 "errmsg": "Not enough data-bearing nodes"}
    elif isinstance(w, str) and w != "majority":
        error = {"code": 79, "codeName": "UnknownReplWriteConcern",
                 "errmsg": f"unrecognized write concern mode: {w}"}
    else:
        return reply
    return {**reply, "writeConcernError": error}


def _refuse_oversized_documents(name: str, command: dict[str, Any]) -> None:
    """MongoDB stores no document over 16 MiB: an insert or replacement larger
    than that is refused (here before anything of the command is written)."""
    if name == "insert":
        documents = command.get("documents") or []
    elif name == "update":
        documents = [s.get("u") for s in command.get("updates") or () if isinstance(s, dict)]
    else:
        documents = [command.get("update")]
    for document in documents:
        if isinstance(document, dict) and not any(str(k).startswith("$") for k in document):
            try:
                size = len(bson.encode(document, codec_options=_SIZING))
            except (TypeError, bson.errors.InvalidDocument):
                continue  # a value of a type of mongoeco's own: its size goes unchecked
            if size > MAX_DOCUMENT_BYTES:
                raise CommandError(10334, "BSONObjectTooLarge",
                                   f"document too large: {size} bytes, the limit is "
                                   f"{MAX_DOCUMENT_BYTES}")


def _whole_sizes(body: dict[str, Any]) -> dict[str, Any]:
    """``create``'s capped ``size`` and ``max`` may be any positive number (drivers
    send doubles); mongoeco takes integers only."""
    sizes = {}
    for field in ("size", "max"):
        value = body.get(field)
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            sizes[field] = math.ceil(value)
    return {**body, **sizes} if sizes else body


def _database_aggregate(body: dict[str, Any]) -> bool:
    """``aggregate: 1`` starting with a stage that makes its own documents."""
    pipeline = body.get("pipeline")
    return body.get("aggregate") == 1 and isinstance(pipeline, list) and bool(pipeline) \
        and isinstance(pipeline[0], dict) and \
        set(pipeline[0]) in ({"$documents"}, {"$listLocalSessions"})


def _hinted_index(hint: object, indexes: dict[str, IndexSpec]) -> IndexSpec | None:
    """The index ``hint`` (a name or a key pattern) names among ``indexes``."""
    if isinstance(hint, str):
        return indexes.get(hint)
    if isinstance(hint, dict):
        key = list(hint.items())
        return next((spec for spec in indexes.values()
                     if key == list(zip(spec.fields, spec.directions, strict=True))), None)
    return None


class CommandLayer:
    """Wraps mongoeco's ``WireCommandExecutor`` (same interface as the proxy uses)."""

    def __init__(
        self,
        inner: WireCommandExecutor,
        client: AsyncMongoClient,
        identity: ReplicaSetIdentity,
        cursor_store: Any,
        database_file: Path | None = None,
    ) -> None:
        self._inner = inner
        self._identity = identity
        self._cursor_store = cursor_store
        self.change_streams = ChangeStreamBridge(client)
        self.access = EngineAccess()
        self.sessions = SessionTable(self.access, self._execute_body, self._end_private)
        # Commands running per session, and sessions whose end waits for them.
        self._running: Counter[str] = Counter()
        self._ending: dict[str, object] = {}
        self.stored = StoredDocuments(database_file)
        self.catalog = IndexCatalog(client, self.stored, self.access)
        self.planner = Planner(self.catalog, self.stored, client.mongodb_dialect, cursor_store)
        self.text = TextCommands(TextSearch(client, self.catalog), cursor_store,
                                 self.planner.documents, client.mongodb_dialect)
        self.indexes = IndexCommands(self.catalog, self.text.search, client)
        self.merge = merge.BatchedMerge(client, self.access, self.planner.pipeline)
        self.out = merge.ReplacingOut(client, self.access, self._aggregate)
        self.ttl = TTLMonitor(client, self.access)
        self.failpoints = FailPoints()
        # Connections the fail point closes, by id: the proxy closes them.
        self.closing: set[int] = set()
        # Set to run the background pass now (EmbeddedServer._housekeeping).
        self.housekeeping_due = asyncio.Event()
        self._client = client

    # The proxy calls these two directly.
    def _build_request_context(self, body: dict[str, Any], **kwargs: Any) -> Any:
        name = next(iter(body), None)
        if name in COMMAND_ALIASES:
            (_alias, value), *rest = body.items()
            name = COMMAND_ALIASES[name]
            body = {name: value, **dict(rest)}
        if name == "create":
            body = _whole_sizes(body)
        if isinstance(name, str) and (name in LAYER_COMMANDS or _database_aggregate(body)):
            # Commands mongoeco does not know, answered by the layer.
            return WireRequestContext(
                db_name=str(body.get("$db", "admin")), command_name=name,
                command_document={k: v for k, v in body.items() if k not in WIRE_INTERNAL_KEYS},
                raw_body=body, capability=WireCommandCapability(name=name, binds_session=False),
                connection=kwargs["connection"],
                execution_context=ExpressionExecutionContext(now=self._client._resolve_now()))
        if body.get("aggregate") == 1 and _opens_change_stream(body):
            # mongoeco's validator wants a collection name; a database-level
            # stream names none. Mark it and let ChangeStreamBridge read the mark.
            body = {**body, "aggregate": DATABASE_STREAM}
        if body.get("autocommit") is False:
            # A transaction's statements run in private engine transactions
            # (transactions.py): mongoeco must not start one for the client's
            # session while building the context.
            engine_body = {k: v for k, v in body.items() if k not in _TRANSACTION_FIELDS}
            context = self._inner._build_request_context(engine_body, **kwargs)
            return dataclasses.replace(context, raw_body=body)
        return self._inner._build_request_context(body, **kwargs)

    def error_document(self, exc: Exception) -> dict[str, Any]:
        if isinstance(exc, CommandError):
            return exc.document()
        document: dict[str, Any] = self._inner.error_document(exc)
        message = str(document.get("errmsg", ""))
        if "code" not in document and message.startswith(_UNKNOWN_COMMAND):
            # MongoDB's answer, with the code drivers test for.
            name = message.removeprefix(_UNKNOWN_COMMAND)
            document.update(errmsg=f"no such command: '{name}'", code=59,
                            codeName="CommandNotFound")
        return document

    async def _execute_body(self, body: dict[str, Any], connection: Any,
                            now: Any) -> dict[str, Any]:
        """Run ``body`` (a transaction statement on a private session) on the engine."""
        context = self._inner._build_request_context(body, connection=connection)
        context = dataclasses.replace(context,
                                      execution_context=ExpressionExecutionContext(now=now))
        return await self._dispatch(context)

    def _end_private(self, lsid: dict[str, Any], commit: bool) -> None:
        """End a private engine session, committing its transaction or rolling it back."""
        store = self._inner._session_store
        try:
            if commit:
                store.commit_transaction({"lsid": lsid})
        finally:
            with contextlib.suppress(Exception):
                store.abort_transaction({"lsid": lsid})
            store.end_sessions([lsid])

    async def execute_prepared(self, context: Any) -> dict[str, Any]:
        reply = await self._execute_checked(context)
        return self._stamped(_with_write_concern_outcome(context.raw_body, reply))

    def _stamped(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A replica set member's reply carries the cluster time it has reached:
        drivers send it back (``afterClusterTime``) for causal consistency."""
        if isinstance(reply, dict) and reply.get("ok"):
            now = cluster_time(self.change_streams.current_token())
            reply.setdefault("operationTime", now)
            reply.setdefault("$clusterTime", {"clusterTime": now, "signature": _NO_SIGNATURE})
        return reply

    async def _execute_checked(self, context: Any) -> dict[str, Any]:
        name: str = context.command_name
        if name == "configureFailPoint":
            return self.failpoints.configure(context.command_document)
        failure = self.failpoints.consume(
            name, context.raw_body, _app_name(context.connection),
            f"{context.db_name}.{context.command_document.get(name)}")
        if failure is None:
            return await self._execute_in_session(context)
        await self.failpoints.apply_delay(failure)
        if failure.close_connection:
            self.closing.add(context.connection.connection_id)  # the proxy closes it
            return {"ok": 0.0, "errmsg": "closed by the failCommand fail point"}
        if failure.error is not None:
            return failure.error
        reply = await self._execute_in_session(context)
        if failure.close_after_running:
            self.closing.add(context.connection.connection_id)
        if failure.write_concern_error is not None and reply.get("ok"):
            reply = self.failpoints.with_write_concern_error(failure, name, context.raw_body,
                                                            reply)
        return reply

    async def _execute_in_session(self, context: Any) -> dict[str, Any]:
        lsid = context.raw_body.get("lsid")
        if lsid is None or context.command_name == "endSessions":
            return await self._execute(context)
        key = wire_session_key(lsid)
        self._running[key] += 1
        try:
            return await self._execute(context)
        finally:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
                if key in self._ending:
                    self._end_sessions([self._ending.pop(key)])

    def forget_idle_sessions(self) -> None:
        """Sessions idle for 30 minutes go, from the layer's table and mongoeco's store."""
        idle = [lsid for lsid in self.sessions.reap() if lsid is not None]
        if idle:
            self._inner._session_store.end_sessions(idle)

    def _end_sessions(self, lsids: list[object]) -> None:
        for lsid in lsids:
            self.sessions.end(lsid)
        self._inner._session_store.end_sessions(lsids)

    def _end_sessions_when_idle(self, context: Any) -> dict[str, Any] | None:
        """``endSessions``: a session ends once its running commands finish.

        A driver closing a client ends its pooled sessions, including one whose
        operation it abandoned while the server still runs it; ending that
        session under a write made the write fail half-way (engine_fixes 3).
        MongoDB lets the operation finish; so do we.
        """
        lsids = context.command_document.get("endSessions")
        if not isinstance(lsids, list):
            return None  # mongoeco answers the malformed command
        idle = []
        for lsid in lsids:
            key = wire_session_key(lsid)
            if key in self._running:
                self._ending[key] = lsid
            else:
                idle.append(lsid)
        self._end_sessions(idle)
        return {"ok": 1.0}

    async def handshake(self, context: Any) -> dict[str, Any]:
        """``hello``, ``isMaster`` and ``ping``, answered on the wire loop."""
        if context.command_name not in HANDSHAKE_COMMANDS:
            return self._stamped({"ok": 1.0})  # ping
        body = context.raw_body
        if "topologyVersion" in body and "maxAwaitTimeMS" in body:
            # A driver's streaming heartbeat: MongoDB answers when the
            # topology changes or after maxAwaitTimeMS. Answering at once
            # made drivers poll in a tight loop; waiting the full 10 s
            # delayed a driver that had just marked the server unknown.
            await asyncio.sleep(min(float(body["maxAwaitTimeMS"]), 500.0) / 1000)
        return self._stamped(complete_hello(await self._inner.execute_prepared(context),
                                            self._identity))

    async def _execute(self, context: Any) -> dict[str, Any]:
        name: str = context.command_name
        command: dict[str, Any] = context.command_document
        body: dict[str, Any] = context.raw_body
        if name in HANDSHAKE_COMMANDS or name == "ping":
            return await self.handshake(context)
        if name in ("insert", "update", "findAndModify"):
            _refuse_oversized_documents(name, command)
        if name in _HINTED:
            await self._drop_hints_on_owned_indexes(context)
        concern = body.get("readConcern")
        if isinstance(concern, dict) and concern.get("level") == "snapshot" and \
                body.get("autocommit") is not False and name not in _SNAPSHOT_READS:
            raise CommandError(72, "InvalidOptions",
                               "readConcern level snapshot is only valid in a transaction "
                               "or for find, aggregate and distinct")
        if "lsid" in body:
            self.sessions.touch(body["lsid"])
        if name == "aggregate" and _database_aggregate(body):
            return self._aggregate_generated(context)
        if name == "aggregate" and _opens_change_stream(command):
            return await self.change_streams.open(
                context.db_name, command, context.connection.connection_id
            )
        if name == "getMore":
            cursor_id = command.get("getMore")
            if self.change_streams.owns(cursor_id):
                return await self.change_streams.get_more(command)
            if cursor_id not in self._cursor_store._state:
                raise CommandError(43, "CursorNotFound", f"cursor id {cursor_id} not found")
        if name == "killCursors":
            return await self._kill_cursors(context)
        if name == "endSessions" and (reply := self._end_sessions_when_idle(context)) is not None:
            return reply
        if name == "setParameter":
            return self._set_parameter(command)
        if name == "getParameter":
            return self._get_parameter(command)
        if name == "collMod":
            return await collection_options.coll_mod(self._client, self.access, context.db_name,
                                                     command)
        if "lsid" in body:
            if name == "commitTransaction":
                return await self.sessions.commit(body, context.connection)
            if name == "abortTransaction":
                return await self.sessions.abort(body)
            if body.get("autocommit") is False:
                if name in ("getMore", "killCursors"):
                    # The statement's cursor was filled when it ran: served as is.
                    self.sessions.check_in_progress(body)
                    return await self._with_shared_access(context)
                reply = await self.sessions.statement(name, body, context.connection,
                                                      context.execution_context.now)
                self._give_cursor_to(reply, body["lsid"])
                return reply
            if "txnNumber" in body and name in RETRYABLE_WRITES:
                return await self.sessions.retryable_write(
                    body, lambda: self._with_shared_access(context))
        if name == "aggregate" and body.get("autocommit") is not False and \
                merge.target(context.db_name, command.get("pipeline")) is not None:
            reply = await self.merge.run(context)
            if reply is not None:
                return reply
        if name == "aggregate" and body.get("autocommit") is not False and \
                merge.out_target(context.db_name, command.get("pipeline")) is not None:
            reply = await self.out.run(context)
            if reply is not None:
                return reply
        if name in PLANNED_READS and not self.text.handles(name, command):
            # Served from the layer's indexes and a reader of its own: never
            # waits for the engine.
            reply = await self.planner.answer(context)
            if reply is not None:
                return reply
        return await self._with_shared_access(context)

    def _set_parameter(self, command: dict[str, Any]) -> dict[str, Any]:
        """``setParameter``: MongoDB's ``transactionLifetimeLimitSeconds`` and
        ``ttlMonitorSleepSecs`` only, one at a time."""
        names = [key for key in command if key != "setParameter"]
        if len(names) != 1 or names[0] not in SETTABLE_PARAMETERS:
            raise CommandError(2, "BadValue", "the embedded server sets only "
                                              + " and ".join(SETTABLE_PARAMETERS))
        name = names[0]
        seconds = unwrap_bson_numeric(command[name])
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 1:
            raise CommandError(2, "BadValue", f"{name} must be a number of seconds >= 1")
        if name == "ttlMonitorSleepSecs":
            was, self.ttl.sleep_seconds = self.ttl.sleep_seconds, float(seconds)
            self.housekeeping_due.set()  # the next pass follows the new interval
        else:
            was, self.sessions.lifetime = self.sessions.lifetime, float(seconds)
        return {"was": int(was), "ok": 1.0}

    def _aggregate_generated(self, context: Any) -> dict[str, Any]:
        """A database-level ``aggregate`` whose documents its first stage makes:
        ``$documents`` or ``$listLocalSessions``."""
        command = context.command_document
        first, *rest = command["pipeline"]
        if "$documents" in first:
            documents = first["$documents"]
            if not isinstance(documents, list) or \
                    not all(isinstance(d, dict) for d in documents):
                raise CommandError(5858203, "Location5858203",
                                   "$documents takes a list of documents")
        else:
            documents = self.sessions.local_sessions()
        if any(isinstance(stage, dict) and {"$out", "$merge", "$lookup", "$unionWith"} & set(stage)
               for stage in rest):
            raise CommandError(40324, "Location40324", "the embedded server runs this "
                               "pipeline on its own documents only (no $out, $merge, "
                               "$lookup or $unionWith)")
        results = apply_pipeline([dict(d) for d in documents], rest,
                                 variables=command.get("let"),
                                 dialect=self._client.mongodb_dialect)
        return first_batch(self._cursor_store, context, results,
                           f"{context.db_name}.$cmd.aggregate")

    def _give_cursor_to(self, reply: dict[str, Any], lsid: object) -> None:
        """A transaction's statement ran in a private session; its cursor belongs
        to the client's session, which sends the getMores."""
        cursor = reply.get("cursor")
        state = self._cursor_store._state.get(cursor.get("id")) \
            if isinstance(cursor, dict) else None
        if state is not None:
            state.session_key = wire_session_key(lsid)

    async def _drop_hints_on_owned_indexes(self, context: Any) -> None:
        """A hint naming an index the layer keeps (mongoeco never sees those) is
        honoured by dropping it: the planner picks among the same indexes, and
        the answer is the same (a ``find`` without a sort is sorted in the
        index's order, as a hinted scan returns it). Hints on mongoeco's
        indexes, and unknown ones (refused), stay mongoeco's."""
        command = context.command_document
        target = command.get(context.command_name)
        statements = [s for s in (command, *(s for field in ("updates", "deletes")
                                             for s in command.get(field) or ()))
                      if isinstance(s, dict) and "hint" in s]
        if not statements or not isinstance(target, str):
            return  # most commands: no hint, no catalog lookup
        owned = await self.catalog.owned(f"{context.db_name}.{target}")
        if not owned:
            return
        for statement in statements:
            spec = _hinted_index(statement.get("hint"), owned)
            if spec is None:
                continue
            del statement["hint"]
            if context.command_name == "find" and not command.get("sort"):
                # A hinted scan returns documents in the index's order.
                command["sort"] = dict(zip(spec.fields, spec.directions, strict=True))

    def _parameters(self) -> dict[str, Any]:
        return {"featureCompatibilityVersion": {"version": FEATURE_COMPATIBILITY_VERSION},
                # configureFailPoint is accepted, as by a mongod run for tests.
                "enableTestCommands": True,
                "transactionLifetimeLimitSeconds": int(self.sessions.lifetime),
                "ttlMonitorSleepSecs": int(self.ttl.sleep_seconds)}

    def _get_parameter(self, command: dict[str, Any]) -> dict[str, Any]:
        """``getParameter``: ``"*"`` for all, else the names given."""
        known = self._parameters()
        if command["getParameter"] == "*":
            return {**known, "ok": 1.0}
        names = [key for key in command if key not in ("getParameter", "comment")]
        found = {name: known[name] for name in names if name in known}
        if not found:
            raise CommandError(72, "InvalidOptions", "no option found to get")
        return {**found, "ok": 1.0}

    async def _with_shared_access(self, context: Any) -> dict[str, Any]:
        limit = unwrap_bson_numeric(context.command_document.get("maxTimeMS"))
        if isinstance(limit, int | float) and not isinstance(limit, bool) and limit > 0:
            # The command's own time limit: MongoDB answers MaxTimeMSExpired.
            expired = CommandError(50, "MaxTimeMSExpired", "operation exceeded time limit")
            async with self.access.shared(limit / 1000, expired):
                return await self._dispatch(context)
        async with self.access.shared(SHARED_WAIT_SECONDS):
            return await self._dispatch(context)

    async def _dispatch(self, context: Any) -> dict[str, Any]:
        """Commands that use the engine (run once the transaction gate allows)."""
        name: str = context.command_name
        command: dict[str, Any] = context.command_document
        execute = self._inner.execute_prepared
        if name == "createIndexes":
            reply = await self.indexes.create_indexes(context, execute)
            if reply is not None:
                return reply
        elif name == "listIndexes":
            return await self.indexes.list_indexes(context, execute)
        elif name == "dropIndexes":
            return await self.indexes.drop_indexes(context, execute)
        elif self.text.handles(name, command):
            return await self.text.run(context, execute)
        elif name == "insert" and context.raw_body.get("autocommit") is not False:
            return await self._insert_many(context)
        elif name == "aggregate" and context.raw_body.get("autocommit") is not False and \
                not {"let", "collation"} & set(command) and \
                (position := lookup.plan(command["pipeline"])) is not None:
            documents = await lookup.run(self._aggregate, context.db_name,
                                         command["aggregate"], command["pipeline"], position)
            return first_batch(self._cursor_store, context, documents,
                               f"{context.db_name}.{command['aggregate']}")
        elif name == "drop":
            reply = await execute(context)
            await self.indexes.collection_dropped(f"{context.db_name}.{command['drop']}")
            return reply
        elif name == "dropDatabase":
            reply = await execute(context)
            await self.indexes.database_dropped(context.db_name)
            return reply
        elif name == "renameCollection":
            reply = await execute(context)
            if reply.get("ok") and isinstance(command.get("to"), str):
                await self.indexes.collection_renamed(str(command["renameCollection"]),
                                                      command["to"])
            return reply
        return await execute(context)

    async def _aggregate(self, namespace: str, pipeline: list[Any],
                         variables: dict[str, Any] | None) -> list[dict[str, Any]]:
        """A pipeline's documents: through an index when one serves it, else mongoeco."""
        documents = await self.planner.pipeline(namespace, pipeline, variables)
        if documents is not None:
            return documents
        db_name, coll_name = namespace.split(".", 1)
        collection = self._client.get_database(db_name).get_collection(coll_name)
        options = {} if variables is None else {"let": variables}
        return await collection.aggregate(pipeline, **options).to_list()

    async def _insert_many(self, context: Any) -> dict[str, Any]:
        """Plain inserts through the engine's batched path.

        Over the wire mongoeco writes an ``insert`` document by document, each
        in its own SQLite transaction: about twice as slow as its own
        ``insert_many``, which gives the same results and errors.
        """
        command = context.command_document
        documents = command.get("documents") or []
        collection = self._client.get_database(context.db_name).get_collection(command["insert"])
        try:
            await collection.insert_many(
                documents,
                ordered=command.get("ordered", True),
                bypass_document_validation=bool(command.get("bypassDocumentValidation")),
            )
        except BulkWriteError as error:
            details = getattr(error, "details", None) or {}
            reply = {"n": details.get("nInserted", 0), "ok": 1.0,
                     "writeErrors": details.get("writeErrors", [])}
            return reply
        return {"n": len(documents), "ok": 1.0}

    async def _kill_cursors(self, context: Any) -> dict[str, Any]:
        ids = context.command_document.get("cursors")
        if not isinstance(ids, list):
            return await self._inner.execute_prepared(context)
        killed = self.change_streams.kill(ids)
        rest = [cursor_id for cursor_id in ids if cursor_id not in killed]
        reply: dict[str, Any] = {"cursorsKilled": [], "cursorsNotFound": [], "cursorsAlive": [],
                                 "cursorsUnknown": [], "ok": 1.0}
        if rest:
            context.command_document["cursors"] = rest
            reply = await self._inner.execute_prepared(context)
        reply["cursorsKilled"] = killed + list(reply.get("cursorsKilled", []))
        return reply

    async def warm(self) -> None:
        """Build the indexes of every collection with a layer index or a text
        index, largest first-asked first, so a restart answers fast at once."""
        text = await self.text.search.namespaces()
        owned = await self.catalog.namespaces_with_indexes()
        await self.catalog.warm(dict.fromkeys([*text, *owned]))

    def close(self) -> None:
        self.change_streams.close()
        self.catalog.close()
        self.stored.close()


def _opens_change_stream(command: dict[str, Any]) -> bool:
    pipeline = command.get("pipeline")
    return isinstance(pipeline, list) and bool(pipeline) and isinstance(pipeline[0], dict) \
        and "$changeStream" in pipeline[0]


class EmbeddedServer:
    """One embedded server bound to ``host:port`` with its data under ``data_dir``.

    ``data_dir=None`` keeps everything in a temporary directory removed at
    ``stop`` (the layer reads the engine's file, so there is always one). The
    wire protocol is served on the calling loop; the engine and the layer run
    on an ``EngineHost`` thread.
    """

    def __init__(
        self,
        data_dir: Path | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        set_name: str = DEFAULT_SET_NAME,
        history_size: int = DEFAULT_HISTORY_SIZE,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.set_name = set_name
        self.history_size = history_size
        self._engine = EngineHost()
        self._proxy: LayeredProxy | None = None
        self._layer: CommandLayer | None = None
        self._client: AsyncMongoClient | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._lock: DirectoryLock | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?replicaSet={self.set_name}"

    async def _open_engine(self) -> AsyncMongoClient:
        seam.check_version()
        aggregation.install()
        engine_fixes.install()
        indexes.install()
        if self.data_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="pialara-embedded-")
            self.data_dir = Path(self._temporary.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        engine = engine_fixes.LayeredSQLiteEngine(str(self.data_dir / "mongoeco.sqlite3"),
                              aggregation_spill_threshold=SPILL_THRESHOLD)
        journal = str(self.data_dir / "changestream.journal")
        client = AsyncMongoClient(
            engine,
            change_stream_history_size=self.history_size,
            change_stream_journal_path=journal,
            change_stream_journal_max_bytes=16 * 1024 * 1024,
        )
        await engine.connect()
        return client

    async def _start_background(self) -> None:
        assert self._layer is not None
        self._warming = asyncio.create_task(self._layer.warm())
        self._housekeeper = asyncio.create_task(self._housekeeping(self._layer))

    async def start(self) -> str:
        if self.data_dir is not None:
            # Before the engine opens a file: a second owner stops here.
            self._lock = DirectoryLock(self.data_dir)
            self._lock.acquire()
        self._engine.start()
        client = await self._engine.run(self._open_engine())
        proxy = LayeredProxy(client=client, host=self.host, port=self.port)
        identity = ReplicaSetIdentity(self.set_name, self.host, self.port)
        assert self.data_dir is not None
        database_file = self.data_dir / "mongoeco.sqlite3"
        layer = CommandLayer(proxy._executor, client, identity, proxy._cursor_store,
                             database_file)
        proxy._executor = layer
        proxy.engine = self._engine
        proxy.handshake = layer.handshake
        proxy.closing = layer.closing
        self._layer, self._proxy, self._client = layer, proxy, client
        address = await proxy.start()
        self.port = identity.port = address.port
        await self._engine.run(self._start_background())
        if self._lock is not None:
            self._lock.record(self.uri, self.port)
        log.info("embedded MongoDB serving on %s (data: %s)", self.uri, self.data_dir)
        return self.uri

    @staticmethod
    async def _housekeeping(layer: CommandLayer) -> None:
        """Every ``ttlMonitorSleepSecs``, as mongod's TTL monitor: expired documents
        deleted, idle change-stream cursors and idle sessions (with any transaction
        past its lifetime) reaped. A failed pass is logged; the next one retries."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(layer.ttl.sleep_seconds):
                    await layer.housekeeping_due.wait()
            layer.housekeeping_due.clear()
            layer.change_streams.reap_idle()
            layer.forget_idle_sessions()
            try:
                await layer.ttl.run_pass()
            except Exception:
                log.exception("the TTL monitor's pass failed; the next one retries")

    async def _close_engine(self, proxy: LayeredProxy | None) -> None:
        for task in (self._housekeeper, self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._layer is not None:
            self._layer.close()
        if proxy is not None:
            proxy._cursor_store.clear()
            proxy._session_store.clear()
        if self._client is not None:
            await self._client._engine.disconnect()
            self._client._change_hub.close()

    async def stop(self) -> None:
        proxy = self._proxy
        if proxy is not None:
            await proxy.close_listener()
        with contextlib.suppress(RuntimeError):
            await self._engine.run(self._close_engine(proxy))
        self._engine.stop()
        self._proxy = self._layer = self._client = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = self.data_dir = None
