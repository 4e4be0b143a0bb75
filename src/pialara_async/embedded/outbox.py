"""Keep every committed write's change event when other events take tokens.

mongoeco's SQLite engine hands committed writes to the change-stream hub from
a transactional outbox, numbered by the outbox, and drops any whose number is
below the hub's next token, taking it for a re-delivery. Events published
outside the outbox (the ``invalidate`` of a dropped collection, events of
writes inside a transaction) also take hub tokens, so after each of them the
next committed write's event was silently dropped: measured, the first insert
after dropping a collection never reached any change stream.

Here a delivery is a repeat only when its outbox number was already delivered
in this process; a new one is published at the hub's next token. Deliveries
resume after the engine's persisted consumer checkpoint, so across a restart
only a crash between publishing and checkpointing could repeat an event
(recorded in docs/embedded.md).
"""

from __future__ import annotations

import threading
from typing import Any

from mongoeco.engines.adapter import EngineSpiAdapter

_installed = False
_lock = threading.Lock()
_delivered: dict[int, int] = {}


def _deliver_committed_change(sink: Any, change: Any) -> None:
    with _lock:
        if change.sequence <= _delivered.get(id(sink), 0):
            return
        _delivered[id(sink)] = change.sequence
    # Moves the hub's counter up to the outbox number only (never down), which
    # records skipped numbers as a gap as before.
    sink.align_commit_sequence(change.sequence)
    if change.is_gap:
        sink.mark_gap()
    elif change.payload is not None:
        sink.publish(**change.payload)


def install() -> None:
    global _installed
    if not _installed:
        EngineSpiAdapter._deliver_committed_change = staticmethod(_deliver_committed_change)
        _installed = True
