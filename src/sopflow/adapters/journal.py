"""A write-ahead journal, so a command killed half-way is finished or undone, never left half-applied.

:meth:`sopflow.project.Project.apply` records, before it touches any file, ``<git dir>/sopflow/journal.json``
(written atomically): what the command was, its commit message, the commit it builds on, and every file's
old bytes (or its absence) and new bytes. Then it writes the files (each atomically), makes the commit and
removes the journal. A kill anywhere in between leaves the journal behind, and the next mutating command
(inside the repository lock) settles it:

- the commit was made (a commit after the recorded parent carries the message, or HEAD holds the new bytes):
  the journal and the interrupted command's leftovers are cleaned up, silently;
- no file was changed yet: the journal is dropped (the command did not happen; a note says so);
- anything else: the command refuses with one line naming ``sopflow recover --finish`` (write what is missing
  and commit) and ``sopflow recover --undo`` (restore the old bytes).

Leftovers cleaned up on the way: temporary files of interrupted atomic writes (``.NAME.*.tmp``), the private
index of an interrupted commit, and git lock files (``index.lock``, ``HEAD.lock``, the branch's ``.lock``)
that the killed command left after it wrote the journal.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sopflow.adapters import files
from sopflow.adapters.lock import git_dir_of
from sopflow.errors import SopflowError

NAME = "journal.json"
VERSION = 1
STALE_LOCK_AGE = 1.0  # seconds a git lock file must have existed before it is taken for a leftover


class Interrupted(SopflowError):
    """A mutating command found the journal of an interrupted command it cannot settle by itself."""


@dataclass
class Entry:
    path: str  # relative to the repository root, with '/'
    old: bytes | None  # None: the file did not exist
    new: bytes


@dataclass
class Journal:
    what: str  # "ISS-3 提交审核": the tickets and the action
    message: str
    commit: bool
    parent: str | None
    entries: list[Entry]
    author_env: dict[str, str] = field(default_factory=dict)
    pid: int = 0

    def paths(self) -> list[str]:
        return [e.path for e in self.entries]


def state_dir(root: Path) -> Path:
    """Where the lock and the journal live: ``<git dir>/sopflow`` (``.sopflow`` outside git)."""
    base = git_dir_of(root)
    return base / "sopflow" if base.is_dir() else root / ".sopflow"


def journal_path(root: Path) -> Path:
    return state_dir(root) / NAME


def exists(root: Path) -> bool:
    return journal_path(root).is_file()


# ---------------------------------------------------------------- writing
def begin(root: Path, writes: Mapping[str, bytes], message: str, *, what: str, commit: bool,
          author_env: Mapping[str, str] | None = None) -> Journal:
    """Record what is about to be written; refuse when an earlier command's journal is still there."""
    path = journal_path(root)
    if path.is_file():
        raise _interrupted(read(root))
    parent = None
    if commit:
        from sopflow.adapters import gitrepo

        parent = gitrepo.head(root)
    entries = []
    for rel, data in writes.items():
        target = root / rel
        try:
            old: bytes | None = target.read_bytes() if target.is_file() else None
        except OSError:
            old = None
        entries.append(Entry(rel, old, data))
    j = Journal(what=what, message=message, commit=commit, parent=parent, entries=entries,
                author_env=dict(author_env or {}), pid=os.getpid())
    files.atomic_write(path, _dump(j))
    return j


def end(root: Path) -> None:
    """The command is complete: drop the journal."""
    with contextlib.suppress(FileNotFoundError):
        journal_path(root).unlink()


def abort(root: Path, j: Journal) -> None:
    """The command failed with an error: restore the old bytes unless its commit went through.

    Files someone else changed in the meantime are left alone, and so is the journal then.
    """
    if j.commit and committed(root, j):
        _after_commit(root, j)
        end(root)
        return
    ok = True
    for e in j.entries:
        now = _current(root, e.path)
        if now == e.old:
            continue
        if now == e.new:
            _restore(root, e)
        else:
            ok = False
    _remove_temps(root, j)
    if ok:
        end(root)


# ---------------------------------------------------------------- reading
def read(root: Path) -> Journal:
    path = journal_path(root)
    where = files.rel(root, path)
    try:
        raw = json.loads(path.read_text("utf-8"))
        entries = [Entry(str(e["path"]), _dec(e["old"]), _dec(e["new"]) or b"") for e in raw["files"]]
        return Journal(what=str(raw["what"]), message=str(raw["message"]), commit=bool(raw["commit"]),
                       parent=raw.get("parent") or None, entries=entries,
                       author_env={str(k): str(v) for k, v in (raw.get("author_env") or {}).items()},
                       pid=int(raw.get("pid") or 0))
    except FileNotFoundError:
        raise SopflowError("no interrupted command to recover", where=where) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SopflowError(f"the journal of an interrupted command is unreadable ({type(exc).__name__}); "
                           "check 'git status', then delete it", where=where) from None


