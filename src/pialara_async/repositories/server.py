"""What the service asks of the MongoDB deployment itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


async def ping(db: Any) -> None:
    await db.command("ping")


@dataclass(frozen=True, slots=True)
class Deployment:
    version: str
    topology: str
    replica_set: str | None
    members: list[str]
    change_streams: bool
    transactions: bool


async def describe(client: Any) -> Deployment:
    """Version, topology and what the deployment supports, as ``check`` prints it."""
    admin = client.get_database("admin")
    build = await admin.command("buildInfo")
    hello = await admin.command("hello")
    replica_set = hello.get("setName")
    logical_sessions = hello.get("logicalSessionTimeoutMinutes") is not None
    return Deployment(
        version=str(build.get("version", "unknown")),
        topology="replica set" if replica_set else ("sharded" if hello.get("msg") == "isdbgrid"
                                                     else "standalone"),
        replica_set=replica_set,
        members=list(hello.get("hosts", [])),
        # Change streams need a replica set or sharded cluster; transactions
        # additionally need sessions.
        change_streams=bool(replica_set) or hello.get("msg") == "isdbgrid",
        transactions=(bool(replica_set) or hello.get("msg") == "isdbgrid") and logical_sessions,
    )


async def connection_role(client: Any) -> dict[str, Any] | None:
    """First role of the authenticated user (``connectionStatus``), if any."""
    status = await client.get_database("admin").command("connectionStatus")
    roles = (status.get("authInfo") or {}).get("authenticatedUserRoles") or []
    return dict(roles[0]) if roles else None
