"""The seam with mongoeco: a server on another release, or one missing what the
layer replaces, refuses to start instead of running without its fixes."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import types

import pytest

from pialara_async.embedded import seam


def test_the_pinned_release_is_the_installed_one() -> None:
    assert seam.pinned_version() == importlib.metadata.version("mongoeco")
    seam.check_version()


def test_another_release_is_refused_by_name() -> None:
    with pytest.raises(seam.SeamMismatch, match=r"written for mongoeco .* and 9\.9\.9"):
        seam.check_version("9.9.9")


def test_a_missing_attribute_is_refused_and_nothing_is_replaced() -> None:
    module = types.SimpleNamespace(present=1)
    with pytest.raises(seam.SeamMismatch, match=r"SimpleNamespace\.renamed"):
        seam.rebind([(module, "present", 2), (module, "renamed", 3)])
    assert module.present == 1
    assert not hasattr(module, "renamed")


def test_a_function_whose_code_changed_is_refused_by_name() -> None:
    def original() -> int:
        return 1

    owner = types.SimpleNamespace(original=original)
    key, _digest = seam.fingerprint(original)
    with pytest.raises(seam.SeamMismatch, match=re.escape(key)):
        seam.rebind([(owner, "original", lambda: 2)])  # no fingerprint recorded for it
    assert owner.original is original


def test_every_replaced_function_matches_its_recorded_fingerprint() -> None:
    # The server already installed the fixes in this process (a start checks
    # the same); here, the recorded table covers exactly what the fixes replace.
    recorded = subprocess.run(
        [sys.executable, "-c", "from pialara_async.embedded import record_fingerprints; "
                               "print(repr(record_fingerprints.record()))"],
        capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(recorded) == seam.FINGERPRINTS


def test_an_override_of_changed_code_is_refused_by_name() -> None:
    class Base:
        def original(self) -> int:
            return 1

    class Layered(Base):
        def original(self) -> int:
            return 2

    key, _digest = seam.fingerprint(Base.original)
    with pytest.raises(seam.SeamMismatch, match=re.escape(key)):
        seam.check_subclass(Layered)


def test_the_engine_fixes_stay_in_the_layers_own_engine_class() -> None:
    from mongoeco.engines.sqlite import SQLiteEngine

    from pialara_async.embedded import engine_fixes

    engine_fixes.install()
    assert SQLiteEngine._purge_expired_documents_sync is not \
        engine_fixes.LayeredSQLiteEngine._purge_expired_documents_sync
    assert SQLiteEngine._load_documents is not engine_fixes._load_documents_unless_skipped
