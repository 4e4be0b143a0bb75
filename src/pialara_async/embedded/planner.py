"""Answer reads through indexes, as MongoDB's query planner does.

For ``find``, ``count``, ``distinct`` and an ``aggregate`` that starts with
``$match``, the planner turns the filter's equalities, ``$in`` lists and ranges
on plain scalars into bounds on an index, walks the index (in the order a
``sort`` asks for, when the index has it), and fetches only the documents it
needs. When the bounds express the whole filter, counts and pages come from
the index alone; otherwise every fetched document is checked against the whole
filter with mongoeco's own matcher, so the answer is always exactly the
filter's. Sorting, projection and later pipeline stages are mongoeco's too.

Commands the planner cannot serve from an index (no usable bounds, collations,
hints, tailable cursors...) are left to mongoeco, unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import bson
from bson.raw_bson import RawBSONDocument
from mongoeco.core.aggregation import apply_pipeline
from mongoeco.core.bson_scalars import unwrap_bson_numeric
from mongoeco.core.filtering import QueryEngine
from mongoeco.core.projections import _ProjectionExecutor
from mongoeco.core.query_plan import compile_filter
from mongoeco.core.sorting import sort_documents
from mongoeco.wire.bson_bridge import encode_wire_value

from pialara_async.embedded.bson_order import (
    BINARY,
    BOOL,
    DATE,
    EMPTY_ARRAY,
    MISSING,
    NUMBER,
    OBJECT_ID,
    STRING,
    TIMESTAMP,
    is_plain_scalar,
    key_value,
    order_key,
)
from pialara_async.embedded.indexes import (
    TOP,
    CollectionIndexes,
    IndexCatalog,
    SecondaryIndex,
)
from pialara_async.embedded.replies import first_batch
from pialara_async.embedded.stored import StoredDocuments, engine_document, public_document

# The part of each type bracket a range on a value of that type covers.
_BRACKETS = {NUMBER: ((NUMBER, -math.inf, 1), (NUMBER + 1,)), STRING: ((STRING,), (STRING + 1,)),
             OBJECT_ID: ((OBJECT_ID,), (OBJECT_ID + 1,)), BOOL: ((BOOL,), (BOOL + 1,)),
             DATE: ((DATE,), (DATE + 1,)), BINARY: ((BINARY,), (BINARY + 1,)),
             TIMESTAMP: ((TIMESTAMP,), (TIMESTAMP + 1,))}
_FIND_OPTIONS = frozenset({
    "find", "filter", "sort", "projection", "skip", "limit", "batchSize", "singleBatch",
    "comment", "maxTimeMS", "readConcern", "allowDiskUse", "allowPartialResults",
    "noCursorTimeout", "$db", "lsid", "$clusterTime", "$readPreference", "txnNumber"})
_COUNT_OPTIONS = frozenset({"count", "query", "skip", "limit", "comment", "maxTimeMS",
                            "readConcern"})
_DISTINCT_OPTIONS = frozenset({"distinct", "key", "query", "comment", "maxTimeMS",
                               "readConcern"})
_AGGREGATE_OPTIONS = frozenset({"aggregate", "pipeline", "cursor", "comment", "maxTimeMS",
                                "readConcern", "allowDiskUse", "let"})
# Stages that read other collections or write: left to mongoeco (or lookup.py).
_FOREIGN_STAGES = ("$lookup", "$graphLookup", "$unionWith", "$merge", "$out",
                   "$changeStream", "$collStats", "$indexStats", "$currentOp",
                   "$listSessions", "$planCacheStats", "$search", "$searchMeta",
                   "$vectorSearch", "$geoNear", "$documents")
# Operators that need more than a per-document check (an index of their own,
# an order of their own, or JavaScript).
_WHOLE_QUERY_OPERATORS = ("$text", "$near", "$nearSphere", "$geoNear", "$where")
_COMBINATIONS = 1_000  # most $in combinations over a compound index's fields
_CHUNK = 200


@dataclass(slots=True)
class Bounds:
    """What a filter asks of one field, in ``order_key`` space."""

    points: list[tuple[Any, ...]] | None = None
    low: tuple[Any, ...] | None = None  # inclusive
    high: tuple[Any, ...] | None = None  # exclusive


@dataclass(slots=True)
class Predicates:
    fields: dict[str, Bounds] = field(default_factory=dict)
    complete: bool = True  # the bounds say everything the filter says


def _range(operator: str, value: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    if not is_plain_scalar(value):
        return None
    key = order_key(value)
    low, high = _BRACKETS[key[0]]
    if operator == "$gt":
        return (*key, TOP), high
    if operator == "$gte":
        return key, high
    if operator == "$lt":
        return low, key
    return low, (*key, TOP)  # $lte


def parse_filter(query: Any) -> Predicates | None:
    """The bounds a filter sets on its fields; None when it is not a document or
    uses an operator only mongoeco (or the text layer) evaluates whole."""
    if not isinstance(query, dict) or _mentions(query, _WHOLE_QUERY_OPERATORS):
        return None
    predicates = Predicates()
    clauses = [query]
    while clauses:
        clause = clauses.pop()
        for name, condition in clause.items():
            if name == "$and" and isinstance(condition, list) and \
                    all(isinstance(c, dict) for c in condition):
                clauses.extend(condition)
            elif name == "$comment":
                continue
            elif name.startswith("$") or name in predicates.fields:
                predicates.complete = False
            else:
                found = _field_bounds(condition)
                if found is None:
                    predicates.complete = False
                else:
                    complete, bounds = found
                    predicates.complete &= complete
                    predicates.fields[name] = bounds
    return predicates


def _field_bounds(condition: Any) -> tuple[bool, Bounds] | None:
    operators = isinstance(condition, dict) and any(str(k).startswith("$") for k in condition)
    if not operators:
        return (True, Bounds(points=[order_key(condition)])) if is_plain_scalar(condition) \
            else None
    bounds = Bounds()
    complete = True
    for operator, value in condition.items():
        if operator == "$eq" and is_plain_scalar(value) and bounds.points is None:
            bounds.points = [order_key(value)]
        elif operator == "$in" and isinstance(value, list) and bounds.points is None and \
                all(is_plain_scalar(v) for v in value):
            bounds.points = sorted({order_key(v) for v in value})
        elif operator in ("$gt", "$gte", "$lt", "$lte") and \
                (limits := _range(operator, value)) is not None:
            low, high = limits
            if bounds.low is not None and bounds.low[0] != low[0]:
                complete = False  # different type brackets: nothing matches both
            bounds.low = low if bounds.low is None else max(bounds.low, low)
            bounds.high = high if bounds.high is None else min(bounds.high, high)
        else:
            complete = False
    if bounds.points is not None and (bounds.low is not None or bounds.high is not None):
        bounds.low = bounds.high = None
        complete = False
    if bounds.points is None and bounds.low is None and bounds.high is None:
        return None
    return complete, bounds


@dataclass(slots=True)
class Plan:
    index: SecondaryIndex
    ranges: list[tuple[tuple[Any, ...], tuple[Any, ...]]]  # [low, high) key prefixes
    points: int  # leading index fields fixed by equalities
    depth: int  # leading index fields the ranges bound
    exact: bool  # the ranges are the whole filter
    ordered: bool  # the walk yields the requested sort
    reverse: bool = False
    candidates: int = 0


def _sort_spec(sort: Any) -> list[tuple[str, int]] | None:
    if sort is None:
        return []
    if not isinstance(sort, dict):
        return None
    spec = []
    for name, direction in sort.items():
        value = unwrap_bson_numeric(direction)
        if isinstance(value, bool) or value not in (1, -1) or str(name).startswith("$"):
            return None  # $meta, $natural...
        spec.append((str(name), int(value)))
    return spec


def _plan_for(index: SecondaryIndex, predicates: Predicates,
              sort: list[tuple[str, int]]) -> Plan:
    prefixes: list[tuple[Any, ...]] = [()]
    ranges: list[tuple[tuple[Any, ...], tuple[Any, ...]]] | None = None
    used: set[str] = set()
    points = depth = 0
    whole = True
    for position, name in enumerate(index.spec.fields):
        bounds = predicates.fields.get(name)
        if bounds is None:
            break
        if bounds.points is not None:
            if len(prefixes) * len(bounds.points) > _COMBINATIONS:
                whole = False
                break
            prefixes = [(*p, k) for p in prefixes for k in bounds.points]
            used.add(name)
            points = depth = position + 1
            continue
        low, high = bounds.low, bounds.high
        if index.multikey[position] and low is not None and high is not None:
            high = None  # one element may meet the low bound, another the high one
            whole = False
        ranges = [((*p, low) if low is not None else p,
                   (*p, high) if high is not None else (*p, TOP)) for p in prefixes]
        used.add(name)
        depth = position + 1
        break
    if ranges is None:
        ranges = [(p, (*p, TOP)) for p in prefixes]
    exact = whole and predicates.complete and index.exact and used == set(predicates.fields)
    ordered = reverse = False
    if sort:
        names = tuple(n for n, _d in sort)
        span = slice(points, points + len(sort))
        if index.spec.fields[span] == names and not any(index.multikey[span]):
            # Entries are kept in ascending order of every field, whatever the
            # index declares: walked forwards or backwards, they give a sort
            # whose fields all go the same way.
            wanted = {d for _n, d in sort}
            ordered = len(wanted) == 1
            reverse = wanted == {-1}
    else:
        ordered = True
    entries = index.entries
    candidates = sum(entries.bisect_left((high,)) - entries.bisect_left((low,))
                     for low, high in ranges)
    return Plan(index, ranges, points, depth, exact, ordered, reverse, candidates)


def choose_plan(state: CollectionIndexes, predicates: Predicates,
                sort: list[tuple[str, int]], wanted: int | None) -> Plan | None:
    """The cheapest index walk, or None when no index bounds or orders the query."""
    best: Plan | None = None
    best_cost = math.inf
    everything = not predicates.fields and predicates.complete
    for index in state.indexes.values():
        plan = _plan_for(index, predicates, sort)
        useful = plan.depth > 0 or (bool(sort) and plan.ordered) or \
            (everything and index is state.ids)
        if not useful:
            continue
        cost = float(plan.candidates)
        if plan.ordered and plan.exact and wanted is not None:
            cost = min(cost, wanted)
        if not plan.ordered:
            cost *= 1.5  # every candidate is fetched and sorted
        if cost < best_cost:
            best, best_cost = plan, cost
    return best


def walk(plan: Plan) -> Iterator[str]:
    """Storage keys in the plan's order, each once."""
    walks = [plan.index.between(low, high, reverse=plan.reverse) for low, high in plan.ranges]
    if len(walks) == 1:
        entries: Iterator[tuple[tuple[Any, ...], str]] = walks[0]
    elif plan.ordered:
        # One sorted run per equality combination: merged on the fields after them.
        points = plan.points
        entries = heapq.merge(*walks, key=lambda e: (e[0][points:], e[1]),
                              reverse=plan.reverse)
    else:
        entries = itertools.chain(*walks)
    seen: set[str] = set()
    for _keys, key in entries:
        if key not in seen:
            seen.add(key)
            yield key


