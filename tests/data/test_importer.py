"""Import of each file format users obtain MongoDB's sample data in."""

from __future__ import annotations

import datetime
import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import ObjectId, json_util

from pialara_async.data.importer import (
    MalformedInput,
    collection_for,
    import_file,
    read_documents,
)
from pialara_async.db import driver

DOCS = [
    {"_id": ObjectId("573a1390f29313caabcd42e8"), "title": "The Great Train Robbery",
     "released": datetime.datetime(1903, 12, 1), "imdb": {"rating": 7.4, "votes": 9847},
     "big": bson.Int64(2**60)},
    {"_id": ObjectId("573a1390f29313caabcd4323"), "title": "A Corner in Wheat",
     "released": datetime.datetime(1909, 12, 13), "imdb": {"rating": 6.6, "votes": 1375},
     "big": bson.Int64(5)},
]


def canonical(doc: dict[str, Any]) -> str:
    return json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS)


def relaxed(doc: dict[str, Any]) -> str:
    return json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("movies.json", "[\n" + ",\n".join(canonical(d) for d in DOCS) + "\n]\n"),
        ("sample_mflix.movies.json", "\n".join(relaxed(d) for d in DOCS) + "\n"),
        ("movies.json", "\n".join(canonical(d) for d in DOCS)),
        ("movies.json", "[" + ",".join(relaxed(d) for d in DOCS) + "]"),
    ],
)
def test_json_forms_read_the_same_documents(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert list(read_documents(path)) == DOCS
    assert collection_for(path) == "movies"


@pytest.mark.parametrize("name", ["movies.bson", "movies.bson.gz"])
def test_bson_dumps(tmp_path: Path, name: str) -> None:
    data = b"".join(bson.encode(d) for d in DOCS)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert list(read_documents(path)) == DOCS


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "comments.json"
    path.write_text(relaxed(DOCS[0]) + "\n" + '{"title": "broken",\n' + relaxed(DOCS[1]))
    documents = read_documents(path)
    assert next(documents) == DOCS[0]
    with pytest.raises(MalformedInput, match=r"comments\.json: line 2"):
        next(documents)


def test_malformed_array_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "movies.json"
    path.write_text("[\n" + canonical(DOCS[0]) + ",\n" + '{"$oid": 12}' + "\n]")
    with pytest.raises(MalformedInput, match=r"line 3"):
        list(read_documents(path))


def test_truncated_bson_names_the_byte_offset(tmp_path: Path) -> None:
    first = bson.encode(DOCS[0])
    path = tmp_path / "movies.bson"
    path.write_bytes(first + bson.encode(DOCS[1])[:-7])
    with pytest.raises(MalformedInput, match=rf"byte {len(first)}"):
        list(read_documents(path))


def test_collection_name_needed(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="--collection"):
        collection_for(tmp_path / "data.csv")


async def test_import_writes_batches_and_drop_replaces(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "movies.json"
    many = [{"_id": i, "n": i} for i in range(2500)]
    path.write_text("\n".join(json.dumps(d) for d in many))
    result = await import_file(db, path)
    assert (result.collection, result.written) == ("movies", 2500)
    again = await import_file(db, path, drop=True)
    assert again.written == 2500
    assert await db.movies.count_documents({}) == 2500


async def test_import_reports_what_was_written_before_a_bad_document(
    db: Any, tmp_path: Path
) -> None:
    path = tmp_path / "movies.json"
    lines = [json.dumps({"_id": i}) for i in range(1500)] + ["not json"]
    path.write_text("\n".join(lines))
    written = [0]
    with pytest.raises(MalformedInput, match="line 1501"):
        await import_file(db, path, written=written)
    assert written[0] == 1000  # the first full batch; the rest was never sent
    assert await db.movies.count_documents({}) == written[0]


def test_import_command_prints_counts_and_fails_cleanly(
    tmp_path: Path, mongo_uri: str, database_name: str
) -> None:
    good = tmp_path / "sample_mflix.comments.json"
    good.write_text("\n".join(relaxed({"_id": i, "text": "hi"}) for i in range(3)))
    bad = tmp_path / "users.json"
    bad.write_text('{"name": "a"}\n[1, 2]\n')
    env = {"MONGODB_URI": mongo_uri, "PIALARA_MONGODB__DATABASE": database_name,
           "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "pialara_async", "import"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, env=env,
                        timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "comments: 3 imported" in ok.stdout
    failed = subprocess.run([*run, str(bad)], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert failed.returncode == 1
    assert "users.json: line 2" in failed.stderr
    assert "written" in failed.stderr
    assert "Traceback" not in failed.stderr
    drop = "import pymongo, sys; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])"
    subprocess.run([sys.executable, "-c", drop, mongo_uri, database_name],
                   check=True, timeout=60)


SAMPLE_COMMENTS = 50_304


def comments_dump(folder: Path) -> Path:
    """MongoDB's full sample_mflix comments dump (50,304 documents, ``../shared``
    beside the checkout, or ``PIALARA_SAMPLE_DATA``); where a checkout has none,
    a dump of the same size and shape written here."""
    import os

    shared = Path(os.environ.get("PIALARA_SAMPLE_DATA") or
                  Path(__file__).resolve().parents[2].parent / "shared" / "sample_mflix")
    real = shared / "comments.bson.gz"
    if real.exists():
        return real
    movies = [ObjectId() for _ in range(1_000)]
    start = datetime.datetime(1970, 1, 1)
    path = folder / "comments.bson.gz"
    with gzip.open(path, "wb") as dump:
        for n in range(SAMPLE_COMMENTS):
            dump.write(bson.encode({
                "_id": ObjectId(), "name": f"Viewer {n % 997}", "email": f"v{n % 997}@x.org",
                "movie_id": movies[n % len(movies)], "text": "Lorem ipsum dolor sit amet " * 3,
                "date": start + datetime.timedelta(minutes=n * 97)}))
    return path


def import_command(uri: str, database: str, *args: str,
                   **environment: str) -> subprocess.CompletedProcess[str]:
    env = {"MONGODB_URI": uri, "PIALARA_MONGODB__DATABASE": database, "PATH": "/usr/bin:/bin",
           **environment}
    return subprocess.run([sys.executable, "-m", "pialara_async", "import", *args],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.mark.slow
async def test_the_sample_comments_dump_imports_and_counts(
    tmp_path: Path, mongo_uri: str, database_name: str, db: Any
) -> None:
    """The whole mongodump of sample_mflix's comments, then counts over it (which
    must not hit a limit on how many documents an aggregation may hold)."""
    dump = comments_dump(tmp_path)
    imported = import_command(mongo_uri, database_name, "--drop", str(dump))
    assert imported.returncode == 0, imported.stderr
    assert f"comments: {SAMPLE_COMMENTS} imported, {SAMPLE_COMMENTS} in the collection" \
        in imported.stdout
    with gzip.open(dump, "rb") as source:
        documents = bson.decode_all(source.read())
    movie = documents[0]["movie_id"]
    assert await db.comments.count_documents({}) == SAMPLE_COMMENTS
    assert await db.comments.count_documents({"movie_id": movie}) == \
        sum(d["movie_id"] == movie for d in documents)
    assert await db.comments.estimated_document_count() == SAMPLE_COMMENTS
    # A blocking stage over every comment (more than mongoeco held by default).
    busiest = await driver.aggregate_list(db.comments, [
        {"$group": {"_id": "$movie_id", "n": {"$sum": 1}}}, {"$sort": {"n": -1}},
        {"$limit": 1}])
    assert busiest[0]["n"] == Counter(d["movie_id"] for d in documents).most_common(1)[0][1]


def test_import_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dump = tmp_path / "comments.json"
    dump.write_text(relaxed({"_id": 1, "text": "hi"}))
    failed = import_command(f"mongodb://127.0.0.1:{port}/?directConnection=true", "x",
                            str(dump), PIALARA_MONGODB__SERVER_SELECTION_TIMEOUT_MS="300")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) <= 2  # the error; what was written
    assert "import failed" in failed.stderr or "before the error" in failed.stderr
