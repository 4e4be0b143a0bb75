"""Log output: text lines, or one JSON object per line (``log.format``).

JSON lines come from ``python-json-logger``: the record's message plus every
field a caller passes in ``extra`` (the access log passes request id, route,
method, status, duration and user id). Nothing secret is ever passed: query
credentials are redacted before the access log sees the URL.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from pialara_async.settings import LogSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def formatter(settings: LogSettings) -> logging.Formatter:
    if settings.format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level",
                                                         "name": "logger",
                                                         "asctime": "time"})
    return logging.Formatter(TEXT_FORMAT)


def configure(settings: LogSettings, stream: TextIO = sys.stderr) -> None:
    """Replace the root logger's handlers with one writing ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
