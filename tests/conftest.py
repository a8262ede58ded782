"""Shared fixtures: real temporary git repositories with sandboxed git config and pinned time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

ISSUE_TRACK = """\
type: issue_track                # must equal the file's stem
title: 网上问题处理
prefix: ISS
roles: [维护处理人, 维护代表, 改进提取SE]
fields:
  issue_level:   {label: 问题级别, type: choice, choices: [一般问题, 严重问题, 紧急问题], default: 一般问题, required: true}
  customer_type: {label: 客户类别, type: choice, choices: [金融, 电网, 煤炭, 其他]}
  detail:        {label: 详细描述, type: text}
  buglist:       {label: Buglist链接, type: link}
  release_note:  {label: 发布说明, type: text}
  due:           {type: date}
  effort:        {type: int, min: 0}
  checked:       {type: bool}
  code:          {type: string, max_length: 5}
  owner:         {type: person}
  tags:          {type: multi, choices: [a, b, c]}
  serial:        {type: string, readonly: true}
states:
  维护人员处理: {initial: true, checklist: sops/issue-handling.md}
  维护代表审核: {}
  SE分析改进:   {}
  关闭:         {final: true}
transitions:
  - trigger: 更新进展
    source: 维护人员处理
    dest: 维护人员处理
    assign_to: reporter
  - trigger: 提交审核
    source: 维护人员处理
    dest: 维护代表审核
    by: [维护处理人]
    require:
      fields: [issue_level, customer_type]
      roles: [维护代表]
      checklist: complete
      note: true
    assign_to: 维护代表
  - trigger: 打回补充信息
    source: 维护代表审核
    dest: 维护人员处理
    by: [维护代表]
    require: {note: true}
    assign_to: 维护处理人
  - trigger: 转SE分析改进
    source: 维护代表审核
    dest: SE分析改进
    by: [维护代表]
    assign_to: 改进提取SE
  - trigger: 问题关闭
    source: [SE分析改进, 维护代表审核]
    dest: 关闭
"""

CONFIG = """\
project: BotHub
timezone: Asia/Shanghai          # used to show times
commit: true
people:
  fan:   {name: 范慧阳, email: fan@example.com,   roles: [维护处理人, 维护代表]}
  alice: {name: Alice,  email: alice@example.com, roles: [维护处理人, 改进提取SE]}
  bob:   {email: bob@example.com, roles: [改进提取SE]}
"""

SOP = """\
---
title: 网上问题处理 SOP
applies_to: {type: issue_track, state: 维护人员处理}
owner: fan
---
## Steps
- [ ] 记录时间、局点、设备型号
- [ ] 判断是否为典型问题，是则在 Buglist 中登记
"""


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SOPFLOW_"))}
    env.update({
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.com",
        "GIT_AUTHOR_DATE": "2026-11-21T10:00:00+08:00",
        "GIT_COMMITTER_DATE": "2026-11-21T10:00:00+08:00",
        "SOPFLOW_NOW": "2026-11-21T10:00:00+08:00",
        "NO_COLOR": "1",
        "COLUMNS": "120",
    })
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Repo:
    root: Path
    env: dict[str, str]

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {args} failed: {proc.stderr}")
        return proc.stdout

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text("utf-8")

    def commit_all(self, message: str = "setup") -> None:
        self.git("add", "-A")
        self.git("commit", "-qm", message)

    def run(self, *args: str, as_: str | None = None, now: str | None = None, env: dict[str, str] | None = None,
            input: str | None = None) -> Result:
        """Run the CLI in-process (fast) with this repo as the working directory."""

        argv = list(args)
        if as_:
            argv = ["--as", as_, *argv]
        full = dict(self.env)
        if now:
            full["SOPFLOW_NOW"] = now
        if env:
            full.update(env)
        return run_inprocess(argv, full, self.root, input)

    def sub(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run the CLI as a real subprocess."""
        full = dict(self.env)
        full.update(env or {})
        full["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src")
        proc = subprocess.run([sys.executable, "-m", "sopflow", *args], cwd=self.root, env=full,
                              capture_output=True, text=True)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def snapshot(self) -> dict[str, bytes]:
        out = {}
        for p in self.root.rglob("*"):
            if ".git" in p.relative_to(self.root).parts or not p.is_file():
                continue
            out[p.relative_to(self.root).as_posix()] = p.read_bytes()
        return out


def run_inprocess(argv: list[str], env: dict[str, str], cwd: Path, input: str | None = None) -> Result:
    import contextlib
    import io

    from sopflow.cli import main

    old_env = dict(os.environ)
    old_cwd = Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    code = 0
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    old_stdin = sys.stdin
    if input is not None:
        sys.stdin = io.StringIO(input)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                err.write(traceback.format_exc())
                code = 99
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return Result(code, out.getvalue(), err.getvalue())


def cli_in_child(root: Path, env: dict[str, str], argv: list[str], *, prepare: Callable[[], None],
                 setup: Callable[[], None] | None = None) -> NoReturn:
    """The rest of a forked child's life: ``prepare()`` (its output, its limits), then ``sopflow argv`` in
    ``root`` with exactly ``env``, after ``setup()``. It leaves with the command's exit code, 99 after an
    unexpected exception (its traceback on stderr), 98 if even that fails; it never returns."""
    code = 98
    try:
        prepare()
        os.chdir(root)
        os.environ.clear()
        os.environ.update(env)
        if setup is not None:
            setup()
        from sopflow.cli import main

        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Iterator[Repo]:
    """A sopflow repo with the SPEC's issue_track workflow, committed."""
    root = tmp_path / "repo"
    root.mkdir()
    r = Repo(root, git_env(home))
    r.git("init", "-q", "-b", "main")
    r.write("sopflow.yaml", CONFIG)
    r.write("workflows/issue_track.yaml", ISSUE_TRACK)
    r.write("sops/issue-handling.md", SOP)
    r.write("wiki/faq/cable.md", "---\ntitle: 线缆类问题排查\ntags: [硬件, 线缆]\ntickets: []\nowner: fan\n"
            "reviewed: 2026-10-01\nreview_every: 90d\n---\n故障现象 / 排查步骤 / 修复 / 预防\n")
    r.write("templates/issue_track.md", "【问题现象】: {{ title }}\n【问题影响】: xx\n")
    r.commit_all("setup")
    yield r


def dedent(s: str) -> str:
    return textwrap.dedent(s)
