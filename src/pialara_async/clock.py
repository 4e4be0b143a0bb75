"""The one clock of stored times: UTC without tzinfo, at BSON's millisecond precision,
so a time read back from MongoDB equals the one written."""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    moment = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
