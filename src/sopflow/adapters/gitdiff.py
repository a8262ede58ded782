"""Git reads behind ``check --base``: what changed since a revision, old file contents, who added a line.

Each function is one git process and returns plain values; the gate never touches git otherwise.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from sopflow.adapters.gitrepo import GitError, run


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def resolve_commit(root: Path, rev: str) -> str:
    """The full commit id ``rev`` names; a clear error when it names none."""
    if not rev or rev.startswith("-") or any(c in rev for c in "\n\r\0"):
        raise GitError(f"--base {rev!r} is not a revision")
    sha = run(root, "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}", check=False).strip()
    if not sha:
        raise GitError(f"--base {rev}: no such revision in this repository (fetch it first, e.g. "
                       "git fetch origin main, and check out with full history)")
    return sha


@dataclass(frozen=True)
class Change:
    """One changed file: status A (added), M (modified), D (deleted) or R (renamed; both paths).

    ``old_blob`` is the object id of the old version (read it by id: no path lookup in a large tree).
    """

    status: str
    old: str | None
    new: str | None
    old_blob: str | None = None


def changed_files(root: Path, rev: str, dirs: Sequence[str]) -> list[Change]:
    """Files under ``dirs`` that differ between ``rev`` and the work tree (renames detected), one git call."""
    out = run(root, "diff", "--raw", "-z", "-M", "--no-abbrev", "--no-ext-diff", "--no-textconv", "--no-color",
              rev, "--", *dirs)
    parts = out.split("\0")
    changes: list[Change] = []
    i = 0
    while i < len(parts) and parts[i].startswith(":"):
        meta = parts[i].split()  # :old_mode new_mode old_sha new_sha status
        kind = meta[4][:1] if len(meta) > 4 else "M"
        blob = meta[2] if len(meta) > 2 and meta[2].strip("0") else None
        if kind in ("R", "C"):
            old, new = parts[i + 1], parts[i + 2]
            i += 3
            changes.append(Change("R", old, new, blob) if kind == "R" else Change("A", None, new))
            continue
        path = parts[i + 1]
        i += 2
        if kind == "A":
            changes.append(Change("A", None, path))
        elif kind == "D":
            changes.append(Change("D", path, None, blob))
        else:  # M, T (type change), U (unmerged)
            changes.append(Change("M", path, path, blob))
    return changes


def untracked(root: Path, dirs: Sequence[str]) -> list[str]:
    """Untracked, not ignored files under ``dirs`` (new tickets not yet added)."""
    out = run(root, "ls-files", "-z", "--others", "--exclude-standard", "--", *dirs)
    return [x for x in out.split("\0") if x]


def grep_files(root: Path, words: Iterable[str], dirs: Sequence[str]) -> list[str]:
    """Files under ``dirs`` (tracked or not) containing any of ``words`` as a whole word."""
    args = ["grep", "-l", "-z", "-I", "-F", "-w", "--untracked", "--no-color"]
    words = list(words)
    if not words:
        return []
    for w in words:
        args += ["-e", w]
    out = run(root, *args, "--", *dirs, check=False)
    return [x for x in out.split("\0") if x]


class CatFile:
    """One ``git cat-file --batch`` process answering many object requests (``rev:path``)."""

    def __init__(self, root: Path) -> None:
        try:
            self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
        except FileNotFoundError:
            raise GitError("git is not installed (sopflow needs git on PATH)") from None

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._proc.wait()

    def get_many(self, specs: Sequence[str]) -> list[bytes | None]:
        """The content of each object (None when missing or not a file); requests are pipelined."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        asked = [s for s in specs if "\n" not in s and "\r" not in s]
        payload = "".join(s + "\n" for s in asked).encode("utf-8")
        writer = threading.Thread(target=_write, args=(stdin, payload), daemon=True)
        writer.start()
        got: dict[str, bytes | None] = {}
        for spec in asked:
            header = stdout.readline().split()
            if len(header) < 3:  # "<spec> missing" / "ambiguous"
                got[spec] = None
                continue
            size = int(header[2])
            data = stdout.read(size)
            stdout.read(1)
            got[spec] = data if header[1] == b"blob" else None
        writer.join()
        return [got.get(s) for s in specs]


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(payload)
    stream.flush()


def added_lines(root: Path, rev: str, paths: Sequence[str]) -> dict[str, str]:
    """Line text → author email of the newest commit in ``rev..HEAD`` that added that line to ``paths``.

    Merge commits are read as combined diffs (``--cc``): a line a merge adds that neither parent had (written
    while resolving it) belongs to the merge's author.
    """
    if not paths or run(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() == "":
        return {}
    out = run(root, "log", "--reverse", "-p", "--cc", "-M", "-U0", "--no-color", "--no-ext-diff",
              "--no-textconv", "--format=%x01%ae", f"{rev}..HEAD", "--", *paths, check=False)
    found: dict[str, str] = {}
    email = ""
    cols = 0  # 0: not inside a hunk; else how many parents the diff compares with
    for line in out.split("\n"):
        if line.startswith("\x01"):
            email, cols = line[1:].strip(), 0
        elif line.startswith("diff --"):
            cols = 0
        elif line.startswith("@@"):
            cols = len(line) - len(line.lstrip("@")) - 1
        elif cols and line[:cols] == "+" * cols:
            found[line[cols:].rstrip("\r")] = email
    return found
