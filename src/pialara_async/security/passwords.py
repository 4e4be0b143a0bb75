"""Password hashing: argon2id for new hashes; bcrypt ``$2b$`` hashes still verify.

Only the users repository calls these: hashes never leave it. A hash or a
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
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
# Longer passwords are refused before hashing: argon2 cost grows with input.
MAX_LENGTH = 128

_argon2 = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when no user matched, so a missing account takes as long as a wrong password.
_DECOY = _argon2.hash("decoy password for timing")


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    rehash: bool  # a legacy or outdated hash that should be replaced


def hash_password(password: str) -> str:
    return _argon2.hash(password)


def verify_password(password: str, stored: str | None) -> Verification:
    if not stored:
        _spend_time(password)
        return Verification(False, False)
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            ok = bcrypt.checkpw(password.encode(), stored.encode())
        except ValueError:
            ok = False
        return Verification(ok, ok)
    try:
        _argon2.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(False, False)
    return Verification(True, _argon2.check_needs_rehash(stored))


def _spend_time(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _argon2.verify(_DECOY, password)


class PasswordHashing:
    """Hashing and verification off the event loop, ``workers`` at a time."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._executor = ThreadPoolExecutor(max_workers=self.workers,
                                            thread_name_prefix="password")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, hash_password, password)

    async def verify(self, password: str, stored: str | None) -> Verification:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, verify_password, password, stored)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
