"""The ``pialara-async`` command line."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from pymongo.errors import PyMongoError

from pialara_async import logs
from pialara_async.settings import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _fail(message: str, code: int = EXIT_CONFIG) -> None:
    click.echo(f"pialara-async: {message}", err=True)
    sys.exit(code)


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _run_or_fail[T](coroutine: Coroutine[Any, Any, T], what: str) -> T:
    """Run a data command; a database or file failure ends it with one line, exit 1."""
    from pialara_async.embedded.process import EmbeddedStartError

    try:
        return _run(coroutine)
    except (PyMongoError, EmbeddedStartError, OSError) as error:
        _fail(f"{what} failed: {str(error).splitlines()[0][:300]}", code=1)
        raise  # unreachable: _fail exits


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PIALARA_CONFIG",
    help="TOML configuration file [default: ./config.toml when present]",
)
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """MFlix and PIA Lara on aiohttp and Motor."""
    try:
        settings = load_settings(config_file)
    except ConfigError as error:
        _fail(str(error))
    logs.configure(settings.log)
    ctx.obj = settings


MAX_REQUEST_LINE = 65536


@main.command()
@click.option("--host", help="address to bind [default: server.host]")
@click.option("--port", type=int, help="port to bind [default: server.port]")
@click.option("--workers", type=click.IntRange(1, 64),
              help="service processes on the port [default: server.workers; 0 there: one "
                   "per CPU, one on the embedded database]")
@click.option("--frontend", type=click.Path(file_okay=False, path_type=Path),
              help="a built single-page front-end to serve at / [default: "
                   "server.frontend_dir]")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None,
          workers: int | None, frontend: Path | None) -> None:
    """Serve the HTTP API (embedded database when mongodb.uri is empty)."""
    from aiohttp import web

    from pialara_async.app import create_app
    from pialara_async.workers import default_workers, serve_workers

    settings = _settings(ctx)
    if frontend is not None:
        settings = settings.with_overrides(server={"frontend_dir": str(frontend.resolve())})
        os.environ["PIALARA_SERVER__FRONTEND_DIR"] = str(frontend.resolve())  # for workers
    count = workers or settings.server.workers or default_workers(settings)
    if count > 1:
        sys.exit(asyncio.run(serve_workers(settings, host or settings.server.host,
                                           port if port is not None else settings.server.port,
                                           count)))
    # Process-wide, so here rather than in create_app (tests make many apps).
    gc.set_threshold(*settings.server.gc_thresholds)
    try:
        app = create_app(settings)
    except ConfigError as error:
        _fail(str(error))
    app.on_startup.append(_freeze_startup_objects)  # runs after the cleanup contexts start
    web.run_app(
        app,
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        access_log=None,  # our middleware logs each request with its id
        shutdown_timeout=settings.server.shutdown_timeout,
        print=lambda message: click.echo(message.splitlines()[0]),
        # A request line long enough for every query the API describes (20
        # countries of 100 characters, percent-encoded), so aiohttp's parser
        # never refuses one in plain text before the JSON error handling.
        max_line_size=MAX_REQUEST_LINE,
        reuse_port=settings.server.reuse_port or None,
    )


async def _freeze_startup_objects(app: Any) -> None:
    """Modules, settings, the client: kept for the process's life, so out of
    the collector's way (every full collection would walk them again)."""
    gc.collect()
    gc.freeze()


