"""Serialise transactions so a conflict can never leave a losing writer's data behind.

Measured over the wire, mongoeco lets two conflicting transactions both write:
the loser's commit fails without ``WriteConflict`` yet its write persists, and
the pooled server session stays poisoned. On one node the simplest correct
cure is to let one transaction run at a time. Writes outside a transaction wait
for the running one to finish, which is what MongoDB does when such a write
touches a document the transaction holds.

A transaction that is left open (a crashed client) is aborted after
``lifetime`` seconds, like MongoDB's ``transactionLifetimeLimitSeconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mongoeco.wire._session_identity import wire_session_key

WRITE_COMMANDS = frozenset({"insert", "update", "delete", "findAndModify", "bulkWrite"})
DEFAULT_LIFETIME_SECONDS = 60.0


@dataclass(slots=True)
class _Holder:
    session_key: str
    txn_number: object
    lsid: object
    started: float


class TransactionGate:
    def __init__(
        self,
        abort: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        lifetime: float = DEFAULT_LIFETIME_SECONDS,
    ) -> None:
        self._lock = asyncio.Lock()
        self._holder: _Holder | None = None
        self._abort = abort
        self._lifetime = lifetime
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._holder is not None

    def _owns(self, body: dict[str, Any]) -> bool:
        holder = self._holder
        lsid = body.get("lsid")
        return (
            holder is not None
            and lsid is not None
            and holder.session_key == wire_session_key(lsid)
            and holder.txn_number == body.get("txnNumber")
        )

    async def before(self, command_name: str, body: dict[str, Any]) -> None:
        """Wait until ``body`` may run."""
        if body.get("startTransaction") is True:
            if self._owns(body):
                return
            holder = self._holder
            if holder is not None and holder.session_key == wire_session_key(body["lsid"]):
                # A session starting a new transaction ends its previous one.
                self._release()
            await self._lock.acquire()
            self._holder = _Holder(
                wire_session_key(body["lsid"]), body.get("txnNumber"), body["lsid"], time.monotonic()
            )
            self._watchdog = asyncio.create_task(self._expire(self._holder))
            return
        if body.get("autocommit") is False:
            # A statement of a running transaction (or of one that already
            # ended, which mongoeco answers with its own error).
            return
        if command_name in WRITE_COMMANDS and self._holder is not None:
            async with self._lock:
                pass

    def after(self, command_name: str, body: dict[str, Any], reply: dict[str, Any]) -> None:
        """Release the gate when the holder's transaction has ended."""
        if not self._owns(body):
            return
        ended = command_name in ("commitTransaction", "abortTransaction")
        failed_to_start = body.get("startTransaction") is True and not reply.get("ok")
        if ended or failed_to_start:
            self._release()

    def session_ended(self, lsid: object) -> None:
        holder = self._holder
        if holder is not None and holder.session_key == wire_session_key(lsid):
            self._release()

    def _release(self) -> None:
        self._holder = None
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        self._watchdog = None
        if self._lock.locked():
            self._lock.release()

    async def _expire(self, holder: _Holder) -> None:
        await asyncio.sleep(self._lifetime)
        if self._holder is holder:
            with contextlib.suppress(Exception):
                await self._abort({"lsid": holder.lsid, "txnNumber": holder.txn_number})
            self._release()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
