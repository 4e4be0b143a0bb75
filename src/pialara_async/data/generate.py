"""A deterministic demo data set with the real ``sample_mflix`` schema.

Pure functions of a seed: the same ``seed`` and sizes give the same documents,
so tests can compute expected answers from what was generated. Text, names and
places come from Faker; the small closed vocabularies of the schema (genres,
ratings, kinds) are the real data set's own values.
"""

from __future__ import annotations

import datetime
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from faker import Faker

# The closed vocabularies of sample_mflix.
GENRES = (
    "Drama", "Comedy", "Romance", "Crime", "Thriller", "Action", "Adventure", "Documentary",
    "Horror", "Mystery", "Biography", "Family", "Fantasy", "Sci-Fi", "History", "Animation",
    "Music", "War", "Western", "Short", "Sport", "Musical", "Film-Noir", "News",
)
RATED = ("G", "PG", "PG-13", "R", "NOT RATED", "UNRATED", "APPROVED", "TV-G", "TV-14", "TV-MA")
COUNTRY_WEIGHTS = {"USA": 40, "UK": 10, "France": 8, "Germany": 5, "Italy": 5, "Canada": 5,
                   "Japan": 5, "India": 4, "Spain": 4, "Sweden": 2}
RUNTIME_CHOICES = (8, 45, 75, 85, 95, 105, 118, 130, 150, 200)

# bcrypt of a random, unprinted secret: demo MFlix users look like the real
# data (``$2b$`` hashes) but nobody can log in as them.
_EPOCH = datetime.datetime(2024, 6, 1)


@dataclass(frozen=True, slots=True)
class Sizes:
    movies: int = 1500
    comments: int = 4000
    users: int = 150
    theaters: int = 200
    sessions: int = 20


@dataclass(slots=True)
class DemoData:
    movies: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    theaters: list[dict[str, Any]] = field(default_factory=list)

    def collections(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "movies": self.movies, "comments": self.comments, "users": self.users,
            "sessions": self.sessions, "theaters": self.theaters,
        }


def _object_id(rng: random.Random, moment: datetime.datetime) -> ObjectId:
    # Deterministic ObjectIds whose timestamp is the document's creation time.
    seconds = max(0, int(moment.replace(tzinfo=datetime.UTC).timestamp()))
    return ObjectId(seconds.to_bytes(4, "big") + rng.randbytes(8))


