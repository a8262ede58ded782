"""Crash safety: a mutating command killed at any moment leaves every ticket file with its old or its new
bytes, a repository that passes ``git fsck``, and a next command that works (after at most
``sopflow recover``); the action happens wholly, in one commit, or not at all.

Three kinds of kill: at every interesting point (patched into a forked child), at random moments in a
forked child (many runs, cheap, landing inside the command), and at random moments in a real
``python -m sopflow`` subprocess. ``SOPFLOW_KILL_RUNS`` / ``SOPFLOW_KILL_SEED`` change the random runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Repo, run_inprocess
from crash_support import (
    INTERRUPTED,
    NEXT,
    Scenario,
    copy_repo,
    fork_cli,
    judge_and_recover,
    kill_self,
    temp_files,
    tickets,
    wait,
)

SRC = str(Path(__file__).resolve().parent.parent / "src")
SCENARIOS = {
    "comment": ["comment", "ISS-1", "killed comment 背景…"],
    "do": ["do", "ISS-1", "更新进展", "--note", "进展: killed transition"],
    "link": ["link", "ISS-1", "--relates", "ISS-2"],  # two files, one commit
    "new": ["new", "issue_track", "--title", "created under fire"],
}


@pytest.fixture
def env(repo: Repo) -> dict[str, str]:
    return {**repo.env, "SOPFLOW_USER": "alice"}


@pytest.fixture
def template(repo: Repo, env: dict[str, str]) -> Repo:
    for title in ("one", "two", "three"):
        assert run_inprocess(["new", "issue_track", "--title", title], env, repo.root).code == 0
    return repo


def make_scenario(template: Repo, env: dict[str, str], tmp: Path, name: str, *, global_opts: list[str] | None = None
                  ) -> Scenario:
    ref = copy_repo(template.root, tmp / f"ref-{name}")
    argv = [*(global_opts or []), *SCENARIOS[name]]
    before = tickets(ref)
    res = run_inprocess(argv, env, ref)
    assert res.code == 0, res.err
    subject = Repo(ref, env).git("log", "-1", "--format=%s").strip()
    return Scenario(argv, before, tickets(ref), subject)


# ---------------------------------------------------------------- kills at exact points
def at_write(n: int, how: str) -> Callable[[], None]:
    """Kill at the n-th atomic write (1 = the journal): ``before`` it, or ``mid`` (temp written, not renamed)."""

    def setup() -> None:
        from sopflow.adapters import files

        original, replace, count = files.atomic_write, os.replace, [0]

        def atomic_write(path: Path, data: bytes) -> None:
            count[0] += 1
            if count[0] == n and how == "before":
                kill_self()
            original(path, data)

        def killing_replace(src: str, dst: str) -> None:
            if count[0] == n:
                kill_self()
            replace(src, dst)

        files.atomic_write = atomic_write  # type: ignore[assignment]
        if how == "mid":
            os.replace = killing_replace  # type: ignore[assignment]

    return setup


def at_git(sub: str, when: str, leave_lock: str | None = None) -> Callable[[], None]:
    """Kill ``before``/``after`` a git subcommand; ``leave_lock`` first creates the lock file git would
    leave behind if it were killed inside that subcommand."""

    def setup() -> None:
        from sopflow.adapters import gitrepo

        original = gitrepo.run

        def run(root: Path, *args: str, **kw: object) -> str:
            if args and args[0] == sub and when == "before":
                if leave_lock:
                    (gitrepo.git_dir(root) / leave_lock).write_bytes(b"half-written by a killed git\n")
                kill_self()
            out = original(root, *args, **kw)  # type: ignore[arg-type]
            if args and args[0] == sub and when == "after":
                kill_self()
            return out

        gitrepo.run = run  # type: ignore[assignment]

    return setup


def at_journal_end() -> None:
    from sopflow.adapters import journal

    journal.end = lambda root: kill_self()  # type: ignore[assignment,return-value]


# (point, setup, refused: the next command must send the user to 'recover', committed: the action happened)
POINTS: list[tuple[str, Callable[[], None], bool, bool]] = [
    ("journal half-written", at_write(1, "mid"), False, False),
    ("after the journal, before any file", at_write(2, "before"), False, False),
    ("first file's temp written, not renamed", at_write(2, "mid"), False, False),
    ("between the two files", at_write(3, "before"), True, False),
    ("second file's temp written, not renamed", at_write(3, "mid"), True, False),
    ("files written, before the commit", at_git("read-tree", "before"), True, False),
    ("private index filled", at_git("update-index", "after"), True, False),
    ("tree written", at_git("write-tree", "after"), True, False),
    ("commit object written, HEAD not moved", at_git("commit-tree", "after"), True, False),
    ("git killed in update-ref (ref lock left)", at_git("update-ref", "before", "refs/heads/main.lock"), True, False),
    ("HEAD moved, user's index not refreshed", at_git("update-ref", "after"), False, True),
    ("git killed writing the index (index.lock left)", at_git("reset", "before", "index.lock"), False, True),
    ("index refreshed, journal not removed", at_journal_end, False, True),
]


@pytest.mark.parametrize("recover_with", ["--finish", "--undo"])
@pytest.mark.parametrize(("point", "setup", "refused", "committed"), POINTS, ids=[p[0] for p in POINTS])
def test_kill_at_every_point(template: Repo, env: dict[str, str], tmp_path: Path, point: str,
                             setup: Callable[[], None], refused: bool, committed: bool, recover_with: str) -> None:
    sc = make_scenario(template, env, tmp_path, "link")
    root = copy_repo(template.root, tmp_path / "run")
    code = wait(fork_cli(root, env, sc.argv, setup=setup, log=tmp_path / "child.log"))
    assert code == -signal.SIGKILL, (tmp_path / "child.log").read_text()
    out = judge_and_recover(root, env, sc, recover_with=recover_with)
    assert out.refused == refused
    want = ("new" if recover_with == "--finish" else "old") if refused else ("new" if committed else "old")
    assert out.state == want


# ---------------------------------------------------------------- kills at random moments
def test_random_sigkill_in_forked_commands(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    """Many runs, each killed (SIGKILL, the process alone or its whole group with its git children) after a
    random delay spanning the whole command."""
    rng = random.Random(int(os.environ.get("SOPFLOW_KILL_SEED", "20261121")))
    runs = int(os.environ.get("SOPFLOW_KILL_RUNS", "60"))
    scs = {name: make_scenario(template, env, tmp_path, name) for name in SCENARIOS}
    took = {}
    for name, sc in scs.items():  # calibrate: how long each command takes uninterrupted
        root = copy_repo(template.root, tmp_path / f"calibrate-{name}")
        t0 = time.monotonic()
        assert wait(fork_cli(root, env, sc.argv)) == 0
        took[name] = time.monotonic() - t0
        shutil.rmtree(root)
    stats: Counter[str] = Counter()
    for i in range(runs):
        name = list(scs)[i % len(scs)]
        sc = scs[name]
        root = copy_repo(template.root, tmp_path / f"run-{i}")
        delay = rng.uniform(0.0, took[name] * 1.1)
        group = rng.random() < 0.5
        pid = fork_cli(root, env, sc.argv)
        time.sleep(delay)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            stats["finished before the kill"] += 1
        else:
            with contextlib.suppress(ProcessLookupError):
                (os.killpg if group else os.kill)(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            stats["killed (process group)" if group else "killed (process alone)"] += 1
        if temp_files(root):
            stats["left a temporary file"] += 1
        out = judge_and_recover(root, env, sc, recover_with=rng.choice(["--finish", "--undo"]))
        stats["left a journal"] += out.left_journal
        stats["next command refused, recovered"] += out.refused
        stats[f"action {'done' if out.state == 'new' else 'not done'}"] += 1
        shutil.rmtree(root)
    print(f"\nrandom SIGKILL (forked): {runs} runs, commands took {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in took.items())}: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    killed = stats["killed (process group)"] + stats["killed (process alone)"]
    assert killed >= runs // 2


def test_random_sigkill_in_real_subprocesses(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    """The brief's literal version: ``python -m sopflow comment/do …`` killed after 0–300 ms."""
    rng = random.Random(int(os.environ.get("SOPFLOW_KILL_SEED", "20261121")) + 1)
    runs = int(os.environ.get("SOPFLOW_SUBPROCESS_KILL_RUNS", "12"))
    scs = {name: make_scenario(template, env, tmp_path, name) for name in ("comment", "do")}
    stats: Counter[str] = Counter()
    for i in range(runs):
        sc = scs["comment" if i % 2 == 0 else "do"]
        root = copy_repo(template.root, tmp_path / f"run-{i}")
        proc = subprocess.Popen([sys.executable, "-m", "sopflow", *sc.argv], cwd=root,
                                env={**env, "PYTHONPATH": SRC}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stats["killed"] += 1
        else:
            stats["finished before the kill"] += 1
        proc.wait()
        out = judge_and_recover(root, env, sc, recover_with=rng.choice(["--finish", "--undo"]))
        stats["next command refused, recovered"] += out.refused
        stats[f"action {'done' if out.state == 'new' else 'not done'}"] += 1
        shutil.rmtree(root)
    print(f"\nrandom SIGKILL (python -m sopflow): {runs} runs: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))


# ---------------------------------------------------------------- the journal's other paths
def kill_between_files(template: Repo, env: dict[str, str], tmp_path: Path, *opts: str) -> tuple[Path, Scenario]:
    sc = make_scenario(template, env, tmp_path, "link", global_opts=list(opts))
    root = copy_repo(template.root, tmp_path / "run")
    assert wait(fork_cli(root, env, sc.argv, setup=at_write(3, "before"))) == -signal.SIGKILL
    return root, sc


def test_read_only_commands_work_and_warn(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    root, _ = kill_between_files(template, env, tmp_path)
    for argv in (["show", "ISS-1"], ["list"], ["board"], ["check"]):
        res = run_inprocess(argv, env, root)
        assert res.code == 0, (argv, res.err)
        assert "warning: an earlier sopflow command was interrupted; 'sopflow recover' tells what to do" in res.err
    res = run_inprocess(["comment", "ISS-3", "x"], env, root)
    assert res.code == 1
    assert res.err == ("sopflow: an earlier sopflow command was interrupted (ISS-1 ISS-2 link): run 'sopflow recover "
                       "--finish' to commit it or 'sopflow recover --undo' to restore the files\n")
    status = run_inprocess(["recover"], env, root)
    assert status.code == 0
    assert "interrupted: ISS-1 ISS-2 link" in status.out
    assert "tickets/ISS-2-two.md: written" in status.out and "tickets/ISS-1-one.md: not written yet" in status.out


def test_recover_refuses_a_file_changed_since_then_forget(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    root, _ = kill_between_files(template, env, tmp_path)
    edited = root / "tickets" / "ISS-1-one.md"
    edited.write_bytes(edited.read_bytes() + b"hand edit\n")
    for how in ("--finish", "--undo"):
        res = run_inprocess(["recover", how], env, root)
        assert res.code == 1 and "tickets/ISS-1-one.md changed since the interrupted command" in res.err
        assert edited.read_bytes().endswith(b"hand edit\n")
    res = run_inprocess(["recover", "--forget"], env, root)
    assert res.code == 0 and "forgotten" in res.err
    assert run_inprocess(["recover"], env, root).err.startswith("nothing to recover")
    assert run_inprocess(["comment", "ISS-3", "x"], env, root).code == 0
    assert edited.read_bytes().endswith(b"hand edit\n")


def test_no_commit_mode_finish_writes_without_committing(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    root, sc = kill_between_files(template, env, tmp_path, "--no-commit")
    head = Repo(root, env).git("rev-parse", "HEAD")
    res = run_inprocess(["--no-commit", "comment", "ISS-3", "x"], env, root)
    assert res.code == 1 and "'sopflow recover --finish' to complete it" in res.err
    assert run_inprocess(["recover", "--finish"], env, root).code == 0
    assert {n: b for n, b in tickets(root).items() if n in sc.after} == sc.after
    assert Repo(root, env).git("rev-parse", "HEAD") == head


def test_undo_after_the_commit_names_git_revert(template: Repo, env: dict[str, str], tmp_path: Path) -> None:
    sc = make_scenario(template, env, tmp_path, "comment")
    root = copy_repo(template.root, tmp_path / "run")
    assert wait(fork_cli(root, env, sc.argv, setup=at_journal_end)) == -signal.SIGKILL
    res = run_inprocess(["recover", "--undo"], env, root)
    assert res.code == 1 and "nothing to undo" in res.err and "git revert" in res.err
    assert tickets(root) == sc.after
    assert run_inprocess(NEXT, env, root).code == 0


def test_an_error_during_the_commit_restores_the_files(template: Repo, env: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.adapters import gitrepo

    def failing(*args: object, **kw: object) -> str:
        raise gitrepo.GitError("git update-ref failed: cannot lock ref 'HEAD'")

    monkeypatch.setattr(gitrepo, "commit_paths", failing)
    before = template.snapshot()
    res = run_inprocess(["link", "ISS-1", "--relates", "ISS-2"], env, template.root)
    assert res.code == 1 and "update-ref failed" in res.err
    assert template.snapshot() == before
    assert not (template.root / ".git" / "sopflow" / "journal.json").exists()


def test_recover_with_nothing_to_recover(template: Repo, env: dict[str, str]) -> None:
    res = run_inprocess(["recover", "--finish"], env, template.root)
    assert res.code == 0 and res.err.startswith("nothing to recover")
    assert run_inprocess(["recover", "--finish", "--undo"], env, template.root).code == 2


def test_interrupted_refusal_is_reported_once_and_changes_nothing(template: Repo, env: dict[str, str],
                                                                  tmp_path: Path) -> None:
    root, _ = kill_between_files(template, env, tmp_path)
    repo = Repo(root, env)
    before = repo.snapshot()
    for argv in (["comment", "ISS-3", "x"], ["new", "issue_track", "--title", "x"], ["escalate"]):
        res = run_inprocess(argv, env, root)
        assert res.code == 1 and res.err.count(INTERRUPTED) == 1, res.err
    assert repo.snapshot() == before
