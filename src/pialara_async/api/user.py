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
    field_validator,
)

from pialara_async import keys
from pialara_async.api.auth import bearer_token, optional_caller, require_caller, start_session
from pialara_async.api.errors import ApiError
from pialara_async.api.openapi import describe
from pialara_async.api.validation import parse_body, validation_messages
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
    name: Annotated[StrictStr, Field(max_length=100)]
    email: EmailAddress
    password: Password


class Credentials(Strict):
    email: Annotated[StrictStr, Field(max_length=254)]
    password: Password


class Preferences(Strict):
    preferences: Annotated[dict[str, PreferenceValue], Field(max_length=50)]

    @field_validator("preferences")
    @classmethod
    def plain_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key or key.startswith("$") or "." in key or len(key) > 64:
                raise ValueError(f"invalid preference name {key[:64]!r}")
        return value


class PasswordConfirmation(Strict):
    password: Password


class AuthResult(BaseModel):
    """A signed bearer token and the account's information."""

    auth_token: str
    info: dict[str, Any]


class Status(BaseModel):
    """Outcome."""

    status: str


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


async def _register(request: web.Request, *, admin: bool) -> web.Response:
    limits = request.config_dict[keys.RATE_LIMITS]
    await limits.spend(limits.register_per_address, request.remote or "")
    raw = await request.read()
    try:
        body = Registration.model_validate_json(raw or b"{}")
    except ValidationError as error:
        messages = validation_messages(error)
        if all(e["type"] == "string_too_long" and e["loc"][0] in ("name", "password")
               for e in error.errors()):
            return json_response({"status": "fail", "error": messages}, status=411)
        raise ApiError(400, messages) from None
    problems = _registration_problems(body)
    if problems:
        # 411, the original's status code for these, kept by the contract.
        return json_response({"status": "fail", "error": problems}, status=411)
    settings = request.config_dict[keys.SETTINGS]
    try:
        user = await users.create(
            request.config_dict[keys.DATABASE], request.config_dict[keys.PASSWORDS],
            name=body.name, email=body.email, password=body.password,
            wtimeout_ms=settings.mongodb.wtimeout_ms, role="admin" if admin else None)
    except users.EmailTaken:
        raise ApiError(400, {"email": "A user with the given email already exists."}) from None
    token = await start_session(request, user)
    info = {"email": user.email, "name": user.name, "preferences": user.preferences}
    if admin:
        info["isAdmin"] = True
    return json_response({"auth_token": token, "info": info}, status=201)


@routes.post("/user/register")
@describe("Create an account and sign in", tags=TAGS, body=Registration,
          responses={201: AuthResult, 400: "email taken", 411: "password or name too short"})
async def register(request: web.Request) -> web.Response:
    return await _register(request, admin=False)


@routes.post("/user/login")
@describe("Sign in", tags=TAGS, body=Credentials,
          responses={201: AuthResult, 401: "wrong email or password"})
async def login(request: web.Request) -> web.Response:
    limits = request.config_dict[keys.RATE_LIMITS]
    await limits.spend(limits.login_per_address, request.remote or "")
    body = await parse_body(request, Credentials)
    try:
        email = normalize(body.email)  # the domain in any letter case finds the account
    except InvalidEmail:
        email = body.email  # finds nobody, in as much time as a wrong password
    await limits.spend(limits.login_per_account, email.casefold())
    user = await users.authenticate(request.config_dict[keys.DATABASE],
                                    request.config_dict[keys.PASSWORDS], email, body.password)
    if user is None:
        # The same answer whether the email or the password was wrong, under
        # "password", where the MFlix front-end shows a login's error.
        raise ApiError(401, {"password": WRONG_CREDENTIALS})
    token = await start_session(request, user)
    return json_response({"auth_token": token, "info": user.info()}, status=201)


@routes.post("/user/logout")
@describe("Sign out: the token stops working", tags=TAGS, responses={201: Status}, auth=True)
async def logout(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    await users.close_session(request.config_dict[keys.DATABASE], caller.session_id)
    return json_response({"status": "logged out"}, status=201)


@routes.put("/user/update-preferences")
@describe("Replace the account's preferences (the token stays the same)", tags=TAGS,
          body=Preferences, responses={201: AuthResult}, auth=True)
async def update_preferences(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, Preferences)
    user = await users.set_preferences(request.config_dict[keys.DATABASE], caller.user.id,
                                       body.preferences)
    if user is None:
        raise ApiError(401, "the account no longer exists")
    # The contract answers with a token: the caller's own, which keeps working
    # (a token stops only at logout, deletion, password change or expiry).
    return json_response({"auth_token": bearer_token(request), "info": user.info()},
                         status=201)


@routes.delete("/user/delete")
@describe("Delete the account (password required) and all its sessions", tags=TAGS,
          body=PasswordConfirmation, responses={201: Status, 401: "wrong password",
                                                409: "a technician with clients"}, auth=True)
async def delete_account(request: web.Request) -> web.Response:
    caller = await require_caller(request)
    body = await parse_body(request, PasswordConfirmation)
    db = request.config_dict[keys.DATABASE]
    if not await users.password_matches(db, request.config_dict[keys.PASSWORDS],
                                        caller.user.id, body.password):
        raise ApiError(401, {"password": "The password is not correct."})
    await delete_user(request, caller.user)
    return json_response({"status": "deleted"}, status=201)


def role_rule_error(error: users.RoleRuleBroken) -> ApiError:
    """The answer to a change refused by a rule about roles (shared by every route)."""
    if isinstance(error, users.HasClients):
        return ApiError(409, "this technician still has clients: an administrator must first "
                             "assign them to another technician")
    if isinstance(error, users.LastAdmin):
        return ApiError(409, "this is the last administrator: make another user an "
                             "administrator first")
    return ApiError(400, {"technician_id": str(error)})


async def delete_user(request: web.Request, user: users.User) -> None:
    """Delete a user and their sessions; 409 when a rule about roles forbids it."""
    try:
        await users.delete(request.config_dict[keys.DATABASE],
                           request.config_dict[keys.DB_CLIENT], user,
                           request.config_dict[keys.SETTINGS].mongodb.wtimeout_ms)
    except users.RoleRuleBroken as error:
        raise role_rule_error(error) from None


@routes.get("/user/admin")
@describe("Whether the caller is an administrator (read from the database)", tags=TAGS,
          responses={202: Status, 401: Status}, auth=True)
async def admin_check(request: web.Request) -> web.Response:
    if not await _is_admin(request):
        return json_response({"status": "fail"}, status=401)
    return json_response({"status": "success"}, status=202)


async def _is_admin(request: web.Request) -> bool:
    """From the user record in the database, never from the token's claims."""
    caller = await optional_caller(request)
    return caller is not None and caller.user.is_admin


@routes.get("/user/comment-report")
@describe("Admins: the 20 users with the most comments", tags=TAGS,
          responses={200: CommentReport, 401: Status}, auth=True)
async def comment_report(request: web.Request) -> web.Response:
    if not await _is_admin(request):
        return json_response({"status": "fail"}, status=401)
    report = await users.comment_report(request.config_dict[keys.DATABASE])
    return json_response({"report": report})


@routes.post("/user/make-admin")
@describe("Create an administrator: needs an admin token (or auth.test_mode)", tags=TAGS,
          body=Registration, responses={201: AuthResult, 401: Status}, auth=True)
async def make_admin(request: web.Request) -> web.Response:
    if not request.config_dict[keys.SETTINGS].auth.test_mode and \
            not await _is_admin(request):
        return json_response({"status": "fail"}, status=401)
    return await _register(request, admin=True)
