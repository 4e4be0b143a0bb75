"""The users part of the MFlix v1 contract (``/api/v1/user/...``), with its security fixes."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)

from pialara_async import keys
from pialara_async.api.auth import bearer_token, start_session
from pialara_async.api.endpoint import OPTIONAL, SIGNED_IN, Call, endpoint, roles
from pialara_async.api.errors import ApiError
from pialara_async.api.validation import validation_messages
from pialara_async.emails import EmailAddress, InvalidEmail, normalize
from pialara_async.jsonio import json_response
from pialara_async.repositories import users
from pialara_async.security.passwords import MAX_LENGTH, MIN_LENGTH

routes = web.RouteTableDef()
TAGS = ("user",)
WRONG_CREDENTIALS = "Incorrect email or password."

Password = Annotated[StrictStr, Field(max_length=MAX_LENGTH)]
PreferenceValue = StrictStr | StrictInt | StrictFloat | StrictBool | None


class Strict(BaseModel):
    # Strict: an object or array where a string belongs is refused (no operator injection).
    model_config = ConfigDict(strict=True, extra="forbid")


class Registration(Strict):
    # The minimum lengths are the handler's (the contract answers 411 for
    # shorter ones, not 400), stated here for the description.
    name: Annotated[StrictStr, Field(max_length=100, json_schema_extra={"minLength": 4})]
    email: EmailAddress
    password: Annotated[StrictStr, Field(max_length=MAX_LENGTH,
                                         json_schema_extra={"minLength": MIN_LENGTH})]


class Credentials(Strict):
    email: Annotated[StrictStr, Field(max_length=254)]
    password: Password


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
    password: Password


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


async def _register(call: Call[None, Registration, None], *, admin: bool) -> web.Response:
    limits = call.app(keys.RATE_LIMITS)
    await limits.spend(limits.register_per_address, call.request.remote or "")
    body = call.body
    problems = _registration_problems(body)
    if problems:
        # 411, the original's status code for these, kept by the contract.
        return json_response({"status": "fail", "error": problems}, status=411)
    try:
        user = await users.create(
            call.db, call.app(keys.PASSWORDS), name=body.name, email=body.email,
            password=body.password, wtimeout_ms=call.app(keys.SETTINGS).mongodb.wtimeout_ms,
            role="admin" if admin else None)
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    token = await start_session(call.request, user)
    info = {"email": user.email, "name": user.name, "preferences": user.preferences}
    if admin:
        info["isAdmin"] = True
    return json_response({"auth_token": token, "info": info}, status=201)


REGISTRATION_ERRORS = {400: "invalid, or the e-mail is taken",
                       429: "too many sign-ups from this address"}


@routes.post("/user/register")
@endpoint("Create an account and sign in", tags=TAGS, body=Registration,
          invalid_body=_too_long, responses={201: AuthResult, 411: RegistrationFailure},
          errors=REGISTRATION_ERRORS)
async def register(call: Call[None, Registration, None]) -> web.Response:
    return await _register(call, admin=False)


@routes.post("/user/login")
@endpoint("Sign in", tags=TAGS, body=Credentials, responses={201: AuthResult},
          errors={401: "wrong e-mail or password (under error.password)",
                  429: "too many logins from this address or for this account"})
async def login(call: Call[None, Credentials, None]) -> web.Response:
    limits = call.app(keys.RATE_LIMITS)
    await limits.spend(limits.login_per_address, call.request.remote or "")
    body = call.body
    try:
        email = normalize(body.email)  # the domain in any letter case finds the account
    except InvalidEmail:
        email = body.email  # finds nobody, in as much time as a wrong password
    await limits.spend(limits.login_per_account, email.casefold())
    user = await users.authenticate(call.db, call.app(keys.PASSWORDS), email, body.password)
    if user is None:
        # The same answer whether the email or the password was wrong, under
        # "password", where the MFlix front-end shows a login's error.
        raise ApiError(401, {"password": WRONG_CREDENTIALS})
    token = await start_session(call.request, user)
    return json_response({"auth_token": token, "info": user.info()}, status=201)


@routes.post("/user/logout")
@endpoint("Sign out: the token stops working", tags=TAGS, access=SIGNED_IN,
          responses={201: Status})
async def logout(call: Call[None, None, None]) -> web.Response:
    assert call.caller is not None
    await users.close_session(call.db, call.caller.session_id)
    return json_response({"status": "logged out"}, status=201)


@routes.put("/user/update-preferences")
@endpoint("Replace the account's preferences (the token stays the same)", tags=TAGS,
          body=Preferences, access=SIGNED_IN, responses={201: AuthResult})
async def update_preferences(call: Call[None, Preferences, None]) -> web.Response:
    user = await users.set_preferences(call.db, call.user.id, call.body.preferences)
    if user is None:
        raise ApiError(401, "the account no longer exists")
    # The contract answers with a token: the caller's own, which keeps working
    # (a token stops only at logout, deletion, password change or expiry).
    return json_response({"auth_token": bearer_token(call.request), "info": user.info()},
                         status=201)


@routes.delete("/user/delete")
@endpoint("Delete the account (password required) and all its sessions", tags=TAGS,
          body=PasswordConfirmation, access=SIGNED_IN, responses={201: Status},
          errors={401: "wrong password",
                  409: "a technician with clients, or the last administrator"})
async def delete_account(call: Call[None, PasswordConfirmation, None]) -> web.Response:
    if not await users.password_matches(call.db, call.app(keys.PASSWORDS), call.user.id,
                                        call.body.password):
        raise ApiError(401, {"password": "The password is not correct."})
    await delete_user(call.request, call.user)
    return json_response({"status": "deleted"}, status=201)


def role_rule_error(error: users.RoleRuleBroken) -> ApiError:
    """The answer to a change refused by a rule about roles (shared by every route)."""
    if isinstance(error, users.HasClients):
        return ApiError(409, "this technician still has clients: an administrator must first "
                             "assign them to another technician", code="technician_has_clients")
    if isinstance(error, users.LastAdmin):
        return ApiError(409, "this is the last administrator: make another user an "
                             "administrator first", code="last_admin")
    return ApiError(400, {"technician_id": str(error)})


async def delete_user(request: web.Request, user: users.User) -> None:
    """Delete a user and their sessions; 409 when a rule about roles forbids it."""
    try:
        await users.delete(request.config_dict[keys.DATABASE],
                           request.config_dict[keys.DB_CLIENT], user,
                           request.config_dict[keys.SETTINGS].mongodb.wtimeout_ms)
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None


def _fail() -> web.Response:
    """The contract's answer to anyone but an administrator on its admin routes."""
    return json_response({"status": "fail"}, status=401)


