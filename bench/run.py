#!/usr/bin/env python3
"""Time sopflow commands on generated repositories and write bench/RESULTS.md.

    python bench/run.py [--tickets 10000] [--commits 50000] [--big 100000] [--runs 5] [--quick] [--peer]

Repositories are made by bench/gen.py and cached in bench/out/ (git-ignored). Each row of ROWS is run as a whole
process: one warm-up run, then --runs timed runs; the table gives the median, min and max wall time, the peak
RSS of the child (``os.wait4``), the target and pass/fail. A command that exits non-zero is reported as
``error: <first line of stderr>``; the run goes on. To add a benchmark, add a Row to ROWS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
FIXTURE = ROOT / "tests" / "bench_fixture"
sys.path.insert(0, str(HERE))

import gen  # noqa: E402  (bench/gen.py, next to this file)

TIMEOUT = 300.0  # seconds, per run


# --------------------------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Repo:
    key: str  # "main", "small", "big", "peer"
    path: Path
    meta: dict[str, Any]
    gen_seconds: float | None = None  # None: taken from the cache
    worktree: Path | None = None  # for rows that change the repository

    @property
    def label(self) -> str:
        if self.key == "peer":
            return f"backlog.md, {self.meta['tickets']:,} tasks"
        return f"{self.meta['tickets']:,} tickets, {self.meta['commits']:,} commits"

    @property
    def range(self) -> str:
        """The whole history after the root commit (tagged v0.1)."""
        return f"{self.meta['tags'][0]}..HEAD"

    def sample(self, key: str) -> Any:
        sample = self.meta.get("sample")
        if not sample:
            raise LookupError("the generator found no ticket with a transition to fire")
        return sample[key]


@dataclass
class Spec:
    key: str
    tickets: int
    commits: int
    wiki: int = 100
    bulk: bool = False


def source_dir(given: Path | None) -> Path:
    if given:
        return given
    if any((ROOT / "examples").glob("*/example.yaml")):
        return ROOT
    print(f"note: no examples in {ROOT / 'examples'} yet; using the test fixture {FIXTURE}")
    return FIXTURE


def ensure_repo(spec: Spec, source: Path, seed: int, regen: bool) -> Repo:
    digest = gen.load_source(source).digest
    name = f"t{spec.tickets}-c{spec.commits}-w{spec.wiki}-s{seed}{'-bulk' if spec.bulk else ''}-{digest}"
    path = OUT / name
    meta_file = path / ".git" / gen.META_FILE
    if not regen and meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("generator") == gen.GENERATOR_VERSION:
            print(f"[{spec.key}] cached {path.relative_to(ROOT)}")
            return Repo(spec.key, path, meta)
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(path.with_name(path.name + ".wt"), ignore_errors=True)
    argv = [sys.executable, str(HERE / "gen.py"), str(path), "--tickets", str(spec.tickets),
            "--commits", str(spec.commits), "--wiki", str(spec.wiki), "--seed", str(seed),
            "--workflows", str(source)]
    if spec.bulk:
        argv.append("--bulk")
    print(f"[{spec.key}] generating {spec.tickets:,} tickets, {spec.commits:,} commits ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    took = time.perf_counter() - t0
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return Repo(spec.key, path, meta, gen_seconds=took)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def worktree(repo: Repo) -> Path:
    """A throwaway work tree of ``repo`` for commands that write (made once, reset before every run)."""
    if repo.worktree is None:
        wt = repo.path.with_name(repo.path.name + ".wt")
        if not (wt / ".git").exists():
            shutil.rmtree(wt, ignore_errors=True)
            git(repo.path, "worktree", "prune")
            git(repo.path, "worktree", "add", "--detach", "--force", str(wt), "HEAD")
        repo.worktree = wt
    return repo.worktree


def restore(path: Path) -> None:
    git(path, "reset", "-q", "--hard", "HEAD")
    git(path, "clean", "-fdq")


def drop_index(path: Path) -> None:
    """Delete sopflow's cache (``.git/sopflow/``) so the next command starts cold."""
    dirs = git(path, "rev-parse", "--absolute-git-dir", "--git-common-dir").split("\n")
    for d in dirs:
        if d.strip():
            p = Path(d.strip())
            p = p if p.is_absolute() else path / p
            shutil.rmtree(p / "sopflow", ignore_errors=True)


