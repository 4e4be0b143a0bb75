"""Wire commands that involve text indexes, answered with ``TextSearch``.

``find``, ``count`` and ``aggregate`` whose filter (or leading ``$match``)
holds ``$text`` are answered from the documents the text index found (read by
storage key, checked against the rest of the filter with mongoeco's matcher);
scores are added back (``$meta: "textScore"`` in projections and sorts).
Pipelines whose later stages read other collections run in mongoeco on an
``_id`` match. Index commands keep text indexes in the layer and the rest in
mongoeco.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from mongoeco.core.filtering import QueryEngine
from mongoeco.core.projections import _ProjectionExecutor
from mongoeco.core.query_plan import compile_filter

from pialara_async.embedded.errors import CommandError
from pialara_async.embedded.indexes import storage_key
from pialara_async.embedded.replies import first_batch
from pialara_async.embedded.text_search import TextSearch

SCORE_FIELD = "__pialara_text_score"
CHUNK = 500  # documents read at a time
_NEEDS_COLLECTIONS = ("$lookup", "$graphLookup", "$unionWith", "$merge", "$out", "$facet")
_META = {"$meta": "textScore"}
Execute = Callable[[Any], Awaitable[dict[str, Any]]]
# (namespace, storage keys) -> documents (internal form) that exist, in order.
Fetch = Callable[[str, list[str]], list[dict[str, Any]]]


def split_text(query: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``($text operand, rest of the filter)``; ``$text`` may sit in a top-level ``$and``."""
    if not isinstance(query, dict):
        return None, query
    if "$text" in query:
        rest = {k: v for k, v in query.items() if k != "$text"}
        return query["$text"], rest
    clauses = query.get("$and")
    if isinstance(clauses, list):
        for position, clause in enumerate(clauses):
            text, rest_clause = split_text(clause)
            if text is not None:
                others = clauses[:position] + ([rest_clause] if rest_clause else []) + \
                    clauses[position + 1:]
                rest = {k: v for k, v in query.items() if k != "$and"}
                if others:
                    rest["$and"] = others
                return text, rest
    return None, query


def _search_string(text: Any) -> str:
    if not isinstance(text, dict) or not isinstance(text.get("$search"), str):
        raise CommandError(2, "BadValue", "$text needs a $search string")
    if text.get("$caseSensitive") or text.get("$diacriticSensitive"):
        raise CommandError(2, "BadValue", "the embedded server's text search folds case and "
                                          "diacritics only")
    return text["$search"]


def _is_meta(value: Any) -> bool:
    return isinstance(value, dict) and value == _META


