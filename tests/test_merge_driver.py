"""The ticket merge driver, exercised by ``git merge`` on real branches (and a few direct cases)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from tests.conftest import Repo

from sopflow.merge import merge_text

SRC = str(Path(__file__).resolve().parent.parent / "src")
T = "2026-11-21T{}:00+08:00"
ALICE = {"GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_AUTHOR_NAME": "Alice"}
FAN = {"GIT_AUTHOR_EMAIL": "fan@example.com", "GIT_AUTHOR_NAME": "Fan"}


def ok(repo: Repo, *args: str, as_: str = "alice", at: str = "10:00", env: dict[str, str] | None = None) -> str:
    r = repo.run(*args, as_=as_, now=T.format(at), env=env)
    assert r.code == 0, r.err
    return r.out


def history(repo: Repo, rel: str = "tickets/ISS-1.md") -> list[str]:
    return [x for x in repo.read(rel).splitlines() if x.startswith("  - {")]


def merge(repo: Repo, branch: str) -> tuple[int, str]:
    import subprocess

    proc = subprocess.run(["git", "merge", "--no-edit", branch], cwd=repo.root, env=repo.env,
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def drv(repo: Repo) -> Repo:
    """main has the merge driver installed (running this checkout's code) and ISS-1; branches a and b."""
    repo.env["PYTHONPATH"] = SRC
    r = repo.run("install-merge-driver")
    assert r.code == 0, r.err
    repo.git("config", "merge.sopflow.driver", f"{sys.executable} -m sopflow merge-driver %O %A %B %P")
    assert repo.read(".gitattributes") == "tickets/*.md merge=sopflow\n"
    repo.commit_all("merge driver")
    ok(repo, "new", "issue_track", "--title", "线缆故障", "--set", "customer_type=金融")
    return repo


def branches(repo: Repo) -> None:
    repo.git("branch", "a")
    repo.git("branch", "b")


def test_comments_on_both_sides_merge_in_time_order(drv: Repo) -> None:
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "comment", "ISS-1", "from a, first", at="11:00")
    ok(drv, "comment", "ISS-1", "from a, third", at="13:00")
    drv.git("checkout", "-q", "b")
    ok(drv, "comment", "ISS-1", "from b, second", as_="fan", at="12:00")
    code, out = merge(drv, "a")
    assert code == 0, out
    notes = [re.search(r"note: ([^}]*)", x).group(1).strip('"') for x in history(drv)[1:]]  # type: ignore[union-attr]
    assert notes == ["from a, first", "from b, second", "from a, third"]
    assert "updated: 2026-11-21T13:00:00+08:00" in drv.read("tickets/ISS-1.md")
    assert drv.run("check").code == 0


def test_without_the_driver_the_same_merge_conflicts(drv: Repo) -> None:
    drv.git("config", "--unset", "merge.sopflow.driver")
    drv.write(".gitattributes", "")
    drv.commit_all("no driver")
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "comment", "ISS-1", "from a", at="11:00")
    drv.git("checkout", "-q", "b")
    ok(drv, "comment", "ISS-1", "from b", at="12:00")
    code, _ = merge(drv, "a")
    assert code != 0


def test_transition_on_one_side_field_change_on_the_other(drv: Repo) -> None:
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "tick", "ISS-1", "1", "2", at="11:00", env=ALICE)
    ok(drv, "do", "ISS-1", "提交审核", "--note", "交接", "--role", "维护代表=fan", at="11:30", env=ALICE)
    a_lines = history(drv)
    drv.git("checkout", "-q", "b")
    ok(drv, "set", "ISS-1", "customer_type=电网", "detail=现场更换线缆", as_="fan", at="10:30", env=FAN)
    ok(drv, "comment", "ISS-1", "客户已确认", as_="fan", at="12:00", env=FAN)
    b_lines = history(drv)
    base = drv.git("rev-parse", "HEAD").strip()
    code, out = merge(drv, "a")
    assert code == 0, out
    text = drv.read("tickets/ISS-1.md")
    assert "state: 维护代表审核" in text
    assert "assignee: fan" in text and "roles: {维护代表: fan}" in text
    assert "customer_type: 电网" in text and "detail: 现场更换线缆" in text
    merged = history(drv)
    # nothing lost, every line as its branch wrote it, in time order
    assert set(merged) == set(a_lines) | set(b_lines)
    actions = [re.search(r"action: ([^,}]*)", x).group(1) for x in merged]  # type: ignore[union-attr]
    assert actions == ["create", "set", "tick", "提交审核", "comment"]
    assert "- [x]" in text  # the ticks from branch a survived
    r = drv.run("check")
    assert r.code == 0, r.out
    r = drv.run("check", "--base", base, "--verify-authors")  # the merge, judged as a pull request into b
    assert (r.code, r.out.strip()) == (0, "ok: 0 errors, 0 warnings")


def test_both_transitions_leave_a_conflict_and_lose_nothing(drv: Repo) -> None:
    ok(drv, "tick", "ISS-1", "1", "2", at="10:10")
    ok(drv, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", at="10:20")
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "do", "ISS-1", "打回补充信息", "--note", "补充日志", as_="fan", at="11:00")
    drv.git("checkout", "-q", "b")
    ok(drv, "do", "ISS-1", "转SE分析改进", as_="fan", at="12:00")
    code, out = merge(drv, "a")
    assert code != 0
    assert "CONFLICT" in out
    text = drv.read("tickets/ISS-1.md")
    assert re.search(r"<<<<<<< ours\nstate: SE分析改进\n=======\nstate: 维护人员处理\n>>>>>>> theirs\n", text)
    assert "action: 打回补充信息" in text and "action: 转SE分析改进" in text  # both histories kept
    r = drv.run("check", "--format", "json")
    assert r.code == 1
    assert any(p["code"] == "conflict" and p["path"] == "tickets/ISS-1.md" for p in json.loads(r.out)["problems"])