def _ms(moment: datetime.datetime) -> datetime.datetime:
    """BSON dates hold milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _lastupdated(rng: random.Random) -> str:
    moment = datetime.datetime(2015, 8, 1) + datetime.timedelta(seconds=rng.randrange(86400 * 60))
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{rng.randrange(1000):03d}000000"


def _imdb_rating(rng: random.Random) -> float | str:
    rating = round(rng.triangular(1.5, 9.6, 6.8), 1)
    roll = rng.random()
    if roll < 0.02:
        return ""  # missing rating, as in the raw data
    if roll < 0.06:
        return f"{rating}"  # rating stored as a string, fixed by `migrate`
    return rating


def movie(fake: Faker, rng: random.Random, people: list[str]) -> dict[str, Any]:
    year = rng.randint(1915, 2016)
    released = _ms(datetime.datetime(year, rng.randint(1, 12), rng.randint(1, 28)))
    kind = "series" if rng.random() < 0.05 else "movie"
    wins, nominations = rng.randrange(12), rng.randrange(20)
    document: dict[str, Any] = {
        "_id": _object_id(rng, datetime.datetime(2013, 1, 1) + datetime.timedelta(
            seconds=rng.randrange(86400 * 365))),
        "title": fake.catch_phrase().title(),
        "year": year,
        "runtime": rng.choice(RUNTIME_CHOICES) + rng.randrange(-5, 6),
        "released": released,
        "plot": fake.sentence(nb_words=14),
        "fullplot": fake.paragraph(nb_sentences=5),
        "poster": "https://m.media-amazon.com/images/M/"
        f"{fake.pystr(min_chars=24, max_chars=24)}.jpg",
        "genres": rng.sample(GENRES, rng.randint(1, 3)),
        "cast": rng.sample(people, rng.randint(2, 5)),
        "directors": rng.sample(people[:len(people) // 4], rng.randint(1, 2)),
        "writers": rng.sample(people, rng.randint(1, 3)),
        "countries": rng.sample(list(COUNTRY_WEIGHTS), 1) if rng.random() < 0.3 else
        rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()), k=1),
        "languages": [fake.language_name() for _ in range(rng.randint(1, 2))],
        "rated": rng.choice(RATED),
        "awards": {"wins": wins, "nominations": nominations,
                   "text": f"{wins} wins & {nominations} nominations."},
        "imdb": {"rating": _imdb_rating(rng), "votes": rng.randrange(5, 500_000),
                 "id": rng.randrange(1, 9_999_999)},
        "lastupdated": _lastupdated(rng),
        "type": kind,
        "num_mflix_comments": 0,
    }
    if rng.random() < 0.85:
        critic_reviews = rng.randrange(0, 300)
        document["tomatoes"] = {
            "viewer": {"rating": round(rng.uniform(1, 5), 1),
                       "numReviews": rng.randrange(0, 250_000),
                       "meter": rng.randrange(0, 101)},
            "critic": {"rating": round(rng.uniform(1, 10), 1), "numReviews": critic_reviews,
                       "meter": rng.randrange(0, 101)},
            "fresh": critic_reviews // 2,
            "rotten": critic_reviews - critic_reviews // 2,
            "lastUpdated": _ms(datetime.datetime(2015, 6, 1) + datetime.timedelta(
                seconds=rng.randrange(86400 * 120))),
        }
    if rng.random() < 0.3:
        document["metacritic"] = rng.randrange(10, 101)
    return document


def generate(sizes: Sizes, seed: int = 42, password_hash: str = "") -> DemoData:
    """All collections at once (the counters of comments per movie must agree)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people = [fake.name() for _ in range(max(40, sizes.movies // 3))]
    movies = [movie(fake, rng, people) for _ in range(sizes.movies)]
    users = list(_users(fake, rng, sizes.users, password_hash))
    comments = list(_comments(fake, rng, sizes.comments, movies, users))
    counts: dict[ObjectId, int] = {}
    for comment in comments:
        counts[comment["movie_id"]] = counts.get(comment["movie_id"], 0) + 1
    for document in movies:
        document["num_mflix_comments"] = counts.get(document["_id"], 0)
    return DemoData(
        movies=movies,
        comments=comments,
        users=users,
        sessions=list(_sessions(rng, users[: sizes.sessions])),
        theaters=list(_theaters(fake, rng, sizes.theaters)),
    )


def _users(fake: Faker, rng: random.Random, count: int, password_hash: str) -> Iterator[
    dict[str, Any]
]:
    seen: set[str] = set()
    while len(seen) < count:
        name = fake.name()
        email = f"{name.lower().replace(' ', '_').replace('.', '')}@{fake.free_email_domain()}"
        if email in seen:
            continue
        seen.add(email)
        yield {"_id": _object_id(rng, datetime.datetime(2017, 9, 1)), "name": name,
               "email": email, "password": password_hash}


def _comments(
    fake: Faker, rng: random.Random, count: int, movies: list[dict[str, Any]],
    users: list[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    if not movies or not users:
        return
    # A few movies draw many comments, most draw few, as on a real site.
    weights = [rng.paretovariate(1.2) for _ in movies]
    chosen = rng.choices(movies, weights=weights, k=count)
    for target in chosen:
        author = rng.choice(users)
        start = max(target["released"], datetime.datetime(1990, 1, 1))
        span = int((_EPOCH - start).total_seconds())
        date = _ms(start + datetime.timedelta(seconds=rng.randrange(max(span, 1))))
        yield {"_id": _object_id(rng, date), "name": author["name"], "email": author["email"],
               "movie_id": target["_id"], "text": fake.paragraph(nb_sentences=3), "date": date}


def _sessions(rng: random.Random, users: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for user in users:
        # Stale sessions of the old site: not tokens this service accepts.
        token = hashlib.sha256(rng.randbytes(16)).hexdigest()
        yield {"_id": _object_id(rng, datetime.datetime(2018, 1, 1)), "user_id": user["email"],
               "jwt": f"legacy.{token}"}


def _theaters(fake: Faker, rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    for number in range(count):
        yield {
            "_id": _object_id(rng, datetime.datetime(2017, 8, 28)),
            "theaterId": 1000 + number,
            "location": {
                "address": {"street1": fake.street_address(), "city": fake.city(),
                            "state": fake.state_abbr(), "zipcode": fake.zipcode()},
                "geo": {"type": "Point",
                        "coordinates": [round(rng.uniform(-124.0, -67.5), 5),
                                        round(rng.uniform(25.5, 48.9), 5)]},
            },
        }
