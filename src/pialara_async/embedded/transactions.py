"""Let one transaction run at a time, and nothing else while it runs.

mongoeco's SQLite engine holds a single transaction: while one is open, every
other session's read or write fails ("active transaction bound to another
session"), and over the wire two conflicting transactions could both persist
their writes. The gate makes that safe and keeps MongoDB's contract:

- a transaction starting while another runs is refused at once with
  ``WriteConflict`` (112) labelled ``TransientTransactionError``, which the
  drivers' ``with_transaction`` retries with backoff, as on a real server;
- other commands that use the engine wait until the running transaction ends
  (MongoDB makes a conflicting write wait too); a starting transaction waits
  for commands already running to finish;
- a transaction left open (a crashed client) is aborted after ``lifetime``
  seconds, like MongoDB's ``transactionLifetimeLimitSeconds``.

Refusing rather than queueing competing transactions matters: a queued one
would hold a driver thread or pooled connection that the running transaction
may need for its next statement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mongoeco.wire._session_identity import wire_session_key

from pialara_async.embedded.errors import CommandError

DEFAULT_LIFETIME_SECONDS = 60.0
# Commands that never touch the engine: they need not wait for a transaction.
ENGINE_FREE = frozenset({
    "hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo", "connectionStatus",
    "endSessions", "killCursors", "getMore", "saslStart", "saslContinue", "authenticate",
    "logout", "whatsmyuri", "getParameter", "commitTransaction", "abortTransaction",
})


@dataclass(slots=True)
class _Holder:
    session_key: str
    txn_number: object
    lsid: object


class TransactionGate:
    def __init__(
        self,
        abort: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        lifetime: float = DEFAULT_LIFETIME_SECONDS,
    ) -> None:
        self._abort = abort
        self._lifetime = lifetime
        self._holder: _Holder | None = None
        self._running = 0
        self._changed = asyncio.Condition()
        self._watchdog: asyncio.Task[None] | None = None

    def _session_key(self, body: dict[str, Any]) -> str | None:
        lsid = body.get("lsid")
        return None if lsid is None else wire_session_key(lsid)

    async def before(self, command_name: str, body: dict[str, Any]) -> bool:
        """Wait until ``body`` may run; True when it counts as a running command."""
        key = self._session_key(body)
        holder = self._holder
        if body.get("startTransaction") is True and key is not None:
            if holder is not None and holder.session_key != key:
                raise CommandError(
                    112, "WriteConflict",
                    "another transaction is in progress; retry the transaction",
                    ("TransientTransactionError",),
                )
            # Claim at once so new commands queue behind this transaction.
            self._claim(_Holder(key, body.get("txnNumber"), body["lsid"]))
            async with self._changed:
                await self._changed.wait_for(lambda: self._running == 0)
            return False
        if body.get("autocommit") is False or command_name in ENGINE_FREE:
            return False
        if holder is not None and holder.session_key != key:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self._holder is None or self._holder.session_key == key
                )
        self._running += 1
        return True

    async def after(self, command_name: str, body: dict[str, Any], counted: bool) -> None:
        if counted:
            self._running -= 1
        holder = self._holder
        if (
            holder is not None
            and command_name in ("commitTransaction", "abortTransaction")
            and holder.session_key == self._session_key(body)
        ):
            self._release()
        async with self._changed:
            self._changed.notify_all()

    def session_ended(self, lsid: object) -> None:
        holder = self._holder
        if holder is not None and holder.session_key == wire_session_key(lsid):
            self._release()

    def _claim(self, holder: _Holder) -> None:
        self._release()
        self._holder = holder
        self._watchdog = asyncio.create_task(self._expire(holder))

    def _release(self) -> None:
        self._holder = None
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        self._watchdog = None

    async def _expire(self, holder: _Holder) -> None:
        await asyncio.sleep(self._lifetime)
        if self._holder is holder:
            with contextlib.suppress(Exception):
                await self._abort({"lsid": holder.lsid, "txnNumber": holder.txn_number})
            self._release()
            async with self._changed:
                self._changed.notify_all()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
