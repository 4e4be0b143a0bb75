"""Accounts and roles: MFlix's site accounts and PIA Lara's people, their
passwords, sessions and tokens, and the rules about roles that need the
database.

Rules that hold under concurrency: every change of role or technician, and
every deletion, runs in a transaction that first writes one guard document,
so two such transactions conflict and one is retried after the other. Only
clients have a technician, an existing one; a technician who still has
clients stays one; the last administrator stays one.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Awaitable, Callable, Set
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from bson import ObjectId
from pymongo import WriteConcern

from pialara_async import clock, policy
from pialara_async.db import driver
from pialara_async.db.client import DATABASE, DB_CLIENT
from pialara_async.models import Caller, Role, User
from pialara_async.refusals import (
    HasClients,
    LastAdmin,
    NotFound,
    OnlyClientsHaveTechnicians,
    Refused,
    TechnicianRequired,
    WrongPassword,
)
from pialara_async.repositories import sessions, users
from pialara_async.security import tokens
from pialara_async.security.passwords import PASSWORDS, PasswordHashing
from pialara_async.security.tokens import TOKEN_SECRET
from pialara_async.settings import SETTINGS


class AccountGone(Refused):
    """The signed-in account was deleted meanwhile."""

    default = "the account no longer exists"


@dataclass(slots=True)
class People:
    db: Any
    client: Any  # the driver client, for transactions
    hashing: PasswordHashing
    wtimeout_ms: int = 0
    token_secret: str = ""
    token_ttl: datetime.timedelta = datetime.timedelta(days=1)

    # --- sign-in, sessions and tokens -------------------------------------------------

    async def authenticate(self, email: str, password: str) -> User | None:
        """The user if the password is right; a legacy bcrypt hash is upgraded to argon2id."""
        found = await users.with_password_hash(self.db, email)
        check = await self.hashing.verify(password, None if found is None else found[1])
        if found is None or not check.ok:
            return None
        user, stored = found
        if check.rehash:
            await users.set_password_hash(self.db, user.id, await self.hashing.hash(password),
                                          replacing=stored)
        return user

    async def sign_in(self, user: User) -> str:
        """Open a session for ``user`` and return its signed token."""
        expires = (datetime.datetime.now(datetime.UTC) + self.token_ttl).replace(tzinfo=None)
        session_id = await sessions.open_session(self.db, user, expires)
        token = tokens.issue(self.token_secret, str(user.id), session_id, self.token_ttl)
        await sessions.bind_token(self.db, session_id, tokens.fingerprint(token))
        return token

    async def standing(self, token: str) -> tuple[Caller | None, str]:
        """The token's caller, or None and why the token no longer works."""
        try:
            claims = tokens.read(self.token_secret, token)
        except tokens.ExpiredToken:
            return None, "the token expired: sign in again"
        except tokens.InvalidToken:
            return None, "the token is invalid"
        user = await sessions.session_user(self.db, claims.session_id,
                                           tokens.fingerprint(token))
        if user is not None and str(user.id) == claims.user_id:
            return Caller(user, claims.session_id), ""
        if ObjectId.is_valid(claims.user_id) and await users.by_id(self.db,
                                                                   ObjectId(claims.user_id)):
            return None, "signed out, or the password was changed"
        return None, "the account was deleted"

    async def sign_out(self, caller: Caller) -> None:
        await sessions.close_session(self.db, caller.session_id)

    # --- one's own account ------------------------------------------------------------

    async def confirm_password(self, user: User, password: str, field: str) -> None:
        """WrongPassword (naming ``field``) unless ``password`` is the account's."""
        stored = await users.password_hash(self.db, user.id)
        if not (await self.hashing.verify(password, stored)).ok:
            raise WrongPassword(field)

    async def change_password(self, caller: Caller, old: str, new: str) -> None:
        """Change one's password with the old one; other sessions are signed out."""
        await self.confirm_password(caller.user, old, "old_password")
        await users.set_password_hash(self.db, caller.user.id, await self.hashing.hash(new),
                                      wtimeout_ms=self.wtimeout_ms)
        await sessions.close_other_sessions(self.db, caller.user.id, keep=caller.session_id)

    async def set_preferences(self, user: User, preferences: dict[str, Any]) -> User:
        changed = await users.set_preferences(self.db, user.id, preferences)
        if changed is None:
            raise AccountGone()
        return changed

    async def delete_account(self, user: User, password: str) -> None:
        await self.confirm_password(user, password, "password")
        await self.delete(user)

    async def update_self(self, user: User, changes: dict[str, Any]) -> User:
        """Change one's own name and profile (fixed field names)."""
        return await self.update(user, user.id, changes)

    # --- people, as their administrators and technicians see them ----------------------

    async def create(self, *, name: str, email: str, password: str, role: Role | None = None,
                     technician_id: ObjectId | None = None,
                     profile: dict[str, Any] | None = None, creator: User | None = None) -> User:
        """A new account. ``creator`` (None: the site's own sign-up, or a tool)
        is held to ``policy.creator_technician``. A client is created in a
        transaction that checks its technician."""
        if creator is not None and role is not None:
            technician_id = policy.creator_technician(creator, role, technician_id)
        document: dict[str, Any] = {"name": name, "email": email,
                                    "password": await self.hashing.hash(password),
                                    "preferences": {}, "created_at": clock.now()}
        if role is not None:
            document["role"] = role
        if profile:
            document["profile"] = profile
        if role != "client":
            if technician_id is not None:
                raise OnlyClientsHaveTechnicians()
            return await users.insert(self.db, document, wtimeout_ms=self.wtimeout_ms)
        if technician_id is None:
            raise TechnicianRequired()
        document["technician_id"] = technician_id

        async def insert(session: Any) -> User:
            await users.bump_role_guard(self.db, session)
            await self._check_technician(technician_id, session)
            return await users.insert(self.db, dict(document), session=session)

        result: User = await self._transaction(insert)
        return result

    async def read(self, caller: User, user_id: ObjectId) -> User:
        """A user ``caller`` may see; NotFound for anyone else."""
        if user_id == caller.id:
            return caller
        scope = policy.visible_users(caller)
        user = None if scope is None else await users.within(self.db, user_id, scope)
        if user is None:
            raise NotFound()
        return user

    async def client_cared_for(self, caller: User, client_id: ObjectId) -> User:
        """A client ``caller`` acts for (``policy.cares_for``); NotFound for
        anyone else."""
        client = await self.read(caller, client_id)
        if not policy.cares_for(caller, client):
            raise NotFound()
        return client

    async def change(self, caller: User, user_id: ObjectId, changes: dict[str, Any],
                     fields: Set[str]) -> User:
        """``caller`` changes another user (``fields``: the members they sent)."""
        scope = policy.change_scope(caller, user_id, fields)
        return await self.update(caller, user_id, changes, scope)

    async def update(self, caller: User, user_id: ObjectId, changes: dict[str, Any],
                     scope: dict[str, Any] | None = None) -> User:
        """Set fields (names fixed by the caller's model) on a user within ``scope``.
        A change of role or technician runs in a transaction that keeps the rules."""
        if not changes:
            found = await users.within(self.db, user_id, scope or {})
        elif not {"role", "technician_id"} & changes.keys():
            found = await users.update(self.db, user_id, {"$set": changes}, scope=scope)
        else:
            found = await self._transaction(
                lambda session: self._change_role(user_id, changes, scope or {}, session))
        if found is None:
            raise NotFound()
        return found

    async def _change_role(self, user_id: ObjectId, changes: dict[str, Any],
                           scope: dict[str, Any], session: Any) -> User | None:
        await users.bump_role_guard(self.db, session)
        target = await users.within(self.db, user_id, scope, session)
        if target is None:
            return None
        role = changes.get("role", target.role)
        await self._check_leaving(target, role, session)
        update: dict[str, Any] = {"$set": dict(changes)}
        if role == "client":
            technician = changes.get("technician_id", target.technician_id)
            if technician is None:
                raise TechnicianRequired()
            await self._check_technician(technician, session)
            update["$set"]["technician_id"] = technician
        elif "technician_id" in changes:
            raise OnlyClientsHaveTechnicians()
        elif target.technician_id is not None:
            update["$unset"] = {"technician_id": ""}
        return await users.update(self.db, user_id, update, session=session)

    async def delete(self, user: User) -> None:
        """Delete the user and all their sessions in one transaction, unless that
        leaves clients without their technician or nobody an administrator.

        Their comments stay, attributed by name and email as in the MFlix data,
        owned by nobody (ownership follows the account's id, which is gone).
        """

        async def remove(session: Any) -> None:
            await users.bump_role_guard(self.db, session)
            target = await users.by_id(self.db, user.id, session)
            if target is None:
                return
            await self._check_leaving(target, None, session)
            await sessions.close_all_sessions(self.db, user.id, session)
            await users.delete(self.db, user.id, session)

        await self._transaction(remove)

    async def delete_by_id(self, user_id: ObjectId) -> User:
        target = await users.by_id(self.db, user_id)
        if target is None:
            raise NotFound()
        await self.delete(target)
        return target

    async def page(self, *, role: Role | None, search: str | None,
                   page_number: int) -> tuple[list[User], int]:
        return await users.page(self.db, role=role, search=search, page_number=page_number)

    async def technicians(self) -> list[User]:
        return await users.technicians(self.db)

    async def client_ids_of(self, technician_id: ObjectId) -> list[ObjectId]:
        return await users.client_ids_of(self.db, technician_id)

    async def clients_of(self, technician_id: ObjectId) -> list[dict[str, Any]]:
        return await users.clients_of(self.db, technician_id, clock.now())

    # --- the rules about roles that need the database ---------------------------------

    async def _check_leaving(self, target: User, role: Role | None, session: Any) -> None:
        """Refuse a user leaving their role (``role`` is the new one, None:
        deleted) when that breaks a rule."""
        if target.role == "admin" and role != "admin" and \
                not await users.other_admin_exists(self.db, target.id, session):
            raise LastAdmin()
        if target.role == "technician" and role != "technician" and \
                await users.has_clients(self.db, target.id, session):
            raise HasClients()

    async def _check_technician(self, technician_id: ObjectId, session: Any) -> None:
        if not await users.is_technician(self.db, technician_id, session):
            raise TechnicianRequired("no technician has this id")

    async def _transaction[T](self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``work(session)`` in a transaction (retried on transient errors),
        committed with write concern majority."""
        concern = WriteConcern("majority", wtimeout=self.wtimeout_ms or None)
        result: T = await driver.run_transaction(self.client, work, write_concern=concern)
        return result


PEOPLE = web.AppKey("people", People)


async def people_ctx(app: web.Application) -> AsyncIterator[None]:
    """The people service, for the application's lifetime (after the database)."""
    settings = app[SETTINGS]
    app[PEOPLE] = People(
        app[DATABASE], app[DB_CLIENT], app[PASSWORDS], settings.mongodb.wtimeout_ms,
        app[TOKEN_SECRET], datetime.timedelta(minutes=settings.auth.token_ttl_minutes))
    yield

