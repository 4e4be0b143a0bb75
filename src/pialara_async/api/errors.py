"""Every failure as JSON: ``ApiError`` for what the HTTP layer refuses itself
(input, tokens), and one table from every other exception to its answer.

The table is the one home of error mapping: the error middleware answers from
it, and ``@endpoint(refuses=...)`` describes a route's errors from it, so the
OpenAPI document cannot drift from the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from pialara_async.audio import AudioRefused
from pialara_async.refusals import (
    ConsentRequired,
    EmailTaken,
    Forbidden,
    InUse,
    InvalidImport,
    NotFound,
    OnlyClientsHaveTechnicians,
    Refused,
    RoleRuleBroken,
    TechnicianRequired,
    TooLarge,
    WrongPassword,
)
from pialara_async.security.rate_limits import TooManyRequests
from pialara_async.services.people import AccountGone


class ApiError(Exception):
    """An error answered to the client as ``{"error": ...}`` with ``status``."""

    def __init__(self, status: int, error: Any, **extra: Any) -> None:
        super().__init__(error if isinstance(error, str) else repr(error))
        self.status = status
        self.error = error
        self.extra = extra
        self.validation: Any = None  # the pydantic ValidationError behind a 400

    def body(self) -> dict[str, Any]:
        return {**self.extra, "error": self.error}


def bad_request(error: Any) -> ApiError:
    return ApiError(400, error)


UNAVAILABLE_ERRORS = (
    ServerSelectionTimeoutError,
    NetworkTimeout,
    ExecutionTimeout,
    AutoReconnect,
    ConnectionFailure,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """How an exception is answered: status, body, headers, and what the
    OpenAPI document says of it."""

    status: int
    description: str
    body: Callable[[Any], dict[str, Any]]
    headers: Callable[[Any], dict[str, str]] = field(default=lambda error: {})
    # Logged as a warning with the request id: the service, not the client, is short.
    logged: bool = False


def _reason(error: Exception) -> dict[str, Any]:
    return {"error": str(error)}


def _role_rule(error: RoleRuleBroken) -> dict[str, Any]:
    return {"error": error.reason, "code": error.code}


def _technician(error: RoleRuleBroken) -> dict[str, Any]:
    return {"error": {"technician_id": error.reason}}


# Most specific first: an exception takes the first entry it is an instance of.
ANSWERS: dict[type[BaseException], Answer] = {
    EmailTaken: Answer(400, "the e-mail is taken",
                       lambda error: {"error": {"email": error.reason}}),
    WrongPassword: Answer(401, "wrong password",
                          lambda error: {"error": {error.field: error.reason}}),
    AccountGone: Answer(401, "the account no longer exists", _reason),
    TechnicianRequired: Answer(400, "no such technician", _technician),
    OnlyClientsHaveTechnicians: Answer(400, "only clients have a technician", _technician),
    RoleRuleBroken: Answer(409, "a technician with clients, or the last administrator",
                           _role_rule),
    ConsentRequired: Answer(403, "no consent in force", _reason),
    TooLarge: Answer(413, "the recording is too large", _reason),
    AudioRefused: Answer(400, "the recording cannot be used (type, length, silence, damage)",
                         _reason),
    InvalidImport: Answer(400, "the file has bad lines, each named; nothing was imported",
                          lambda error: {"error": error.problems}),
    InUse: Answer(409, "in use: retire instead", _reason),
    NotFound: Answer(404, "not found", _reason),
    Forbidden: Answer(403, "not allowed", _reason),
    TooManyRequests: Answer(429, "too many requests", lambda error: {
        "error": "too many requests: try again later", "retry_after": error.retry_after},
        headers=lambda error: {"Retry-After": str(error.retry_after)}),
    # The primary has the write; only its replication was not confirmed in
    # time. Retrying could apply it twice, so the client is told exactly that.
    WTimeoutError: Answer(504, "the write may have been applied but was not confirmed",
                          lambda error: {
                              "error": "the write may have been applied but was not "
                                       "confirmed in time: check before retrying",
                              "may_have_been_applied": True}, logged=True),
    **dict.fromkeys(UNAVAILABLE_ERRORS, Answer(
        503, "the database is unavailable",
        lambda error: {"error": "the database is unavailable, try again shortly"},
        headers=lambda error: {"Retry-After": "2"}, logged=True)),
    Refused: Answer(400, "refused", _reason),
}


def answer_for(kind: type[BaseException]) -> Answer | None:
    """The answer to exceptions of ``kind``: its own entry, or its nearest base's."""
    for base in kind.__mro__:
        answer = ANSWERS.get(base)
        if answer is not None:
            return answer
    return None


def statuses(refused: tuple[type[Exception], ...]) -> dict[int, str]:
    """What the OpenAPI document says of a route that raises these (and,
    for a base such as RoleRuleBroken, what its subclasses answer)."""
    described: dict[int, list[str]] = {}
    for kind in refused:
        for each in (kind, *_subclasses(kind)):
            answer = answer_for(each)
            if answer is None:
                raise TypeError(f"{each.__name__} has no answer in api/errors.py's ANSWERS")
            described.setdefault(answer.status, []).append(answer.description)
    return {status: ", or ".join(dict.fromkeys(texts)) for status, texts in described.items()}


def _subclasses(kind: type[Exception]) -> list[type[Exception]]:
    return [sub for direct in kind.__subclasses__() for sub in (direct, *_subclasses(direct))]
