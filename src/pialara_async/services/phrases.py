"""Phrases: technicians and administrators write them, import them from a
CSV, retire them, and assign them to clients; a client sees theirs and how
many they have recorded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from bson import ObjectId

from pialara_async.db import driver
from pialara_async.db.client import DATABASE, DB_CLIENT
from pialara_async.models import User
from pialara_async.refusals import InUse, InvalidImport, NotFound
from pialara_async.repositories import phrases
from pialara_async.services.people import PEOPLE, People

MAX_TEXT = 500
MAX_TAG = 40
TAG_PATTERN = r"^[\w.-]{1,40}$"  # as 101b1, r-inicial.2; no spaces
ONE_LINE = "the text must be one line of printable characters"
MAX_IMPORT_LINES = 5000


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """The CSV's rows, numbered by the line each starts on (lines may end in
    \n, \r\n or \r); a line the reader cannot parse is named."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as error:
            raise InvalidImport({f"line {start}": f"not CSV: {error}"}) from None
        rows.append((start, row))


@dataclass(frozen=True, slots=True)
class Selection:
    """Which active phrases to assign: all, these ids, or a tag prefix."""

    all: bool = False
    ids: tuple[ObjectId, ...] = ()
    tag: str | None = None


@dataclass(slots=True)
class Phrases:
    db: Any
    client: Any  # the driver client, for transactions
    people: People

    async def create(self, author: User, fields: dict[str, Any]) -> dict[str, Any]:
        return await phrases.insert(self.db, {**fields, "created_by": author.id})

    async def read(self, phrase_id: ObjectId) -> dict[str, Any]:
        found = await phrases.by_id(self.db, phrase_id)
        if found is None:
            raise NotFound("no phrase has this id")
        return found

    async def change(self, phrase_id: ObjectId, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a phrase. What was read aloud stays as it was read: once a
        phrase has recordings its text and language are fixed (retire it and
        write a new one)."""
        if {"text", "language"} & changes.keys() and \
                await phrases.has_recordings(self.db, phrase_id):
            raise InUse("this phrase has recordings: its text stays as it was read; "
                        "retire it and write a new one")
        changed = await phrases.update(self.db, phrase_id, changes)
        if changed is None:
            raise NotFound("no phrase has this id")
        return changed

    async def remove(self, phrase_id: ObjectId) -> None:
        """Delete a phrase nobody recorded; one with recordings is retired instead."""
        if await phrases.has_recordings(self.db, phrase_id):
            raise InUse("this phrase has recordings: retire it instead")
        if not await phrases.delete(self.db, phrase_id):
            raise NotFound("no phrase has this id")
        await self.db.assignments.delete_many({"phrase_id": phrase_id})

    async def page(self, *, active: bool | None, tag: str | None,
                   page_number: int) -> tuple[list[dict[str, Any]], int]:
        return await phrases.page(self.db, active=active, tag=tag, page_number=page_number)

    async def import_csv(self, author: User, text: str, language: str) -> list[ObjectId]:
        """Phrases from ``tag,text`` lines (a first line ``tag,text`` is a
        header). Every bad line is named; nothing is written unless all are good."""
        rows: list[dict[str, Any]] = []
        problems: dict[str, str] = {}
        for number, line in _lines(text):
            if number == 1 and [c.strip().lower() for c in line] == ["tag", "text"]:
                continue
            if not line or all(not c.strip() for c in line):
                continue
            if len(line) != 2:
                problems[f"line {number}"] = "expected two columns: tag,text"
                continue
            tag, phrase = line[0].strip(), line[1].strip()
            if not re.fullmatch(TAG_PATTERN, tag):
                problems[f"line {number}"] = (f"the tag must have 1 to {MAX_TAG} letters, digits, "
                                              "dots, dashes or underscores")
            elif not phrase or len(phrase) > MAX_TEXT:
                problems[f"line {number}"] = f"the text must have 1 to {MAX_TEXT} characters"
            elif not phrase.isprintable():
                problems[f"line {number}"] = ONE_LINE
            else:
                rows.append({"tag": tag, "text": phrase, "language": language,
                             "created_by": author.id})
        if len(rows) + len(problems) > MAX_IMPORT_LINES:
            raise InvalidImport({"file": f"at most {MAX_IMPORT_LINES} lines at once"})
        if problems:
            raise InvalidImport(problems)
        if not rows:
            raise InvalidImport({"file": "no phrase in the file"})

        async def insert(session: Any) -> list[ObjectId]:
            return await phrases.insert_many(self.db, rows, session)

        inserted: list[ObjectId] = await driver.run_transaction(self.client, insert)
        return inserted

    async def assign(self, caller: User, client_id: ObjectId, selection: Selection) -> int:
        client = await self.people.client_cared_for(caller, client_id)
        ids = await phrases.active_ids(
            self.db, ids=None if selection.all or selection.tag else list(selection.ids),
            tag=selection.tag)
        return await phrases.assign(self.db, client.id, ids, caller.id)

    async def unassign(self, caller: User, client_id: ObjectId,
                       phrase_ids: list[ObjectId]) -> int:
        client = await self.people.client_cared_for(caller, client_id)
        return await phrases.unassign(self.db, client.id, phrase_ids)

    async def assigned(self, caller: User, client_id: ObjectId) -> list[dict[str, Any]]:
        """A client's phrases, each with ``recorded``: theirs, their
        technician's, or any for an administrator."""
        if caller.id != client_id:
            await self.people.client_cared_for(caller, client_id)
        return await phrases.assigned_to(self.db, client_id)


PHRASES = web.AppKey("phrases", Phrases)


async def phrases_ctx(app: web.Application) -> AsyncIterator[None]:
    """The phrases service, for the application's lifetime (after people)."""
    app[PHRASES] = Phrases(app[DATABASE], app[DB_CLIENT], app[PEOPLE])
    yield
