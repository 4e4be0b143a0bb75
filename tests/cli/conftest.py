"""Helpers of the command line's tests."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> (
    subprocess.CompletedProcess[str]
):
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("PIALARA_") and k != "MONGODB_URI"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pialara_async", *args],
        capture_output=True, text=True, timeout=timeout, env=environment, check=False,
    )
