"""The seam between the layer and mongoeco, checked before the engine opens.

The layer overrides methods of mongoeco's SQLite engine in a subclass
(``engine_fixes.LayeredSQLiteEngine``), rebinds attributes of mongoeco's
other classes and modules, which it creates itself (``engine_fixes``,
``update_events``, ``aggregation``, ``indexes``), and reads its SQLite schema. Those fixes were
written against one mongoeco release, the one ``pyproject.toml`` pins. After an
upgrade a renamed attribute would make a fix silently do nothing (setattr
happily creates the new name), and a changed function would be replaced by a
fix written for its old code. So the server refuses to start instead: on
another mongoeco version, when an attribute to replace is not there, or when
the source of a function it replaces differs from the fingerprint recorded in
``seam_fingerprints.py`` (``python -m pialara_async.embedded.record_fingerprints``
records them again, once the fixes are checked against the new code).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import inspect
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pialara_async.embedded.seam_fingerprints import FINGERPRINTS

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


# A dict while ``recording()``: rebind then notes fingerprints instead of checking.
_recording: dict[str, str] | None = None


def fingerprint(target: Any) -> tuple[str, str]:
    """``(qualified name, digest of its source)`` of a function to replace."""
    function = inspect.unwrap(getattr(target, "__func__", target))
    digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    return f"{function.__module__}.{function.__qualname__}", digest


def check(targets: Iterable[tuple[Any, str]]) -> None:
    """Every ``owner.name`` must exist and hold the code its fix was written for."""
    targets = list(targets)
    missing = [_name(owner, name) for owner, name in targets if not hasattr(owner, name)]
    if missing:
        raise SeamMismatch("mongoeco no longer has what the embedded layer replaces: "
                           + ", ".join(missing))
    changed = set()
    for owner, name in targets:
        key, digest = fingerprint(getattr(owner, name))
        if _recording is not None:
            _recording[key] = digest
        elif FINGERPRINTS.get(key) != digest:
            changed.add(key)
    if changed:
        raise SeamMismatch("mongoeco's code changed under the embedded layer's fixes "
                           "(docs/embedded.md): " + ", ".join(sorted(changed)))


def check_subclass(subclass: type) -> None:
    """A subclass's overrides must replace what they were written for in its base."""
    base = subclass.__mro__[1]
    check((base, name) for name, value in vars(subclass).items()
          if callable(value) and not name.startswith("__"))


def rebind(replacements: Iterable[tuple[Any, str, Any]]) -> None:
    """Replace each ``owner.name``, all or none, once ``check`` has passed."""
    replacements = list(replacements)
    check((owner, name) for owner, name, _ in replacements)
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)


@contextlib.contextmanager
def recording() -> Iterator[dict[str, str]]:
    """While open, ``rebind`` notes the fingerprints it meets instead of checking
    them (``record_fingerprints.py``)."""
    global _recording
    _recording = {}
    try:
        yield _recording
    finally:
        _recording = None