def _dump(j: Journal) -> bytes:
    data = {
        "version": VERSION, "what": j.what, "commit": j.commit, "parent": j.parent, "pid": j.pid,
        "message": j.message, "author_env": j.author_env,
        "files": [{"path": e.path, "old": _enc(e.old), "new": _enc(e.new)} for e in j.entries],
    }
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _enc(data: bytes | None) -> dict[str, str] | None:
    if data is None:
        return None
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _dec(value: Any) -> bytes | None:
    if value is None:
        return None
    if "text" in value:
        return str(value["text"]).encode("utf-8")
    return base64.b64decode(str(value["base64"]), validate=True)


def _current(root: Path, rel: str) -> bytes | None:
    path = root / rel
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def file_states(root: Path, j: Journal) -> list[tuple[Entry, str]]:
    """Each file as it is now: ``old``, ``new`` or ``changed`` (neither: someone edited it since)."""
    out = []
    for e in j.entries:
        now = _current(root, e.path)
        out.append((e, "new" if now == e.new else "old" if now == e.old else "changed"))
    return out


def committed(root: Path, j: Journal) -> str | None:
    """The commit the interrupted command made, when it made it; None otherwise."""
    from sopflow.adapters import gitrepo

    head = gitrepo.head(root)
    if head is None or head == j.parent:
        return None
    rng = f"{j.parent}..{head}" if j.parent else head
    log = gitrepo.run(root, "log", "-n", "200", "--format=%H%x00%B%x01", rng, check=False)
    want = j.message.strip()
    for rec in log.split("\x01"):
        sha, _, body = rec.strip("\n").partition("\x00")
        if sha and body.strip() == want:
            return sha
    # someone committed the files by hand: HEAD holds the new bytes of every file
    blobs = _head_blobs(root, j.paths())
    if all(blobs.get(e.path) == e.new for e in j.entries):
        return head
    return None


def _head_blobs(root: Path, paths: list[str]) -> dict[str, bytes | None]:
    import subprocess

    if not paths:
        return {}
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=root, capture_output=True, check=False,
                          input="".join(f"HEAD:{p}\n" for p in paths).encode("utf-8"))
    data, pos = proc.stdout, 0
    out: dict[str, bytes | None] = {}
    for p in paths:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[-1] == b"missing":
            out[p] = None
            continue
        size = int(header[2])
        out[p] = data[pos : pos + size]
        pos += size + 1
    return out


# ---------------------------------------------------------------- settling and recovering
def _interrupted(j: Journal) -> Interrupted:
    if j.commit:
        return Interrupted(f"an earlier sopflow command was interrupted ({j.what}): run 'sopflow recover --finish' "
                           "to commit it or 'sopflow recover --undo' to restore the files")
    return Interrupted(f"an earlier sopflow command was interrupted ({j.what}): run 'sopflow recover --finish' "
                       "to complete it or 'sopflow recover --undo' to restore the files")


def settle(root: Path) -> list[str]:
    """At the start of a mutating command (inside the lock): clean up after an interrupted one, or refuse."""
    if not journal_path(root).is_file():
        for tmp in state_dir(root).glob(f".{NAME}.*.tmp"):  # a journal whose writing was interrupted
            with contextlib.suppress(OSError):
                tmp.unlink()
        return []
    j = read(root)
    _remove_temps(root, j)
    if j.commit and committed(root, j):
        _after_commit(root, j)
        end(root)
        return []
    states = {s for _, s in file_states(root, j)}
    if states <= {"old"}:
        _clear_git_locks(root)
        end(root)
        return [f"note: an earlier sopflow command ({j.what}) was interrupted before it changed any file; "
                "it was not done"]
    if not j.commit and states == {"new"}:
        end(root)
        return []
    raise _interrupted(j)


def _settle(root: Path) -> tuple[Journal, str | None]:
    """Read the journal and clean what the killed command left; when its commit had landed after all,
    finish the bookkeeping, drop the journal and return the commit's sha."""
    j = read(root)
    _remove_temps(root, j)
    _clear_git_locks(root)
    if j.commit:
        sha = committed(root, j)
        if sha:
            _after_commit(root, j)
            end(root)
            return j, sha
    return j, None