@main.command("embedded-db")
@click.option("--host", help="[default: embedded.host]")
@click.option("--port", type=int, default=27017, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="[default: <data_dir>/db]")
@click.pass_context
def embedded_db(ctx: click.Context, host: str | None, port: int, data_dir: Path | None) -> None:
    """Serve the embedded database alone, for mongosh, Compass or scripts."""
    try:
        from pialara_async.embedded.__main__ import main as serve_embedded
    except ImportError:
        _fail("the embedded database needs the 'embedded' extra: "
              "pip install 'pialara-async[embedded]'")
    from pialara_async.embedded.ownership import current_owner

    settings = _settings(ctx)
    emb = settings.embedded
    directory = data_dir or settings.data_dir / "db"
    owner = current_owner(directory)
    if owner is not None:  # one engine per data directory, as one mongod per dbPath
        _fail(f"{directory} is already served by process {owner.pid} at {owner.uri}: "
              "connect to it there", code=1)
    serve_embedded([
        "--host", host or emb.host,
        "--port", str(port),
        "--data-dir", str(directory),
        "--replica-set", emb.replica_set,
        "--history-size", str(emb.history_size),
    ])


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Connect and describe the deployment; exit 2 when it is unreachable."""
    from pialara_async.db.client import connect
    from pialara_async.embedded.process import EmbeddedStartError
    from pialara_async.repositories import server

    settings = _settings(ctx)

    async def probe() -> server.Deployment:
        async with connect(settings) as (client, _db):
            return await server.describe(client)

    try:
        deployment = _run(probe())
    except (PyMongoError, EmbeddedStartError) as error:
        target = settings.mongodb.uri or "the embedded database"
        _fail(f"cannot reach {target}: {str(error).splitlines()[0][:200]}")
    yes_no = {True: "yes", False: "no"}
    click.echo(f"server version: {deployment.version}")
    click.echo(f"topology: {deployment.topology}")
    click.echo(f"replica set: {deployment.replica_set or '-'}")
    click.echo(f"members: {', '.join(deployment.members) or '-'}")
    click.echo(f"change streams: {yes_no[deployment.change_streams]}")
    click.echo(f"transactions: {yes_no[deployment.transactions]}")
    click.echo(f"driver: {settings.mongodb.driver}")


@main.command()
@click.option("--movies", type=click.IntRange(0, 200_000), default=1000, show_default=True)
@click.option("--comments", type=click.IntRange(0, 1_000_000), default=3000, show_default=True)
@click.option("--users", type=click.IntRange(1, 100_000), default=150, show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True,
              help="the same seed gives the same data")
@click.option("--if-empty", is_flag=True, help="do nothing when movies exist already")
@click.pass_context
def seed(ctx: click.Context, movies: int, comments: int, users: int, seed_value: int,
         if_empty: bool) -> None:
    """Replace the sample collections with generated demo data and demo accounts."""
    from pialara_async.data.demo_recordings import seed_recordings_demo
    from pialara_async.data.generate import Sizes
    from pialara_async.data.seed import create_demo_accounts, seed_demo_data
    from pialara_async.db.client import connect

    settings = _settings(ctx)
    sizes = Sizes(movies=movies, comments=comments, users=users)

    async def run() -> None:
        async with connect(settings) as (client, db):
            if if_empty and await db.movies.estimated_document_count():
                click.echo(f"database {db.name!r} already has movies: left as it is")
                return
            counts = await seed_demo_data(db, sizes, seed_value)
            for name, count in counts.items():
                click.echo(f"{name}: {count}")
            accounts = await create_demo_accounts(db, client, settings)
            ids = {account.role: account.id for account in accounts}
            demo = await seed_recordings_demo(db, ids["admin"], ids["technician"],
                                              ids["client"])
            click.echo(f"phrases: {demo['phrases']}, synthetic recordings of the demo client: "
                       f"{demo['recordings']}")
            click.echo("\nPIA Lara demo accounts (passwords are shown only now):")
            for account in accounts:
                click.echo(f"  {account.role:<11} {account.email:<26} {account.password}")

    _run_or_fail(run(), "seed")


@main.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collection", help="target collection [default: from each file name]")
@click.option("--drop", is_flag=True, help="drop each target collection first")
@click.pass_context
def import_files(ctx: click.Context, files: tuple[Path, ...], collection: str | None,
                 drop: bool) -> None:
    """Load mongoexport JSON or mongodump BSON (.bson, .bson.gz) files."""
    from pialara_async.data.importer import MalformedInput, collection_for, import_file
    from pialara_async.data.migrations import migrate_accounts
    from pialara_async.db.client import connect
    from pialara_async.repositories import indexes, stats

    settings = _settings(ctx)
    if collection is None:
        try:
            targets = [collection_for(path) for path in files]
        except MalformedInput as error:
            _fail(str(error), code=1)
    else:
        targets = [collection] * len(files)

    async def run() -> None:
        totals: dict[str, int] = {}
        async with connect(settings) as (_client, db):
            dropped: set[str] = set()
            for path, target in zip(files, targets, strict=True):
                written = [0]
                try:
                    result = await import_file(db, path, collection=target,
                                               drop=drop and target not in dropped,
                                               written=written)
                except (MalformedInput, PyMongoError) as error:
                    done = ", ".join(f"{k}: {v}" for k, v in totals.items()) or "nothing"
                    _fail(f"{str(error).splitlines()[0][:300]}\n"
                          f"{written[0]} documents of {path.name} were written to {target!r} "
                          f"before the error; earlier files: {done}", code=1)
                dropped.add(target)
                totals[result.collection] = totals.get(result.collection, 0) + result.written
            await indexes.ensure_indexes(db)
            if {"users", "comments"} & totals.keys():
                for migrated in await migrate_accounts(db):
                    if migrated.changed:
                        click.echo(f"{migrated.name}: {migrated.changed} changed")
            await stats.refresh_director_stats(db)
            for name, count in totals.items():
                click.echo(f"{name}: {count} imported, {await db[name].count_documents({})} "
                           "in the collection")

    _run_or_fail(run(), "import")


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Run the course's data migrations (idempotent) and print what changed."""
    from pialara_async.data.migrations import migrate as run_migrations
    from pialara_async.db.client import connect
    from pialara_async.repositories import stats

    settings = _settings(ctx)

    async def run() -> None:
        async with connect(settings) as (_client, db):
            for result in await run_migrations(db):
                left = f", {result.skipped} left unconverted" if result.skipped else ""
                click.echo(f"{result.name}: {result.changed} changed{left}")
            await stats.refresh_director_stats(db)

    _run_or_fail(run(), "migrate")
