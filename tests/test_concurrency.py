"""Parallel sopflow processes on one repository: no lost update, never two actions in one commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import Repo

SRC = str(Path(__file__).resolve().parent.parent / "src")


def test_parallel_comments_and_transitions_lose_nothing(repo: Repo) -> None:
    for title in ("a", "b"):
        assert repo.run("new", "issue_track", "--title", title, as_="alice").code == 0
    env = {**repo.env, "PYTHONPATH": SRC, "SOPFLOW_USER": "alice"}
    procs = []
    n = 8
    for i in range(n):
        tid = "ISS-1" if i % 2 == 0 else "ISS-2"
        procs.append(subprocess.Popen([sys.executable, "-m", "sopflow", "comment", tid, f"comment {i}"],
                                      cwd=repo.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    notes = []
    for tid in ("ISS-1", "ISS-2"):
        data = json.loads(repo.run("show", tid, "--format", "json").out)
        notes += [e["note"] for e in data["history"] if e["action"] == "comment"]
    assert sorted(notes) == sorted(f"comment {i}" for i in range(n))
    log = repo.git("log", f"-{n}", "--format=%x00%B")
    commits = [c for c in log.split("\x00") if c.strip()]
    assert len(commits) == n
    for body in commits:
        assert body.count("Sopflow-Action:") == 1 and body.count("Sopflow-Ticket:") == 1
    assert repo.git("status", "--porcelain").strip() == ""
    repo.git("fsck", "--no-progress")


def test_lock_timeout_says_busy(repo: Repo) -> None:
    import fcntl

    assert repo.run("new", "issue_track", "--title", "a", as_="alice").code == 0
    lock_dir = repo.root / ".git" / "sopflow"
    lock_dir.mkdir(exist_ok=True)
    fd = os.open(lock_dir / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        before = repo.snapshot()
        res = repo.run("comment", "ISS-1", "x", as_="alice", env={"SOPFLOW_LOCK_TIMEOUT": "0.3"})
        assert res.code == 1 and "repository busy" in res.err
        assert repo.snapshot() == before
    finally:
        os.close(fd)
    assert repo.run("comment", "ISS-1", "x", as_="alice").code == 0