# --------------------------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str  # the command as shown in the table
    repo: str  # which repository: "main" (--tickets), "small" (1,000), "big" (--big), "peer"
    args: Callable[[Repo], list[str]]  # after `python -m sopflow -C REPO` (or the whole command when raw)
    target_s: float | None = None  # the median must not exceed it
    target_mib: float | None = None  # nor the peak RSS this
    relative_to: str | None = None  # or: at most `factor` times the median of this earlier row
    factor: float = 1.0
    setup: Callable[[Path], None] | None = None  # before every run (warm-up included), given the work tree
    mutates: bool = False  # runs on a throwaway worktree, restored before each run
    raw: bool = False  # args is a whole command line, not a sopflow command
    peer: bool = False  # only with --peer


NOTE = "背景: benchmark run. 进展: none. 下一步: none."
ROWS: list[Row] = [
    Row("sopflow --help", "main", lambda r: ["--help"], target_s=0.12),
    Row("list --format json (warm)", "main", lambda r: ["list", "--format", "json"], target_s=0.25, target_mib=120),
    Row("list (first run, no index)", "main", lambda r: ["list"], target_s=1.8, setup=drop_index),
    Row("board (warm)", "main", lambda r: ["board"], target_s=0.3),
    Row("inbox (warm)", "main", lambda r: ["--as", r.meta["busy_person"], "inbox"], target_s=0.3),
    Row("sla (warm)", "main", lambda r: ["sla"], target_s=0.3),
    Row("show ID", "main", lambda r: ["show", r.sample("id")], target_s=0.2),
    Row("do ID TRIGGER --no-commit", "main", lambda r: ["--as", r.sample("as"), "--no-commit", *r.sample("args")],
        target_s=0.2, mutates=True),
    Row("list --text WORD (warm)", "main", lambda r: ["list", "--text", r.meta["text_word"]], target_s=0.5),
    Row("check (warm)", "main", lambda r: ["check"], target_s=0.6),
    Row("check (cold, no index)", "main", lambda r: ["check"], target_s=3.0, setup=drop_index),
    Row("git log --format=%H v0.1..HEAD (baseline)", "main",
        lambda r: ["git", "-C", str(r.path), "log", "--format=%H", r.range], raw=True),
    Row("git log v0.1..HEAD (bare, for reference)", "main", lambda r: ["git", "-C", str(r.path), "log", r.range],
        raw=True),
    Row("release-notes v0.1..HEAD", "main", lambda r: ["release-notes", r.range],
        relative_to="git log --format=%H v0.1..HEAD (baseline)", factor=3.0),
    Row("release-notes v0.1..HEAD (cold: no cache)", "main", lambda r: ["release-notes", r.range],
        setup=drop_index),
    Row("list (warm, big repo)", "big", lambda r: ["list"], target_s=1.5),
    Row("check --base HEAD~10 (10 changed, small repo)", "small", lambda r: ["check", "--base", "HEAD~10"]),
    Row("check --base HEAD~10 (10 changed)", "main", lambda r: ["check", "--base", "HEAD~10"],
        relative_to="check (warm)", factor=1.3),
    Row("peer: backlog task list --plain", "peer", lambda r: [str(r.meta["bin"]), "task", "list", "--plain"],
        raw=True, peer=True),
    Row("peer: backlog task view ID --plain", "peer",
        lambda r: [str(r.meta["bin"]), "task", "view", r.meta["view_id"], "--plain"], raw=True, peer=True),
]


