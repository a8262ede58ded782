"""Problems found by validation: plain records, rendered by the CLI as text, JSON or GitHub annotations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int | None
    severity: str  # "error" | "warning"
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message} [{self.code}]"


def error(path: str, line: int | None, code: str, message: str) -> Problem:
    return Problem(path, line, "error", code, message)


def warning(path: str, line: int | None, code: str, message: str) -> Problem:
    return Problem(path, line, "warning", code, message)
