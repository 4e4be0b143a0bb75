"""PIA Lara consent (``/api/v1/consent``): the text in force and its versions,
a client's acceptance and withdrawal, and a paper consent recorded by the
person who cares for the client. Every entry is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from bson import ObjectId
from pydantic import BaseModel, Field, StrictInt, StrictStr

from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint, roles
from pialara_async.api.fields import HexId, Strict
from pialara_async.policy import PHRASE_EDITORS
from pialara_async.refusals import InUse, NotFound
from pialara_async.services.consent import CONSENT, Consent

routes = web.RouteTableDef()
TAGS = ("consent",)
CLIENT_CONSENT = "/clients/{client_id:[0-9a-f]{24}}/consent"


class NewVersion(Strict):
    text: Annotated[StrictStr, Field(min_length=20, max_length=50_000)]
    language: Annotated[StrictStr, Field(pattern=r"^[a-z]{2}$")] = "es"


class Acceptance(Strict):
    version: StrictInt = Field(ge=1, description="the version read: it must be the one in force")


class PaperConsent(Acceptance):
    signed_by: Annotated[StrictStr, Field(min_length=1, max_length=200)] = Field(
        description="who signed the form: the client, or their tutor or guardian")


class ClientPath(BaseModel):
    client_id: HexId


class ConsentText(BaseModel):
    consent: dict[str, Any]


class ConsentVersions(BaseModel):
    versions: list[dict[str, Any]]


class ConsentEntry(BaseModel):
    entry: dict[str, Any]


class ConsentStatus(BaseModel):
    """Whether a client's consent is in force, for which version, and every entry."""

    in_force: bool
    version: int | None
    current_version: int | None
    history: list[dict[str, Any]]


def _service(call: Call[Any, Any, Any]) -> Consent:
    return call.app(CONSENT)


@routes.get("/consent")
@endpoint("The consent text in force", tags=TAGS, access=SIGNED_IN,
          responses={200: ConsentText}, refuses=(InUse,))
async def current_consent(call: Call[None, None, None]) -> ConsentText:
    return ConsentText(consent=await _service(call).current())


@routes.get("/consent/versions")
@endpoint("Admins: every published version", tags=TAGS, access=roles("admin"),
          responses={200: ConsentVersions})
async def consent_versions(call: Call[None, None, None]) -> ConsentVersions:
    return ConsentVersions(versions=await _service(call).versions())


@routes.post("/consent/versions")
@endpoint("Admins: publish a new version (in force at once; never edited)", tags=TAGS,
          body=NewVersion, access=roles("admin"), responses={201: ConsentText})
async def publish_consent(call: Call[None, NewVersion, None]) -> ConsentText:
    published = await _service(call).publish(call.user, call.body.text, call.body.language)
    return ConsentText(consent=published)


@routes.get("/consent/mine")
@endpoint("Clients: their consent", tags=TAGS, access=roles("client"),
          responses={200: ConsentStatus})
async def my_consent(call: Call[None, None, None]) -> ConsentStatus:
    return ConsentStatus(**await _service(call).status(call.user, call.user.id))


@routes.post("/consent/mine")
@endpoint("Clients: accept the version in force", tags=TAGS, body=Acceptance,
          access=roles("client"), responses={201: ConsentEntry}, refuses=(InUse,))
async def accept_consent(call: Call[None, Acceptance, None]) -> ConsentEntry:
    entry = await _service(call).accept(call.user, call.user.id, call.body.version,
                                        method="online")
    return ConsentEntry(entry=entry)


@routes.delete("/consent/mine")
@endpoint("Clients: withdraw their consent (no new recordings, none in later exports)",
          tags=TAGS, access=roles("client"), responses={200: ConsentEntry})
async def withdraw_my_consent(call: Call[None, None, None]) -> ConsentEntry:
    return ConsentEntry(entry=await _service(call).withdraw(call.user, call.user.id))


@routes.get(CLIENT_CONSENT)
@endpoint("A client's consent: their technician and admins", tags=TAGS, path=ClientPath,
          access=roles(*sorted(PHRASE_EDITORS)), responses={200: ConsentStatus},
          refuses=(NotFound,))
async def client_consent(call: Call[None, None, ClientPath]) -> ConsentStatus:
    status = await _service(call).status(call.user, ObjectId(call.path.client_id))
    return ConsentStatus(**status)


@routes.post(CLIENT_CONSENT)
@endpoint("Their technician or admins: record a paper consent signed for a client",
          tags=TAGS, path=ClientPath, body=PaperConsent,
          access=roles(*sorted(PHRASE_EDITORS)), responses={201: ConsentEntry},
          refuses=(NotFound, InUse))
async def record_paper_consent(call: Call[None, PaperConsent, ClientPath]) -> ConsentEntry:
    entry = await _service(call).accept(call.user, ObjectId(call.path.client_id),
                                        call.body.version, method="paper",
                                        signed_by=call.body.signed_by)
    return ConsentEntry(entry=entry)


@routes.delete(CLIENT_CONSENT)
@endpoint("Their technician or admins: record a client's withdrawal", tags=TAGS,
          path=ClientPath, access=roles(*sorted(PHRASE_EDITORS)),
          responses={200: ConsentEntry}, refuses=(NotFound,))
async def withdraw_client_consent(call: Call[None, None, ClientPath]) -> ConsentEntry:
    return ConsentEntry(entry=await _service(call).withdraw(call.user,
                                                            ObjectId(call.path.client_id)))
