"""Run correlated ``$lookup`` joins through the foreign collection's indexes.

mongoeco evaluates an expressive ``$lookup`` (``let`` + ``pipeline``) by
scanning the whole foreign collection for each input document: 1.6 s for one
movie's comments among 50,000, where MongoDB walks the ``movie_id`` index.
When a ``$lookup`` pipeline starts with an equality on a ``let`` variable
(``{$match: {$expr: {$eq: ["$field", "$$var"]}}}``), this module runs it per
input document as ``{field: value}`` (which the engine answers from an index)
followed by the unchanged sub-pipeline, so the original ``$expr`` still decides
exactly what matches. Pipelines of any other shape run as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Aggregate = Callable[[str, list[Any], dict[str, Any] | None], Awaitable[list[dict[str, Any]]]]

_CANNOT_FOLLOW = ("$lookup", "$graphLookup", "$unionWith", "$merge", "$out", "$facet")


def _equality(stage: Any, variables: dict[str, Any]) -> tuple[str, str] | None:
    """``(foreign field, variable)`` of a leading ``$expr`` equality, if that is its shape."""
    if not isinstance(stage, dict) or set(stage) != {"$match"}:
        return None
    match = stage["$match"]
    if not isinstance(match, dict) or set(match) != {"$expr"}:
        return None
    expression = match["$expr"]
    if not isinstance(expression, dict) or set(expression) != {"$eq"}:
        return None
    operands = expression["$eq"]
    if not isinstance(operands, list) or len(operands) != 2:
        return None
    field = next((o for o in operands if isinstance(o, str) and o.startswith("$")
                  and not o.startswith("$$")), None)
    variable = next((o for o in operands if isinstance(o, str) and o.startswith("$$")), None)
    if field is None or variable is None or variable[2:] not in variables:
        return None
    return field[1:], variable[2:]


def _path_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def plan(pipeline: list[Any]) -> int | None:
    """Index of the one ``$lookup`` stage this module can run, if any."""
    for position, stage in enumerate(pipeline):
        if not isinstance(stage, dict) or "$lookup" not in stage:
            continue
        spec = stage["$lookup"]
        variables = spec.get("let")
        sub = spec.get("pipeline")
        if not (isinstance(spec.get("from"), str) and isinstance(variables, dict)
                and isinstance(sub, list) and sub and isinstance(spec.get("as"), str)):
            return None
        if "localField" in spec or _equality(sub[0], variables) is None:
            return None
        if not all(isinstance(v, str) and v.startswith("$") and not v.startswith("$$")
                   for v in variables.values()):
            return None
        rest = json.dumps(pipeline[:position] + pipeline[position + 1:], default=str)
        if any(f'"{name}"' in rest for name in _CANNOT_FOLLOW):
            return None
        return position
    return None


async def run(aggregate: Aggregate, db_name: str, collection: str, pipeline: list[Any],
              position: int) -> list[dict[str, Any]]:
    """Run ``pipeline`` whose stage at ``position`` is a correlated ``$lookup``;
    ``aggregate(namespace, pipeline, let)`` runs each part."""
    spec = pipeline[position]["$lookup"]
    variables: dict[str, str] = spec["let"]
    equality = _equality(spec["pipeline"][0], variables)
    assert equality is not None, "plan() chose only lookups of this shape"
    field, variable = equality
    head = await aggregate(f"{db_name}.{collection}", pipeline[:position], None)
    foreign = f"{db_name}.{spec['from']}"
    for document in head:
        values = {name: _path_value(document, path[1:]) for name, path in variables.items()}
        # The plain equality narrows through the index (a superset: it also
        # matches array members); the original $expr stage then decides.
        narrowed = [{"$match": {field: values[variable]}}, *spec["pipeline"]]
        document[spec["as"]] = await aggregate(foreign, narrowed, values)
    tail = pipeline[position + 1:]
    if not tail:
        return head
    from mongoeco.core.aggregation import apply_pipeline

    return apply_pipeline(head, tail)
