"""Atomic writes and path confinement."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from sopflow.errors import SopflowError


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old bytes or the new bytes, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = None
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def confine(root: Path, rel: str, *, under: str | None = None, what: str = "path") -> Path:
    """Resolve ``rel`` (relative to the repository root) and refuse anything outside ``root``/``under``."""
    if not rel or "\x00" in rel:
        raise SopflowError(f"invalid {what} {rel!r}")
    raw = Path(rel)
    if raw.is_absolute():
        raise SopflowError(f"{what} {rel!r} must be relative to the repository root")
    base = (root / under).resolve() if under else root.resolve()
    target = (root / raw).resolve()
    if target != base and base not in target.parents:
        where = f"the {under}/ folder" if under else "the repository"
        raise SopflowError(f"{what} {rel!r} is outside {where}")
    return target


def rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_text(path: Path, display: str) -> str:
    """Read a UTF-8 file; a file that is not UTF-8 is a clear error naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SopflowError("file not found", where=display) from None
    except OSError as exc:
        raise SopflowError(f"cannot read: {exc.strerror}", where=display) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SopflowError(f"not valid UTF-8 (byte {exc.start})", where=display) from None
