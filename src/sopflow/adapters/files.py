"""Atomic writes and path confinement."""

from __future__ import annotations

import contextlib
import os
import stat
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
    """``path`` relative to ``root`` with '/': lexically first (a symbolic link keeps its own name)."""
    with contextlib.suppress(ValueError):
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


MAX_FILE_BYTES = 10_000_000  # sopflow reads no file larger than this (tickets, pages, config, workflows)


def read_bytes(path: Path, display: str) -> bytes:
    """Read a file of at most MAX_FILE_BYTES; a larger one is a clear error naming it (nothing is read)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SopflowError("not a regular file", where=display)
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SopflowError("file not found", where=display) from None
    except OSError as exc:
        raise SopflowError(f"cannot read: {exc.strerror}", where=display) from None
    if len(data) > MAX_FILE_BYTES:
        raise SopflowError(f"file too large (more than {MAX_FILE_BYTES // 1_000_000} MB)", where=display)
    return data


def read_text(path: Path, display: str) -> str:
    """Read a UTF-8 file; a file that is not UTF-8 (or too large) is a clear error naming it."""
    data = read_bytes(path, display)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SopflowError(f"not valid UTF-8 (byte {exc.start})", where=display) from None
