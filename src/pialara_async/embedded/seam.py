"""The seam between the layer and mongoeco, checked before the engine opens.

The layer rebinds attributes of mongoeco's classes and modules (``engine_fixes``,
``aggregation``, ``indexes``) and reads its SQLite schema. Those fixes were
written against one mongoeco release, the one ``pyproject.toml`` pins. After an
upgrade a renamed attribute would make a fix silently do nothing (setattr
happily creates the new name), so the server refuses to start instead: on
another mongoeco version, or when an attribute to replace is not there.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from typing import Any

DISTRIBUTION = "pialara-async"
_PIN = re.compile(r"^mongoeco\s*==\s*([^;\s]+)")


class SeamMismatch(RuntimeError):
    """mongoeco is not the release the embedded layer was written for."""


def pinned_version() -> str:
    """The mongoeco release this package pins (its ``embedded`` extra)."""
    for requirement in importlib.metadata.requires(DISTRIBUTION) or ():
        if match := _PIN.match(requirement):
            return match.group(1)
    raise SeamMismatch(f"{DISTRIBUTION} does not pin a mongoeco release")


def check_version(installed: str | None = None) -> None:
    installed = installed or importlib.metadata.version("mongoeco")
    pinned = pinned_version()
    if installed != pinned:
        raise SeamMismatch(
            f"the embedded database's fixes were written for mongoeco {pinned}, and "
            f"{installed} is installed: reinstall with pip install -e '.[embedded]'")


def _name(owner: Any, name: str) -> str:
    return f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"


def rebind(replacements: Iterable[tuple[Any, str, Any]]) -> None:
    """Replace each ``owner.name``, all or none: every name must exist already."""
    replacements = list(replacements)
    missing = [_name(owner, name) for owner, name, _ in replacements
               if not hasattr(owner, name)]
    if missing:
        raise SeamMismatch("mongoeco no longer has what the embedded layer replaces: "
                           + ", ".join(missing))
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)
