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
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.json_schema import SkipJsonSchema

from pialara_async import keys
from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint, roles
from pialara_async.api.errors import ApiError, not_found
from pialara_async.api.user import delete_user as delete_with_sessions
from pialara_async.api.user import role_rule_error
from pialara_async.emails import EmailAddress
from pialara_async.jsonio import json_response
from pialara_async.policy import may_change, visible_users
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
    birth_date: datetime.date | None = Field(None,
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
    # No null in a query string: absent is the default.
    role: Role | SkipJsonSchema[None] = None
    q: Annotated[str, Field(max_length=100)] | SkipJsonSchema[None] = None
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


# Only an ObjectId matches, so /users/me and /users/technicians never reach
# these routes (another method there answers 405, not 400).
USER_PATH = "/users/{user_id:[0-9a-f]{24}}"


class UserPath(BaseModel):
    user_id: HexId = Field(description="the user's ObjectId (24 hex digits)")


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


ADMINS = roles("admin")


@routes.get("/users")
@endpoint("Admins: list users (paged, by role, by name or email)", tags=TAGS, query=UserQuery,
          access=ADMINS, responses={200: UserPage})
async def list_users(call: Call[UserQuery, None, None]) -> web.Response:
    query = call.query
    found, total = await users.page(call.db, role=query.role, search=query.q,
                                    page_number=query.page)
    return json_response({"users": [u.public() for u in found], "page": query.page,
                          "total_results": total})


@routes.get("/users/technicians")
@endpoint("Admins: the technicians a new client can be assigned to", tags=TAGS,
          access=ADMINS, responses={200: UserPage})
async def list_technicians(call: Call[None, None, None]) -> web.Response:
    found = await users.technicians(call.db)
    return json_response({"users": [u.public() for u in found], "page": 0,
                          "total_results": len(found)})


@routes.post("/users")
@endpoint("Create a user: admins any role; technicians their own clients", tags=TAGS,
          body=NewUser, access=roles("admin", "technician"), responses={201: UserOut},
          errors={400: "invalid, the e-mail is taken, or no such technician",
                  403: "technicians create clients of their own only"})
async def create_user(call: Call[None, NewUser, None]) -> web.Response:
    body = call.body
    technician_id = None if body.technician_id is None else ObjectId(body.technician_id)
    if not call.user.is_admin:
        if body.role != "client":
            raise ApiError(403, "technicians create clients only")
        if technician_id not in (None, call.user.id):
            raise ApiError(403, "technicians create clients of their own only")
        technician_id = call.user.id
    profile = {k.removeprefix("profile."): v for k, v in _profile_fields(body.profile).items()}
    try:
        user = await users.create(
            call.db, call.app(keys.PASSWORDS), name=body.name, email=body.email,
            password=body.password, wtimeout_ms=call.app(keys.SETTINGS).mongodb.wtimeout_ms,
            role=body.role, technician_id=technician_id, profile=profile or None,
            client=call.app(keys.DB_CLIENT))
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None
    return json_response({"user": user.public()}, status=201)


@routes.get("/users/me")
@endpoint("The caller's own account", tags=TAGS, access=SIGNED_IN, responses={200: UserOut})
async def read_me(call: Call[None, None, None]) -> web.Response:
    return json_response({"user": call.user.public()})


@routes.patch("/users/me")
@endpoint("Change one's own name and profile", tags=TAGS, body=ClientChanges,
          access=SIGNED_IN, responses={200: UserOut})
async def update_me(call: Call[None, ClientChanges, None]) -> web.Response:
    changes = _profile_fields(call.body.profile)
    if call.body.name is not None:
        changes["name"] = call.body.name
    user = await users.update(call.db, call.app(keys.DB_CLIENT), call.user.id, changes)
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.put("/users/me/password")
@endpoint("Change one's own password; other sessions are signed out", tags=TAGS,
          body=PasswordChange, access=SIGNED_IN, responses={200: UserOut},
          errors={401: "wrong old password"})
async def change_password(call: Call[None, PasswordChange, None]) -> web.Response:
    hashing = call.app(keys.PASSWORDS)
    if not await users.password_matches(call.db, hashing, call.user.id,
                                        call.body.old_password):
        raise ApiError(401, {"old_password": "The password is not correct."})
    await users.set_password(call.db, hashing, call.user.id, call.body.new_password,
                             call.app(keys.SETTINGS).mongodb.wtimeout_ms)
    assert call.caller is not None
    await users.close_other_sessions(call.db, call.user.id, keep=call.caller.session_id)
    return json_response({"user": call.user.public()})


@routes.get("/users/me/clients")
@endpoint("Technicians: their clients with name, sex, age and pathology", tags=TAGS,
          access=roles("technician"), responses={200: ClientList})
async def my_clients(call: Call[None, None, None]) -> web.Response:
    return json_response({"clients": await users.clients_of(call.db, call.user.id)})


@routes.get(USER_PATH)
@endpoint("A user the caller may see", tags=TAGS, path=UserPath, access=SIGNED_IN,
          responses={200: UserOut}, errors={404: "no such user, or not one the caller sees"})
async def read_user(call: Call[None, None, UserPath]) -> web.Response:
    user_id = ObjectId(call.path.user_id)
    if user_id == call.user.id:
        return json_response({"user": call.user.public()})
    scope = visible_users(call.user)
    user = None if scope is None else await users.within(call.db, user_id, scope)
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.patch(USER_PATH)
@endpoint("Admins: change any user; technicians: their clients' name and profile",
          tags=TAGS, path=UserPath, body=AdminChanges, access=SIGNED_IN,
          responses={200: UserOut},
          errors={400: "invalid, the e-mail is taken, or no such technician",
                  403: "not allowed", 404: "no such user, or not one the caller sees",
                  409: "a technician with clients, or the last administrator"})
async def update_user(call: Call[None, AdminChanges, UserPath]) -> web.Response:
    user_id = ObjectId(call.path.user_id)
    scope = visible_users(call.user)
    if scope is None:
        raise not_found() if user_id != call.user.id else ApiError(
            403, "use /users/me to change your own account")
    body = call.body
    if not may_change(call.user, body.model_fields_set):
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
            call.db, call.app(keys.DB_CLIENT), user_id, changes, scope,
            wtimeout_ms=call.app(keys.SETTINGS).mongodb.wtimeout_ms)
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None
    if user is None:
        raise not_found()
    return json_response({"user": user.public()})


@routes.delete(USER_PATH)
@endpoint("Admins: delete a user and their sessions", tags=TAGS, path=UserPath,
          access=ADMINS, responses={200: UserOut},
          errors={404: "no such user",
                  409: "a technician with clients, or the last administrator"})
async def remove_user(call: Call[None, None, UserPath]) -> web.Response:
    target = await users.by_id(call.db, ObjectId(call.path.user_id))
    if target is None:
        raise not_found()
    await delete_with_sessions(call.request, target)
    return json_response({"user": target.public()})
