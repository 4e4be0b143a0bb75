"""MongoDB's ``failCommand``, ``failGetMoreAfterCursorCheckout``,
``maxTimeAlwaysTimeOut`` and ``onPrimaryTransactionalWrite`` fail points, for
the drivers' specification tests.

``configureFailPoint: "failCommand"`` makes the next matching commands fail:
with ``errorCode`` (and ``errorLabels``), by closing the connection
(``closeConnection``), after a delay (``blockConnection``/``blockTimeMS``), or
by running and then reporting ``writeConcernError``. It matches on
``failCommands``, and on ``appName`` (the client's handshake metadata) or
``namespace`` when given. ``mode`` is ``"alwaysOn"``, ``"off"``,
``{times: n}`` or ``{skip: n}``. Unless ``errorLabels`` says otherwise, the
error carries the labels a MongoDB server adds: ``RetryableWriteError`` for a
retryable write's retryable error, ``TransientTransactionError`` in a
transaction, ``UnknownTransactionCommitResult`` on a commit.

``failGetMoreAfterCursorCheckout`` fails the next ``getMore`` with
``errorCode``, labelled ``ResumableChangeStreamError`` when a change stream
may resume after it, as a MongoDB server labels it.

``maxTimeAlwaysTimeOut`` fails every command that has a ``maxTimeMS`` with
50 ``MaxTimeMSExpired``.

``onPrimaryTransactionalWrite`` catches retryable writes: by default the write
is applied and its connection closed before the reply (the driver's retry
must get the recorded result), or, with ``failBeforeCommitExceptionCode``,
the write fails with that code before anything is applied (and the
connection is closed unless ``closeConnection: false``).

mongoeco has a fail point of its own, consulted only by the commands it runs
itself; the layer answers many before it (reads, inserts, transactions), so
the layer checks its own first, for every command.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.transactions import RETRYABLE_WRITES

# Codes for which a MongoDB server labels a retryable write's error RetryableWriteError.
RETRYABLE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435,
                             13436, 63, 150, 13388, 234, 133, 134})
# Codes a server labels TransientTransactionError inside a transaction (WriteConflict,
# LockTimeout, PreparedTransactionInProgress, NoSuchTransaction, SnapshotUnavailable).
TRANSIENT_CODES = frozenset({112, 24, 267, 251, 246})
# Codes after which a server labels a change stream's error ResumableChangeStreamError.
RESUMABLE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435,
                             13436, 63, 150, 234, 133})
# Commands answered by the wire loop itself (heartbeats): never failed here.
NEVER_FAILED = frozenset({"configureFailPoint", "hello", "isMaster", "ismaster", "ping"})
MESSAGE = "Failing command via 'failCommand' failpoint"


def bad_value(message: str) -> CommandError:
    return CommandError(2, "BadValue", message)


@dataclass(slots=True)
class Failure:
    """What a command the fail point caught does instead of its normal answer."""

    error: dict[str, Any] | None
    close_connection: bool
    block_seconds: float = 0.0
    write_concern_error: dict[str, Any] | None = None
    close_after_running: bool = False  # run the command, then close, never answer


@dataclass(slots=True)
class _FailCommand:
    commands: frozenset[str]
    times: int | None  # None: always on
    skip: int
    data: dict[str, Any]

    def matches(self, name: str, app_name: str | None, namespace: str) -> bool:
        if name not in self.commands:
            return False
        if "appName" in self.data and self.data["appName"] != app_name:
            return False
        return "namespace" not in self.data or self.data["namespace"] == namespace


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 \
            or int(value) != value:
        raise bad_value(f"{what} must be a non-negative integer")
    return int(value)


@dataclass(slots=True)
class _Counted:
    """A fail point that counts its firings (``times``; None: always on)."""

    times: int | None
    data: dict[str, Any]


def _is_retryable_write(name: str, body: dict[str, Any]) -> bool:
    return name in RETRYABLE_WRITES and "txnNumber" in body and "autocommit" not in body


class FailPoints:
    def __init__(self) -> None:
        self._fail_command: _FailCommand | None = None
        self._transactional_write: _Counted | None = None
        self._get_more: _Counted | None = None  # failGetMoreAfterCursorCheckout
        self._max_time: _Counted | None = None  # maxTimeAlwaysTimeOut
        self._fired: collections.Counter[str] = collections.Counter()

    def _configured(self, point: str) -> dict[str, Any]:
        """The answer to ``configureFailPoint``: as MongoDB, how often the point
        fired since it was last configured."""
        return {"count": self._fired.pop(point, 0), "ok": 1.0}

    def configure(self, command: dict[str, Any]) -> dict[str, Any]:
        """``configureFailPoint``: ``failCommand`` or ``onPrimaryTransactionalWrite``."""
        point = command.get("configureFailPoint")
        if point == "onPrimaryTransactionalWrite":
            self._transactional_write = _counted(command.get("mode"), command.get("data"))
            return self._configured(point)
        if point == "maxTimeAlwaysTimeOut":
            self._max_time = _counted(command.get("mode"), command.get("data"))
            return self._configured(point)
        if point == "failGetMoreAfterCursorCheckout":
            self._get_more = _counted(command.get("mode"), command.get("data"))
            return self._configured(point)
        if point != "failCommand":
            raise bad_value(f"unknown fail point {point!r}")
        mode = command.get("mode")
        if mode == "off":
            self._fail_command = None
            return self._configured(point)
        data = command.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("failCommands"), list) \
                or not data["failCommands"]:
            raise bad_value("failCommand needs data.failCommands, a list of command names")
        times, skip = None, 0
        if isinstance(mode, dict) and "times" in mode:
            times = _whole(mode["times"], "mode.times")
            if times == 0:
                self._fail_command = None
                return self._configured(point)
        elif isinstance(mode, dict) and "skip" in mode:
            skip = _whole(mode["skip"], "mode.skip")
        elif mode != "alwaysOn":
            raise bad_value("mode must be 'alwaysOn', 'off', {times: n} or {skip: n}")
        self._fail_command = _FailCommand(frozenset(map(str, data["failCommands"])), times,
                                          skip, dict(data))
        return self._configured(point)

    def consume(self, name: str, body: dict[str, Any], app_name: str | None,
                namespace: str) -> Failure | None:
        """What the fail points do to this command, if anything (counts it)."""
        failure = self._consume_fail_command(name, body, app_name, namespace)
        if failure is not None:
            self._fired["failCommand"] += 1
            return failure
        if "maxTimeMS" in body and self._max_time is not None:
            self._fired["maxTimeAlwaysTimeOut"] += 1
            if _count_down(self._max_time):
                self._max_time = None
            return Failure({"ok": 0.0, "code": 50, "codeName": "MaxTimeMSExpired",
                            "errmsg": "operation exceeded time limit"}, False)
        if name == "getMore" and self._get_more is not None:
            self._fired["failGetMoreAfterCursorCheckout"] += 1
            return self._consume_get_more()
        if _is_retryable_write(name, body) and self._transactional_write is not None:
            self._fired["onPrimaryTransactionalWrite"] += 1
            return self._consume_transactional_write()
        return None

    def _consume_get_more(self) -> Failure:
        assert self._get_more is not None
        point = self._get_more
        if _count_down(point):
            self._get_more = None
        code = int(point.data.get("errorCode", 1))
        error: dict[str, Any] = {"ok": 0.0, "code": code, "errmsg": MESSAGE}
        if code in RESUMABLE_CODES:
            error["errorLabels"] = ["ResumableChangeStreamError"]
        return Failure(error, bool(point.data.get("closeConnection")))

    def _consume_transactional_write(self) -> Failure | None:
        assert self._transactional_write is not None
        point = self._transactional_write
        if _count_down(point):
            self._transactional_write = None
        close = bool(point.data.get("closeConnection", True))
        code = point.data.get("failBeforeCommitExceptionCode")
        if code is None:
            return Failure(None, False, close_after_running=close) if close else None
        error = {"ok": 0.0, "code": int(code),
                 "errmsg": "Failing write due to the onPrimaryTransactionalWrite fail point"}
        return Failure(error, close)

    def _consume_fail_command(self, name: str, body: dict[str, Any], app_name: str | None,
                              namespace: str) -> Failure | None:
        point = self._fail_command
        if point is None or name in NEVER_FAILED or not point.matches(name, app_name,
                                                                        namespace):
            return None
        if point.skip:
            point.skip -= 1
            return None
        if point.times is not None:
            point.times -= 1
            if point.times <= 0:
                self._fail_command = None
        data = point.data
        block = float(data.get("blockTimeMS", 0)) / 1000 if data.get("blockConnection") else 0.0
        error = None
        if "errorCode" in data:
            error = {"ok": 0.0, "errmsg": str(data.get("errorMessage") or MESSAGE),
                     "code": int(data["errorCode"])}
            labels = _labels(data, name, body, int(data["errorCode"]))
            if labels:
                error["errorLabels"] = labels
        concern = data.get("writeConcernError")
        return Failure(error, bool(data.get("closeConnection")), block,
                       dict(concern) if isinstance(concern, dict) else None)

    @staticmethod
    async def apply_delay(failure: Failure) -> None:
        if failure.block_seconds:
            await asyncio.sleep(failure.block_seconds)

    @staticmethod
    def with_write_concern_error(failure: Failure, name: str, body: dict[str, Any],
                                 reply: dict[str, Any]) -> dict[str, Any]:
        """A reply of a command that ran, with the fail point's ``writeConcernError``."""
        assert failure.write_concern_error is not None
        reply = {**reply, "writeConcernError": failure.write_concern_error}
        labels = _labels({}, name, body, int(failure.write_concern_error.get("code", 0)))
        if labels:
            reply["errorLabels"] = labels
        return reply