# --------------------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    maxrss_kib: int
    code: int
    first_line: str


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run ``argv`` as a whole process; wall time and the child's peak RSS from ``os.wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        first = ""
        if code != 0:
            err.seek(0)
            out.seek(0)
            first = first_line(err.read().decode("utf-8", "replace")) or first_line(
                out.read().decode("utf-8", "replace")) or f"exit code {code}"
            if code < 0:
                first = f"killed by signal {-code}" + (f" (timeout {TIMEOUT:.0f} s)" if seconds >= TIMEOUT else "")
    return Run(seconds, int(usage.ru_maxrss), code, first)


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback"):
        return lines[-1]  # the exception, not the traceback header
    return lines[0]


@dataclass
class Result:
    row: Row
    repo: str
    runs: list[Run] = field(default_factory=list)
    error: str | None = None
    target: str = "—"
    verdict: str = ""

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(r.maxrss_kib for r in self.runs) / 1024


SOPFLOW_SRC = ROOT / "src"


def compile_sources() -> None:
    """Write the bytecode of the sopflow being timed, as ``pip install`` does: a shell with
    PYTHONDONTWRITEBYTECODE set would otherwise make every timed run compile the package from source."""
    import compileall

    compileall.compile_dir(str(SOPFLOW_SRC), quiet=1)


def child_env(repo: Repo) -> dict[str, str]:
    env = dict(os.environ)
    # Time sopflow as an installed package runs: with its bytecode cached (see compile_sources).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOPFLOW_SRC), env.get("PYTHONPATH", "")) if p)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "160"
    env.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    if "now" in repo.meta:
        env["SOPFLOW_NOW"] = repo.meta["now"]
    if "busy_person" in repo.meta:
        env["SOPFLOW_USER"] = repo.meta["busy_person"]
    return env


def bench_row(row: Row, repo: Repo, runs: int, done: dict[str, Result]) -> Result:
    res = Result(row, repo.label)
    target_s, res.target = target_of(row, done)
    try:
        path = worktree(repo) if row.mutates else repo.path
        args = row.args(repo)
    except (LookupError, subprocess.CalledProcessError) as exc:
        res.error = f"error: {exc}"
        return res
    argv = args if row.raw else [sys.executable, "-m", "sopflow", "-C", str(path), *args]
    env = child_env(repo)
    for i in range(runs + 1):  # the first run is the warm-up
        if row.mutates:
            restore(path)
        if row.setup:
            row.setup(path)
        run = run_once(argv, path, env)
        if run.code != 0:
            res.error = f"error: {run.first_line}"
            break
        if i:
            res.runs.append(run)
    if row.mutates:
        restore(path)
    if res.error:
        return res
    if target_s is None and row.target_mib is None:
        res.verdict = "—"
    else:
        ok = (target_s is None or res.median <= target_s) and (row.target_mib is None or res.peak_mib <= row.target_mib)
        res.verdict = "pass" if ok else "FAIL"
    return res


def target_of(row: Row, done: dict[str, Result]) -> tuple[float | None, str]:
    """The time limit for ``row`` (seconds or None) and how the table shows the target."""
    limits = []
    target_s = row.target_s
    if row.relative_to:
        base = done.get(row.relative_to)
        if base and base.runs:
            target_s = row.factor * base.median
            limits.append(f"≤ {row.factor:g}× baseline = {target_s:.3f} s")
        else:
            limits.append(f"≤ {row.factor:g}× baseline (no baseline)")
    elif target_s is not None:
        limits.append(f"≤ {target_s:g} s")
    if row.target_mib is not None:
        limits.append(f"≤ {row.target_mib:g} MiB")
    return target_s, ", ".join(limits) or "—"


# --------------------------------------------------------------------------------------------------------------
# The peer: backlog.md
# --------------------------------------------------------------------------------------------------------------


