"""Logical sessions: transactions applied whole or not at all, retried writes applied once.

mongoeco's SQLite engine can hold one transaction, open on its one connection.
Holding it open between a client's statements made every other command wait
for that client: with a driver's bounded thread pool or connection pool, the
waiting commands could take every thread the transaction needed for its next
statement, and the server stalled until the transaction was aborted.

Here no engine transaction is held for a client while anyone else waits:

- **Statements** of a transaction are recorded. Each one runs, under exclusive
  engine access, inside a private engine transaction that holds the statements
  before it (so it sees the transaction's own writes on top of the last
  committed data). Its reply goes to the client.
- **Warm, then cold.** After a statement the private transaction stays open,
  with the engine's exclusive access (a ``Lease``), for the next statement:
  a transaction whose statements follow one another costs one pass, linear in
  its statements. As soon as any other command asks for the engine, or after
  ``WARM_SECONDS`` idle, it is rolled back and the engine given back; the next
  statement then replays the ones before it in a new private transaction.
- **commitTransaction** commits the warm private transaction, or replays every
  statement in a new one and commits that: all of the writes become visible at
  once, with their change events. A replayed statement must give the reply the
  client saw; if another commit changed what a statement read or wrote, the
  commit fails with ``WriteConflict`` labelled ``TransientTransactionError``
  and the drivers' ``with_transaction`` retries the whole transaction, as on a
  real server. A committed transaction is therefore equivalent to running all
  of its statements at its commit.
- **abortTransaction**, the lifetime limit, a client that disappears: nothing
  was ever applied, so there is nothing to undo.

Retryable writes (a ``txnNumber`` outside a transaction) are recorded per
session like MongoDB's transaction table: a retry of the same number returns
the first attempt's reply without applying the write again, and waits for the
first attempt when it is still running.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mongoeco.core.bson_scalars import unwrap_bson_numeric
from mongoeco.wire._session_identity import wire_session_key

from pialara_async.embedded.engine_access import EngineAccess, Lease
from pialara_async.embedded.errors import CommandError

# MongoDB's transactionLifetimeLimitSeconds and logicalSessionTimeoutMinutes.
DEFAULT_LIFETIME_SECONDS = 60.0
SESSION_IDLE_SECONDS = 30 * 60.0
# How long a statement or commit waits for exclusive engine access before it
# fails with a transient LockTimeout (the driver then retries the transaction).
LOCK_WAIT_SECONDS = 10.0
# How long a transaction keeps its private engine transaction open, when nobody
# else asks for the engine, waiting for its next statement.
WARM_SECONDS = 0.05
TRANSIENT = ("TransientTransactionError",)
RETRYABLE_WRITES = frozenset({"insert", "update", "delete", "findAndModify",
                              "findandmodify", "bulkWrite"})
# Fields that name the client's session and transaction; replays use their own.
_SESSION_FIELDS = ("lsid", "txnNumber", "autocommit", "startTransaction", "readConcern",
                   "writeConcern")
# Reply fields that differ between runs of the same statement.
_VOLATILE = frozenset({"$clusterTime", "operationTime", "opTime", "electionId", "ok"})

# (body, connection, now) -> reply: runs one command on the engine.
Execute = Callable[[dict[str, Any], Any, Any], Awaitable[dict[str, Any]]]


def no_such_transaction(number: object, why: str = "") -> CommandError:
    return CommandError(251, "NoSuchTransaction",
                        f"transaction {number} is not in progress{why}", TRANSIENT)


def write_conflict() -> CommandError:
    return CommandError(112, "WriteConflict",
                        "a concurrent commit changed what this transaction read or wrote; "
                        "retry the transaction", TRANSIENT)


def _number(value: Any) -> int:
    """A txnNumber as an int (mongoeco wraps Int64 values)."""
    number: Any = unwrap_bson_numeric(value)
    return int(number)


def outcome(reply: dict[str, Any]) -> dict[str, Any]:
    """What a client learns from a reply: its documents and counts, not its cursor id."""
    summary = {k: v for k, v in reply.items() if k not in _VOLATILE}
    cursor = summary.get("cursor")
    if isinstance(cursor, dict):
        summary["cursor"] = cursor.get("firstBatch", cursor.get("nextBatch"))
    return summary


def failed(reply: dict[str, Any]) -> bool:
    return not reply.get("ok") or bool(reply.get("writeErrors"))


def _has_operators(update: Any) -> bool:
    return isinstance(update, dict) and any(str(k).startswith("$") for k in update)


def _pinned_update(update: Any, new_id: Any) -> Any:
    """``update`` that gives an upserted document ``new_id`` (replays then insert the
    same document the client was told about)."""
    if isinstance(update, list):
        return [*update, {"$set": {"_id": {"$ifNull": ["$_id", {"$literal": new_id}]}}}]
    if not isinstance(update, dict):
        return update
    if not _has_operators(update):
        return update if "_id" in update else {"_id": new_id, **update}
    if any(isinstance(v, dict) and "_id" in v for v in update.values()):
        return update
    on_insert = dict(update.get("$setOnInsert") or {})
    on_insert["_id"] = new_id
    return {**update, "$setOnInsert": on_insert}


def pin_upserted_ids(name: str, body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the ``_id`` of each document it upserted written into it."""
    if name == "update":
        upserted = reply.get("upserted") or []
        if not upserted:
            return body
        updates = copy.copy(body.get("updates") or [])
        for entry in upserted:
            index = entry.get("index")
            if isinstance(index, int) and 0 <= index < len(updates):
                spec = dict(updates[index])
                if not (isinstance(spec.get("q"), dict) and "_id" in spec["q"]):
                    spec["u"] = _pinned_update(spec.get("u"), entry.get("_id"))
                updates[index] = spec
        return {**body, "updates": updates}
    if name.lower() == "findandmodify":
        upserted = (reply.get("lastErrorObject") or {}).get("upserted")
        query = body.get("query")
        if upserted is None or (isinstance(query, dict) and "_id" in query):
            return body
        return {**body, "update": _pinned_update(body.get("update"), upserted)}
    return body