def _counted(mode: object, data: object) -> _Counted | None:
    """A fail point with mode ``alwaysOn``, ``off`` or ``{times: n}`` (None: off)."""
    data = dict(data) if isinstance(data, dict) else {}
    if mode == "off":
        return None
    if mode == "alwaysOn":
        return _Counted(None, data)
    if isinstance(mode, dict) and "times" in mode:
        times = _whole(mode["times"], "mode.times")
        return _Counted(times, data) if times else None
    raise bad_value("mode must be 'alwaysOn', 'off' or {times: n}")


def _count_down(point: _Counted) -> bool:
    """Count one firing; True when that was the last."""
    if point.times is None:
        return False
    point.times -= 1
    return point.times <= 0


def _labels(data: dict[str, Any], name: str, body: dict[str, Any], code: int) -> list[str]:
    """The labels a MongoDB server adds to an error (unless the fail point names them)."""
    if "errorLabels" in data:
        return [str(label) for label in data["errorLabels"]]
    in_transaction = body.get("autocommit") is False
    ends_transaction = name in ("commitTransaction", "abortTransaction")
    retryable_write = ("txnNumber" in body and not in_transaction) or ends_transaction
    labels = []
    if retryable_write and code in RETRYABLE_CODES:
        labels.append("RetryableWriteError")
    if in_transaction and code in TRANSIENT_CODES:
        labels.append("TransientTransactionError")
    if name == "commitTransaction" and code in RETRYABLE_CODES:
        labels.append("UnknownTransactionCommitResult")
    return labels