def setup_peer(n_tasks: int, seed: int) -> Repo | str:
    """Install backlog.md from the npm registry and generate a repository of ``n_tasks``; or say why not."""
    npm = shutil.which("npm")
    if not npm:
        return "npm not found"
    prefix = OUT / "peer"
    binary = prefix / "node_modules" / ".bin" / "backlog"
    if not binary.exists():
        print("[peer] npm install backlog.md ...", flush=True)
        try:
            subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                            "backlog.md"], check=True, timeout=600, capture_output=True, text=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = getattr(exc, "stderr", "") or ""
            return f"npm install backlog.md failed: {first_line(tail) or exc}"
        if not binary.exists():
            return "npm installed backlog.md but no `backlog` binary"
    path = OUT / f"backlog-t{n_tasks}-s{seed}"
    if not (path / "backlog" / "config.yml").is_file():
        print(f"[peer] generating a backlog.md repository of {n_tasks:,} tasks ...", flush=True)
        shutil.rmtree(path, ignore_errors=True)
        make_backlog_repo(path, n_tasks, seed)
    meta = {"tickets": n_tasks, "bin": str(binary), "view_id": f"task-{n_tasks // 2}"}
    return Repo("peer", path, meta)


def make_backlog_repo(path: Path, n_tasks: int, seed: int) -> None:
    import random

    rng = random.Random(seed)
    g = gen.Generator(gen.load_source(FIXTURE), n_tasks, 2, 0, seed)
    tasks = path / "backlog" / "tasks"
    tasks.mkdir(parents=True)
    (path / "backlog" / "config.yml").write_text(
        'project_name: "Bench"\ndefault_status: "To Do"\nstatuses: ["To Do", "In Progress", "Done"]\n'
        "labels: []\ndate_format: yyyy-mm-dd hh:mm\nauto_commit: false\nremote_operations: false\n"
        "check_active_branches: false\nauto_open_browser: false\n", encoding="utf-8")
    for i in range(1, n_tasks + 1):
        created = gen.START + rng.randrange(gen.END - gen.START)
        title, slug = g.make_title(created)
        status = rng.choices(["To Do", "In Progress", "Done"], weights=[15, 10, 75])[0]
        labels = rng.sample(gen.LABELS, rng.choice([0, 1, 2]))
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(created + gen.TZ_OFFSET))
        items = "".join(f"- [{'x' if status == 'Done' else ' '}] #{k} {s}\n"
                        for k, s in enumerate(rng.sample(gen.STEPS, 3), 1))
        text = (
            f"---\nid: task-{i}\ntitle: {gen.q(title)}\nstatus: {status}\n"
            f"assignee: [{gen.q('@' + g.pick_person())}]\ncreated_date: '{when}'\n"
            f"labels: {gen.flow_list(labels)}\ndependencies: []\n"
            f"priority: {rng.choice(['high', 'medium', 'low'])}\n---\n\n## Description\n\n"
            f"{g.make_body(created)}\n## Acceptance Criteria\n<!-- AC:BEGIN -->\n{items}<!-- AC:END -->\n"
        )
        name = slug or "-".join(title.split())[:40]
        name = "".join(c for c in name if c.isalnum() or c in "-_") or "task"
        (tasks / f"task-{i} - {name}.md").write_text(text, encoding="utf-8")
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "backlog: generated tasks"]):
        subprocess.run(["git", "-C", str(path), *cmd], check=True, env=env)


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def machine() -> str:
    gitv = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs (nproc), "
            f"Python {platform.python_version()}, {gitv}")


