"""One error root: every user-facing failure is a SopflowError with an exit code and a one-line message."""

from __future__ import annotations


class SopflowError(Exception):
    """A user-facing error: printed as one line on stderr, never as a traceback.

    ``where`` names the file or ticket the error is about; it prefixes the message.
    """

    exit_code = 1

    def __init__(self, message: str, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def line(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.splitlines())


class UsageError(SopflowError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2
