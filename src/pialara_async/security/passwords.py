"""Password hashing: argon2id for new hashes; bcrypt ``$2b$`` hashes still verify.

Only the people service calls these; hashes are stored and read by the users
repository alone, and never leave it. A hash or a
verification costs 50-250 ms of CPU and, with argon2id, 64 MiB of memory:
``PasswordHashing`` runs them on worker threads of its own (both libraries
release the interpreter lock while they work), at most ``workers`` at a time,
so the event loop keeps serving while logins run and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import bcrypt
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pialara_async.settings import AuthSettings

MIN_LENGTH = 8
# Longer passwords are refused before hashing: argon2 cost grows with input.
MAX_LENGTH = 128

# argon2id's cost: the library's recommended parameters (RFC 9106's second
# choice). ``auth.argon2_*`` may change them (the test suite lowers them); a
# hash made with others still verifies, and is replaced at the next login.
MEMORY_KIB = 65536
TIME_COST = 3


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    rehash: bool  # a legacy or outdated hash that should be replaced


class Hasher:
    """argon2id at one cost; bcrypt ``$2b$`` hashes verify (and ask for a rehash)."""

    def __init__(self, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> None:
        self._argon2 = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
        # Verified when no user matched: a missing account takes as long as a wrong password.
        self._decoy = self._argon2.hash("decoy password for timing")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password: str, stored: str | None) -> Verification:
        if not stored:
            with contextlib.suppress(VerificationError):
                self._argon2.verify(self._decoy, password)
            return Verification(False, False)
        if stored.startswith(("$2a$", "$2b$", "$2y$")):
            try:
                ok = bcrypt.checkpw(password.encode(), stored.encode())
            except ValueError:
                ok = False
            return Verification(ok, ok)
        try:
            self._argon2.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verification(False, False)
        return Verification(True, self._argon2.check_needs_rehash(stored))


class PasswordHashing:
    """Hashing and verification off the event loop, ``workers`` at a time."""

    def __init__(self, workers: int | None = None, *, memory_kib: int = MEMORY_KIB,
                 time_cost: int = TIME_COST) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.hasher = Hasher(memory_kib, time_cost)
        self._executor = ThreadPoolExecutor(max_workers=self.workers,
                                            thread_name_prefix="password")

    @classmethod
    def for_settings(cls, auth: AuthSettings, workers: int | None = None) -> PasswordHashing:
        return cls(workers, memory_kib=auth.argon2_memory_kib, time_cost=auth.argon2_time_cost)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self.hasher.hash, password)

    async def verify(self, password: str, stored: str | None) -> Verification:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self.hasher.verify, password, stored)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

# Password hashing and verification, off the event loop.
PASSWORDS = web.AppKey("passwords", PasswordHashing)
