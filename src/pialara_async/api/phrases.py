"""PIA Lara phrases (``/api/v1/phrases``) and the phrases assigned to each
client (``/api/v1/clients/{id}/phrases``).

Technicians and administrators write, import, retire and assign phrases; a
technician assigns to their own clients only. A client reads their own
assigned phrases and how many they have recorded. Clients a caller may not
see answer 404, as if they did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from bson import ObjectId
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictStr,
)
from pydantic.json_schema import SkipJsonSchema

from pialara_async.api.endpoint import SIGNED_IN, Call, endpoint, roles
from pialara_async.api.fields import HexId, Strict
from pialara_async.policy import PHRASE_EDITORS
from pialara_async.refusals import InUse, InvalidImport, NotFound
from pialara_async.services.phrases import (
    MAX_TAG,
    MAX_TEXT,
    ONE_LINE,
    PHRASES,
    TAG_PATTERN,
    Phrases,
    Selection,
)

routes = web.RouteTableDef()
TAGS = ("phrases",)
EDITORS = roles(*sorted(PHRASE_EDITORS))

def _one_line(text: str) -> str:
    if not text.isprintable():
        raise ValueError(ONE_LINE)
    return text


Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_one_line)]
Tag = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TAG, pattern=TAG_PATTERN)]
Language = Annotated[StrictStr, Field(pattern=r"^[a-z]{2}$",
                                      description="ISO 639-1 code, as es or en")]
Notes = Annotated[StrictStr, Field(max_length=1000)]


class NewPhrase(Strict):
    text: Text
    tag: Tag = Field(description="free text, such as 101b1 (phrase, phoneme, position)")
    language: Language = "es"
    notes: Notes | None = None


class PhraseChanges(Strict):
    text: Text | None = None
    tag: Tag | None = None
    language: Language | None = None
    notes: Notes | None = None
    active: StrictBool | None = Field(None, description="false retires the phrase")


class PhraseImport(Strict):
    csv: Annotated[StrictStr, Field(max_length=1024 * 1024,
                                    description="lines of tag,text; an optional header")]
    language: Language = "es"


class AllActive(Strict):
    all: Literal[True] = Field(description="every active phrase")


class Chosen(Strict):
    phrase_ids: list[HexId] = Field(min_length=1, max_length=1000)


class ByTag(Strict):
    tag_prefix: Tag = Field(description="the active phrases whose tag starts with this")


class Assignment(RootModel[AllActive | Chosen | ByTag]):
    """One of: every active phrase, these phrases, or a tag prefix."""


class Unassignment(Strict):
    phrase_ids: list[HexId] = Field(min_length=1, max_length=1000)


class PhraseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | SkipJsonSchema[None] = None
    tag: Annotated[str, Field(max_length=MAX_TAG)] | SkipJsonSchema[None] = \
        Field(None, description="tags starting with this")
    page: Annotated[int, Field(ge=0, le=1000)] = 0


class PhraseOut(BaseModel):
    phrase: dict[str, Any]


class PhrasePage(BaseModel):
    phrases: list[dict[str, Any]]
    page: int
    total_results: int


class Imported(BaseModel):
    imported: int


class Assigned(BaseModel):
    changed: int = Field(description="phrases newly assigned, or unassigned")


class ClientPhrases(BaseModel):
    """A client's phrases, each with ``recorded``, and their progress."""

    phrases: list[dict[str, Any]]
    recorded: int
    total: int


PHRASE_PATH = "/phrases/{phrase_id:[0-9a-f]{24}}"
CLIENT_PHRASES = "/clients/{client_id:[0-9a-f]{24}}/phrases"


class PhrasePath(BaseModel):
    phrase_id: HexId


class ClientPath(BaseModel):
    client_id: HexId


def _service(call: Call[Any, Any, Any]) -> Phrases:
    return call.app(PHRASES)


def _progress(found: list[dict[str, Any]]) -> ClientPhrases:
    return ClientPhrases(phrases=found, recorded=sum(1 for p in found if p["recorded"]),
                         total=len(found))


@routes.get("/phrases")
@endpoint("Technicians and admins: phrases by tag (paged)", tags=TAGS, query=PhraseQuery,
          access=EDITORS, responses={200: PhrasePage})
async def list_phrases(call: Call[PhraseQuery, None, None]) -> PhrasePage:
    query = call.query
    found, total = await _service(call).page(active=query.active, tag=query.tag,
                                             page_number=query.page)
    return PhrasePage(phrases=found, page=query.page, total_results=total)


