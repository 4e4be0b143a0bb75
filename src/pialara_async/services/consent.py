"""Consent: administrators publish numbered versions of the consent text; a
client accepts the version in force, or their technician records a paper
consent signed for them (by a tutor, say); either may withdraw it. Every
acceptance and withdrawal is kept, with its time and who recorded it.
Nothing is recorded without a consent in force (``version_in_force``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from bson import ObjectId

from pialara_async.db.client import DATABASE
from pialara_async.models import User
from pialara_async.refusals import ConsentOutdated, NoConsentText
from pialara_async.repositories import consents
from pialara_async.services.people import PEOPLE, People

Method = Literal["online", "paper"]


@dataclass(slots=True)
class Consent:
    db: Any
    people: People

    async def current(self) -> dict[str, Any]:
        text = await consents.current_text(self.db)
        if text is None:
            raise NoConsentText()
        return text

    async def versions(self) -> list[dict[str, Any]]:
        return await consents.texts(self.db)

    async def publish(self, admin: User, text: str, language: str) -> dict[str, Any]:
        """A new version: it is in force from now, and every client accepts it anew."""
        return await consents.publish(self.db, text, language, admin.id)

    async def _client(self, caller: User, client_id: ObjectId) -> User:
        """The client, if ``caller`` is them or cares for them; NotFound otherwise."""
        if caller.id == client_id and caller.role == "client":
            return caller
        return await self.people.client_cared_for(caller, client_id)

    async def version_in_force(self, client_id: ObjectId) -> int | None:
        """The consent version a new recording of this client is made under; None
        when they have no consent in force."""
        current = await consents.current_text(self.db)
        latest = await consents.latest(self.db, client_id)
        return consents.in_force_version(latest, None if current is None else current["version"])

    async def status(self, caller: User, client_id: ObjectId) -> dict[str, Any]:
        client = await self._client(caller, client_id)
        current = await consents.current_text(self.db)
        history = await consents.history(self.db, client.id)
        version = consents.in_force_version(
            history[0] if history else None, None if current is None else current["version"])
        return {"in_force": version is not None, "version": version,
                "current_version": None if current is None else current["version"],
                "history": history}

    async def accept(self, caller: User, client_id: ObjectId, version: int, *,
                     method: Method, signed_by: str | None = None) -> dict[str, Any]:
        """Accept ``version``, which must be the one in force: the client
        online, or (``paper``) the person caring for them on a signed form."""
        client = await self._client(caller, client_id)
        current = await self.current()
        if version != current["version"]:
            raise ConsentOutdated(f"version {current['version']} of the consent is in "
                                  "force: read it and accept that one")
        entry: dict[str, Any] = {"client_id": client.id, "version": version,
                                 "action": "accepted", "method": method,
                                 "recorded_by": caller.id}
        if signed_by is not None:
            entry["signed_by"] = signed_by
        return await consents.record(self.db, entry)

    async def withdraw(self, caller: User, client_id: ObjectId) -> dict[str, Any]:
        """Withdraw a client's consent: no new recording from now on, and none
        of theirs in any later export."""
        client = await self._client(caller, client_id)
        latest = await consents.latest(self.db, client.id)
        version = None if latest is None else latest["version"]
        return await consents.record(self.db, {
            "client_id": client.id, "version": version, "action": "withdrawn",
            "method": "online" if caller.id == client.id else "paper",
            "recorded_by": caller.id})


CONSENT = web.AppKey("consent", Consent)


async def consent_ctx(app: web.Application) -> AsyncIterator[None]:
    """The consent service, for the application's lifetime (after people)."""
    app[CONSENT] = Consent(app[DATABASE], app[PEOPLE])
    yield
