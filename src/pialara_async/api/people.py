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

from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint, roles
from pialara_async.api.errors import ApiError
from pialara_async.api.fields import GivenPassword, HexId, Name, NewPassword, Strict, object_id
from pialara_async.emails import EmailAddress
from pialara_async.models import Role, Sex
from pialara_async.refusals import EmailTaken, Forbidden, NotFound, RoleRuleBroken, WrongPassword

routes = web.RouteTableDef()
TAGS = ("users",)


class Profile(Strict):
    sex: Sex | None = None
    birth_date: datetime.date | None = Field(None,
                                             description="YYYY-MM-DD")
    pathology: Annotated[StrictStr, Field(max_length=500)] | None = None


class NewUser(Strict):
    name: Name
    email: EmailAddress
    password: NewPassword
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
    old_password: GivenPassword
    new_password: NewPassword


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


def _changes(body: AdminChanges | ClientChanges) -> dict[str, Any]:
    changes = _profile_fields(body.profile)
    if body.name is not None:
        changes["name"] = body.name
    if isinstance(body, AdminChanges):
        if body.email is not None:
            changes["email"] = body.email
        if body.role is not None:
            changes["role"] = body.role
        if body.technician_id is not None:
            changes["technician_id"] = ObjectId(body.technician_id)
    return changes


ADMINS = roles("admin")


@routes.get("/users")
@endpoint("Admins: list users (paged, by role, by name or email)", tags=TAGS, query=UserQuery,
          access=ADMINS, responses={200: UserPage})
async def list_users(call: Call[UserQuery, None, None]) -> UserPage:
    query = call.query
    found, total = await call.people.page(role=query.role, search=query.q,
                                          page_number=query.page)
    return UserPage(users=[u.public() for u in found], page=query.page, total_results=total)


@routes.get("/users/technicians")
@endpoint("Admins: the technicians a new client can be assigned to", tags=TAGS,
          access=ADMINS, responses={200: UserPage})
async def list_technicians(call: Call[None, None, None]) -> UserPage:
    found = await call.people.technicians()
    return UserPage(users=[u.public() for u in found], page=0, total_results=len(found))


@routes.post("/users")
@endpoint("Create a user: admins any role; technicians their own clients", tags=TAGS,
          body=NewUser, access=roles("admin", "technician"), responses={201: UserOut},
          refuses=(EmailTaken, RoleRuleBroken, Forbidden))
async def create_user(call: Call[None, NewUser, None]) -> UserOut:
    body = call.body
    profile = {k.removeprefix("profile."): v for k, v in _profile_fields(body.profile).items()}
    user = await call.people.create(
        name=body.name, email=body.email, password=body.password, role=body.role,
        technician_id=object_id(body.technician_id), profile=profile or None,
        creator=call.user)
    return UserOut(user=user.public())


@routes.get("/users/me")
@endpoint("The caller's own account", tags=TAGS, access=SIGNED_IN, responses={200: UserOut})
async def read_me(call: Call[None, None, None]) -> UserOut:
    return UserOut(user=call.user.public())


@routes.patch("/users/me")
@endpoint("Change one's own name and profile", tags=TAGS, body=ClientChanges,
          access=SIGNED_IN, responses={200: UserOut}, refuses=(NotFound,))
async def update_me(call: Call[None, ClientChanges, None]) -> UserOut:
    user = await call.people.update_self(call.user, _changes(call.body))
    return UserOut(user=user.public())


@routes.put("/users/me/password")
@endpoint("Change one's own password; other sessions are signed out", tags=TAGS,
          body=PasswordChange, access=SIGNED_IN, responses={200: UserOut},
          refuses=(WrongPassword,))
async def change_password(call: Call[None, PasswordChange, None]) -> UserOut:
    await call.people.change_password(call.signed_in, call.body.old_password,
                                      call.body.new_password)
    return UserOut(user=call.user.public())


@routes.get("/users/me/clients")
@endpoint("Technicians: their clients with name, sex, age and pathology", tags=TAGS,
          access=roles("technician"), responses={200: ClientList})
async def my_clients(call: Call[None, None, None]) -> ClientList:
    return ClientList(clients=await call.people.clients_of(call.user.id))


@routes.get(USER_PATH)
@endpoint("A user the caller may see", tags=TAGS, path=UserPath, access=SIGNED_IN,
          responses={200: UserOut}, refuses=(NotFound,))
async def read_user(call: Call[None, None, UserPath]) -> UserOut:
    user = await call.people.read(call.user, ObjectId(call.path.user_id))
    return UserOut(user=user.public())


@routes.patch(USER_PATH)
@endpoint("Admins: change any user; technicians: their clients' name and profile",
          tags=TAGS, path=UserPath, body=AdminChanges, access=SIGNED_IN,
          responses={200: UserOut},
          refuses=(EmailTaken, RoleRuleBroken, Forbidden, NotFound))
async def update_user(call: Call[None, AdminChanges, UserPath]) -> UserOut:
    user = await call.people.change(call.user, ObjectId(call.path.user_id), _changes(call.body),
                                    call.body.model_fields_set)
    return UserOut(user=user.public())


@routes.delete(USER_PATH)
@endpoint("Admins: delete a user and their sessions", tags=TAGS, path=UserPath,
          access=ADMINS, responses={200: UserOut}, refuses=(NotFound, RoleRuleBroken))
async def remove_user(call: Call[None, None, UserPath]) -> UserOut:
    target = await call.people.delete_by_id(ObjectId(call.path.user_id))
    return UserOut(user=target.public())