def test_same_field_changed_on_both_sides_conflicts_on_that_field_only(drv: Repo) -> None:
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "set", "ISS-1", "customer_type=电网", at="11:00")
    ok(drv, "comment", "ISS-1", "a says", at="11:05")
    drv.git("checkout", "-q", "b")
    ok(drv, "set", "ISS-1", "customer_type=煤炭", at="12:00")
    code, _ = merge(drv, "a")
    assert code != 0
    text = drv.read("tickets/ISS-1.md")
    assert "<<<<<<< ours\ncustomer_type: 煤炭\n=======\ncustomer_type: 电网\n>>>>>>> theirs\n" in text
    assert text.count("<<<<<<<") == 1
    assert "a says" in text and "customer_type=煤炭" not in text  # history merged outside the conflict
    assert len(history(drv)) == 4


def test_body_edit_and_appended_checklist_merge(drv: Repo) -> None:
    ok(drv, "tick", "ISS-1", "1", "2", at="10:10")
    ok(drv, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", at="10:20")
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "do", "ISS-1", "打回补充信息", "--note", "补充", as_="fan", at="11:00")  # appends a checklist
    drv.git("checkout", "-q", "b")
    body = drv.read("tickets/ISS-1.md").replace("【问题影响】: xx", "【问题影响】: 全网中断")
    drv.write("tickets/ISS-1.md", body)
    drv.commit_all("describe impact")
    code, out = merge(drv, "a")
    assert code == 0, out
    text = drv.read("tickets/ISS-1.md")
    assert "【问题影响】: 全网中断" in text
    assert text.count("## Checklist: 维护人员处理") == 2
    assert drv.run("check").code == 0


def test_install_merge_driver_is_idempotent_and_init_installs_it(drv: Repo, tmp_path: Path) -> None:
    r = drv.run("install-merge-driver")
    assert r.code == 0
    assert drv.read(".gitattributes") == "tickets/*.md merge=sopflow\n"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    from tests.conftest import run_inprocess

    r = run_inprocess(["init"], drv.env, fresh)
    assert r.code == 0, r.err
    assert (fresh / ".gitattributes").read_text() == "tickets/*.md merge=sopflow\n"
    import subprocess

    cfg = subprocess.run(["git", "config", "--get", "merge.sopflow.driver"], cwd=fresh, env=drv.env,
                         capture_output=True, text=True).stdout.strip()
    assert cfg == "sopflow merge-driver %O %A %B %P"
    tracked = subprocess.run(["git", "ls-files"], cwd=fresh, env=drv.env, capture_output=True, text=True).stdout
    assert ".gitattributes" in tracked.split()


# ---------------------------------------------------------------- direct cases
BASE = """---
id: ISS-1
type: issue_track
title: t
state: 维护人员处理
# a comment that stays
labels: [a]
history:
  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}
---
body
"""


def _add(text: str, entry: str, **repl: str) -> str:
    for old, new in repl.items():
        text = text.replace(old, new)
    return text.replace("\n---\nbody", f"\n  - {entry}\n---\nbody")


def test_same_entry_added_on_both_sides_is_kept_once() -> None:
    e = "{at: 2026-11-21T11:00:00+08:00, by: alice, action: comment, note: same}"
    a = _add(BASE, e, **{"labels: [a]": "labels: [a, b]"})
    b = _add(BASE, e, **{"labels: [a]": "labels: [c, a]"})
    res = merge_text(BASE, a, b)
    assert res.clean
    assert res.text.count("note: same") == 1
    assert "labels: [a, b, c]" in res.text
    assert "# a comment that stays" in res.text


def test_rewritten_history_is_a_conflict() -> None:
    a = BASE.replace("by: alice, action: create", "by: bob, action: create")
    b = _add(BASE, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: comment, note: x}")
    res = merge_text(BASE, a, b)
    assert not res.clean and res.conflicts == ["history"]
    assert "by: bob, action: create" in res.text and "note: x" in res.text


def test_add_add_without_base_falls_back_to_a_text_conflict() -> None:
    a = BASE.replace("title: t", "title: one")
    b = BASE.replace("title: t", "title: two")
    res = merge_text("", a, b)
    assert not res.clean
    assert "title: one" in res.text and "title: two" in res.text


def test_crlf_files_keep_their_line_endings() -> None:
    base = BASE.replace("\n", "\r\n")
    a = _add(BASE, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: comment, note: a}").replace("\n", "\r\n")
    b = _add(BASE, "{at: 2026-11-21T12:00:00+08:00, by: alice, action: comment, note: b}").replace("\n", "\r\n")
    res = merge_text(base, a, b)
    assert res.clean
    assert "\n" not in res.text.replace("\r\n", "")
    assert res.text.index("note: a") < res.text.index("note: b")


def test_file_name_with_a_space(drv: Repo) -> None:
    drv.git("mv", "tickets/ISS-1.md", "tickets/ISS-1 cable fault.md")
    drv.git("commit", "-qm", "rename")
    branches(drv)
    drv.git("checkout", "-q", "a")
    ok(drv, "comment", "ISS-1", "from a", at="11:00")
    drv.git("checkout", "-q", "b")
    ok(drv, "comment", "ISS-1", "from b", at="12:00")
    code, out = merge(drv, "a")
    assert code == 0, out
    assert len(history(drv, "tickets/ISS-1 cable fault.md")) == 3