def render(results: list[Result], repos: dict[str, Repo], args: argparse.Namespace, skipped: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# sopflow benchmark results",
        "",
        f"- date: {now}",
        f"- machine: {machine()}",
        f"- runs: {args.runs} timed runs per row after one warm-up; wall seconds of the whole process; "
        "peak RSS of the child (`os.wait4`)",
        f"- command: `{shlex.join(['python', 'bench/run.py', *sys.argv[1:]])}`",
        "",
        "Repositories (made by `bench/gen.py`, cached in `bench/out/`):",
        "",
        "| repo | tickets | open | commits | ticket commits | wiki pages | generated in |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, repo in repos.items():
        m = repo.meta
        if key == "peer":
            continue
        took = f"{repo.gen_seconds:.1f} s" if repo.gen_seconds is not None else f"{m.get('seconds', 0):.1f} s (cached)"
        lines.append(f"| {key} | {m['tickets']:,} | {m.get('open', 0):,} | {m['commits']:,} | "
                     f"{m.get('ticket_commits', 0):,} | {m.get('wiki', 0):,} | {took} |")
    lines += [
        "",
        "| command | repo | median s | min s | max s | peak MiB | target | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for res in results:
        name = res.row.name.replace("|", "\\|")
        if res.error:
            err = res.error.replace("|", "\\|")[:160]
            lines.append(f"| {name} | {res.repo} | | | | | {res.target} | {err} |")
            continue
        times = [r.seconds for r in res.runs]
        lines.append(f"| {name} | {res.repo} | {res.median:.3f} | {min(times):.3f} | {max(times):.3f} | "
                     f"{res.peak_mib:.0f} | {res.target} | {res.verdict} |")
    if skipped:
        lines += ["", "Skipped:", "", *(f"- {s}" for s in skipped)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time sopflow commands on generated repositories.")
    ap.add_argument("--tickets", type=int, default=None, help="tickets in the main repository (10,000)")
    ap.add_argument("--commits", type=int, default=None, help="commits in the main repository (50,000)")
    ap.add_argument("--big", type=int, default=None, help="tickets in the big repository (100,000; 0 = skip)")
    ap.add_argument("--big-commits", type=int, default=300)
    ap.add_argument("--runs", type=int, default=None, help="timed runs per row (5)")
    ap.add_argument("--quick", action="store_true", help="1,000 tickets, 5,000 commits, 2 runs, no big repo")
    ap.add_argument("--peer", action="store_true", help="also time backlog.md on 10,000 tasks (needs npm)")
    ap.add_argument("--only", action="append", default=None, help="only rows whose name contains this")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workflows", type=Path, default=None, help="source of workflows (see gen.py)")
    ap.add_argument("--regen", action="store_true", help="regenerate the repositories")
    ap.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--sopflow-src", type=Path, default=None,
                    help="the src/ folder of the sopflow to time (default: this checkout's)")
    args = ap.parse_args(argv)
    if args.sopflow_src:
        global SOPFLOW_SRC
        SOPFLOW_SRC = args.sopflow_src.resolve()
    if args.quick:
        args.tickets = args.tickets or 1000
        args.commits = args.commits or 5000
        args.runs = args.runs or 2
        args.big = args.big if args.big is not None else 0
    args.tickets = args.tickets or 10000
    args.commits = args.commits or 5 * args.tickets
    args.runs = args.runs or 5
    args.big = 100000 if args.big is None else args.big

    compile_sources()
    rows = [r for r in ROWS if (args.peer or not r.peer)]
    if args.only:
        rows = [r for r in rows if any(o in r.name for o in args.only)]
    source = source_dir(args.workflows)
    OUT.mkdir(parents=True, exist_ok=True)
    specs = {
        "main": Spec("main", args.tickets, args.commits),
        "small": Spec("small", 1000, 5000),
        "big": Spec("big", args.big, args.big_commits, bulk=True),
    }
    repos: dict[str, Repo] = {}
    skipped: list[str] = []
    results: list[Result] = []
    done: dict[str, Result] = {}
    unavailable: dict[str, str] = {}
    if args.big <= 0:
        unavailable["big"] = f"no big repository (--big 0{' / --quick' if args.quick else ''})"
    for row in rows:
        if row.repo in unavailable:
            skipped.append(f"{row.name}: {unavailable[row.repo]}")
            continue
        if row.repo not in repos:
            if row.repo == "peer":
                peer = setup_peer(args.tickets, args.seed)
                if isinstance(peer, str):
                    unavailable["peer"] = peer
                    skipped.append(f"{row.name}: {peer}")
                    continue
                repos["peer"] = peer
            else:
                repos[row.repo] = ensure_repo(specs[row.repo], source, args.seed, args.regen)
        repo = repos[row.repo]
        print(f"{row.name:<50} {repo.label:<36}", end=" ", flush=True)
        res = bench_row(row, repo, args.runs, done)
        done[row.name] = res
        results.append(res)
        if res.error:
            print(res.error)
        else:
            print(f"median {res.median:.3f} s  peak {res.peak_mib:.0f} MiB  {res.target}  {res.verdict}")
    text = render(results, repos, args, skipped)
    args.output.write_text(text, encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
