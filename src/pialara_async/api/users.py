"""PIA Lara user management (``/api/v1/users``): Administrador, Técnico, Cliente.

Every route reads the caller from the database and decides from that record:
- an admin lists, creates, reads, updates and deletes any user;
- a technician sees and edits only their own clients, and creates clients
  assigned to themselves;
- a client reads and edits their own profile;
- everyone changes their own password with the old one.
Users a caller may not see answer 404, as if they did not exist.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from pialara_async import keys
from pialara_async.api.auth import Caller, require_caller
from pialara_async.api.errors import ApiError, not_found
from pialara_async.api.openapi import describe
from pialara_async.api.user import delete_user as delete_with_sessions
from pialara_async.api.user import role_rule_error
from pialara_async.api.validation import parse_body, parse_query
from pialara_async.emails import EmailAddress
from pialara_async.jsonio import json_response
from pialara_async.repositories import users
from pialara_async.repositories.users import Role, Sex
from pialara_async.security.passwords import MAX_LENGTH, MIN_LENGTH

routes = web.RouteTableDef()
TAGS = ("users",)

Name = Annotated[StrictStr, Field(min_length=1, max_length=100)]
Password = Annotated[StrictStr, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
HexId = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{24}$")]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Profile(Strict):
    sex: Sex | None = None
    birth_date: datetime.date | None = Field(None, strict=False,
                                             description="YYYY-MM-DD")
    pathology: Annotated[StrictStr, Field(max_length=500)] | None = None


class NewUser(Strict):
    name: Name
    email: EmailAddress
    password: Password
    role: Role
    technician_id: HexId | None = Field(None, description="required for a client")
    profile: Profile | None = None


class ClientChanges(Strict):
    """What a client may change of themselves, and a technician of their clients."""

    name: Name | None = None
    profile: Profile | None = None


class AdminChanges(ClientChanges):
    email: EmailAddress | None = None
    role: Role | None = None
    technician_id: HexId | None = None


class PasswordChange(Strict):
    old_password: Annotated[StrictStr, Field(max_length=MAX_LENGTH)]
    new_password: Password


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    q: Annotated[str, Field(max_length=100)] | None = None
    page: Annotated[int, Field(ge=0, le=500)] = 0


class UserOut(BaseModel):
    """A user, without any password hash."""

    user: dict[str, Any]


class UserPage(BaseModel):
    """A page of users."""

    users: list[dict[str, Any]]
    page: int
    total_results: int


class ClientList(BaseModel):
    """A technician's clients: name, sex, age and pathology."""

    clients: list[dict[str, Any]]


def _db(request: web.Request) -> Any:
    return request.config_dict[keys.DATABASE]


def _require_role(caller: Caller, *roles: str) -> None:
    if not (caller.user.is_admin and "admin" in roles) and caller.user.role not in roles:
        raise ApiError(403, f"only {' or '.join(roles)} users may do this")


def _user_id(request: web.Request) -> ObjectId:
    try:
        return ObjectId(request.match_info["user_id"])
    except (InvalidId, TypeError):
        raise ApiError(400, "not a valid user id") from None


def _profile_fields(profile: Profile | None) -> dict[str, Any]:
    if profile is None:
        return {}
    values = profile.model_dump(exclude_unset=True)
    if isinstance(values.get("birth_date"), datetime.date):
        birth: datetime.date = values["birth_date"]
        if birth > datetime.datetime.now(datetime.UTC).date():
            raise ApiError(400, {"profile.birth_date": "cannot be in the future"})
        values["birth_date"] = datetime.datetime(birth.year, birth.month, birth.day)
    # Fixed field names from the model: nothing the caller names reaches the update.
    return {f"profile.{key}": value for key, value in values.items()}


def _visible_scope(caller: Caller) -> dict[str, Any] | None:
    """Which users the caller may see or edit through /users/{id}; None: none but self."""
    if caller.user.is_admin:
        return {}
    if caller.user.role == "technician":
        return {"role": "client", "technician_id": caller.user.id}
    return None


@routes.get("/users")
@describe("Admins: list users (paged, by role, by name or email)", tags=TAGS, query=UserQuery,
          responses={200: UserPage}, auth=True)