def _replace_meta(value: Any) -> Any:
    if _is_meta(value):
        return "$" + SCORE_FIELD
    if isinstance(value, dict):
        return {k: _replace_meta(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_meta(v) for v in value]
    return value


def _mentions_meta(value: Any) -> bool:
    if _is_meta(value):
        return True
    if isinstance(value, dict):
        return any(_mentions_meta(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_meta(v) for v in value)
    return False


def _score_stages(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stages with ``{$meta: "textScore"}`` read from the score field."""
    rewritten: list[dict[str, Any]] = []
    for stage in stages:
        if "$sort" in stage:
            rewritten.append({"$sort": {
                (SCORE_FIELD if _is_meta(v) else k): (-1 if _is_meta(v) else v)
                for k, v in stage["$sort"].items()}})
        elif "$project" in stage and _is_inclusion(stage["$project"]):
            # The score is metadata in MongoDB: a projection keeps it.
            rewritten.append({"$project": {**_replace_meta(stage["$project"]), SCORE_FIELD: 1}})
        else:
            rewritten.append(_replace_meta(stage))
    return rewritten


def _is_inclusion(projection: dict[str, Any]) -> bool:
    return any(v not in (0, False) for k, v in projection.items() if k != "_id")


class TextCommands:
    def __init__(self, search: TextSearch, cursor_store: Any, fetch: Fetch,
                 dialect: Any) -> None:
        self.search = search
        self._cursor_store = cursor_store
        self._fetch = fetch
        self._dialect = dialect

    async def _scores(self, namespace: str, text: Any) -> dict[str, float]:
        return await self.search.search(namespace, _search_string(text))

    # --- queries -----------------------------------------------------------------

    def handles(self, name: str, command: dict[str, Any]) -> bool:
        if name == "find" or name == "count":
            key = "filter" if name == "find" else "query"
            return split_text(command.get(key))[0] is not None
        if name == "aggregate":
            pipeline = command.get("pipeline") or []
            return bool(pipeline) and isinstance(pipeline[0], dict) and \
                split_text(pipeline[0].get("$match"))[0] is not None
        return False

    async def run(self, context: Any, execute: Execute) -> dict[str, Any]:
        name = context.command_name
        if name == "find":
            return await self._find(context)
        if name == "count":
            return await self._count(context)
        return await self._aggregate(context, execute)

    def _matching(self, namespace: str, rest: dict[str, Any], keys: list[str],
                  enough: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """``(storage key, document)`` of ``keys`` (in order) that also match
        ``rest``; stops once ``enough`` are found."""
        compiled = compile_filter(rest, dialect=self._dialect) if rest else None
        found: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(keys), CHUNK):
            for document in self._fetch(namespace, keys[start:start + CHUNK]):
                if compiled is None or QueryEngine.match_plan(document, compiled,
                                                              dialect=self._dialect):
                    found.append((storage_key(document["_id"]), document))
            if enough is not None and len(found) >= enough:
                break
        return found

    def _reply(self, context: Any, documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
        return first_batch(self._cursor_store, context, documents,
                           f"{context.db_name}.{context.command_document[name]}")

    async def _find(self, context: Any) -> dict[str, Any]:
        command = context.command_document
        namespace = f"{context.db_name}.{command['find']}"
        text, rest = split_text(command.get("filter"))
        scores = await self._scores(namespace, text)
        projection = dict(command.get("projection") or {})
        score_fields = [key for key, value in projection.items() if _is_meta(value)]
        for key in score_fields:
            del projection[key]
        sort = dict(command.get("sort") or {})
        skip, limit = command.get("skip", 0) or 0, command.get("limit", 0) or 0
        by_score_only = bool(sort) and all(_is_meta(value) for value in sort.values())
        # By score, then by ``_id`` among equal scores (a stable paging order).
        by_score_then_id = bool(sort) and list(sort)[-1] == "_id" and len(sort) > 1 and \
            all(_is_meta(value) for key, value in sort.items() if key != "_id")
        # Best scores first, so a page sorted by score needs only its first chunks.
        keys = sorted(scores, key=scores.__getitem__, reverse=True)
        if by_score_only and not rest:
            # Every indexed key is a document of the collection: fetch just the page.
            keys = keys[skip:skip + limit if limit else None]
            skip = 0
        elif by_score_then_id and not rest and limit and keys:
            # The page, widened to every key tied with its first and last score:
            # the tie-break on ``_id`` then happens among those alone.
            start, end = min(skip, len(keys)), min(skip + limit, len(keys))
            while 0 < start < len(keys) and scores[keys[start - 1]] == scores[keys[start]]:
                start -= 1
            while 0 < end < len(keys) and scores[keys[end]] == scores[keys[end - 1]]:
                end += 1
            keys, skip = keys[start:end], skip - start
        found = self._matching(namespace, rest, keys,
                               enough=skip + limit if by_score_only and limit else None)
        found.sort(key=functools.cmp_to_key(_sort_comparator(sort, scores)))
        found = found[skip:skip + limit if limit else None]
        project = _ProjectionExecutor(projection or None, dialect=self._dialect)
        documents = []
        for key, document in found:
            shown = project(document)
            for field in score_fields:
                shown[field] = scores.get(key, 0.0)
            documents.append(shown)
        return self._reply(context, documents, "find")

    async def _count(self, context: Any) -> dict[str, Any]:
        command = context.command_document
        namespace = f"{context.db_name}.{command['count']}"
        text, rest = split_text(command.get("query"))
        scores = await self._scores(namespace, text)
        if not rest:  # the index holds exactly the collection's matching documents
            return {"n": len(scores), "ok": 1.0}
        return {"n": len(self._matching(namespace, rest, list(scores))), "ok": 1.0}

    async def _aggregate(self, context: Any, execute: Execute) -> dict[str, Any]:
        command = context.command_document
        namespace = f"{context.db_name}.{command['aggregate']}"
        pipeline: list[dict[str, Any]] = command["pipeline"]
        text, rest = split_text(pipeline[0]["$match"])
        scores = await self._scores(namespace, text)
        later = pipeline[1:]
        if not rest and later == [{"$group": {"_id": 1, "n": {"$sum": 1}}}]:
            # count_documents: the text index knows the answer.
            counted = [{"_id": 1, "n": len(scores)}] if scores else []
            return self._reply(context, counted, "aggregate")
        found = self._matching(namespace, rest, list(scores))
        if any(key in stage for stage in later for key in _NEEDS_COLLECTIONS):
            return await self._aggregate_in_engine(context, execute, found, scores)
        documents = []
        for key, document in found:
            document[SCORE_FIELD] = scores.get(key, 0.0)
            documents.append(document)
        from mongoeco.core.aggregation import apply_pipeline

        results = apply_pipeline(documents, [*_score_stages(later), {"$unset": SCORE_FIELD}],
                                 dialect=self._dialect)
        return self._reply(context, results, "aggregate")

    async def _aggregate_in_engine(self, context: Any, execute: Execute,
                                   found: list[tuple[str, dict[str, Any]]],
                                   scores: dict[str, float]) -> dict[str, Any]:
        """Stages that read other collections: let mongoeco run the whole pipeline."""
        command = context.command_document
        ids = [document["_id"] for _key, document in found]
        stages: list[dict[str, Any]] = [{"$match": {"_id": {"$in": ids}}}]
        later = command["pipeline"][1:]
        if _mentions_meta(later):
            # Each document's score by position of its _id in the match list.
            stages.append({"$addFields": {SCORE_FIELD: {"$arrayElemAt": [
                [scores[key] for key, _document in found],
                {"$indexOfArray": [ids, "$_id"]}]}}})
            stages += [*_score_stages(later), {"$unset": SCORE_FIELD}]
        else:
            stages += later
        command["pipeline"] = stages
        return await execute(context)


def _sort_comparator(
    sort: dict[str, Any], scores: dict[str, float]
) -> Callable[[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]], int]:
    def value(found: tuple[str, dict[str, Any]], key: str, direction: Any) -> Any:
        if _is_meta(direction):
            return scores.get(found[0], 0.0)
        current: Any = found[1]
        for part in key.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return current

    def compare(left: tuple[str, dict[str, Any]], right: tuple[str, dict[str, Any]]) -> int:
        for key, direction in sort.items():
            a, b = value(left, key, direction), value(right, key, direction)
            if a == b:
                continue
            descending = _is_meta(direction) or direction == -1
            try:
                less = a < b
            except TypeError:
                less = a is None  # missing sorts first ascending
            return (1 if less else -1) if descending else (-1 if less else 1)
        return 0

    return compare