def _simple_projection(projection: Any) -> bool:
    return projection is None or (isinstance(projection, dict) and all(
        not str(k).endswith(".$") and not isinstance(v, dict)
        and unwrap_bson_numeric(v) in (0, 1, True, False) for k, v in projection.items()))


def _number(value: Any, default: int = 0) -> int:
    value = unwrap_bson_numeric(value)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    return int(value)


class Planner:
    def __init__(self, catalog: IndexCatalog, stored: StoredDocuments, dialect: Any,
                 cursor_store: Any) -> None:
        self._catalog = catalog
        self._stored = stored
        self._dialect = dialect
        self._cursor_store = cursor_store

    # --- documents ------------------------------------------------------------------

    def documents(self, namespace: str, keys: list[str]) -> list[dict[str, Any]]:
        """Documents (internal form) of ``keys`` that exist, in that order."""
        return self._fetch(namespace, keys, engine=True)

    def _fetch(self, namespace: str, keys: list[str], *, engine: bool) -> list[dict[str, Any]]:
        db_name, coll_name = namespace.split(".", 1)
        stored = self._stored.fetch(db_name, coll_name, keys)
        decode = engine_document if engine else public_document
        return [decode(stored[k]) for k in keys if k in stored]

    def _encoded(self, namespace: str, keys: list[str]) -> list[RawBSONDocument]:
        """Documents of ``keys`` as a driver receives them, encoded once and kept."""
        cache = self._catalog.encoded
        found = {k: data for k in keys if (data := cache.get(namespace, k)) is not None}
        missing = [k for k in keys if k not in found]
        if missing:
            db_name, coll_name = namespace.split(".", 1)
            for key, text in self._stored.fetch(db_name, coll_name, missing).items():
                found[key] = data = bson.encode(public_document(text))
                cache.put(namespace, key, data)
        return [RawBSONDocument(found[k]) for k in keys if k in found]

    def _matches(self, namespace: str, keys: Iterator[str], query: dict[str, Any],
                 wanted: int | None, variables: dict[str, Any] | None = None) -> (
        list[dict[str, Any]]
    ):
        """Documents (internal form) among ``keys`` that match ``query``, in order."""
        compiled = compile_filter(query, dialect=self._dialect, variables=variables or {})
        found: list[dict[str, Any]] = []
        while wanted is None or len(found) < wanted:
            chunk = list(itertools.islice(keys, _CHUNK))
            if not chunk:
                break
            for document in self._fetch(namespace, chunk, engine=True):
                if QueryEngine.match_plan(document, compiled, dialect=self._dialect,
                                          variables=variables):
                    found.append(document)
        return found if wanted is None else found[:wanted]

    async def _state(self, namespace: str) -> CollectionIndexes | None:
        return await self._catalog.collection(namespace) if _own_namespace(namespace) else None

    async def query(self, namespace: str, query: Any, sort: Any = None, skip: int = 0,
                    limit: int = 0, *, variables: dict[str, Any] | None = None,
                    public: bool = False) -> list[Any] | None:
        """Documents matching ``query`` in ``sort`` order (internal form, or public
        when ``public``); None when no index serves the query."""
        predicates = parse_filter(query)
        spec = _sort_spec(sort)
        if predicates is None or spec is None:
            return None
        state = await self._state(namespace)
        if state is None:
            return None
        wanted = skip + limit if limit else None
        plan = choose_plan(state, predicates, spec, wanted)
        if plan is None:
            return None
        keys = walk(plan)
        if plan.ordered:
            if plan.exact:
                page = list(itertools.islice(keys, skip, skip + limit if limit else None))
                return self._encoded(namespace, page) if public else \
                    self._fetch(namespace, page, engine=True)
            documents = self._matches(namespace, keys, query, wanted, variables)[skip:]
        else:
            if plan.exact and (top := self._top_by_index(state, plan, spec, wanted)) is not None:
                page = top[skip:]
                return self._encoded(namespace, page) if public else \
                    self._fetch(namespace, page, engine=True)
            documents = self._matches(namespace, keys, query, None, variables)
            documents = sort_documents(documents, cast(Any, spec), dialect=self._dialect)
            documents = documents[skip:skip + limit if limit else None]
        return [encode_wire_value(d) for d in documents] if public else documents

    def _top_by_index(self, state: CollectionIndexes, plan: Plan, sort: list[tuple[str, int]],
                      wanted: int | None) -> list[str] | None:
        """Sort candidates by the keys the indexes hold, without fetching them."""
        positions: list[tuple[SecondaryIndex, int]] = []
        for name, _direction in sort:
            index, position = plan.index, None
            if name in plan.index.spec.fields:
                position = plan.index.spec.fields.index(name)
            elif name == "_id":
                index, position = state.ids, 0
            if position is None or index.multikey[position]:
                return None
            positions.append((index, position))
        rows = [(key, [index.keys_of(key)[0][position] for index, position in positions])
                for key in walk(plan)]
        for column in reversed(range(len(sort))):
            rows.sort(key=functools.partial(_column, column), reverse=sort[column][1] == -1)
        return [key for key, _keys in rows[:wanted]]

    async def count(self, namespace: str, query: Any) -> int | None:
        predicates = parse_filter(query)
        if predicates is None:
            return None
        state = await self._state(namespace)
        if state is None:
            return None
        if not predicates.fields and predicates.complete:
            return len(state.ids)
        plan = choose_plan(state, predicates, [], None)
        if plan is None:
            return None
        if plan.exact:
            if len(plan.ranges) == 1 and not any(plan.index.multikey[plan.points:]):
                # One walk within fixed values of the leading fields, whose other
                # fields are never arrays, meets each document once: the count
                # is the number of entries.
                return plan.candidates
            return sum(1 for _key in walk(plan))
        return len(self._matches(namespace, walk(plan), query, None))

    # --- commands -------------------------------------------------------------------

    async def answer(self, context: Any) -> dict[str, Any] | None:
        """The reply to a read command, or None to leave it to mongoeco."""
        name = context.command_name
        command = context.command_document
        try:
            if name == "find" and not set(command) - _FIND_OPTIONS:
                return await self._find(context)
            if name == "count" and not set(command) - _COUNT_OPTIONS:
                return await self._count(context)
            if name == "distinct" and not set(command) - _DISTINCT_OPTIONS:
                return await self._distinct(context)
            if name == "aggregate" and not set(command) - _AGGREGATE_OPTIONS:
                return await self._aggregate(context)
        except TypeError:
            return None  # malformed options: mongoeco answers with its errors
        return None

    def _namespace(self, context: Any, name: str) -> str | None:
        target = context.command_document.get(name)
        return f"{context.db_name}.{target}" if isinstance(target, str) and target else None

    def _reply(self, context: Any, name: str, documents: list[Any]) -> dict[str, Any]:
        return first_batch(self._cursor_store, context, documents,
                           f"{context.db_name}.{context.command_document[name]}")

    async def _find(self, context: Any) -> dict[str, Any] | None:
        command = context.command_document
        namespace = self._namespace(context, "find")
        projection = command.get("projection")
        if namespace is None or not _simple_projection(projection):
            return None
        skip = _number(command.get("skip"))
        limit = _number(command.get("limit"))
        single = command.get("singleBatch") is True or limit < 0
        limit = abs(limit)
        if skip < 0:
            return None
        query = command.get("filter") or {}
        documents = await self.query(namespace, query, command.get("sort"), skip, limit,
                                     public=True)
        if documents is None:
            return None
        if projection:
            project = _ProjectionExecutor(projection, dialect=self._dialect)
            documents = [project(bson.decode(d.raw) if isinstance(d, RawBSONDocument) else d)
                         for d in documents]
        if single:
            batch = _number(command.get("batchSize"), len(documents)) or len(documents)
            documents = documents[:batch]
            command = {k: v for k, v in command.items() if k != "batchSize"}
        return first_batch(self._cursor_store, context, documents, namespace, command)

    async def _count(self, context: Any) -> dict[str, Any] | None:
        command = context.command_document
        namespace = self._namespace(context, "count")
        if namespace is None:
            return None
        total = await self.count(namespace, command.get("query") or {})
        if total is None:
            return None
        skip, limit = _number(command.get("skip")), abs(_number(command.get("limit")))
        total = max(0, total - skip)
        return {"n": min(total, limit) if limit else total, "ok": 1.0}

    async def _distinct(self, context: Any) -> dict[str, Any] | None:
        """Distinct strings, booleans or ObjectIds of a field, from an index on it."""
        command = context.command_document
        namespace = self._namespace(context, "distinct")
        key = command.get("key")
        if namespace is None or not isinstance(key, str) or (command.get("query") or {}):
            return None
        state = await self._state(namespace)
        if state is None:
            return None
        index = next((i for i in state.indexes.values()
                      if i.spec.fields[0] == key and i.exact), None)
        if index is None:
            return None
        values: list[Any] = []
        entries = index.entries
        position = 0
        while position < len(entries):
            first = entries[position][0][0]
            if first[0] in (STRING, BOOL, OBJECT_ID):
                values.append(key_value(first))
            elif first not in (MISSING, EMPTY_ARRAY):
                return None  # null and numbers: mongoeco keeps their exact types
            position = entries.bisect_left(((first, TOP),))
        return {"values": values, "ok": 1.0}

    async def _aggregate(self, context: Any) -> dict[str, Any] | None:
        command = context.command_document
        namespace = self._namespace(context, "aggregate")
        if namespace is None:
            return None
        variables = command.get("let")
        pipeline = command.get("pipeline")
        counted = _count_stages(pipeline[1:]) if isinstance(pipeline, list) and pipeline and \
            isinstance(pipeline[0], dict) and "$match" in pipeline[0] else None
        if counted is not None and not variables:
            total = await self.count(namespace, pipeline[0]["$match"])
            if total is None:
                return None
            skip, limit, name = counted
            total = max(0, total - skip)
            total = min(total, limit) if limit else total
            return self._reply(context, "aggregate", [{"_id": 1, name: total}] if total else [])
        documents = await self.pipeline(namespace, pipeline, variables)
        if documents is None:
            return None
        return self._reply(context, "aggregate", documents)

    async def pipeline(self, namespace: str, pipeline: Any,
                       variables: Any = None) -> list[dict[str, Any]] | None:
        """The results (internal form) of a pipeline that reads only its own
        collection: its leading ``$match`` (and ``$sort``) through an index when
        one serves them, otherwise a scan of the collection in a worker thread,
        read from the engine's file (so it never holds the engine). None when
        the pipeline reads other collections or writes."""
        if not isinstance(pipeline, list) or \
                not all(isinstance(s, dict) and len(s) == 1 for s in pipeline):
            return None
        if variables is not None and not isinstance(variables, dict):
            return None
        if _mentions(pipeline, _FOREIGN_STAGES + _WHOLE_QUERY_OPERATORS) or \
                not _own_namespace(namespace):
            return None
        if pipeline and "$match" in pipeline[0]:
            documents = await self._through_index(namespace, pipeline, variables)
            if documents is not None:
                return documents
        return await asyncio.to_thread(self._scanned, namespace, pipeline, variables)

    async def _through_index(self, namespace: str, pipeline: list[dict[str, Any]],
                             variables: dict[str, Any] | None) -> list[dict[str, Any]] | None:
        first = pipeline[0]
        rest = pipeline[1:]
        if rest and await self._implied(namespace, first["$match"], rest[0], variables):
            rest = rest[1:]
        sort = None
        if rest and "$sort" in rest[0] and _sort_spec(rest[0]["$sort"]) is not None:
            sort, rest = rest[0]["$sort"], rest[1:]
        skip = limit = 0
        while rest and not limit and ("$skip" in rest[0] or "$limit" in rest[0]):
            stage, rest = rest[0], rest[1:]
            if "$skip" in stage:
                skip += _number(stage["$skip"])
            else:
                limit = _number(stage["$limit"])
        documents = await self.query(namespace, first["$match"], sort, skip, limit,
                                     variables=variables)
        if documents is None or not rest:
            return documents
        return await asyncio.to_thread(apply_pipeline, documents, rest, variables=variables,
                                       dialect=self._dialect)

    def _scanned(self, namespace: str, pipeline: list[dict[str, Any]],
                 variables: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Every document of the collection through ``pipeline`` (in a worker thread)."""
        db_name, coll_name = namespace.split(".", 1)
        match = pipeline[0]["$match"] if pipeline and "$match" in pipeline[0] else None
        compiled = None if match is None else compile_filter(
            match, dialect=self._dialect, variables=variables or {})
        connection = self._stored.connect()
        try:
            documents = []
            for _key, text in StoredDocuments.scan(connection, db_name, coll_name):
                document = engine_document(text)
                if compiled is None or QueryEngine.match_plan(
                        document, compiled, dialect=self._dialect, variables=variables):
                    documents.append(document)
        finally:
            connection.close()
        rest = pipeline[1:] if match is not None else pipeline
        if not rest:
            return documents
        return apply_pipeline(documents, rest, variables=variables, dialect=self._dialect)

    async def _implied(self, namespace: str, match: Any, stage: dict[str, Any],
                       variables: dict[str, Any] | None) -> bool:
        """Whether ``stage`` is ``{$match: {$expr: {$eq: ["$f", v]}}}`` and ``match``
        already requires ``f`` to equal ``v`` where ``f`` is never an array (then
        the two agree document by document: a correlated ``$lookup``'s shape)."""
        expression = stage.get("$match")
        if not isinstance(expression, dict) or list(expression) != ["$expr"]:
            return False
        operands = expression["$expr"].get("$eq") if isinstance(expression["$expr"], dict) \
            and list(expression["$expr"]) == ["$eq"] else None
        if not isinstance(operands, list) or len(operands) != 2:
            return False
        field = next((o[1:] for o in operands if isinstance(o, str) and o.startswith("$")
                      and not o.startswith("$$")), None)
        other = next((o for o in operands if not (isinstance(o, str) and o.startswith("$")
                                                   and not o.startswith("$$"))), None)
        if field is None or not isinstance(match, dict) or field not in match:
            return False
        if isinstance(other, str) and other.startswith("$$"):
            if not variables or other[2:] not in variables:
                return False
            other = variables[other[2:]]
        elif isinstance(other, str) and other.startswith("$"):
            return False
        wanted = match[field]
        if not is_plain_scalar(wanted) or not is_plain_scalar(other) or \
                order_key(wanted) != order_key(other):
            return False
        state = await self._state(namespace)
        return state is not None and any(
            index.spec.fields[0] == field and not index.multikey[0] and index.exact
            for index in state.indexes.values())


def _own_namespace(namespace: str) -> bool:
    """A user collection (not a system one, nor the layer's own registries)."""
    db_name, coll_name = namespace.split(".", 1)
    return db_name not in ("admin", "config", "local", "__pialara") and \
        not coll_name.startswith("system.")


def _mentions(value: Any, names: tuple[str, ...]) -> bool:
    if isinstance(value, dict):
        return any(k in names or _mentions(v, names) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, names) for v in value)
    return False


def _count_stages(stages: list[dict[str, Any]]) -> tuple[int, int, str] | None:
    """``(skip, limit, name)`` when ``stages`` only count matches, as
    ``count_documents`` asks: ``$skip``/``$limit``, then ``{$group: {_id: 1,
    name: {$sum: 1}}}``."""
    skip = limit = 0
    for stage in stages[:-1]:
        if "$skip" in stage and not limit:
            skip += _number(stage["$skip"])
        elif "$limit" in stage and not limit:
            limit = _number(stage["$limit"])
        else:
            return None
    group = stages[-1].get("$group") if stages else None
    if not isinstance(group, dict) or len(group) != 2 or "_id" not in group:
        return None
    name = next(k for k in group if k != "_id")
    total = group[name]
    if unwrap_bson_numeric(group["_id"]) != 1 or not isinstance(total, dict) or \
            list(total) != ["$sum"] or unwrap_bson_numeric(total["$sum"]) != 1:
        return None
    return skip, limit, name


def _column(column: int, row: tuple[str, list[Any]]) -> Any:
    return row[1][column]