@dataclass(slots=True)
class Statement:
    name: str
    body: dict[str, Any]
    now: Any
    outcome: dict[str, Any] | None = None


@dataclass(slots=True)
class Warm:
    """A private engine transaction holding a transaction's statements so far,
    kept open with the engine's exclusive access for the next statement."""

    lease: Lease
    lsid: dict[str, Any]
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class Transaction:
    number: int
    started: float = field(default_factory=time.monotonic)
    statements: list[Statement] = field(default_factory=list)
    state: str = "active"  # active | committed | aborted
    warm: Warm | None = None


@dataclass(slots=True)
class Session:
    key: str
    lsid: Any = None
    last_used: float = field(default_factory=time.monotonic)
    txn_number: int = -1
    # Reply of the latest retryable write (None once known not applied).
    write_results: dict[int, asyncio.Future[dict[str, Any] | None]] = field(default_factory=dict)
    transaction: Transaction | None = None


class SessionTable:
    def __init__(self, access: EngineAccess, execute: Execute, end_private: Callable[
            [dict[str, Any], bool], None], *, lifetime: float = DEFAULT_LIFETIME_SECONDS) -> None:
        self._access = access
        self._execute = execute
        self._end_private = end_private  # (lsid, commit) ends a private engine session
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def _session(self, lsid: object) -> Session:
        key = wire_session_key(lsid)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = Session(key, lsid)
        session.last_used = time.monotonic()
        return session

    def touch(self, lsid: object) -> None:
        """A command named this logical session: it is in use (MongoDB's session cache)."""
        self._session(lsid)

    def local_sessions(self) -> list[dict[str, Any]]:
        """``$listLocalSessions``: the sessions in use, as MongoDB lists them (the
        wall time of a last use derived from its monotonic time)."""
        wall, now = datetime.datetime.now(datetime.UTC), time.monotonic()
        return [{"_id": {"id": s.lsid.get("id") if isinstance(s.lsid, dict) else s.key},
                 "lastUse": wall - datetime.timedelta(seconds=now - s.last_used)}
                for s in self._sessions.values()]

    def end(self, lsid: object) -> None:
        """``endSessions``: a session ends; its open transaction, never applied, goes."""
        session = self._sessions.pop(wire_session_key(lsid), None)
        if session is not None and session.transaction is not None:
            self._cool(session.transaction)

    def reap(self, now: float | None = None) -> list[Any]:
        """Forget sessions idle for 30 minutes (MongoDB's ``localLogicalSessionTimeoutMinutes``)
        and abort transactions past their lifetime; run by the server's housekeeping.
        Returns the ``lsid`` of each session forgotten."""
        now = time.monotonic() if now is None else now
        forgotten = []
        for key, session in list(self._sessions.items()):
            txn = session.transaction
            if txn is not None and txn.state == "active" and now - txn.started > self.lifetime:
                self._abort(txn)
            if now - session.last_used > SESSION_IDLE_SECONDS:
                del self._sessions[key]
                if txn is not None:
                    self._cool(txn)
                forgotten.append(session.lsid)
        return forgotten

    # --- retryable writes ------------------------------------------------------------

    async def retryable_write(self, body: dict[str, Any],
                              run: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        session = self._session(body["lsid"])
        number = _number(body["txnNumber"])
        while True:
            if number < session.txn_number:
                raise CommandError(225, "TransactionTooOld",
                                   f"txnNumber {number} is older than {session.txn_number}")
            recorded = session.write_results.get(number) if number == session.txn_number \
                else None
            if recorded is None:
                break
            earlier = await asyncio.shield(recorded)
            if earlier is not None:
                return earlier  # the first attempt's reply; the write is not applied again
            # The first attempt did not apply: this one runs it, unless another did.
            if session.write_results.get(number) is recorded:
                break
        if session.transaction is not None and session.transaction.number < number:
            self._cool(session.transaction)
            session.transaction = None  # a newer number ends an older transaction
        session.txn_number = number
        pending: asyncio.Future[dict[str, Any] | None] = \
            asyncio.get_running_loop().create_future()
        session.write_results = {number: pending}
        reply: dict[str, Any] | None = None
        try:
            reply = await run()
            return reply
        finally:
            applied = reply is not None and bool(reply.get("ok"))
            pending.set_result(reply if applied else None)

    # --- transactions ------------------------------------------------------------------

    def _abort(self, txn: Transaction) -> None:
        txn.state = "aborted"
        txn.statements.clear()
        self._cool(txn)

    def _cool(self, txn: Transaction) -> None:
        """Roll back a transaction's warm private engine transaction, if it has
        one, and give the engine back; its statements stay recorded."""
        warm, txn.warm = txn.warm, None
        if warm is None:
            return
        if warm.timer is not None:
            warm.timer.cancel()
        warm.lease.wanted = None
        try:
            self._end_private(warm.lsid, False)
        finally:
            warm.lease.release()

    def _keep_warm(self, txn: Transaction, warm: Warm) -> None:
        """Keep the private transaction for the next statement, unless someone
        already waits for the engine."""
        if self._access.waiting:
            txn.warm = warm
            self._cool(txn)
            return
        txn.warm = warm
        warm.lease.wanted = lambda: self._cool(txn)
        warm.timer = asyncio.get_running_loop().call_later(WARM_SECONDS, self._cool, txn)

    def _take_warm(self, txn: Transaction) -> Warm | None:
        """The transaction's warm private transaction, now in use (not given back
        while a statement runs in it)."""
        warm, txn.warm = txn.warm, None
        if warm is not None:
            if warm.timer is not None:
                warm.timer.cancel()
            warm.lease.wanted = None
        return warm

    def _transaction(self, session: Session, number: int) -> Transaction:
        txn = session.transaction
        if txn is None or txn.number != number:
            raise no_such_transaction(number)
        if txn.state == "active" and time.monotonic() - txn.started > self.lifetime:
            self._abort(txn)
            raise no_such_transaction(number, ": aborted after the transaction lifetime limit")
        return txn

    def check_in_progress(self, body: dict[str, Any]) -> None:
        """A transaction's ``getMore``: its transaction must still be running."""
        number = _number(body["txnNumber"])
        txn = self._transaction(self._session(body["lsid"]), number)
        if txn.state != "active":
            raise no_such_transaction(number, f" ({txn.state})")

    def _still_active(self, session: Session, number: int, txn: Transaction) -> None:
        """After waiting for the engine: an abort (by the client or the lifetime
        limit) or a newer transaction may have come meanwhile."""
        if self._transaction(session, number) is not txn or txn.state != "active":
            raise no_such_transaction(number, f" ({txn.state})")

    def _begin(self, session: Session, number: int) -> Transaction:
        if number < session.txn_number:
            raise CommandError(225, "TransactionTooOld",
                               f"txnNumber {number} is older than {session.txn_number}")
        if number == session.txn_number:
            raise CommandError(251, "NoSuchTransaction",
                               f"transaction {number} was already started on this session")
        if session.transaction is not None:
            self._cool(session.transaction)
        session.txn_number = number
        session.write_results.clear()
        txn = session.transaction = Transaction(number)
        return txn

    async def _run(self, statement: Statement, lsid: dict[str, Any], connection: Any, *,
                   first: bool) -> dict[str, Any]:
        body = {k: v for k, v in statement.body.items() if k not in _SESSION_FIELDS}
        body.update(lsid=lsid, txnNumber=1, autocommit=False)
        if first:
            body["startTransaction"] = True
        return await self._execute(body, connection, statement.now)

    async def _replay(self, txn: Transaction, lsid: dict[str, Any], connection: Any) -> None:
        for position, statement in enumerate(txn.statements):
            try:
                reply = await self._run(statement, lsid, connection, first=position == 0)
            except Exception:
                reply = None
            if reply is None or outcome(reply) != statement.outcome:
                self._abort(txn)
                raise write_conflict()

    async def _warm_up(self, session: Session, number: int, txn: Transaction,
                       connection: Any) -> Warm:
        """The transaction's private engine transaction holding its statements
        so far: the warm one, or a new one where they are replayed."""
        warm = self._take_warm(txn)
        if warm is not None:
            return warm
        lease = await self._access.lease(LOCK_WAIT_SECONDS, TRANSIENT)
        warm = Warm(lease, {"id": uuid.uuid4()})
        try:
            with lease.using():
                self._still_active(session, number, txn)
                await self._replay(txn, warm.lsid, connection)
        except BaseException:
            txn.warm = warm
            self._cool(txn)
            raise
        return warm

    async def statement(self, name: str, body: dict[str, Any], connection: Any,
                        now: Any) -> dict[str, Any]:
        session = self._session(body["lsid"])
        number = _number(body["txnNumber"])
        if body.get("startTransaction") is True:
            txn = self._begin(session, number)
        else:
            txn = self._transaction(session, number)
            if txn.state != "active":
                raise no_such_transaction(number, f" ({txn.state})")
        statement = Statement(name, body, now)
        warm = await self._warm_up(session, number, txn, connection)
        try:
            with warm.lease.using():
                self._still_active(session, number, txn)
                reply = await self._run(statement, warm.lsid, connection,
                                        first=not txn.statements)
        except BaseException:
            txn.warm = warm
            self._abort(txn)  # as on MongoDB, a failed statement aborts
            raise
        if failed(reply):
            txn.warm = warm
            self._abort(txn)
            return reply
        statement.body = pin_upserted_ids(name, body, reply)
        statement.outcome = outcome(reply)
        txn.statements.append(statement)
        self._keep_warm(txn, warm)
        return reply

    async def commit(self, body: dict[str, Any], connection: Any) -> dict[str, Any]:
        session = self._session(body["lsid"])
        number = _number(body.get("txnNumber", -1))
        txn = self._transaction(session, number)
        if txn.state == "committed":
            return {"ok": 1.0}  # a retried commit
        if txn.state != "active":
            raise no_such_transaction(number, " (aborted)")
        if not txn.statements:
            txn.state = "committed"
            return {"ok": 1.0}
        warm = await self._warm_up(session, number, txn, connection)
        try:
            with warm.lease.using():
                self._still_active(session, number, txn)
                self._end_private(warm.lsid, True)
        except BaseException:
            txn.warm = warm
            self._abort(txn)
            raise
        finally:
            warm.lease.release()
        txn.state = "committed"
        txn.statements.clear()
        return {"ok": 1.0}

    async def abort(self, body: dict[str, Any]) -> dict[str, Any]:
        session = self._session(body["lsid"])
        number = _number(body.get("txnNumber", -1))
        txn = session.transaction
        if txn is None or txn.number != number:
            raise no_such_transaction(number)
        if txn.state == "committed":
            raise CommandError(256, "TransactionCommitted",
                               f"transaction {number} has been committed")
        self._abort(txn)
        return {"ok": 1.0}
