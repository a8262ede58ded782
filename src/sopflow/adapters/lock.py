"""A repository lock so two sopflow commands never interleave their read-modify-write-commit."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sopflow.errors import SopflowError


def git_dir_of(root: Path) -> Path:
    """The git directory of a work tree, found without running git (``.git`` folder or ``gitdir:`` file)."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        text = dot.read_text("utf-8", "replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            return target if target.is_absolute() else (root / target).resolve()
    return dot


@contextlib.contextmanager
def locked(root: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the repository's sopflow lock; wait up to ``timeout`` seconds, then fail with a clear message."""
    if timeout is None:
        try:
            timeout = float(os.environ.get("SOPFLOW_LOCK_TIMEOUT", "30"))
        except ValueError:
            timeout = 30.0
    base = git_dir_of(root)
    folder = base / "sopflow" if base.is_dir() else root / ".sopflow"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SopflowError(f"repository busy: another sopflow command holds the lock (waited "
                                       f"{timeout:g}s); retry in a moment") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
