"""Git at the edge: a thin subprocess adapter returning plain values.

Commits are made with plumbing on a private index (read-tree HEAD, add the changed files, write-tree,
commit-tree, update-ref with the old value) so that exactly the files a command changed go into the
commit, whatever else the user has staged, and a concurrent change of HEAD is detected instead of lost.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from sopflow.errors import SopflowError

ZERO = "0" * 40


class GitError(SopflowError):
    pass


def run(root: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
        check: bool = True) -> str:
    full_env = dict(os.environ)
    full_env.pop("GIT_DIR", None)
    full_env.pop("GIT_WORK_TREE", None)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, input=input, capture_output=True, env=full_env, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed (sopflow needs git on PATH)") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout.decode("utf-8", "replace")


def toplevel(path: Path) -> Path | None:
    try:
        out = run(path, "rev-parse", "--show-toplevel", check=False).strip()
    except GitError:
        return None
    return Path(out) if out else None


def head(root: Path) -> str | None:
    out = run(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    return out or None


def config_get(root: Path, key: str) -> str | None:
    out = run(root, "config", "--get", key, check=False).strip()
    return out or None


def commit_paths(root: Path, paths: Sequence[str], message: str, *, deleted: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> str:
    """Commit exactly ``paths`` (repo-relative, as they are on disk) and ``deleted`` on top of HEAD."""
    parent = head(root)
    fd, index = tempfile.mkstemp(prefix="sopflow-index-", dir=git_dir(root))
    os.close(fd)
    os.unlink(index)
    idx_env = {**(env or {}), "GIT_INDEX_FILE": index}
    try:
        if parent:
            run(root, "read-tree", parent, env=idx_env)
        if paths:
            run(root, "update-index", "--add", "--", *paths, env=idx_env)
        if deleted:
            run(root, "update-index", "--force-remove", "--", *deleted, env=idx_env)
        tree = run(root, "write-tree", env=idx_env).strip()
        args = ["commit-tree", tree]
        if parent:
            args += ["-p", parent]
        sha = run(root, *args, input=message.encode("utf-8"), env=env).strip()
        run(root, "update-ref", "-m", "sopflow: " + message.splitlines()[0][:100], "HEAD", sha, parent or ZERO)
    finally:
        if os.path.exists(index):
            os.unlink(index)
    # Bring the user's index in line for these paths only (other staged changes stay staged).
    run(root, "reset", "-q", "--", *paths, *deleted, check=False)
    return sha


def git_dir(root: Path) -> Path:
    out = run(root, "rev-parse", "--absolute-git-dir").strip()
    return Path(out)


def init(root: Path) -> None:
    run(root, "init", "-q")


def tree_names(root: Path, treeishes: Sequence[str]) -> list[str]:
    """Entry names of several trees (``rev:path``) with one ``git cat-file --batch`` call."""
    if not treeishes:
        return []
    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=root, input=("\n".join(treeishes) + "\n").encode("utf-8"),
        capture_output=True, check=False,
    )
    data = proc.stdout
    names: list[str] = []
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[-1] == b"missing":
            continue
        size = int(header[2])
        obj = data[pos : pos + size]
        pos += size + 1
        if header[1] != b"tree":
            continue
        i = 0
        while i < len(obj):
            sp = obj.index(b" ", i)
            nul = obj.index(b"\x00", sp)
            names.append(obj[sp + 1 : nul].decode("utf-8", "replace"))
            i = nul + 21
    return names