@routes.post("/phrases")
@endpoint("Technicians and admins: write a phrase", tags=TAGS, body=NewPhrase,
          access=EDITORS, responses={201: PhraseOut})
async def create_phrase(call: Call[None, NewPhrase, None]) -> PhraseOut:
    fields = call.body.model_dump(exclude_none=True)
    return PhraseOut(phrase=await _service(call).create(call.user, fields))


@routes.post("/phrases/import")
@endpoint("Technicians and admins: import phrases from tag,text lines, all or none",
          tags=TAGS, body=PhraseImport, access=EDITORS, responses={201: Imported},
          refuses=(InvalidImport,))
async def import_phrases(call: Call[None, PhraseImport, None]) -> Imported:
    inserted = await _service(call).import_csv(call.user, call.body.csv, call.body.language)
    return Imported(imported=len(inserted))


@routes.get("/phrases/mine")
@endpoint("Clients: the phrases they are asked to record, and how many they have",
          tags=TAGS, access=roles("client"), responses={200: ClientPhrases})
async def my_phrases(call: Call[None, None, None]) -> ClientPhrases:
    return _progress(await _service(call).assigned(call.user, call.user.id))


@routes.get(PHRASE_PATH)
@endpoint("Technicians and admins: one phrase", tags=TAGS, path=PhrasePath, access=EDITORS,
          responses={200: PhraseOut}, refuses=(NotFound,))
async def read_phrase(call: Call[None, None, PhrasePath]) -> PhraseOut:
    return PhraseOut(phrase=await _service(call).read(ObjectId(call.path.phrase_id)))


@routes.patch(PHRASE_PATH)
@endpoint("Technicians and admins: change or retire a phrase (its text is fixed once "
          "recorded)", tags=TAGS, path=PhrasePath, body=PhraseChanges, access=EDITORS,
          responses={200: PhraseOut}, refuses=(NotFound, InUse))
async def change_phrase(call: Call[None, PhraseChanges, PhrasePath]) -> PhraseOut:
    changes = call.body.model_dump(exclude_unset=True)
    changed = await _service(call).change(ObjectId(call.path.phrase_id), changes)
    return PhraseOut(phrase=changed)


@routes.delete(PHRASE_PATH)
@endpoint("Technicians and admins: delete a phrase nobody recorded", tags=TAGS,
          path=PhrasePath, access=EDITORS, responses={204: "deleted"},
          refuses=(NotFound, InUse))
async def delete_phrase(call: Call[None, None, PhrasePath]) -> web.Response:
    await _service(call).remove(ObjectId(call.path.phrase_id))
    return web.Response(status=204)


@routes.get(CLIENT_PHRASES)
@endpoint("A client's phrases and progress: the client, their technician, admins",
          tags=TAGS, path=ClientPath, access=SIGNED_IN, responses={200: ClientPhrases},
          refuses=(NotFound,))
async def client_phrases(call: Call[None, None, ClientPath]) -> ClientPhrases:
    return _progress(await _service(call).assigned(call.user, ObjectId(call.path.client_id)))


@routes.post(CLIENT_PHRASES)
@endpoint("Technicians (their clients) and admins: assign active phrases", tags=TAGS,
          path=ClientPath, body=Assignment, access=EDITORS, responses={200: Assigned},
          refuses=(NotFound,))
async def assign_phrases(call: Call[None, Assignment, ClientPath]) -> Assigned:
    choice = call.body.root
    if isinstance(choice, AllActive):
        selection = Selection(all=True)
    elif isinstance(choice, Chosen):
        selection = Selection(ids=tuple(ObjectId(i) for i in choice.phrase_ids))
    else:
        selection = Selection(tag=choice.tag_prefix)
    changed = await _service(call).assign(call.user, ObjectId(call.path.client_id), selection)
    return Assigned(changed=changed)


@routes.delete(CLIENT_PHRASES)
@endpoint("Technicians (their clients) and admins: take phrases back", tags=TAGS,
          path=ClientPath, body=Unassignment, access=EDITORS, responses={200: Assigned},
          refuses=(NotFound,))
async def unassign_phrases(call: Call[None, Unassignment, ClientPath]) -> Assigned:
    changed = await _service(call).unassign(call.user, ObjectId(call.path.client_id),
                                            [ObjectId(i) for i in call.body.phrase_ids])
    return Assigned(changed=changed)
