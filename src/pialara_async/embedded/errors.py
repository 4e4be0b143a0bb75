"""Command errors answered with MongoDB's codes, names and labels."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    def __init__(
        self, code: int, code_name: str, message: str, labels: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.code_name = code_name
        self.labels = labels

    def document(self) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "ok": 0.0, "code": self.code, "codeName": self.code_name, "errmsg": str(self)
        }
        if self.labels:
            reply["errorLabels"] = list(self.labels)
        return reply
