"""Each route declared once: ``@endpoint`` validates its input, checks the
caller's rights and describes it in the OpenAPI document, from one
declaration, so the three cannot drift apart.

    @routes.get("/users/{user_id}")
    @endpoint("A user the caller may see", tags=TAGS, path=UserPath,
              access=SIGNED_IN, responses={200: UserOut}, errors={404: "not found"})
    async def read_user(call: Call[None, None, UserPath]) -> web.Response: ...

The wrapped handler gets a ``Call``: the request, the caller (read from the
database), and the parsed path parameters, query and body. Failures answer
before the handler runs: 401 without a working token, 403 without the role,
400 for input the models refuse, each as ``{"error": ...}``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from pialara_async.api.auth import bearer_token, standing
from pialara_async.api.errors import ApiError, statuses
from pialara_async.api.middlewares import USER_ID
from pialara_async.api.validation import parse_body, parse_model, parse_query
from pialara_async.db.client import DATABASE
from pialara_async.jsonio import json_response
from pialara_async.models import Caller, User
from pialara_async.policy import has_role, role_refusal
from pialara_async.services.people import PEOPLE, People

ATTRIBUTE = "__endpoint__"


@dataclass(frozen=True, slots=True)
class Access:
    """Who may call a route."""

    signed_in: bool = False  # a working bearer token is required (else 401)
    roles: frozenset[str] = frozenset()  # one of these roles (else 403); empty: any
    optional: bool = False  # a token, when sent, is read; a bad one is ignored
    # The contract's own answer to a refused caller, instead of 401/403.
    refusal: Callable[[], web.Response] | None = None


PUBLIC = Access()
OPTIONAL = Access(optional=True)
SIGNED_IN = Access(signed_in=True)


def roles(*names: str, refusal: Callable[[], web.Response] | None = None) -> Access:
    return Access(signed_in=True, roles=frozenset(names), refusal=refusal)


@dataclass(frozen=True, slots=True)
class Call[Q, B, P]:
    """One call of a route: who, and what they sent, validated."""

    request: web.Request
    caller: Caller | None
    query: Q
    body: B
    path: P

    @property
    def user(self) -> User:
        """The signed-in caller's user record (routes with ``signed_in`` access)."""
        if self.caller is None:
            raise ApiError(401, "a bearer token is required")
        return self.caller.user

    @property
    def signed_in(self) -> Caller:
        """The signed-in caller (routes with ``signed_in`` access)."""
        if self.caller is None:
            raise ApiError(401, "a bearer token is required")
        return self.caller

    def app[T](self, key: web.AppKey[T]) -> T:
        return self.request.config_dict[key]

    @property
    def db(self) -> Any:
        return self.request.config_dict[DATABASE]

    @property
    def people(self) -> People:
        return self.request.config_dict[PEOPLE]


@dataclass(frozen=True, slots=True)
class Operation:
    """What the OpenAPI document says of a route."""

    summary: str
    tags: tuple[str, ...]
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    path: type[BaseModel] | None
    access: Access
    responses: dict[int, type[BaseModel] | str]
    errors: dict[int, str] = field(default_factory=dict)


# A handler answers with one of its declared response models (serialised by
# the model, with the status it is declared under), or a response of its own.
Handler = Callable[[Call[Any, Any, Any]], Awaitable[web.StreamResponse | BaseModel]]
Invalid = Callable[[ValidationError], web.Response | None]


def endpoint(
    summary: str,
    *,
    tags: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    path: type[BaseModel] | None = None,
    access: Access = PUBLIC,
    responses: dict[int, type[BaseModel] | str] | None = None,
    errors: dict[int, str] | None = None,
    refuses: tuple[type[Exception], ...] = (),
    invalid_body: Invalid | None = None,
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Declare a route. ``refuses`` names the exceptions its service raises
    (domain errors, TooManyRequests): their statuses and descriptions come
    from ``api/errors.py``'s table. ``errors`` adds what the route answers
    itself; 400, 401 and 403 are added from the input models and the access.
    ``invalid_body`` may answer a refused body the contract's own way."""
    errors = {**statuses(refuses), **(errors or {})}
    if query is not None or body is not None or path is not None:
        errors.setdefault(400, "invalid input")
    if access.signed_in and access.refusal is None:
        errors.setdefault(401, "no working bearer token")
    if access.roles and access.refusal is None:
        errors.setdefault(403, role_refusal(access.roles))
    operation = Operation(summary, tags, query, body, path, access, dict(responses or {}),
                          errors)
    # The status each response model is answered with: the first it is declared under.
    status_of: dict[type[BaseModel], int] = {}
    for status, model in sorted(operation.responses.items()):
        if isinstance(model, type):
            status_of.setdefault(model, status)

    def declare(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def handle(request: web.Request) -> web.StreamResponse:
            caller, refused = await _authorise(request, access)
            if refused is not None:
                return refused
            path_values = None if path is None else parse_model(path, dict(request.match_info))
            query_values = None if query is None else parse_query(request, query)
            body_values = None
            if body is not None:
                try:
                    body_values = await parse_body(request, body)
                except ApiError as error:
                    refused = _invalid_answer(invalid_body, error)
                    if refused is None:
                        raise
                    return refused
            answer = await handler(Call(request, caller, query_values, body_values,
                                        path_values))
            if isinstance(answer, web.StreamResponse):
                return answer
            status = status_of.get(type(answer))
            if status is None:
                raise TypeError(f"{handler.__name__} answered {type(answer).__name__}, "
                                "which it does not declare")
            return json_response(serialise(answer), status=status)

        setattr(handle, ATTRIBUTE, operation)
        return handle

    return declare


def serialise(answer: BaseModel) -> dict[str, Any]:
    """The members of a response model, and nothing else: a member the model
    lacks cannot reach the client (members left unset stay absent; extra
    members only where the model allows them).

    Members are taken as validated, by their aliases: free-form values (a
    movie's ``dict[str, Any]``) are not copied again, which ``model_dump``
    would do value by value (a quarter of a movie page's time in the service)."""
    fields = type(answer).model_fields
    present = answer.model_fields_set
    body = {field.alias or name: _plain(getattr(answer, name))
            for name, field in fields.items() if name in present}
    if answer.model_extra:
        body.update(answer.model_extra)
    return body


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return serialise(value)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return [serialise(item) for item in value]
    return value


def _invalid_answer(invalid_body: Invalid | None, error: ApiError) -> web.Response | None:
    if invalid_body is None or error.validation is None:
        return None
    return invalid_body(error.validation)


async def _authorise(request: web.Request, access: Access) -> tuple[Caller | None,
                                                                    web.Response | None]:
    token = bearer_token(request)
    if not access.signed_in:
        if access.optional and token is not None:
            caller = (await standing(request, token))[0]
            if caller is not None:
                request[USER_ID] = str(caller.user.id)
            return caller, None
        return None, None
    caller = None if token is None else (await standing(request, token))[0]
    if caller is None:
        if access.refusal is not None:
            return None, access.refusal()
        raise ApiError(401, "a bearer token is required" if token is None
                       else "the token is invalid, expired or revoked")
    request[USER_ID] = str(caller.user.id)
    if access.roles and not has_role(caller.user, access.roles):
        if access.refusal is not None:
            return None, access.refusal()
        raise ApiError(403, role_refusal(access.roles))
    return caller, None
