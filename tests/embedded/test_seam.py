"""The seam with mongoeco: a server on another release, or one missing what the
layer replaces, refuses to start instead of running without its fixes."""

from __future__ import annotations

import importlib.metadata
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
    seam.rebind([(module, "present", 2)])
    assert module.present == 2
