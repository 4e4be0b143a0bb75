"""The users part of the MFlix v1 contract (``/api/v1/user/...``), with its security fixes."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)

from pialara_async.api.auth import bearer_token
from pialara_async.api.endpoint import OPTIONAL, SIGNED_IN, Call, endpoint, roles
from pialara_async.api.errors import ApiError
from pialara_async.api.fields import GivenPassword, Strict
from pialara_async.api.validation import validation_messages
from pialara_async.emails import EmailAddress, InvalidEmail, normalize
from pialara_async.jsonio import json_response
from pialara_async.policy import may_create_admin
from pialara_async.refusals import EmailTaken, RoleRuleBroken, WrongPassword
from pialara_async.repositories import comments
from pialara_async.security.passwords import MAX_LENGTH, MIN_LENGTH
from pialara_async.security.rate_limits import RATE_LIMITS, TooManyRequests
from pialara_async.services.people import AccountGone
from pialara_async.settings import SETTINGS

routes = web.RouteTableDef()
TAGS = ("user",)
WRONG_CREDENTIALS = "Incorrect email or password."

PreferenceValue = StrictStr | StrictInt | StrictFloat | StrictBool | None


class Registration(Strict):
    # The minimum lengths are the handler's (the contract answers 411 for
    # shorter ones, not 400), stated here for the description.
    name: Annotated[StrictStr, Field(max_length=100, json_schema_extra={"minLength": 4})]
    email: EmailAddress
    password: Annotated[StrictStr, Field(max_length=MAX_LENGTH,
                                         json_schema_extra={"minLength": MIN_LENGTH})]


class Credentials(Strict):
    email: Annotated[StrictStr, Field(max_length=254)]
    password: GivenPassword


# A preference's name: never an operator ($...), a path (a.b) or a NUL (BSON
# names cannot hold one) in the update.
NAME_PATTERN = r"^[^$.\u0000][^.\u0000]*$"
PreferenceName = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


PREFERENCES_SCHEMA = {
    "type": "object", "maxProperties": 50,
    "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN},
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}


class Preferences(Strict):
    preferences: Annotated[dict[PreferenceName, PreferenceValue], Field(max_length=50),
                           WithJsonSchema(PREFERENCES_SCHEMA)]


class PasswordConfirmation(Strict):
    password: GivenPassword


class AuthResult(BaseModel):
    """A signed bearer token and the account's information."""

    auth_token: str
    info: dict[str, Any]


class Status(BaseModel):
    """Outcome."""

    status: str


class RegistrationFailure(BaseModel):
    """A name or password too short or too long (the contract's 411)."""

    status: str
    error: dict[str, str]


class CommentReport(BaseModel):
    """The 20 users with the most comments."""

    report: list[dict[str, Any]]


def _registration_problems(body: Registration) -> dict[str, str]:
    problems = {}
    if len(body.password) < MIN_LENGTH:
        problems["password"] = f"Your password must be at least {MIN_LENGTH} characters."
    if len(body.name) <= 3:
        problems["name"] = "You must specify a name of at least 3 characters."
    return problems


def _too_long(error: ValidationError) -> web.Response | None:
    """The contract answers 411 when only a name or password is too long."""
    if all(e["type"] == "string_too_long" and e["loc"] and e["loc"][0] in ("name", "password")
           for e in error.errors()):
        return json_response({"status": "fail", "error": validation_messages(error)},
                             status=411)
    return None


async def _register(call: Call[None, Registration, None], *, admin: bool) -> (
    web.Response | AuthResult
):
    limits = call.app(RATE_LIMITS)
    await limits.spend(limits.register_per_address, call.request.remote or "")
    body = call.body
    problems = _registration_problems(body)
    if problems:
        # 411, the original's status code for these, kept by the contract.
        return json_response({"status": "fail", "error": problems}, status=411)
    user = await call.people.create(name=body.name, email=body.email, password=body.password,
                                    role="admin" if admin else None)
    token = await call.people.sign_in(user)
    info: dict[str, Any] = {"email": user.email, "name": user.name, "preferences": user.preferences}
    if admin:
        info["isAdmin"] = True
    return AuthResult(auth_token=token, info=info)


