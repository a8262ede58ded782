"""Benchmark the pull-request gate: ``sopflow check --base HEAD~1`` on repositories of growing size.

For each size N (default 1,000 and 10,000) the script writes a repository directly (N ticket files and one
commit), then changes 10 tickets on top (a legal transition each, committed by the person who fires it), and
times, as subprocesses:

- ``sopflow check``                                  (the static check of every file: grows with N)
- ``sopflow check --base HEAD~1``                    (static check + gate)
- ``sopflow check --base HEAD~1 --verify-authors``   (+ one git log -p over the 10 files)

and, in this process, the gate alone with --verify-authors (``sopflow.gate.check_base``), without the static part.
``gate = (check --base) - (check)`` should stay flat as N grows: the gate reads only what changed.

Usage:
    PYTHONPATH=src python bench/check_base_bench.py [--sizes 1000 10000] [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CHANGED = 10

CONFIG = """\
project: bench
timezone: "+08:00"
commit: true
people:
  dev1: {name: Dev One, email: dev1@example.com, roles: [开发]}
  dev2: {name: Dev Two, email: dev2@example.com, roles: [开发, 评审]}
"""
WORKFLOW = """\
type: task
title: 任务
prefix: TASK
roles: [开发, 评审]
fields:
  effort: {type: int, min: 0}
states:
  待办: {initial: true}
  进行中: {}
  评审中: {}
  完成: {final: true}
transitions:
  - {trigger: 开始, source: 待办, dest: 进行中, by: [开发]}
  - {trigger: 提交评审, source: 进行中, dest: 评审中, by: [开发], require: {note: true}}
  - {trigger: 通过, source: 评审中, dest: 完成, by: [评审]}
"""
TICKET = """\
---
id: TASK-{n}
type: task
title: 任务 {n}
state: 待办
reporter: dev{who}
created: 2026-11-21T10:00:00+08:00
updated: 2026-11-21T10:00:00+08:00
effort: {effort}
history:
  - {{at: 2026-11-21T10:00:00+08:00, by: dev{who}, action: create, to: 待办}}
---
背景：第 {n} 个任务的描述。
"""


def env_for(email: str = "bench@example.com", name: str = "Bench") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SOPFLOW_"))}
    env.update({
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        "GIT_CONFIG_NOSYSTEM": "1",
        "SOPFLOW_NOW": "2026-11-22T10:00:00+08:00",
        "PYTHONPATH": str(SRC),
    })
    return env


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", *args], cwd=root, env=env or env_for(), check=True, capture_output=True)


def make_repo(root: Path, n: int) -> None:
    """N tickets written directly, one commit; then 10 tickets moved by a legal transition, one more commit."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "sopflow.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "workflows").mkdir()
    (root / "workflows" / "task.yaml").write_text(WORKFLOW, encoding="utf-8")
    tdir = root / "tickets"
    tdir.mkdir()
    for i in range(1, n + 1):
        (tdir / f"TASK-{i}.md").write_text(TICKET.format(n=i, who=1 + i % 2, effort=i % 13), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"{n} tickets")
    step = max(1, n // CHANGED)
    for i in range(1, n + 1, step)[:CHANGED]:
        path = tdir / f"TASK-{i}.md"
        text = path.read_text("utf-8").replace("state: 待办", "state: 进行中\nassignee: dev1")
        entry = "  - {at: 2026-11-22T10:00:00+08:00, by: dev1, action: 开始, from: 待办, to: 进行中, assignee: dev1}\n"
        path.write_text(text.replace("to: 待办}\n---\n", "to: 待办}\n" + entry + "---\n", 1), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"start {CHANGED} tasks", env=env_for("dev1@example.com", "Dev One"))


def timed(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best time of each function; the functions take turns so a busy machine slows them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def cli(root: Path, *args: str) -> Callable[[], object]:
    def go() -> object:
        proc = subprocess.run([sys.executable, "-m", "sopflow", *args], cwd=root, env=env_for(),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"sopflow {' '.join(args)} failed in {root}:\n{proc.stdout}{proc.stderr}")
        return proc

    return go


def gate_inprocess(root: Path) -> Callable[[], object]:
    sys.path.insert(0, str(SRC))
    from sopflow.gate import check_base
    from sopflow.project import Project

    def go() -> object:
        problems = check_base(Project(root), "HEAD~1", verify_authors=True)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise SystemExit(f"gate found errors in {root}: {errors[:3]}")
        return problems

    return go


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", help="build the repositories in this folder and keep them")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sopflow-bench-"))
    os.environ.update({"SOPFLOW_NOW": "2026-11-22T10:00:00+08:00"})
    rows = []
    try:
        for n in args.sizes:
            root = base / f"repo-{n}"
            if root.exists():
                shutil.rmtree(root)
            t0 = time.perf_counter()
            make_repo(root, n)
            build = time.perf_counter() - t0
            static, with_base, authors, gate = timed(
                [cli(root, "check"), cli(root, "check", "--base", "HEAD~1"),
                 cli(root, "check", "--base", "HEAD~1", "--verify-authors"), gate_inprocess(root)], args.repeat)
            rows.append((n, build, static, with_base, authors, gate))
            print(f"built {n} tickets in {build:.1f}s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{CHANGED} tickets changed on top; best of {args.repeat} runs, seconds")
    print(f"{'tickets':>8} {'check':>8} {'--base':>8} {'+authors':>9} {'gate=(--base)-(check)':>22} {'gate+authors in-process':>24}")
    for n, _, static, with_base, authors, gate in rows:
        print(f"{n:>8} {static:>8.3f} {with_base:>8.3f} {authors:>9.3f} {with_base - static:>22.3f} {gate:>24.3f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"size x{last[0] / first[0]:.0f}: gate+authors in-process x{last[5] / first[5]:.2f}, "
              f"static check x{last[2] / first[2]:.2f}")


if __name__ == "__main__":
    main()