ADMINS = roles("admin", refusal=_fail)


@routes.get("/user/admin")
@endpoint("Whether the caller is an administrator (read from the database)", tags=TAGS,
          access=ADMINS, responses={202: Status, 401: Status})
async def admin_check(call: Call[None, None, None]) -> web.Response:
    return json_response({"status": "success"}, status=202)


@routes.get("/user/comment-report")
@endpoint("Admins: the 20 users with the most comments", tags=TAGS, access=ADMINS,
          responses={200: CommentReport, 401: Status})
async def comment_report(call: Call[None, None, None]) -> web.Response:
    return json_response({"report": await users.comment_report(call.db)})


@routes.post("/user/make-admin")
@endpoint("Create an administrator: needs an admin token (or auth.test_mode)", tags=TAGS,
          body=Registration, access=OPTIONAL, invalid_body=_too_long,
          responses={201: AuthResult, 401: Status, 411: RegistrationFailure},
          errors=REGISTRATION_ERRORS)
async def make_admin(call: Call[None, Registration, None]) -> web.Response:
    # Who may: an administrator, or anyone while auth.test_mode is on (the
    # MFlix front-end's UI tests); a setting, so it is decided here.
    test_mode = call.app(keys.SETTINGS).auth.test_mode
    if not test_mode and (call.caller is None or not call.user.is_admin):
        return _fail()
    return await _register(call, admin=True)
