"""Text indexes and ``$text`` for the embedded server.

mongoeco cannot create MFlix's compound text index over array fields (``cast``,
``fullplot``, ``genres``, ``title``), and its ``$text`` drops projected fields,
ignores score sorting, has no stemming or stop words, and fails in
``count_documents`` and a leading ``$match``. Here text indexes are kept by the
layer itself, the way MongoDB's version 3 text indexes behave:

- tokens split on non-alphanumerics, case and diacritics folded, English stop
  words dropped, Snowball English stemming;
- a query matches documents holding any of its terms, all of its quoted
  phrases, and none of its negated terms;
- the score follows MongoDB's scheme: per field value, each term's frequency
  (diminishing for repeats) times ``0.5 + 0.5 * count / tokens`` times the
  field's weight, summed over the query's terms.

The index lives in memory, is built on first use by scanning the collection,
and is kept current from the engine's change stream, drained before each
query so a query sees every write acknowledged before it. Index definitions
persist in the ``__pialara.text_indexes`` collection.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import snowballstemmer

from pialara_async.embedded.errors import CommandError

REGISTRY_DB = "__pialara"
REGISTRY_COLLECTION = "text_indexes"

# English function words, the kind MongoDB's English text index ignores.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
""".split())  # noqa: SIM905

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """Lower case without diacritics (MongoDB's version 3 text index)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


# A text's vocabulary is small beside its words: stem each word once.
_STEMS: dict[str, str] = {}


def _stem(word: str) -> str:
    stem = _STEMS.get(word)
    if stem is None:
        if len(_STEMS) > 500_000:
            _STEMS.clear()
        stem = _STEMS[word] = _STEMMER.stemWord(word)
    return stem


def terms(text: str) -> list[str]:
    """Stemmed terms of ``text`` without stop words, in order."""
    return [_stem(w) for w in words(text) if w not in STOP_WORDS]


@dataclass(frozen=True, slots=True)
class TextQuery:
    terms: frozenset[str]
    negated: frozenset[str]
    phrases: tuple[str, ...]


def parse_search(search: str) -> TextQuery:
    phrases = tuple(fold(p).strip() for p in re.findall(r'"([^"]*)"', search) if p.strip())
    rest = re.sub(r'"[^"]*"', " ", search)
    positive: set[str] = set()
    negated: set[str] = set()
    for word in rest.split():
        target = negated if word.startswith("-") and len(word) > 1 else positive
        target.update(terms(word.lstrip("-") if target is negated else word))
    for phrase in phrases:
        positive.update(terms(phrase))
    return TextQuery(frozenset(positive), frozenset(negated), phrases)


def _field_values(document: dict[str, Any], path: str) -> Iterable[str]:
    current: list[Any] = [document]
    for part in path.split("."):
        following: list[Any] = []
        for value in current:
            if isinstance(value, dict) and part in value:
                following.append(value[part])
            elif isinstance(value, list):
                following.extend(item[part] for item in value
                                 if isinstance(item, dict) and part in item)
        current = following
    for value in current:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, str))


def score_terms(document: dict[str, Any], weights: dict[str, int]) -> dict[str, float]:
    """Term → score contribution of one document (MongoDB's scoring scheme)."""
    scores: dict[str, float] = defaultdict(float)
    for path, weight in weights.items():
        for value in _field_values(document, path):
            tokens = terms(value)
            if not tokens:
                continue
            frequency: dict[str, float] = defaultdict(float)
            count: dict[str, int] = defaultdict(int)
            for token in tokens:
                frequency[token] += 1 / (2 ** count[token])
                count[token] += 1
            for token, freq in frequency.items():
                coefficient = 0.5 * count[token] / len(tokens) + 0.5
                scores[token] += weight * freq * coefficient
    return dict(scores)


@dataclass(slots=True)
class TextIndexSpec:
    name: str
    weights: dict[str, int]
    default_language: str = "english"

    @classmethod
    def from_index(cls, index: dict[str, Any]) -> TextIndexSpec:
        text_fields = [key for key, kind in index["key"].items() if kind == "text"]
        if "$**" in text_fields:
            raise CommandError(
                67, "CannotCreateIndex", "wildcard text indexes are not supported by the "
                "embedded server"
            )
        if len(text_fields) != len(index["key"]):
            raise CommandError(
                67, "CannotCreateIndex", "compound text indexes with non-text keys are not "
                "supported by the embedded server"
            )
        weights = {name: 1 for name in text_fields}
        weights.update({k: int(v) for k, v in (index.get("weights") or {}).items()})
        language = index.get("default_language", "english")
        if language not in ("english", "en", "none"):
            raise CommandError(17262, "Location17262",
                               f"the embedded server indexes English text only, not {language}")
        return cls(index["name"], weights, language)

    def describe(self) -> dict[str, Any]:
        return {
            "v": 2,
            "key": {"_fts": "text", "_ftsx": 1},
            "name": self.name,
            "weights": dict(self.weights),
            "default_language": self.default_language,
            "language_override": "language",
            "textIndexVersion": 3,
        }


@dataclass(slots=True)
class TextIndex:
    """Postings of one collection's text index, by storage key."""

    spec: TextIndexSpec
    postings: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    documents: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key -> its terms
    texts: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.documents)

    def put(self, key: str, document: dict[str, Any]) -> None:
        self.remove(key)
        scores = score_terms(document, self.spec.weights)
        self.documents[key] = tuple(scores)
        for term, score in scores.items():
            self.postings[term][key] = score
        # Folded raw text, for phrase matching.
        self.texts[key] = " \x00 ".join(
            fold(value) for path in self.spec.weights for value in _field_values(document, path)
        )

    def remove(self, key: str) -> None:
        self.texts.pop(key, None)
        for term in self.documents.pop(key, ()):
            self.postings[term].pop(key, None)

    def search(self, query: TextQuery) -> dict[str, float]:
        scores: dict[str, float] = defaultdict(float)
        for term in query.terms:
            for key, score in self.postings.get(term, {}).items():
                scores[key] += score
        for term in query.negated:
            for key in self.postings.get(term, {}):
                scores.pop(key, None)
        for phrase in query.phrases:
            scores = {k: s for k, s in scores.items() if phrase in self.texts.get(k, "")}
        return dict(scores)


