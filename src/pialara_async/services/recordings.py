"""Recordings: a client sends one for a phrase assigned to them, under a
consent in force; the server measures it (``audio.py``) and keeps it, or
refuses it with nothing stored. The client, their technician and
administrators may hear it and know of it; nobody else.

Receiving: the cheap refusals first (type, declared size, assignment,
consent), then the body is spooled to a temporary file (decoding seeks), a
piece at a time, with its size counted; then decoded and judged in a worker
thread; then stored. A client that disconnects leaves only the temporary
file, which is removed: nothing reaches the database before the whole body
has been judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from bson import ObjectId

from pialara_async import audio, policy
from pialara_async.db.client import DATABASE
from pialara_async.models import User
from pialara_async.refusals import ConsentRequired, Forbidden, InUse, NotFound, TooLarge
from pialara_async.repositories import phrases, recordings
from pialara_async.services.consent import CONSENT, Consent
from pialara_async.services.people import PEOPLE, People
from pialara_async.settings import SETTINGS

PAGE_SIZE = 20
TOO_LARGE = f"a recording is at most {audio.MAX_BYTES // (1024 * 1024)} MiB"


@dataclass(slots=True)
class Recordings:
    db: Any
    people: People
    consent: Consent
    spool_dir: Path

    async def scope(self, user: User) -> dict[str, Any]:
        clients = await self.people.client_ids_of(user.id) if user.role == "technician" else []
        return policy.recordings_scope(user, clients)

    async def receive(self, client: User, phrase_id: ObjectId, content_type: str | None,
                      declared_length: int | None, body: AsyncIterable[bytes]) -> dict[str, Any]:
        media_type = audio.media_type(content_type)
        if declared_length is not None and declared_length > audio.MAX_BYTES:
            raise TooLarge(TOO_LARGE)
        phrase = await phrases.by_id(self.db, phrase_id)
        if phrase is None or not await phrases.is_assigned(self.db, client.id, phrase_id):
            raise NotFound("this phrase is not assigned to you")
        if not phrase["active"]:
            raise InUse("this phrase was retired: it is no longer recorded")
        version = await self.consent.version_in_force(client.id)
        if version is None:
            raise ConsentRequired()
        async with self._spooled(body) as (path, size):
            facts = await asyncio.to_thread(audio.inspect_recording, path, content_type)
            file_id, _ = await recordings.store_audio(
                self.db, path, filename=f"{client.id}/{phrase_id}", content_type=media_type,
                metadata={"client_id": client.id, "phrase_id": phrase_id})
        try:
            # Consent withdrawn (or erasure asked) while this was judged and stored.
            if await self.consent.version_in_force(client.id) != version:
                raise ConsentRequired()
            return await recordings.insert(self.db, {
                "client_id": client.id, "technician_id": client.technician_id,
                "phrase_id": phrase_id, "file_id": file_id,
                "content_type": content_type or media_type, "size": size,
                "duration": facts.duration, "sample_rate": facts.sample_rate,
                "channels": facts.channels, "peak_dbfs": facts.peak_dbfs,
                "rms_dbfs": facts.rms_dbfs, "consent_version": version})
        except BaseException:
            await asyncio.shield(recordings.delete_audio(self.db, file_id))
            raise

    @contextlib.asynccontextmanager
    async def _spooled(self, body: AsyncIterable[bytes]) -> AsyncIterator[tuple[Path, int]]:
        """The body in a temporary file (removed afterwards, whatever happens)."""
        descriptor, name = await asyncio.to_thread(tempfile.mkstemp, dir=self.spool_dir,
                                                   suffix=".upload")
        path = Path(name)
        try:
            size = 0
            with os.fdopen(descriptor, "wb") as spool:
                async for piece in body:
                    size += len(piece)
                    if size > audio.MAX_BYTES:
                        raise TooLarge(TOO_LARGE)
                    await asyncio.to_thread(spool.write, piece)
            yield path, size
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def read(self, user: User, recording_id: ObjectId) -> dict[str, Any]:
        found = await recordings.within(self.db, recording_id, await self.scope(user))
        if found is None:
            raise NotFound("no recording has this id")
        return found

    async def page(self, user: User, filters: dict[str, Any],
                   page_number: int) -> tuple[list[dict[str, Any]], int]:
        return await recordings.page(self.db, await self.scope(user), filters,
                                     limit=PAGE_SIZE, skip=page_number * PAGE_SIZE)

    async def summary(self, user: User) -> dict[str, Any]:
        """Recordings by status and by pathology, and accepted minutes per
        client, over what ``user`` may know of."""
        return await recordings.summary(self.db, await self.scope(user))

    async def audio_length(self, recording: dict[str, Any]) -> int:
        length = await recordings.audio_length(self.db, recording["file_id"])
        if length is None:
            raise NotFound("the audio of this recording is gone")
        return length

    def audio(self, recording: dict[str, Any], start: int, stop: int) -> AsyncIterator[bytes]:
        return recordings.read_audio(self.db, recording["file_id"], start, stop)

    async def review(self, reviewer: User, recording_id: ObjectId, status: str,
                     review: dict[str, Any]) -> dict[str, Any]:
        """Accept or reject a pending recording (a rejected one is for the
        client to record again)."""
        scope = await self.scope(reviewer)
        reviewed = await recordings.review_pending(self.db, recording_id, scope, status,
                                                   {**review, "by": reviewer.id})
        if reviewed is None:
            if await recordings.within(self.db, recording_id, scope):
                raise InUse("this recording has been reviewed already")
            raise NotFound("no recording has this id")
        return reviewed

    async def erase(self, caller: User, client_id: ObjectId) -> dict[str, Any]:
        """Erase every recording of a client, asked by them or an administrator:
        their consent is withdrawn first (no new recording arrives meanwhile),
        then the recordings and all their audio are deleted, and the erasure is
        logged with the ids erased."""
        client = caller if caller.id == client_id else await self.people.read(caller,
                                                                                client_id)
        if client.role != "client":
            raise NotFound()
        if not policy.may_erase(caller, client):
            raise Forbidden("only the client or an administrator asks for erasure")
        await self.consent.withdraw(caller, client.id)
        erased = await recordings.erase_client(self.db, client.id)
        return await recordings.log_erasure(self.db, {
            "client_id": client.id, "recordings": erased, "requested_by": caller.id})

    async def delete(self, client: User, recording_id: ObjectId) -> None:
        """A client deletes their own recording until it is reviewed."""
        deleted = await recordings.delete_pending(self.db, recording_id, client.id)
        if deleted is None:
            if await recordings.within(self.db, recording_id, {"client_id": client.id}):
                raise InUse("this recording has been reviewed: it can no longer be deleted")
            raise NotFound("no recording has this id")
        await recordings.delete_audio(self.db, deleted["file_id"])


RECORDINGS = web.AppKey("recordings", Recordings)


async def recordings_ctx(app: web.Application) -> AsyncIterator[None]:
    """The recordings service (after people and consent); uploads are spooled
    under the data directory."""
    spool_dir = app[SETTINGS].data_dir / "uploads"
    await asyncio.to_thread(spool_dir.mkdir, parents=True, exist_ok=True)
    app[RECORDINGS] = Recordings(app[DATABASE], app[PEOPLE], app[CONSENT], spool_dir)
    yield
