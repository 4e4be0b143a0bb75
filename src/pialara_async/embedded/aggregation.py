"""Bring two of mongoeco's aggregation stages to MongoDB's documented output.

- ``$bucket`` emits only buckets that received documents (mongoeco also emits
  every empty bucket, and an empty default bucket, with count 0).
- ``$count`` emits no document at all for empty input (mongoeco emits
  ``{name: 0}``).

The fix wraps the stage functions once, in the embedded server's process, and
rebinds every reference mongoeco's modules hold to them, so each code path that
runs these stages (plain, streamed, inside ``$facet``) behaves the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from mongoeco.core.aggregation import grouping_stages

from pialara_async.embedded import seam

_SEEN_FIELD = "__pialara_bucket_documents"
_installed = False


def _bucket_without_empty(original: Callable[..., list[dict[str, Any]]]) -> Callable[..., Any]:
    def apply_bucket(documents: list[dict[str, Any]], spec: object, *args: Any, **kwargs: Any):
        if not isinstance(spec, dict):
            return original(documents, spec, *args, **kwargs)
        output = spec.get("output")
        counted_output = dict(output) if isinstance(output, dict) else {"count": {"$sum": 1}}
        counted_output[_SEEN_FIELD] = {"$sum": 1}
        buckets = original(documents, {**spec, "output": counted_output}, *args, **kwargs)
        return [bucket for bucket in buckets if bucket.pop(_SEEN_FIELD, 0)]

    return apply_bucket


def _count_without_empty(original: Callable[..., list[dict[str, Any]]]) -> Callable[..., Any]:
    def apply_count(documents: list[dict[str, Any]], spec: object, *args: Any, **kwargs: Any):
        result = original(documents, spec, *args, **kwargs)  # validates spec first
        return result if documents else []

    return apply_count


def install() -> None:
    """Patch the stages (idempotent)."""
    global _installed
    if _installed:
        return
    replacements = {
        grouping_stages._apply_bucket: _bucket_without_empty(grouping_stages._apply_bucket),
        grouping_stages._apply_count: _count_without_empty(grouping_stages._apply_count),
    }
    # Every module that imported a stage function holds it under some name.
    found = [(module, attribute, replacements[value])
             for name, module in list(sys.modules.items())
             if name.startswith("mongoeco") and module is not None
             for attribute, value in list(vars(module).items())
             if callable(value) and value in replacements]
    if {replacement for _m, _a, replacement in found} != set(replacements.values()):
        raise seam.SeamMismatch("mongoeco's $bucket/$count stages are no longer where "
                                "the embedded layer replaces them")
    seam.rebind(found)
    _installed = True