async def list_users(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    _require_role(caller, "admin")
    query = parse_query(request, UserQuery)
    found, total = await users.page(_db(request), role=query.role, search=query.q,
                                    page_number=query.page)
    return json_response({"users": [u.public() for u in found], "page": query.page,
                          "total_results": total})


@routes.get("/users/technicians")
@describe("Admins: the technicians a new client can be assigned to", tags=TAGS,
          responses={200: UserPage}, auth=True)
async def list_technicians(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    _require_role(caller, "admin")
    found = await users.technicians(_db(request))
    return json_response({"users": [u.public() for u in found], "page": 0,
                          "total_results": len(found)})


@routes.post("/users")
@describe("Create a user: admins any role; technicians their own clients", tags=TAGS,
          body=NewUser, responses={201: UserOut, 400: "invalid", 403: "not allowed"}, auth=True)
async def create_user(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    _require_role(caller, "admin", "technician")
    body = await parse_body(request, NewUser)
    technician_id = None if body.technician_id is None else ObjectId(body.technician_id)
    if not caller.user.is_admin:
        if body.role != "client":
            raise ApiError(403, "technicians create clients only")
        if technician_id not in (None, caller.user.id):
            raise ApiError(403, "technicians create clients of their own only")
        technician_id = caller.user.id
    profile = {k.removeprefix("profile."): v for k, v in _profile_fields(body.profile).items()}
    try:
        user = await users.create(
            _db(request), request.config_dict[keys.PASSWORDS], name=body.name,
            email=body.email, password=body.password,
            wtimeout_ms=request.config_dict[keys.SETTINGS].mongodb.wtimeout_ms,
            role=body.role, technician_id=technician_id, profile=profile or None,
            client=request.config_dict[keys.DB_CLIENT])
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None
    return json_response({"user": user.public()}, status=201)


@routes.get("/users/me")
@describe("The caller's own account", tags=TAGS, responses={200: UserOut}, auth=True)
async def read_me(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    return json_response({"user": caller.user.public()})


@routes.patch("/users/me")
@describe("Change one's own name and profile", tags=TAGS, body=ClientChanges,
          responses={200: UserOut}, auth=True)
async def update_me(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, ClientChanges)
    changes = _profile_fields(body.profile)
    if body.name is not None:
        changes["name"] = body.name
    user = await users.update(_db(request), request.config_dict[keys.DB_CLIENT],
                              caller.user.id, changes)
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.put("/users/me/password")
@describe("Change one's own password; other sessions are signed out", tags=TAGS,
          body=PasswordChange, responses={200: UserOut, 401: "wrong old password"}, auth=True)
async def change_password(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, PasswordChange)
    db = _db(request)
    hashing = request.config_dict[keys.PASSWORDS]
    if not await users.password_matches(db, hashing, caller.user.id, body.old_password):
        raise ApiError(401, {"old_password": "The password is not correct."})
    await users.set_password(db, hashing, caller.user.id, body.new_password,
                             request.config_dict[keys.SETTINGS].mongodb.wtimeout_ms)
    await users.close_other_sessions(db, caller.user.id, keep=caller.session_id)
    return json_response({"user": caller.user.public()})


@routes.get("/users/me/clients")
@describe("Technicians: their clients with name, sex, age and pathology", tags=TAGS,
          responses={200: ClientList}, auth=True)
async def my_clients(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    _require_role(caller, "technician")
    return json_response({"clients": await users.clients_of(_db(request), caller.user.id)})


@routes.get("/users/{user_id}")
@describe("A user the caller may see", tags=TAGS, responses={200: UserOut, 404: "not found"},
          auth=True)
async def read_user(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    user_id = _user_id(request)
    if user_id == caller.user.id:
        return json_response({"user": caller.user.public()})
    scope = _visible_scope(caller)
    user = None if scope is None else await users.within(_db(request), user_id, scope)
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.patch("/users/{user_id}")
@describe("Admins: change any user; technicians: their clients' name and profile",
          tags=TAGS, body=AdminChanges, responses={200: UserOut, 403: "not allowed"}, auth=True)
async def update_user(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    user_id = _user_id(request)
    scope = _visible_scope(caller)
    if scope is None:
        raise not_found() if user_id != caller.user.id else ApiError(
            403, "use /users/me to change your own account")
    body = await parse_body(request, AdminChanges)
    if not caller.user.is_admin and body.model_fields_set - {"name", "profile"}:
        raise ApiError(403, "only administrators change email, role or technician")
    changes = _profile_fields(body.profile)
    if body.name is not None:
        changes["name"] = body.name
    if body.email is not None:
        changes["email"] = body.email
    if body.role is not None:
        changes["role"] = body.role
    if body.technician_id is not None:
        changes["technician_id"] = ObjectId(body.technician_id)
    try:
        user = await users.update(
            _db(request), request.config_dict[keys.DB_CLIENT], user_id, changes, scope,
            wtimeout_ms=request.config_dict[keys.SETTINGS].mongodb.wtimeout_ms)
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.delete("/users/{user_id}")
@describe("Admins: delete a user and their sessions", tags=TAGS,
          responses={200: UserOut, 409: "a technician with clients"}, auth=True)
async def remove_user(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    _require_role(caller, "admin")
    target = await users.by_id(_db(request), _user_id(request))
    if target is None:
        raise not_found()
    await delete_with_sessions(request, target)
    return json_response({"user": target.public()})
