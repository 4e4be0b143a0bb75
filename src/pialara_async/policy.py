"""Who may see or change what: written once, for the HTTP routes and the live feed.

Rights come from the user record's ``role`` (read from the database on each
request, and again while a websocket holds topics that need them), never from
a token's claims.
"""

from __future__ import annotations

from typing import Any

from pialara_async.repositories.users import User

# Topics of the live feed that need rights, and who holds them.
TOPIC_ROLES = {"users": "admin", "clients": "technician"}
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


def may_change(user: User, fields: set[str]) -> bool:
    """Whether ``user`` may change these fields of a user they can see."""
    return user.is_admin or fields <= PROFILE_FIELDS


def topic_refusal(user: User | None, topic: str) -> str | None:
    """Why ``user`` (None: anonymous) may not watch ``topic``; None when they may."""
    role = TOPIC_ROLES.get(topic)
    if role is None:
        return None
    if user is None:
        return "sign in first"
    return None if user.role == role else role_refusal(frozenset({role}))
