"""Parallel sopflow processes on one repository: no lost update, never two actions in one commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import Repo

from sopflow.core.ids import id_from_filename

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


# Mixed actions by many processes at once: same ticket and different tickets, one- and two-file commits,
# new tickets (IDs must not collide), transitions, field edits, ticks, assignments.
MIXED = [
    ["comment", "ISS-1", "c1-a"], ["comment", "ISS-1", "c1-b"], ["comment", "ISS-1", "c1-c"],
    ["comment", "ISS-1", "c1-d"], ["comment", "ISS-2", "c2-a"], ["comment", "ISS-2", "c2-b"],
    ["new", "issue_track", "--title", "raced one"], ["new", "issue_track", "--title", "raced two"],
    ["new", "issue_track", "--title", "raced three"],
    ["set", "ISS-3", "customer_type=金融"], ["set", "ISS-3", "detail=raced detail"],
    ["tick", "ISS-2", "1"], ["link", "ISS-1", "--relates", "ISS-2"], ["do", "ISS-3", "更新进展", "--note", "raced"],
    ["assign", "ISS-2", "fan"], ["link", "ISS-3", "--parent", "ISS-1"],
]


def test_many_processes_mixed_actions_lose_nothing(repo: Repo) -> None:
    for title in ("a", "b", "c"):
        assert repo.run("new", "issue_track", "--title", title, as_="alice").code == 0
    start = repo.git("rev-parse", "HEAD").strip()
    env = {**repo.env, "PYTHONPATH": SRC, "SOPFLOW_USER": "alice"}
    procs = [subprocess.Popen([sys.executable, "-m", "sopflow", *argv], cwd=repo.root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for argv in MIXED]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    print(f"\nconcurrency: {len(MIXED)} processes raced (mixed actions), all succeeded")
    # one commit per action, each holding exactly the tickets its trailers name
    shas = repo.git("rev-list", f"{start}..HEAD").split()
    assert len(shas) == len(MIXED)
    touched: dict[str, int] = {}
    for sha in shas:
        body = repo.git("show", "-s", "--format=%B", sha)
        assert body.count("Sopflow-Action:") == 1
        named = sorted(line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("Sopflow-Ticket: "))
        changed = sorted(str(id_from_filename(Path(x).name))
                         for x in repo.git("show", "--name-only", "--format=", sha).split())
        assert named == changed, (body, changed)
        for tid in named:
            touched[tid] = touched.get(tid, 0) + 1
    # every action is in the history, once; each commit added exactly one entry to each ticket it names
    data = {d["id"]: d for d in json.loads(repo.run("list", "--format", "json").out)}
    assert sorted(data) == ["ISS-1", "ISS-2", "ISS-3", "ISS-4", "ISS-5", "ISS-6"]
    assert sorted(data[t]["title"] for t in ("ISS-4", "ISS-5", "ISS-6")) == ["raced one", "raced three", "raced two"]
    for tid, d in data.items():
        assert len(d["history"]) == 1 + touched.get(tid, 0) - (1 if tid in ("ISS-4", "ISS-5", "ISS-6") else 0)
    notes = [e.get("note") for t in ("ISS-1", "ISS-2") for e in data[t]["history"] if e["action"] == "comment"]
    assert sorted(notes) == ["c1-a", "c1-b", "c1-c", "c1-d", "c2-a", "c2-b"]
    assert data["ISS-3"]["customer_type"] == "金融" and data["ISS-3"]["detail"] == "raced detail"
    assert data["ISS-2"]["assignee"] == "fan" and data["ISS-3"]["links"]["parent"] == "ISS-1"
    assert data["ISS-1"]["links"]["relates"] == ["ISS-2"] and data["ISS-2"]["links"]["relates"] == ["ISS-1"]
    assert repo.run("check").code == 0
    assert repo.git("status", "--porcelain").strip() == ""
    repo.git("fsck", "--no-progress")