REGISTRATION_REFUSALS = (EmailTaken, TooManyRequests)


@routes.post("/user/register")
@endpoint("Create an account and sign in", tags=TAGS, body=Registration,
          invalid_body=_too_long, responses={201: AuthResult, 411: RegistrationFailure},
          refuses=REGISTRATION_REFUSALS)
async def register(call: Call[None, Registration, None]) -> web.Response | AuthResult:
    return await _register(call, admin=False)


@routes.post("/user/login")
@endpoint("Sign in", tags=TAGS, body=Credentials, responses={201: AuthResult},
          errors={401: "wrong e-mail or password (under error.password)"},
          refuses=(TooManyRequests,))
async def login(call: Call[None, Credentials, None]) -> AuthResult:
    limits = call.app(RATE_LIMITS)
    await limits.spend(limits.login_per_address, call.request.remote or "")
    body = call.body
    try:
        email = normalize(body.email)  # the domain in any letter case finds the account
    except InvalidEmail:
        email = body.email  # finds nobody, in as much time as a wrong password
    await limits.spend(limits.login_per_account, email.casefold())
    user = await call.people.authenticate(email, body.password)
    if user is None:
        # The same answer whether the email or the password was wrong, under
        # "password", where the MFlix front-end shows a login's error.
        raise ApiError(401, {"password": WRONG_CREDENTIALS})
    token = await call.people.sign_in(user)
    return AuthResult(auth_token=token, info=user.info())


@routes.post("/user/logout")
@endpoint("Sign out: the token stops working", tags=TAGS, access=SIGNED_IN,
          responses={201: Status})
async def logout(call: Call[None, None, None]) -> Status:
    await call.people.sign_out(call.signed_in)
    return Status(status="logged out")


@routes.put("/user/update-preferences")
@endpoint("Replace the account's preferences (the token stays the same)", tags=TAGS,
          body=Preferences, access=SIGNED_IN, responses={201: AuthResult},
          refuses=(AccountGone,))
async def update_preferences(call: Call[None, Preferences, None]) -> AuthResult:
    user = await call.people.set_preferences(call.user, call.body.preferences)
    # The contract answers with a token: the caller's own, which keeps working
    # (a token stops only at logout, deletion, password change or expiry).
    return AuthResult(auth_token=bearer_token(call.request) or "", info=user.info())


@routes.delete("/user/delete")
@endpoint("Delete the account (password required) and all its sessions", tags=TAGS,
          body=PasswordConfirmation, access=SIGNED_IN, responses={201: Status},
          refuses=(WrongPassword, RoleRuleBroken))
async def delete_account(call: Call[None, PasswordConfirmation, None]) -> Status:
    await call.people.delete_account(call.user, call.body.password)
    return Status(status="deleted")


def _fail() -> web.Response:
    """The contract's answer to anyone but an administrator on its admin routes."""
    return json_response({"status": "fail"}, status=401)


ADMINS = roles("admin", refusal=_fail)


@routes.get("/user/admin")
@endpoint("Whether the caller is an administrator (read from the database)", tags=TAGS,
          access=ADMINS, responses={202: Status, 401: Status})
async def admin_check(call: Call[None, None, None]) -> Status:
    return Status(status="success")


@routes.get("/user/comment-report")
@endpoint("Admins: the 20 users with the most comments", tags=TAGS, access=ADMINS,
          responses={200: CommentReport, 401: Status})
async def comment_report(call: Call[None, None, None]) -> CommentReport:
    return CommentReport(report=await comments.comment_report(call.db))


@routes.post("/user/make-admin")
@endpoint("Create an administrator: needs an admin token (or auth.test_mode)", tags=TAGS,
          body=Registration, access=OPTIONAL, invalid_body=_too_long,
          responses={201: AuthResult, 401: Status, 411: RegistrationFailure},
          refuses=REGISTRATION_REFUSALS)
async def make_admin(call: Call[None, Registration, None]) -> web.Response | AuthResult:
    caller = call.caller.user if call.caller else None
    if not may_create_admin(caller, test_mode=call.app(SETTINGS).auth.test_mode):
        return _fail()
    return await _register(call, admin=True)
