"""PIA Lara recordings (``/api/v1/recordings``): a client sends the audio of
an assigned phrase as the request body, with its real type; the client, their
technician and administrators list them and hear them (with HTTP ranges, so
an ``<audio>`` element can seek); a client deletes their own until reviewed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictStr
from pydantic.json_schema import SkipJsonSchema

from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint, roles
from pialara_async.api.fields import HexId, Strict
from pialara_async.audio import AudioRefused
from pialara_async.refusals import ConsentRequired, Forbidden, InUse, NotFound, TooLarge
from pialara_async.services.recordings import RECORDINGS, Recordings

routes = web.RouteTableDef()
TAGS = ("recordings",)
RECORDING_PATH = "/recordings/{recording_id:[0-9a-f]{24}}"


class Upload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrase_id: HexId = Field(description="a phrase assigned to the caller")


class RecordingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: HexId | SkipJsonSchema[None] = None
    phrase_id: HexId | SkipJsonSchema[None] = None
    status: Literal["pending", "accepted", "rejected"] | SkipJsonSchema[None] = None
    page: Annotated[int, Field(ge=0, le=1000)] = 0


RejectionReason = Literal["noise", "cut_off", "other_text", "too_quiet", "other"]


Note = Annotated[StrictStr, Field(max_length=500)]
Transcript = Annotated[StrictStr, Field(max_length=1000, description="what was actually "
                                        "said, when it differs from the phrase")]


class Acceptance(Strict):
    status: Literal["accepted"]
    note: Note | None = None
    transcript: Transcript | None = None


class Rejection(Strict):
    status: Literal["rejected"]
    reason: RejectionReason
    note: Note | None = None
    transcript: Transcript | None = None


class Review(RootModel[Annotated[Acceptance | Rejection, Field(discriminator="status")]]):
    """An acceptance, or a rejection with its reason."""


class RecordingPath(BaseModel):
    recording_id: HexId


class RecordingOut(BaseModel):
    recording: dict[str, Any]


class RecordingPage(BaseModel):
    recordings: list[dict[str, Any]]
    page: int
    total_results: int


def _service(call: Call[Any, Any, Any]) -> Recordings:
    return call.app(RECORDINGS)


@routes.post("/recordings")
@endpoint("Clients: send the recording of an assigned phrase (the body is the audio: Opus "
          "in WebM or Ogg, WAV or FLAC, 0.5-60 s, at most 10 MiB)", tags=TAGS, query=Upload,
          access=roles("client"), responses={201: RecordingOut},
          refuses=(AudioRefused, TooLarge, NotFound, InUse, ConsentRequired))
async def upload_recording(call: Call[Upload, None, None]) -> RecordingOut:
    request = call.request
    stored = await _service(call).receive(
        call.user, ObjectId(call.query.phrase_id), request.headers.get("Content-Type"),
        request.content_length, request.content.iter_chunked(64 * 1024))
    return RecordingOut(recording=stored)


@routes.get("/recordings")
@endpoint("Recordings the caller may hear, newest first: a client's own, a technician's "
          "clients', any for admins", tags=TAGS, query=RecordingQuery, access=SIGNED_IN,
          responses={200: RecordingPage})
async def list_recordings(call: Call[RecordingQuery, None, None]) -> RecordingPage:
    query = call.query
    filters: dict[str, Any] = {}
    if query.client_id is not None:
        filters["client_id"] = ObjectId(query.client_id)
    if query.phrase_id is not None:
        filters["phrase_id"] = ObjectId(query.phrase_id)
    if query.status is not None:
        filters["status"] = query.status
    found, total = await _service(call).page(call.user, filters, query.page)
    return RecordingPage(recordings=found, page=query.page, total_results=total)


class Summary(BaseModel):
    """Recordings by status and by pathology, and minutes of accepted audio per client."""

    by_status: dict[str, int]
    by_pathology: list[dict[str, Any]]
    accepted_minutes: list[dict[str, Any]]


@routes.get("/recordings/summary")
@endpoint("Admins (everything) and technicians (their clients): recordings by status and "
          "pathology, minutes of accepted audio per client", tags=TAGS,
          access=roles("admin", "technician"), responses={200: Summary})
async def recordings_summary(call: Call[None, None, None]) -> Summary:
    return Summary(**await _service(call).summary(call.user))


@routes.get(RECORDING_PATH)
@endpoint("One recording the caller may hear", tags=TAGS, path=RecordingPath,
          access=SIGNED_IN, responses={200: RecordingOut}, refuses=(NotFound,))
async def read_recording(call: Call[None, None, RecordingPath]) -> RecordingOut:
    return RecordingOut(recording=await _service(call).read(
        call.user, ObjectId(call.path.recording_id)))


@routes.get(RECORDING_PATH + "/audio")
@endpoint("Hear a recording: its audio, whole or a byte range (206), never cached",
          tags=TAGS, path=RecordingPath, access=SIGNED_IN,
          responses={200: "the audio", 206: "a range of it"},
          errors={416: "the range is outside the audio"}, refuses=(NotFound,))
async def recording_audio(call: Call[None, None, RecordingPath]) -> web.StreamResponse:
    service = _service(call)
    recording = await service.read(call.user, ObjectId(call.path.recording_id))
    length = await service.audio_length(recording)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store",
               "Content-Type": recording["content_type"]}
    start, stop, status = 0, length, 200
    if "Range" in call.request.headers:
        span = _range(call.request, length)
        if span is None:
            return web.Response(status=416, headers={**headers,
                                                     "Content-Range": f"bytes */{length}"})
        (start, stop), status = span, 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{length}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = stop - start
    await response.prepare(call.request)
    async for piece in service.audio(recording, start, stop):
        await response.write(piece)
    await response.write_eof()
    return response


def _range(request: web.Request, length: int) -> tuple[int, int] | None:
    """The one byte range asked for, within ``length``; None when it cannot be
    served (malformed, several ranges, or outside the audio)."""
    try:
        span = request.http_range
    except ValueError:
        return None
    start, stop = span.start, span.stop
    if start is None and stop is None:
        return None
    if start is not None and start < 0:  # a suffix: the last -start bytes
        start, stop = max(0, length + start), length
    start = start or 0
    stop = length if stop is None else min(stop, length)
    if start >= length or start >= stop:
        return None
    return start, stop


@routes.put(RECORDING_PATH + "/review")
@endpoint("The client's technician or admins: accept or reject a pending recording",
          tags=TAGS, path=RecordingPath, body=Review, access=roles("admin", "technician"),
          responses={200: RecordingOut}, refuses=(NotFound, InUse))
async def review_recording(call: Call[None, Review, RecordingPath]) -> RecordingOut:
    review = call.body.root.model_dump(exclude_none=True)
    status = review.pop("status")
    reviewed = await _service(call).review(call.user, ObjectId(call.path.recording_id),
                                           status, review)
    return RecordingOut(recording=reviewed)


class ClientPath(BaseModel):
    client_id: HexId


class ErasureOut(BaseModel):
    """What was erased: the recordings' ids and the time, no audio."""

    erasure: dict[str, Any]


@routes.post("/clients/{client_id:[0-9a-f]{24}}/erasure")
@endpoint("The client, or an admin on their behalf: erase all of their recordings (their "
          "consent is withdrawn; the erasure is logged)", tags=TAGS, path=ClientPath,
          access=SIGNED_IN, responses={200: ErasureOut}, refuses=(NotFound, Forbidden))
async def erase_recordings(call: Call[None, None, ClientPath]) -> ErasureOut:
    erasure = await _service(call).erase(call.user, ObjectId(call.path.client_id))
    return ErasureOut(erasure=erasure)


@routes.delete(RECORDING_PATH)
@endpoint("Clients: delete their own recording until it is reviewed", tags=TAGS,
          path=RecordingPath, access=roles("client"), responses={204: "deleted"},
          refuses=(NotFound, InUse))
async def delete_recording(call: Call[None, None, RecordingPath]) -> web.Response:
    await _service(call).delete(call.user, ObjectId(call.path.recording_id))
    return web.Response(status=204)