def finish(root: Path) -> str:
    """``sopflow recover --finish``: write what is missing, commit, drop the journal (inside the lock)."""
    j, sha = _settle(root)
    if sha:
        return f"{j.what}: it had been committed already ({sha[:10]}); cleaned up"
    states = file_states(root, j)
    _refuse_changed(states, "finish")
    for e, state in states:
        if state == "old":
            files.atomic_write(root / e.path, e.new)
    if j.commit:
        from sopflow.adapters import gitrepo

        sha = gitrepo.commit_paths(root, j.paths(), j.message, env=j.author_env or None)
        end(root)
        return f"{j.what}: finished and committed ({sha[:10]})"
    end(root)
    return f"{j.what}: finished (files written, not committed)"


def undo(root: Path) -> str:
    """``sopflow recover --undo``: put the old bytes back and drop the journal (inside the lock)."""
    j, sha = _settle(root)
    if sha:
        raise SopflowError(f"nothing to undo: the interrupted command ({j.what}) had been committed "
                           f"({sha[:10]}); 'git revert {sha[:10]}' undoes it")
    states = file_states(root, j)
    _refuse_changed(states, "undo")
    for e, state in states:
        if state == "new":
            _restore(root, e)
    end(root)
    return f"{j.what}: undone (files restored as they were before it)"


def forget(root: Path) -> str:
    """``sopflow recover --forget``: drop the journal and leave every file as it is."""
    j = read(root)
    _remove_temps(root, j)
    end(root)
    return f"{j.what}: forgotten (files left as they are; see 'git status')"


def status(root: Path) -> list[str]:
    """Lines describing the interrupted command, for ``sopflow recover`` without an option."""
    j = read(root)
    lines = [f"interrupted: {j.what} (process {j.pid})"]
    if running(root):
        lines.append("a sopflow command holds the repository lock right now: it may still be running")
    sha = committed(root, j) if j.commit else None
    if sha:
        lines.append(f"its commit was made ({sha[:10]}); any sopflow command will clean up")
        return lines
    for e, state in file_states(root, j):
        text = {"old": "not written yet", "new": "written", "changed": "changed by someone since"}[state]
        lines.append(f"  {e.path}: {text}")
    lines.append("run 'sopflow recover --finish' to " + ("commit it" if j.commit else "complete it")
                 + " or 'sopflow recover --undo' to restore the files")
    return lines


def running(root: Path) -> bool:
    """Whether another process holds the repository lock (so a journal may belong to a live command)."""
    path = state_dir(root) / "lock"
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _refuse_changed(states: list[tuple[Entry, str]], verb: str) -> None:
    changed = [e.path for e, s in states if s == "changed"]
    if changed:
        raise SopflowError(f"cannot {verb}: {', '.join(changed)} changed since the interrupted command (it holds "
                           "neither the old nor the new bytes); fix it by hand, then run "
                           "'sopflow recover --forget'")


def _restore(root: Path, e: Entry) -> None:
    path = root / e.path
    if e.old is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        files.atomic_write(path, e.old)


def _after_commit(root: Path, j: Journal) -> None:
    """The commit exists: bring the user's index in line for its paths (what commit_paths does last)."""
    from sopflow.adapters import gitrepo

    _clear_git_locks(root)
    gitrepo.run(root, "reset", "-q", "--", *j.paths(), check=False)


def _remove_temps(root: Path, j: Journal) -> None:
    """Temporary files of interrupted atomic writes and the private index of an interrupted commit."""
    folders: dict[Path, set[str]] = {}
    for e in j.entries:
        p = root / e.path
        folders.setdefault(p.parent, set()).add(p.name)
    folders.setdefault(state_dir(root), set()).add(NAME)
    for folder, names in folders.items():
        for name in names:
            for tmp in folder.glob(f".{_glob_escape(name)}.*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
    gd = git_dir_of(root)
    if gd.is_dir():
        for tmp in gd.glob("sopflow-index-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _clear_git_locks(root: Path) -> None:
    """Remove git lock files the interrupted command left (created after its journal, and not fresh)."""
    gd = git_dir_of(root)
    if not gd.is_dir():
        return
    try:
        since = journal_path(root).stat().st_mtime - 2.0
    except OSError:
        return
    common = gd
    with contextlib.suppress(OSError):
        common = (gd / (gd / "commondir").read_text("utf-8").strip()).resolve()
    candidates = [gd / "index.lock", gd / "HEAD.lock", common / "packed-refs.lock"]
    with contextlib.suppress(OSError):
        head = (gd / "HEAD").read_text("utf-8").strip()
        if head.startswith("ref: "):
            candidates.append(common / (head[5:] + ".lock"))
    for lock in candidates:
        try:
            mtime = lock.stat().st_mtime
        except OSError:
            continue
        if mtime < since:
            continue  # older than the interrupted command: not its leftover
        age = time.time() - mtime
        if age < STALE_LOCK_AGE:
            time.sleep(STALE_LOCK_AGE - age)  # a live git process finishes within that; a leftover stays
        with contextlib.suppress(OSError):
            lock.unlink()
