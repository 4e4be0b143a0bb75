"""Who may see or change what: written once, for the HTTP routes and the live feed.

Rights come from the user record's ``role`` (read from the database on each
request, and again while a websocket holds topics that need them), never from
a token's claims. The rules that need the database (the last administrator, a
technician's clients) are the people service's (``services/people.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

from bson import ObjectId

from pialara_async.models import Role, User
from pialara_async.refusals import Forbidden, NotFound

ROLE_NAMES = {"admin": "administrators", "technician": "technicians", "client": "clients"}


def has_role(user: User, roles: frozenset[str]) -> bool:
    """Whether ``user`` holds one of ``roles``."""
    return user.role in roles


def role_refusal(roles: frozenset[str]) -> str:
    return f"{' or '.join(ROLE_NAMES.get(r, r) for r in sorted(roles))} only"


def visible_users(user: User) -> dict[str, Any] | None:
    """The users ``user`` may see and edit through ``/users/{id}``, as a filter;
    None: nobody but themselves."""
    if user.is_admin:
        return {}
    if user.role == "technician":
        return {"role": "client", "technician_id": user.id}
    return None


# What a technician may change of their clients (and anyone of themselves).
PROFILE_FIELDS = frozenset({"name", "profile"})


def change_scope(caller: User, user_id: ObjectId, fields: Set[str]) -> dict[str, Any]:
    """The users ``caller`` may change these fields of, as a filter; refused
    (NotFound, Forbidden) when they may change none."""
    scope = visible_users(caller)
    if scope is None:
        if user_id != caller.id:
            raise NotFound()
        raise Forbidden("use /users/me to change your own account")
    if not (caller.is_admin or fields <= PROFILE_FIELDS):
        raise Forbidden("only administrators change email, role or technician")
    return scope


def creator_technician(caller: User, role: Role, technician_id: ObjectId | None) -> (
    ObjectId | None
):
    """The technician of a user ``caller`` creates: administrators create any
    role; technicians create clients only, always their own."""
    if caller.is_admin:
        return technician_id
    if role != "client":
        raise Forbidden("technicians create clients only")
    if technician_id not in (None, caller.id):
        raise Forbidden("technicians create clients of their own only")
    return caller.id


def may_create_admin(caller: User | None, *, test_mode: bool) -> bool:
    """Administrators create administrators; with ``auth.test_mode`` on (the
    MFlix front-end's UI tests), anyone may."""
    return test_mode or (caller is not None and caller.is_admin)


def watch_refusal(user: User | None, role: Role | None) -> str | None:
    """Why ``user`` (None: anonymous) may not watch a live topic reserved to
    ``role`` (None: anyone); None when they may."""
    if role is None:
        return None
    if user is None:
        return "sign in first"
    return None if user.role == role else role_refusal(frozenset({role}))


def clients_seen_by(user: User) -> Callable[[dict[str, Any]], bool]:
    """Which events of the ``clients`` and ``recordings`` topics ``user`` (a
    technician) receives: those of their own clients."""
    return lambda event: event.get("technician_id") == user.id


def own_recordings_seen_by(user: User) -> Callable[[dict[str, Any]], bool]:
    """Which events of ``recordings:mine`` ``user`` (a client) receives: their own."""
    return lambda event: event.get("client_id") == user.id


# Who writes, imports, retires and assigns phrases.
PHRASE_EDITORS = frozenset({"admin", "technician"})


def cares_for(caller: User, client: User) -> bool:
    """Whether ``caller`` acts for ``client`` (one ``caller`` may see already):
    assigns them phrases, records their paper consent or its withdrawal.
    Administrators for any client, technicians for their own."""
    if client.role != "client":
        return False
    return caller.is_admin or client.technician_id == caller.id


def recordings_scope(user: User, clients: list[ObjectId]) -> dict[str, Any]:
    """The recordings ``user`` may hear and know of, as a filter: a client's
    own; a technician's current clients' (``clients``); any, for an
    administrator. Others answer 404, as if there were none."""
    if user.is_admin:
        return {}
    if user.role == "technician":
        return {"client_id": {"$in": clients}}
    return {"client_id": user.id}


def may_erase(caller: User, client: User) -> bool:
    """Erasure of a client's recordings: asked by the client, or by an
    administrator on their behalf."""
    return client.role == "client" and (caller.id == client.id or caller.is_admin)
