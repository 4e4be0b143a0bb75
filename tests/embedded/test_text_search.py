"""Text indexes and $text as MongoDB documents them, through the driver."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import TEXT
from pymongo.errors import OperationFailure

from pialara_async.db import driver
from pialara_async.embedded.text_search import parse_search, score_terms, terms

FILMS = [
    {"_id": 1, "title": "The Running Man", "cast": ["Arnold Stone"], "genres": ["Action"],
     "fullplot": "A man runs for his life in a televised game."},
    {"_id": 2, "title": "Runner", "cast": ["Maria Lopez"], "genres": ["Drama"],
     "fullplot": "A quiet runner trains for the marathon."},
    {"_id": 3, "title": "Gardens of Stone", "cast": ["Arnold Stone", "Lee Park"],
     "genres": ["War", "Drama"], "fullplot": "Soldiers at Arlington cemetery."},
    {"_id": 4, "title": "Café Society", "cast": ["Ann Roe"], "genres": ["Comedy"],
     "fullplot": "Love and cafe life in New York."},
]
TEXT_KEYS = [("cast", TEXT), ("fullplot", TEXT), ("genres", TEXT), ("title", TEXT)]


@pytest.fixture
async def films(db: Any) -> Any:
    await db.films.insert_many([dict(f) for f in FILMS])
    await db.films.create_index(TEXT_KEYS)
    return db.films


def test_terms_are_stemmed_folded_and_without_stop_words() -> None:
    assert terms("The Running runners of CAFÉ") == ["run", "runner", "cafe"]
    query = parse_search('run -stone "new york"')
    assert query.terms == {"run", "new", "york"}
    assert query.negated == {"stone"}
    assert query.phrases == ("new york",)


def test_score_grows_with_frequency_and_weight() -> None:
    once = score_terms({"t": "run fast"}, {"t": 1})["run"]
    twice = score_terms({"t": "run run"}, {"t": 1})["run"]
    heavy = score_terms({"t": "run fast"}, {"t": 10})["run"]
    assert twice > once
    assert heavy == pytest.approx(once * 10)


async def test_compound_text_index_over_arrays_is_created_and_listed(films: Any) -> None:
    info = await films.index_information()
    text = [spec for spec in info.values() if ("_fts", "text") in spec["key"]]
    assert len(text) == 1
    assert set(text[0]["weights"]) == {"cast", "fullplot", "genres", "title"}
    # Creating it again is a no-op, as on MongoDB.
    await films.create_index(TEXT_KEYS)
    await films.insert_one({"_id": 5, "title": "New", "cast": ["X"], "genres": ["Y"]})


async def test_find_matches_any_term_with_stemming(films: Any) -> None:
    found = await films.find({"$text": {"$search": "runs"}}).to_list(None)
    assert {f["_id"] for f in found} == {1}  # "Running", "runs"; "runner" stems apart
    runners = await films.find({"$text": {"$search": "RUNNERS"}}).to_list(None)
    assert {f["_id"] for f in runners} == {2}


async def test_projection_with_score_and_sort_by_score(films: Any) -> None:
    cursor = films.find(
        {"$text": {"$search": "stone drama"}},
        {"title": 1, "score": {"$meta": "textScore"}},
    ).sort([("score", {"$meta": "textScore"})])
    found = await cursor.to_list(None)
    assert found[0]["_id"] == 3  # both terms
    assert {f["_id"] for f in found} == {1, 2, 3}
    scores = [f["score"] for f in found]
    assert scores == sorted(scores, reverse=True)
    assert all(set(f) == {"_id", "title", "score"} for f in found)


async def test_skip_and_limit_apply_after_score_order(films: Any) -> None:
    query = {"$text": {"$search": "stone drama"}}
    ordered = await films.find(query, {"score": {"$meta": "textScore"}}).sort(
        [("score", {"$meta": "textScore"})]).to_list(None)
    page = await films.find(query, {"score": {"$meta": "textScore"}}).sort(
        [("score", {"$meta": "textScore"})]).skip(1).limit(1).to_list(None)
    assert page == ordered[1:2]


async def test_negation_and_phrases(films: Any) -> None:
    negated = await films.find({"$text": {"$search": "drama -stone"}}).to_list(None)
    assert {f["_id"] for f in negated} == {2}
    phrase = await films.find({"$text": {"$search": '"new york" cafe'}}).to_list(None)
    assert {f["_id"] for f in phrase} == {4}


async def test_text_with_other_conditions(films: Any) -> None:
    found = await films.find({"$text": {"$search": "drama"}, "genres": "War"}).to_list(None)
    assert [f["_id"] for f in found] == [3]


async def test_count_documents_and_leading_match(films: Any) -> None:
    assert await films.count_documents({"$text": {"$search": "stone"}}) == 2
    rows = await driver.aggregate_list(films, [
        {"$match": {"$text": {"$search": "stone drama"}}},
        {"$project": {"title": 1, "score": {"$meta": "textScore"}}},
        {"$sort": {"score": {"$meta": "textScore"}}},
    ])
    assert rows[0]["_id"] == 3
    assert all(set(r) == {"_id", "title", "score"} for r in rows)


async def test_index_follows_writes(films: Any) -> None:
    assert await films.count_documents({"$text": {"$search": "zebra"}}) == 0
    await films.insert_one({"_id": 9, "title": "Zebra Crossing"})
    assert await films.count_documents({"$text": {"$search": "zebra"}}) == 1
    await films.update_one({"_id": 9}, {"$set": {"title": "Horse Crossing"}})
    assert await films.count_documents({"$text": {"$search": "zebra"}}) == 0
    await films.update_one({"_id": 1}, {"$set": {"title": "Zebras"}})
    assert await films.count_documents({"$text": {"$search": "zebra"}}) == 1
    await films.delete_one({"_id": 1})
    assert await films.count_documents({"$text": {"$search": "zebra"}}) == 0


async def test_text_query_without_text_index_fails(db: Any) -> None:
    await db.plain.insert_one({"title": "x"})
    with pytest.raises(OperationFailure) as raised:
        await db.plain.find({"$text": {"$search": "x"}}).to_list(None)
    assert raised.value.code == 27


async def test_dropping_the_index(films: Any) -> None:
    name = next(n for n, spec in (await films.index_information()).items()
                if ("_fts", "text") in spec["key"])
    await films.drop_index(name)
    with pytest.raises(OperationFailure):
        await films.count_documents({"$text": {"$search": "stone"}})


async def test_large_match_sets(db: Any) -> None:
    from bson import ObjectId

    await db.many.insert_many([{"_id": ObjectId(), "n": i, "title": "zebra " * (1 + i % 3)}
                               for i in range(1200)])
    await db.many.create_index([("title", TEXT)])
    query = {"$text": {"$search": "zebra"}}
    assert await db.many.count_documents(query) == 1200
    top = await db.many.find(query, {"score": {"$meta": "textScore"}}).sort(
        [("score", {"$meta": "textScore"})]).limit(5).to_list(None)
    assert len(top) == 5
    best = {doc["_id"] async for doc in db.many.find({"n": {"$mod": [3, 2]}}, {"_id": 1})}
    assert all(doc["_id"] in best for doc in top)  # three "zebra"s score highest
    everything = await db.many.find(query, {"_id": 1}).to_list(None)
    assert len(everything) == 1200
