"""The shipped CI integrations work as written: the pre-commit hook refuses a bad commit in a real repository,
and the GitHub Actions and GitLab CI commands of docs/ci.md pass a good change and fail a bad one."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import Repo

ROOT = Path(__file__).resolve().parent.parent


def shim(tmp_path: Path) -> Path:
    """A ``sopflow`` executable on PATH that runs this checkout's code, like an installed console script."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "sopflow"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT / "src"}" exec "{sys.executable}" -m sopflow "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return bindir


def with_path(env: dict[str, str], bindir: Path) -> dict[str, str]:
    return {**env, "PATH": f"{bindir}{os.pathsep}{env.get('PATH', os.defpath)}"}


def start(repo: Repo) -> str:
    r = repo.run("new", "issue_track", "--title", "Cable", "--set", "customer_type=金融", as_="alice")
    assert r.code == 0, r.err
    return next((repo.root / "tickets").glob("ISS-1*.md")).relative_to(repo.root).as_posix()


# ---------------------------------------------------------------- pre-commit
HOOK = """#!{python}
# What pre-commit does for a hook from .pre-commit-hooks.yaml (language: python, pass_filenames: false).
import re, subprocess, sys, yaml
hook = next(h for h in yaml.safe_load(open({hooks!r}, encoding="utf-8")) if h["id"] == {hook_id!r})
staged = subprocess.run(["git", "diff", "--cached", "--name-only"], capture_output=True, text=True).stdout.split()
if not any(re.search(hook["files"], f) for f in staged):
    sys.exit(0)
sys.exit(subprocess.run(hook["entry"], shell=True).returncode)
"""


@pytest.fixture
def hooked(repo: Repo, tmp_path: Path) -> Repo:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.format(python=sys.executable, hooks=str(ROOT / ".pre-commit-hooks.yaml"),
                                hook_id="sopflow-check"))
    hook.chmod(0o755)
    repo.env = with_path(repo.env, shim(tmp_path))
    return repo


def commit(repo: Repo, message: str) -> subprocess.CompletedProcess[str]:
    repo.git("add", "-A")
    return subprocess.run(["git", "commit", "-m", message], cwd=repo.root, env=repo.env, capture_output=True,
                          text=True)


def test_pre_commit_hook_refuses_a_bad_commit(hooked: Repo) -> None:
    rel = start(hooked)
    head = hooked.git("rev-parse", "HEAD")
    text = hooked.read(rel)
    hooked.write(rel, text.replace("state: 维护人员处理", "state: 关闭"))
    proc = commit(hooked, "close it by hand")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"{rel}:5: error: state is '关闭' but the history entries lead to '维护人员处理'" in out
    assert hooked.git("rev-parse", "HEAD") == head  # nothing committed


def test_pre_commit_hook_lets_a_good_commit_through(hooked: Repo) -> None:
    start(hooked)
    r = hooked.run("--no-commit", "comment", "ISS-1", "客户已确认", as_="fan")
    assert r.code == 0, r.err
    proc = commit(hooked, "comment")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooked.write("README.md", "not a sopflow file\n")
    assert commit(hooked, "readme").returncode == 0


def test_pre_commit_hooks_file_is_valid() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert {h["id"] for h in hooks} == {"sopflow-check", "sopflow-check-files"}
    for h in hooks:
        assert {"id", "name", "entry", "language"} <= set(h)
        assert h["entry"].startswith("sopflow check")
        assert h["pass_filenames"] is False
        re.compile(h["files"])


# ---------------------------------------------------------------- docs/ci.md
def blocks() -> list[dict[str, Any]]:
    text = (ROOT / "docs" / "ci.md").read_text("utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def github_step() -> str:
    [wf] = [b for b in blocks() if isinstance(b, dict) and "check" in (b.get("jobs") or {})]
    steps = wf["jobs"]["check"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    [run] = [s["run"] for s in steps if "run" in s and s["run"].startswith("sopflow check")]
    return str(run)


def gitlab_script() -> str:
    [job] = [b["sopflow"] for b in blocks() if isinstance(b, dict) and "sopflow" in b]
    assert job["variables"]["GIT_DEPTH"] == "0"
    [run] = [s for s in job["script"] if s.startswith("sopflow check")]
    return str(run)


def bash(cmd: str, repo: Repo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-ec", cmd], cwd=repo.root, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("good", [True, False])
def test_github_actions_example(repo: Repo, tmp_path: Path, good: bool) -> None:
    alice = {"GIT_AUTHOR_EMAIL": "alice@example.com"}
    rel = start(repo)
    repo.git("checkout", "-q", "-b", "pr")
    r = repo.run("tick", "ISS-1", "1", "2", as_="alice", env=alice)
    assert r.code == 0, r.err
    if not good:
        repo.write(rel, repo.read(rel).replace("state: 维护人员处理", "state: 关闭"))
        repo.commit_all("by hand")
    # what actions/checkout gives a pull_request run: the merge of the pull request into its base
    repo.git("checkout", "-q", "--detach", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "pr")
    proc = bash(github_step(), repo, with_path(repo.env, shim(tmp_path)))
    if good:
        assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    else:
        assert proc.returncode == 1
        assert f"::error file={rel},line=5,title=sopflow gate-state::state is '关闭'" in proc.stdout


@pytest.mark.parametrize("good", [True, False])
def test_gitlab_ci_example(repo: Repo, tmp_path: Path, good: bool) -> None:
    rel = start(repo)
    repo.git("checkout", "-q", "-b", "mr")
    fan = {"GIT_AUTHOR_EMAIL": "fan@example.com"}
    r = repo.run("comment", "ISS-1", "ok", as_="fan", env=fan if good else {"GIT_AUTHOR_EMAIL": "bob@example.com"})
    assert r.code == 0, r.err
    base = repo.git("merge-base", "main", "HEAD").strip()
    env = with_path({**repo.env, "CI_MERGE_REQUEST_DIFF_BASE_SHA": base}, shim(tmp_path))
    proc = bash(gitlab_script(), repo, env)
    if good:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1
        assert f"{rel}:13: error: history entry 2 says by fan <fan@example.com> but was committed by " \
               "<bob@example.com>" in proc.stdout
