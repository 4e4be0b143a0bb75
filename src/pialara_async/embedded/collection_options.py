"""``collMod``: change a collection's options, which mongoeco cannot.

mongoeco keeps each collection's options (``validator``...) as JSON in its
``collections`` table and reads them at every write, but has no command to
change them. The layer changes them there, with the engine to itself:
``changeStreamPreAndPostImages`` (read by ``update_events`` at each write),
``validator``, ``validationLevel`` and ``validationAction``, as MongoDB's
``collMod`` does. Index options (``index``) and views are not supported:
refused with 72 InvalidOptions.
"""

from __future__ import annotations

from typing import Any

from mongoeco.core.json_compat import json_dumps_compact
from mongoeco.engines._sqlite_catalog import load_collection_options

from pialara_async.embedded.engine_access import EngineAccess
from pialara_async.embedded.errors import CommandError

CHANGEABLE = ("changeStreamPreAndPostImages", "validator", "validationLevel",
              "validationAction")
# Fields of every command, not options.
_GENERIC = {"collMod", "$db", "lsid", "$clusterTime", "writeConcern", "comment",
            "$readPreference", "txnNumber", "maxTimeMS", "apiVersion", "apiStrict",
            "apiDeprecationErrors"}
_LEVELS = ("off", "strict", "moderate")
_ACTIONS = ("error", "warn")
WAIT_SECONDS = 10.0


def _changes(command: dict[str, Any]) -> dict[str, Any]:
    changes = {key: value for key, value in command.items() if key not in _GENERIC}
    for key, value in changes.items():
        if key not in CHANGEABLE:
            raise CommandError(72, "InvalidOptions",
                               f"collMod option {key!r} is not supported by the embedded server")
        if key == "changeStreamPreAndPostImages" and not (
                isinstance(value, dict) and set(value) == {"enabled"}
                and isinstance(value["enabled"], bool)):
            raise CommandError(14, "TypeMismatch",
                               "changeStreamPreAndPostImages must be {enabled: <bool>}")
        if key == "validator" and not isinstance(value, dict):
            raise CommandError(14, "TypeMismatch", "validator must be a document")
        if key == "validationLevel" and value not in _LEVELS:
            raise CommandError(2, "BadValue", f"validationLevel must be one of {_LEVELS}")
        if key == "validationAction" and value not in _ACTIONS:
            raise CommandError(2, "BadValue", f"validationAction must be one of {_ACTIONS}")
    return changes


async def coll_mod(client: Any, access: EngineAccess, db_name: str,
                   command: dict[str, Any]) -> dict[str, Any]:
    name = command.get("collMod")
    if not isinstance(name, str) or not name:
        raise CommandError(73, "InvalidNamespace", "collMod needs a collection name")
    changes = _changes(command)
    engine = client._engine
    engine = getattr(engine, "engine", engine)  # mongoeco's adapter holds the engine
    async with access.exclusive(WAIT_SECONDS):
        with engine._lock:
            conn = engine._connection
            options = load_collection_options(conn, db_name, name)
            if options is None:
                raise CommandError(26, "NamespaceNotFound", f"ns does not exist: {db_name}.{name}")
            if changes.get("changeStreamPreAndPostImages") == {"enabled": False}:
                options.pop("changeStreamPreAndPostImages", None)
                changes.pop("changeStreamPreAndPostImages")
            options.update(changes)
            try:
                encoded = json_dumps_compact(options, sort_keys=True)
            except TypeError as error:
                raise CommandError(2, "BadValue", "the embedded server keeps collection "
                                                  f"options as JSON: {error}") from error
            with conn:
                conn.execute("UPDATE collections SET options_json = ? "
                             "WHERE db_name = ? AND coll_name = ?", (encoded, db_name, name))
            engine._invalidate_collection_features_cache(db_name, name)
    return {"ok": 1.0}
