"""The records the services hand out, as the code sees them (never a password hash)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bson import ObjectId

Role = Literal["admin", "technician", "client"]
Sex = Literal["female", "male", "other"]


@dataclass(frozen=True, slots=True)
class User:
    id: ObjectId
    name: str
    email: str
    role: Role | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    technician_id: ObjectId | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        # The role is the one source of rights. MFlix's isAdmin flag is mapped
        # to it when data is imported or migrated, and echoed in responses.
        return self.role == "admin"

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> User:
        return cls(
            id=document["_id"],
            name=document.get("name", ""),
            email=document["email"],
            role=document.get("role"),
            preferences=document.get("preferences") or {},
            technician_id=document.get("technician_id"),
            profile=document.get("profile") or {},
        )

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"_id": self.id, "name": self.name, "email": self.email,
                                "role": self.role, "isAdmin": self.is_admin}
        if self.role == "client":
            body["technician_id"] = self.technician_id
            body["profile"] = self.profile
        return body

    def info(self) -> dict[str, Any]:
        """The MFlix contract's ``info`` member."""
        return {"email": self.email, "name": self.name, "preferences": self.preferences,
                "isAdmin": self.is_admin}


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in caller: their user record, read from the database, and session."""

    user: User
    session_id: str