class TextSearch:
    """Text index definitions of one embedded server; the indexes themselves live
    with the collection's other indexes (``indexes.IndexCatalog``), built in the
    same scan and kept current from the same committed changes."""

    def __init__(self, client: Any, catalog: Any) -> None:
        self._client = client
        self._catalog = catalog
        self._specs: dict[str, TextIndexSpec] | None = None
        catalog.text_spec = self.spec

    def _registry(self) -> Any:
        return self._client.get_database(REGISTRY_DB).get_collection(REGISTRY_COLLECTION)

    async def _load(self) -> dict[str, TextIndexSpec]:
        if self._specs is None:
            specs = {}
            async for row in self._registry().find({}):
                specs[row["_id"]] = TextIndexSpec(
                    row["name"], row["weights"], row.get("default_language", "english")
                )
            self._specs = specs
        return self._specs

    async def spec(self, namespace: str) -> TextIndexSpec | None:
        return (await self._load()).get(namespace)

    async def namespaces(self) -> list[str]:
        return list(await self._load())

    async def create(self, namespace: str, index: dict[str, Any]) -> bool:
        """Register a text index; False when the same one exists already."""
        spec = TextIndexSpec.from_index(index)
        existing = await self.spec(namespace)
        if existing is not None:
            if existing.name == spec.name and existing.weights == spec.weights:
                return False
            raise CommandError(
                85, "IndexOptionsConflict",
                f"a collection holds one text index; {existing.name!r} exists already",
            )
        await self._registry().replace_one(
            {"_id": namespace},
            {"name": spec.name, "weights": spec.weights,
             "default_language": spec.default_language},
            upsert=True,
        )
        (await self._load())[namespace] = spec
        self._catalog.forget(namespace)
        return True

    async def drop(self, namespace: str, name: str | None = None) -> bool:
        spec = await self.spec(namespace)
        if spec is None or (name is not None and name not in ("*", spec.name)):
            return False
        await self._registry().delete_one({"_id": namespace})
        (await self._load()).pop(namespace, None)
        self._catalog.forget(namespace)
        return True

    async def drop_database(self, db_name: str) -> None:
        for namespace in [ns for ns in await self._load() if ns.split(".", 1)[0] == db_name]:
            await self.drop(namespace)

    async def rename(self, source: str, target: str) -> None:
        spec = await self.spec(source)
        if spec is not None:
            await self.drop(source)
            await self.create(target, {"name": spec.name, "key": dict.fromkeys(spec.weights,
                                                                               "text"),
                                       "weights": spec.weights,
                                       "default_language": spec.default_language})

    async def search(self, namespace: str, search: str) -> dict[str, float]:
        """Scores of the matching documents, by storage key."""
        if await self.spec(namespace) is None:
            raise CommandError(27, "IndexNotFound", "text index required for $text query")
        state = await self._catalog.collection(namespace)
        if state.text is None:
            raise CommandError(27, "IndexNotFound", "text index required for $text query")
        return state.text.search(parse_search(search))
