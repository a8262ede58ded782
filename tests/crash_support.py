"""Helpers for the crash tests: run the CLI in a forked child that can be SIGKILLed, and judge the aftermath.

A forked child starts the command at once (no interpreter start-up), so random kills land inside the
command, and patches installed in the child only (``setup``) kill it at an exact point.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import Repo, cli_in_child, run_inprocess

INTERRUPTED = "an earlier sopflow command was interrupted"


def copy_repo(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def tickets(root: Path) -> dict[str, bytes]:
    """Every ticket file (temporary files of atomic writes left out)."""
    d = root / "tickets"
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file() and not p.name.startswith(".")}


def temp_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "tickets").iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def fork_cli(root: Path, env: dict[str, str], argv: list[str], *, setup: Callable[[], None] | None = None,
             log: Path | None = None) -> int:
    """Start ``sopflow argv`` in a forked child (its own process group); return its pid."""
    pid = os.fork()
    if pid == 0:  # the child: never returns

        def prepare() -> None:
            import sys

            os.setpgid(0, 0)
            fd = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115

        cli_in_child(root, env, argv, prepare=prepare, setup=setup)
    return pid


def wait(pid: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child {pid} did not finish within {timeout} s")
        time.sleep(0.002)


def git_bytes(root: Path, env: dict[str, str], *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, check=True).stdout


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fsck(root: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(["git", "fsck", "--no-progress", "--no-dangling"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"git fsck failed: {proc.stdout}{proc.stderr}"


@dataclass
class Scenario:
    """A command to kill, with the ticket files before it and after it (from an uninterrupted reference run)."""

    argv: list[str]
    before: dict[str, bytes]
    after: dict[str, bytes]
    subject: str  # of the commit it makes


@dataclass
class Outcome:
    state: str  # "old" (the command did not happen) or "new" (it happened, once, whole)
    refused: bool  # the next command refused and named 'sopflow recover'
    left_journal: bool


NEXT = ["comment", "ISS-3", "the next command"]  # touches a ticket no scenario touches


def judge_and_recover(root: Path, env: dict[str, str], sc: Scenario, *, recover_with: str) -> Outcome:
    """The checks every killed run must pass, then the recovery a user would do, then all-or-nothing."""
    now = tickets(root)
    for name in set(sc.before) | set(sc.after) | set(now):
        assert now.get(name) in (sc.before.get(name), sc.after.get(name)), f"{name}: neither the old nor the new bytes"
    fsck(root, env)
    left_journal = (root / ".git" / "sopflow" / "journal.json").exists()
    res = run_inprocess(NEXT, env, root)
    refused = False
    if res.code != 0:
        assert INTERRUPTED in res.err and "sopflow recover --finish" in res.err and "--undo" in res.err, res.err
        assert len(res.err.strip().splitlines()) == 1, res.err
        refused = True
        status = run_inprocess(["recover"], env, root)
        assert status.code == 0 and "interrupted:" in status.out, status
        rec = run_inprocess(["recover", recover_with], env, root)
        assert rec.code == 0, rec.err
        assert tickets(root) == (sc.after if recover_with == "--finish" else sc.before)
        res = run_inprocess(NEXT, env, root)
        assert res.code == 0, res.err
    assert temp_files(root) == [], temp_files(root)
    repo = Repo(root, env)
    assert repo.git("status", "--porcelain") == "", repo.git("status", "--porcelain")
    fsck(root, env)
    # all or nothing: at most one commit made the action, holding exactly its new bytes
    log = [line.split("\x00") for line in repo.git("log", "--format=%H%x00%s").splitlines()]
    made = [sha for sha, subject in log if subject == sc.subject]
    assert len(made) <= 1, made
    changed = {n for n in set(sc.before) | set(sc.after) if sc.before.get(n) != sc.after.get(n)}
    now = tickets(root)
    state = "new" if made else "old"
    for name in changed:
        want = (sc.after if made else sc.before).get(name)
        assert now.get(name) == want, f"{name}: the action is {'committed' if made else 'absent'} but the file disagrees"
        if made:
            assert git_bytes(root, env, "show", f"{made[0]}:tickets/{name}") == want
    return Outcome(state, refused, left_journal)
