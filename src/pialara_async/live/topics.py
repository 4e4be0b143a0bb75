"""The live feed's topics, in one table: the change stream each one's events
come from, who may watch it (the rule itself is ``policy.watch_refusal``),
and whether its recent events are kept while nobody watches. The feeds that
publish, the hub that keeps, and the sessions that subscribe all read it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from pialara_async import policy
from pialara_async.models import Role, User


@dataclass(frozen=True, slots=True)
class Topic:
    feed: str  # the watched collection whose change stream carries its events
    role: Role | None = None  # who may watch it; None: anyone
    # Recent events kept whether or not anyone subscribes (for ``since``);
    # otherwise only while subscribed and a little after.
    standing: bool = True
    # Which of its events a subscriber receives (a rule of policy.py); None: all.
    seen_by: Callable[[User], Callable[[dict[str, Any]], bool]] | None = None


COMMENTS = "comments"
MOVIES = "movies"
USERS = "users"
CLIENTS = "clients"  # a technician's own clients
RECORDINGS = "recordings"  # a technician's clients' recordings, arriving and reviewed
MY_RECORDINGS = "recordings:mine"  # a client's own, reviewed

TOPICS: dict[str, Topic] = {
    COMMENTS: Topic("comments"),
    MOVIES: Topic("movies"),
    USERS: Topic("users", role="admin"),
    CLIENTS: Topic("users", role="technician", seen_by=policy.clients_seen_by),
    RECORDINGS: Topic("recordings", role="technician", seen_by=policy.clients_seen_by),
    MY_RECORDINGS: Topic("recordings", role="client", seen_by=policy.own_recordings_seen_by),
}
# ``movie:{id}:comments``: one movie's comments, a topic while someone watches it.
MOVIE_COMMENTS = Topic("comments", standing=False)
MOVIE_PREFIX = "movie:"
_MOVIE_COMMENTS = re.compile(r"^movie:([0-9a-f]{24}):comments$")

STANDING = tuple(name for name, topic in TOPICS.items() if topic.standing)
# Topics that need rights: a socket holding one re-reads its caller's standing.
GUARDED = frozenset(name for name, topic in TOPICS.items() if topic.role is not None)


def movie_comments(movie_id: ObjectId) -> str:
    return f"{MOVIE_PREFIX}{movie_id}:comments"


def movie_of(name: str) -> ObjectId | None:
    """The movie of a ``movie:{id}:comments`` topic; None for any other name."""
    match = _MOVIE_COMMENTS.match(name)
    return None if match is None else ObjectId(match.group(1))


def lookup(name: str) -> Topic | None:
    """The topic of that name; None: no such topic."""
    found = TOPICS.get(name)
    if found is None and movie_of(name) is not None:
        return MOVIE_COMMENTS
    return found


def names_of(feed: str) -> tuple[str, ...]:
    """The topic names (and name prefixes) whose events come from ``feed``:
    those told to refetch when its collection is dropped."""
    names = tuple(name for name, topic in TOPICS.items() if topic.feed == feed)
    return (*names, MOVIE_PREFIX) if MOVIE_COMMENTS.feed == feed else names
