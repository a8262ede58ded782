"""Release notes on real temporary git repositories (tags, merges, a squash merge, reverts, renames)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core import release
from sopflow.errors import SopflowError
from sopflow.release_notes import (
    load_template,
    prepend_changelog,
    release_notes,
    render_release_notes,
)

ISSUE_WF = """\
type: issue_track
title: 网上问题处理
prefix: ISS
roles: [维护处理人, 维护代表]
fields:
  customer_type: {label: 客户类别, type: choice, choices: [金融, 电网, 煤炭, 其他]}
  release_note:  {label: 发布说明, type: text}
states:
  维护人员处理: {initial: true}
  维护代表审核: {}
  SE分析改进:   {}
  关闭:         {final: true}
transitions:
  - {trigger: 提交审核, source: 维护人员处理, dest: 维护代表审核}
  - {trigger: 转SE分析改进, source: 维护代表审核, dest: SE分析改进}
  - {trigger: 问题关闭, source: [SE分析改进, 维护代表审核], dest: 关闭}
  - {trigger: 重新打开, source: 关闭, dest: 维护人员处理}
"""

FEATURE_WF = """\
type: feature
title: 功能需求
prefix: FEAT
states:
  需求提出: {initial: true}
  完成:     {final: true}
transitions:
  - {trigger: 发版, source: 需求提出, dest: 完成}
"""

INITIAL = {"ISS": "维护人员处理", "FEAT": "需求提出"}
TYPES = {"ISS": "issue_track", "FEAT": "feature"}


class Repo:
    """A sopflow repository in a temporary folder, driven with plain git and hand-written files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_790_000_000  # 2026-09-21
        self.tickets: dict[str, dict[str, object]] = {}
        self.git("init", "-q", "-b", "main")
        self.write("sopflow.yaml", "project: Test\ntimezone: Asia/Shanghai\n")
        self.write("workflows/issue_track.yaml", ISSUE_WF)
        self.write("workflows/feature.yaml", FEATURE_WF)
        self.commit("chore: start the project")

    def git(self, *args: str, date: int | None = None) -> str:
        env = dict(os.environ)
        if date is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{date} +0800"
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self, message: str, *, add: bool = True) -> str:
        self.clock += 3600
        if add:
            if not message.startswith(("ISS-", "FEAT-")):  # a change of its own, so it can be reverted
                self.write(f"src/change-{self.clock}.txt", message)
            self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, date=self.clock)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}", date=self.clock)
        else:
            self.git("tag", name)

    # tickets ---------------------------------------------------------------------------------------

    def _render(self, tid: str) -> str:
        t = self.tickets[tid]
        lines = [
            "---",
            f"id: {tid}",
            f"type: {TYPES[tid.split('-')[0]]}",
            f"title: {t['title']}",
            f"state: {t['state']}",
        ]
        lines += [f"{k}: {v}" for k, v in t["fields"].items()]  # type: ignore[attr-defined]
        lines += ["history:", *t["history"], "---", "正文", ""]  # type: ignore[list-item]
        return "\n".join(lines)

    def _path(self, tid: str) -> str:
        return f"tickets/{tid}{self.tickets[tid]['slug']}.md"

    def new(self, tid: str, title: str, *, slug: str = "", commit: bool = True, **fields: str) -> str:
        state = INITIAL[tid.split("-")[0]]
        self.tickets[tid] = {
            "title": title,
            "state": state,
            "slug": slug,
            "fields": fields,
            "history": [f"  - {{at: {self._at()}, by: alice, action: create, to: {state}}}"],
        }
        self.write(self._path(tid), self._render(tid))
        if not commit:
            return ""
        return self.commit(f"{tid} create\n\nSopflow-Ticket: {tid}\nSopflow-Action: create")

    def do(
        self,
        tid: str,
        action: str,
        to: str,
        *,
        wrap: bool = False,
        message: str | None = None,
        commit: bool = True,
    ) -> str:
        t = self.tickets[tid]
        entry = f"  - {{at: {self._at()}, by: fan, action: {action}, from: {t['state']}, to: {to}}}"
        if wrap:
            entry = (
                f"  - {{at: {self._at()}, by: fan, action: {action}, from: {t['state']},\n"
                f'     to: {to}, note: "背景: 已修复, 进展: 发版"}}'
            )
        t["history"].append(entry)  # type: ignore[attr-defined]
        t["state"] = to
        self.write(self._path(tid), self._render(tid))
        if not commit:
            return ""
        msg = message or f"{tid} {action}\n\nSopflow-Ticket: {tid}\nSopflow-Action: {action}"
        return self.commit(msg)

    def close(self, tid: str, **kw: object) -> str:
        final = "关闭" if tid.startswith("ISS") else "完成"
        action = "问题关闭" if tid.startswith("ISS") else "发版"
        return self.do(tid, action, final, **kw)  # type: ignore[arg-type]

    def rename(self, tid: str, slug: str) -> str:
        old = self._path(tid)
        self.tickets[tid]["slug"] = slug
        self.git("mv", old, self._path(tid))
        return self.commit(f"chore: rename the file of {tid}")

    def _at(self) -> str:
        return "2026-09-21T10:00:00+08:00"

    def notes(self, rng: str | None = None, **kw: object) -> dict[str, object]:
        return release_notes(self.path, rng, **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Alice")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "alice@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Alice")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "@1790000000 +0800")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "@1790000000 +0800")
    yield


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "repo"
    path.mkdir()
    return Repo(path)


def ids(notes: dict[str, object]) -> list[str]:
    return [t["id"] for t in notes["tickets"]]  # type: ignore[attr-defined, index]


def subjects(notes: dict[str, object]) -> list[str]:
    return [c["subject"] for c in notes["other_commits"]]  # type: ignore[attr-defined, index]


def ticket(notes: dict[str, object], tid: str) -> dict[str, object]:
    return next(t for t in notes["tickets"] if t["id"] == tid)  # type: ignore[attr-defined, index]


# ----------------------------------------------------------------------------------------------- ranges


@pytest.mark.parametrize("annotated", [True, False])
def test_default_range_starts_at_the_newest_tag(repo: Repo, annotated: bool) -> None:
    repo.new("ISS-1", "旧问题")
    repo.close("ISS-1")
    repo.tag("v1.0", annotated=annotated)
    repo.new("ISS-2", "新问题", release_note="修复了新问题")
    repo.close("ISS-2")
    repo.commit("feat: export to CSV")
    notes = repo.notes()
    assert notes["range"] == "v1.0..HEAD"
    assert ids(notes) == ["ISS-2"]
    assert ticket(notes, "ISS-2")["release_note"] == "修复了新问题"
    assert subjects(notes) == ["feat: export to CSV"]
    # a newer tag wins
    repo.tag("v1.1", annotated=not annotated)
    assert repo.notes()["range"] == "v1.1..HEAD"
    assert repo.notes()["tickets"] == []


def test_no_tag_means_the_whole_history(repo: Repo) -> None:
    repo.new("ISS-1", "一")
    repo.close("ISS-1")
    repo.new("FEAT-1", "导出")
    repo.close("FEAT-1")
    repo.new("ISS-2", "未关闭")
    notes = repo.notes()
    assert notes["range"] == "HEAD"
    assert notes["base"] is None
    # grouped by type in workflow (file-name) order, then by ID
    assert ids(notes) == ["FEAT-1", "ISS-1"]
    assert subjects(notes) == ["chore: start the project"]


def test_explicit_range_and_since_tag(repo: Repo) -> None:
    repo.new("ISS-1", "一")
    repo.close("ISS-1")
    repo.tag("v1", annotated=True)
    repo.new("ISS-2", "二")
    repo.close("ISS-2")
    repo.tag("v2")
    repo.new("ISS-3", "三")
    repo.close("ISS-3")
    assert ids(repo.notes("v1..v2")) == ["ISS-2"]
    assert ids(repo.notes("v1..")) == ["ISS-2", "ISS-3"]
    assert repo.notes("v1..")["range"] == "v1..HEAD"
    assert ids(repo.notes("v2")) == ["ISS-1", "ISS-2"]  # one revision: its whole history
    notes = repo.notes(since_tag="v1")
    assert notes["range"] == "v1..HEAD"
    assert ids(notes) == ["ISS-2", "ISS-3"]
    # ticket metadata comes from the end of the range, read from git when it is not HEAD
    repo.tickets["ISS-2"]["title"] = "二（改名）"
    repo.write(repo._path("ISS-2"), repo._render("ISS-2"))
    repo.commit("ISS-2 set title")
    assert ticket(repo.notes("v1..v2"), "ISS-2")["title"] == "二"
    assert ticket(repo.notes("v1..HEAD"), "ISS-2")["title"] == "二（改名）"


def test_since_and_until_dates(repo: Repo) -> None:
    repo.clock = 1_790_000_000  # 2026-09-21 22:13 +08:00
    repo.new("ISS-1", "九月")  # 2026-09-21 23:13
    repo.close("ISS-1")  # 2026-09-22 00:13
    repo.clock += 3 * 86400
    repo.new("ISS-2", "晚些")
    repo.close("ISS-2")  # 2026-09-25
    repo.commit("fix: a late fix")
    tz = "Asia/Shanghai"
    assert ids(repo.notes(since="2026-09-22", timezone=tz)) == ["ISS-1", "ISS-2"]
    assert ids(repo.notes(since="2026-09-23", timezone=tz)) == ["ISS-2"]
    assert ids(repo.notes(until="2026-09-22", timezone=tz)) == ["ISS-1"]
    notes = repo.notes(since="2026-09-22", until="2026-09-22", timezone=tz)
    assert ids(notes) == ["ISS-1"]
    assert notes["since"] == "2026-09-22T00:00:00+08:00"
    assert notes["until"] == "2026-09-22T23:59:59+08:00"
    assert subjects(repo.notes(since="2026-09-23T00:00:00+08:00")) == ["fix: a late fix"]
    with pytest.raises(SopflowError, match="not a date"):
        repo.notes(since="last tuesday")


def test_shallow_clone_without_a_tag_is_refused(repo: Repo, tmp_path: Path) -> None:
    repo.new("ISS-1", "一")
    repo.close("ISS-1")
    repo.commit("fix: later")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone)], check=True)
    with pytest.raises(SopflowError) as info:
        release_notes(clone, None)
    assert "shallow clone" in info.value.line() and "fetch-depth: 0" in info.value.line()
    # with a range inside what was fetched it works: the tree diff only needs the two ends
    notes = release_notes(clone, "HEAD~1..HEAD")
    assert (ids(notes), subjects(notes)) == ([], ["fix: later"])


def test_errors_are_one_line(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(SopflowError, match="unknown revision"):
        repo.notes("v9..HEAD")
    with pytest.raises(SopflowError, match="unknown tag: v9"):
        repo.notes(since_tag="v9")
    with pytest.raises(SopflowError, match="not a revision"):
        repo.notes("--output=/tmp/x")
    with pytest.raises(SopflowError, match="symmetric"):
        repo.notes("HEAD...HEAD")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SopflowError) as info:
        release_notes(plain, None)
    assert "not a git repository" in info.value.line()
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    with pytest.raises(SopflowError, match="no commits"):
        release_notes(empty, None)


# ------------------------------------------------------------------------------------------ attribution


def test_trailer_and_message_attribution(repo: Repo) -> None:
    repo.new("ISS-12", "十二")
    repo.new("ISS-1", "一")
    repo.tag("v1")
    repo.commit("fix: crash on empty input (ISS-12)")
    repo.commit("fix: ISS-12x is not a ticket, nor is XISS-12")
    repo.commit("chore: bump deps\n\nSopflow-Ticket: ISS-1")
    repo.commit("ISS-12修复了日志")
    repo.close("ISS-12")
    repo.close("ISS-1")
    notes = repo.notes()
    assert ids(notes) == ["ISS-1", "ISS-12"]
    iss12 = [c["subject"] for c in ticket(notes, "ISS-12")["commits"]]  # type: ignore[attr-defined]
    assert iss12 == ["fix: crash on empty input (ISS-12)", "ISS-12修复了日志", "ISS-12 问题关闭"]
    iss1 = [c["subject"] for c in ticket(notes, "ISS-1")["commits"]]  # type: ignore[attr-defined]
    assert iss1 == ["chore: bump deps", "ISS-1 问题关闭"]
    assert subjects(notes) == ["fix: ISS-12x is not a ticket, nor is XISS-12"]
    closing = ticket(notes, "ISS-12")
    assert closing["shipped"] is True
    assert closing["entered_final_by"] == repo.git("rev-parse", "HEAD~1")
    assert closing["entered_final_at"] == "2026-09-21T10:00:00+08:00"


def test_json_shape_follows_the_spec(repo: Repo) -> None:
    repo.new("ISS-1", "一", customer_type="金融")
    repo.close("ISS-1")
    repo.commit("feat(api)!: drop v1 endpoints")
    notes = repo.notes()
    json.dumps(notes)  # plain JSON values only
    assert {"range", "tickets", "other_commits"} <= set(notes)
    t = notes["tickets"][0]  # type: ignore[index]
    assert {"id", "type", "title", "release_note", "commits"} <= set(t)
    assert set(t["commits"][0]) >= {"sha", "subject", "author"}
    assert t["release_note"] == t["title"] == "一"
    assert t["type"] == "issue_track"
    assert t["state"] == "关闭"
    assert t["fields"] == {"customer_type": "金融"}
    other = notes["other_commits"][-1]  # type: ignore[index]
    assert {"sha", "subject", "author", "kind", "breaking"} <= set(other)
    assert (other["kind"], other["breaking"], other["scope"]) == ("feat", True, "api")
    assert other["author"] == "Alice"


# ------------------------------------------------------------------------- merges, squash, revert, rename


def test_merge_commit_is_not_counted_twice(repo: Repo) -> None:
    repo.new("ISS-1", "一")
    repo.tag("v1")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: topic work for ISS-1")
    repo.close("ISS-1")
    repo.git("checkout", "-q", "main")
    repo.commit("docs: meanwhile on main")
    repo.clock += 3600
    repo.git("merge", "--no-ff", "-q", "-m", "Merge branch 'topic' (ISS-1)", "topic", date=repo.clock)
    notes = repo.notes()
    assert ids(notes) == ["ISS-1"]
    subjects_1 = [c["subject"] for c in ticket(notes, "ISS-1")["commits"]]  # type: ignore[attr-defined]
    assert subjects_1 == ["fix: topic work for ISS-1", "ISS-1 问题关闭"]
    assert subjects(notes) == ["docs: meanwhile on main"]
    assert notes["commit_count"] == 3


def test_squash_merge(repo: Repo) -> None:
    repo.new("ISS-4", "四")
    repo.new("ISS-5", "五")
    repo.tag("v1")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: part one")
    repo.close("ISS-4")
    repo.close("ISS-5")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "--squash", "-q", "topic")
    squash = repo.commit(
        "Topic branch (#7)\n\n* fix: part one\n* ISS-4 问题关闭\n* ISS-5 问题关闭", add=False
    )
    notes = repo.notes()
    assert ids(notes) == ["ISS-4", "ISS-5"]
    for tid in ("ISS-4", "ISS-5"):
        assert [c["sha"] for c in ticket(notes, tid)["commits"]] == [squash]  # type: ignore[attr-defined]
    assert subjects(notes) == []
    # git's own squash message carries the original trailers, indented
    repo.git("reset", "-q", "--hard", "v1")
    repo.git("merge", "--squash", "-q", "topic")
    msg = (repo.path / ".git" / "SQUASH_MSG").read_text(encoding="utf-8")
    repo.commit("Squashed topic\n\n" + msg, add=False)
    assert ids(repo.notes()) == ["ISS-4", "ISS-5"]


def test_reverted_closure_is_not_shipped(repo: Repo) -> None:
    repo.new("ISS-7", "七")
    repo.new("ISS-8", "八")
    repo.tag("v1")
    closing = repo.close("ISS-7")
    repo.close("ISS-8")
    feat = repo.commit("feat: risky thing")
    repo.commit("fix: keeper")
    repo.clock += 3600
    repo.git("revert", "--no-edit", closing, date=repo.clock)
    repo.clock += 3600
    repo.git("revert", "--no-edit", feat, date=repo.clock)
    notes = repo.notes()
    assert ids(notes) == ["ISS-8"]
    assert subjects(notes) == ["fix: keeper"]
    # the closure and its revert cancel out: nothing of ISS-7 is left in the range, not even as touched
    assert ids(repo.notes(all_touched=True)) == ["ISS-8"]
    # reverting the revert ships it again
    repo.clock += 3600
    repo.git("revert", "--no-edit", "HEAD~1", date=repo.clock)
    again = repo.notes()
    assert ids(again) == ["ISS-7", "ISS-8"]
    assert [c["sha"] for c in ticket(again, "ISS-7")["commits"]] == [closing]  # type: ignore[attr-defined]


def test_revert_of_a_commit_before_the_range_stays(repo: Repo) -> None:
    old = repo.commit("feat: old feature")
    repo.tag("v1")
    repo.clock += 3600
    repo.git("revert", "--no-edit", old, date=repo.clock)
    notes = repo.notes()
    assert subjects(notes) == ['Revert "feat: old feature"']
    assert notes["other_commits"][0]["kind"] == "revert"  # type: ignore[index]


def test_renamed_ticket_file(repo: Repo) -> None:
    repo.new("ISS-9", "九", slug="-old-name")
    repo.close("ISS-9")
    repo.new("ISS-10", "十", slug="-a")
    repo.tag("v1")
    repo.rename("ISS-9", "-new-name")  # closed before the tag: renaming it ships nothing
    repo.rename("ISS-10", "-b")
    repo.close("ISS-10")
    notes = repo.notes()
    assert ids(notes) == ["ISS-10"]
    assert ticket(notes, "ISS-10")["path"] == "tickets/ISS-10-b.md"
    touched = repo.notes(all_touched=True)
    assert ids(touched) == ["ISS-9", "ISS-10"]
    assert ticket(touched, "ISS-9")["shipped"] is False


def test_reopened_ticket_is_not_shipped_and_wrapped_entries_count(repo: Repo) -> None:
    repo.new("ISS-1", "一")
    repo.new("ISS-2", "二")
    repo.tag("v1")
    repo.close("ISS-1")
    repo.do("ISS-1", "重新打开", "维护人员处理")
    repo.close("ISS-2", wrap=True)  # the SPEC's own layout: an entry over two lines
    notes = repo.notes()
    assert ids(notes) == ["ISS-2"]
    assert ticket(repo.notes(all_touched=True), "ISS-1")["state"] == "维护人员处理"


def test_all_touched_and_uncommitted_metadata(repo: Repo) -> None:
    repo.new("ISS-1", "一")
    repo.tag("v1")
    repo.do("ISS-1", "提交审核", "维护代表审核")
    repo.new("FEAT-2", "二")
    repo.close("FEAT-2")
    assert ids(repo.notes()) == ["FEAT-2"]
    notes = repo.notes(all_touched=True)
    assert ids(notes) == ["FEAT-2", "ISS-1"]
    assert [t["shipped"] for t in notes["tickets"]] == [True, False]  # type: ignore[attr-defined]
    # at HEAD the work tree is read: an uncommitted title shows, an uncommitted closure does not ship
    repo.tickets["FEAT-2"]["title"] = "二·新标题"
    repo.write(repo._path("FEAT-2"), repo._render("FEAT-2"))
    repo.close("ISS-1", commit=False)
    notes = repo.notes()
    assert ticket(notes, "FEAT-2")["title"] == "二·新标题"
    assert ids(notes) == ["FEAT-2"]


def test_ticket_symlink_out_of_the_repository_is_not_read(repo: Repo, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nid: ISS-3\ntitle: SECRET\nstate: 关闭\n---\n", encoding="utf-8")
    repo.new("ISS-3", "三")
    repo.close("ISS-3")
    (repo.path / repo._path("ISS-3")).unlink()
    (repo.path / "tickets" / "ISS-3.md").symlink_to(secret)
    (repo.path / "tickets" / "loop").symlink_to(repo.path / "tickets")  # and no endless walk
    notes = repo.notes()
    assert "SECRET" not in json.dumps(notes, ensure_ascii=False)
    assert ticket(notes, "ISS-3")["title"] == "三"  # read from HEAD instead


# ---------------------------------------------------------------------------------------------- output


def test_builtin_template_groups_tickets_and_puts_breaking_first(repo: Repo) -> None:
    repo.new("ISS-1", "一", customer_type="电网")
    repo.new("ISS-2", "二", customer_type="金融", release_note="修好了二")
    repo.new("FEAT-3", "三")
    repo.tag("v1")
    for tid in ("ISS-1", "ISS-2", "FEAT-3"):
        repo.close(tid)
    repo.commit("fix(ui): button colour")
    repo.commit("feat: new export")
    repo.commit("refactor: tidy\n\nBREAKING CHANGE: the config file moved")
    repo.commit("update readme")
    notes = repo.notes()
    text = render_release_notes(notes, None)
    assert text.startswith("## v1..HEAD (")
    order = [
        "Breaking changes",
        "tidy",
        "### 功能需求",
        "FEAT-3",
        "### 网上问题处理",
        "**ISS-1** 一",
        "**ISS-2** 修好了二",
        "### Features",
        "new export",
        "### Bug fixes",
        "**ui:** button colour",
        "### Other changes",
        "update readme",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions), text
    assert "\n\n\n" not in text
    grouped = render_release_notes(notes, None, group_by="customer_type")
    order = ["### 网上问题处理", "#### 客户类别: 金融", "ISS-2", "#### 客户类别: 电网", "ISS-1"]
    positions = [grouped.index(s) for s in order]
    assert positions == sorted(positions), grouped
    by_state = render_release_notes(notes, None, group_by="state")
    assert "#### state: 关闭" in by_state
    with pytest.raises(SopflowError, match="no workflow or ticket has a field 'colour'"):
        render_release_notes(notes, None, group_by="colour")
    empty = render_release_notes(repo.notes("HEAD..HEAD"), None)
    assert "No changes." in empty


def test_repository_template_overrides_and_template_option(repo: Repo, tmp_path: Path) -> None:
    repo.new("ISS-1", "一")
    repo.close("ISS-1")
    assert load_template(repo.path) == (None, "built-in")
    repo.write(
        "templates/release-notes.md.j2",
        "{% for t in notes.tickets %}* {{ t.id }}: {{ t.release_note }}\n{% endfor %}",
    )
    text, name = load_template(repo.path)
    assert name == "templates/release-notes.md.j2"
    assert render_release_notes(repo.notes(), text, template_name=name) == "* ISS-1: 一\n"
    repo.write("other.j2", "{{ notes.tickets | length }} shipped")
    text, name = load_template(repo.path, repo.path / "other.j2")
    assert render_release_notes(repo.notes(), text) == "1 shipped\n"
    outside = tmp_path / "outside.j2"
    outside.write_text("x", encoding="utf-8")
    with pytest.raises(SopflowError, match="inside the repository"):
        load_template(repo.path, outside)
    (repo.path / "templates" / "release-notes.md.j2").unlink()
    (repo.path / "templates" / "release-notes.md.j2").symlink_to(outside)
    with pytest.raises(SopflowError, match="inside the repository"):
        load_template(repo.path)


NOTES: dict[str, object] = {"range": "v1..HEAD", "tickets": [], "other_commits": [], "types": []}


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("ok\n{{ ''.__class__.__mro__[1].__subclasses__() }}", 2, "sandbox"),
        ("{{ cycler.__init__.__globals__ }}", 1, "sandbox"),
        ("\n\n{{ ''.__class__ }}", 3, "sandbox"),
        ("{{ notes.tickets.append(1) }}", 1, "sandbox"),
        ("{{ 'x' * 100000000 }}", 1, "sandbox"),
        ("{% for t in notes.tickets %}\n{{ t.id }", 2, "unexpected"),
        ("{{ notes.no_such_key.id }}", 1, "undefined"),
        ("{% include 'other.j2' %}", 1, "no loader"),
        ("{{ 1 // 0 }}", 1, "ZeroDivisionError"),
        ("{% for i in range(99999) %}{{ 'x' * 999 }}{% endfor %}", None, "output is longer"),
    ],
)
def test_template_errors_and_sandbox_escapes(template: str, line: int | None, message: str) -> None:
    with pytest.raises(SopflowError) as info:
        render_release_notes(NOTES, template, template_name="templates/release-notes.md.j2")
    text = info.value.line()
    where = f"line {line}: " if line else ""
    assert text.startswith(f"template templates/release-notes.md.j2: {where}"), text
    assert message in text
    assert "\n" not in text


def test_prepend_keeps_the_rest_byte_identical(tmp_path: Path) -> None:
    log = tmp_path / "CHANGELOG.md"
    rest = "\n## v1.0 (2026-01-01)\n\n- 第一版\r\n- trailing spaces   \n"
    log.write_bytes(("# Changelog\n" + rest).encode())
    prepend_changelog(log, "## v1.1\n\n- 新东西\n")
    data = log.read_bytes().decode()
    assert data == "# Changelog\n\n## v1.1\n\n- 新东西\n" + rest
    # without a title the section goes first
    plain = tmp_path / "NOTES.md"
    plain.write_text("## v1.0\n- a\n", encoding="utf-8")
    prepend_changelog(plain, "## v1.1\n- b")
    assert plain.read_text(encoding="utf-8") == "## v1.1\n- b\n\n## v1.0\n- a\n"
    # a missing file is created; CRLF files get CRLF
    fresh = tmp_path / "NEW.md"
    prepend_changelog(fresh, "## v1\n")
    assert fresh.read_text(encoding="utf-8") == "## v1\n"
    crlf = tmp_path / "CRLF.md"
    crlf.write_bytes(b"# Log\r\n\r\n## v1\r\n")
    prepend_changelog(crlf, "## v2\n- x\n")
    assert crlf.read_bytes() == b"# Log\r\n\r\n## v2\r\n- x\r\n\r\n## v1\r\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@settings(max_examples=60, deadline=None)
@given(existing=st.text(), section=st.text(min_size=1).filter(lambda s: s.strip("\n")))
def test_prepend_never_changes_what_follows(
    tmp_path_factory: pytest.TempPathFactory, existing: str, section: str
) -> None:
    path = tmp_path_factory.mktemp("p") / "CHANGELOG.md"
    raw = existing.encode("utf-8", "surrogatepass")
    path.write_bytes(raw)
    prepend_changelog(path, section)
    new = path.read_bytes()
    if raw.startswith(b"# "):
        first = raw.split(b"\n", 1)[0]
        assert new.startswith(first)
        assert new.endswith(raw[len(first) + 1 :] if b"\n" in raw else b"")
    else:
        assert new.endswith(raw)


# ------------------------------------------------------------------------------------------ pure parts


def test_id_pattern() -> None:
    rx = release.id_regex(["ISS", "FEAT"])
    assert rx is not None
    text = "ISS-12 ISS-12x XISS-3 FEAT-7, (ISS-4) ISS-5修复 ISS-6_a ISS-8-fix iss-9"
    assert rx.findall(text) == ["ISS-12", "FEAT-7", "ISS-4", "ISS-5", "ISS-8"]
    assert release.id_from_path("tickets/ISS-12-some-slug.md", rx) == "ISS-12"
    assert release.id_from_path("tickets/ISS-123.md", rx) == "ISS-123"
    assert release.id_from_path("tickets/ISS-12.txt", rx) is None
    assert release.id_regex([]) is None


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("feat: add x", "", ("feat", None, False, "add x")),
        ("fix(core)!: drop y", "", ("fix", "core", True, "drop y")),
        ("Docs: typo", "", ("docs", None, False, "typo")),
        ("refactor: z", "text\n\nBREAKING CHANGE: config moved", ("refactor", None, True, "z")),
        ("refactor: z", "BREAKING-CHANGE: moved", ("refactor", None, True, "z")),
        ("update readme", "", (None, None, False, "update readme")),
        ("feat:no space", "", (None, None, False, "feat:no space")),
    ],
)
def test_conventional(subject: str, body: str, expected: tuple[object, ...]) -> None:
    assert release.conventional(subject, body) == expected


def test_final_entries_net_out_renames_and_reverts() -> None:
    diff = "\n".join(
        [
            "diff --git a/tickets/ISS-1-a.md b/tickets/ISS-1-a.md",
            "deleted file mode 100644",
            "--- a/tickets/ISS-1-a.md",
            "+++ /dev/null",
            "@@ -1,3 +0,0 @@",
            "-  - {at: 2026-01-01T00:00:00+08:00, by: a, action: 问题关闭, from: 审核, to: 关闭}",
            "diff --git a/tickets/ISS-1-b.md b/tickets/ISS-1-b.md",
            "new file mode 100644",
            "--- /dev/null",
            "+++ b/tickets/ISS-1-b.md",
            "@@ -0,0 +1,3 @@",
            "+  - {at: 2026-01-01T00:00:00+08:00, by: a, action: 问题关闭, from: 审核, to: 关闭}",
            "diff --git a/tickets/ISS-2.md b/tickets/ISS-2.md",
            "--- a/tickets/ISS-2.md",
            "+++ b/tickets/ISS-2.md",
            "@@ -9,0 +10,2 @@",
            "+  - {at: '2026-02-01T00:00:00+08:00', by: b, action: 问题关闭, from: 审核,",
            '+     to: 关闭, note: "a, b: c"}',
            "+- [x] to: 关闭 is not an entry",
            "",
        ]
    )
    rx = release.id_regex(["ISS"])

    def load(text: str) -> object:
        import yaml

        return yaml.safe_load(text)

    found = release.final_entries_from_diff(
        diff, lambda p: release.id_from_path(p, rx), lambda _t: frozenset({"关闭"}), load
    )
    assert list(found) == ["ISS-2"]
    assert found["ISS-2"][0] == release.FinalEntry(
        "ISS-2", "关闭", "2026-02-01T00:00:00+08:00", "b", "问题关闭"
    )
    assert release.changed_ids(diff, lambda p: release.id_from_path(p, rx)) == {"ISS-1", "ISS-2"}


def test_revert_chains() -> None:
    def c(sha: str, body: str = "") -> release.Commit:
        return release.Commit(sha, "a", "a@x", "2026-01-01T00:00:00+08:00", f"subject {sha}", body)

    a, b, r1, r2 = "a" * 40, "b" * 40, "c" * 40, "d" * 40
    commits = [c(a), c(b), c(r1, f"This reverts commit {a}."), c(r2, f"This reverts commit {r1[:12]}.")]
    assert release.cancelled_by_reverts(commits[:3]) == {a, r1}
    assert release.cancelled_by_reverts(commits) == {r1, r2}
    assert release.cancelled_by_reverts([c(r1, "This reverts commit 0123456789abc.")]) == set()


def test_front_matter_helpers() -> None:
    text = "---\nid: ISS-1\ntitle: x\nhistory:\n  - {a: 1}\n  - {b: 2}\n# c\nstate: 关闭\n---\nbody\n"
    front = release.split_front_matter(text)
    assert front == "id: ISS-1\ntitle: x\nhistory:\n  - {a: 1}\n  - {b: 2}\n# c\nstate: 关闭\n"
    assert release.drop_history(front) == "id: ISS-1\ntitle: x\nstate: 关闭\n"
    assert release.split_front_matter("no front matter") is None
    assert release.split_front_matter("---\nunterminated: 1\n") is None
    assert release.split_front_matter("---\r\na: 1\r\n---\r\nbody") == "a: 1\r\n"
    assert release.split_front_matter("---\na: 1\n----\nb: 2\n...\n") == "a: 1\n----\nb: 2\n"
    assert release.split_front_matter("---\n---\n") == ""
    assert release.drop_history("a: 1\nhistory: []\nb: 2\n") == "a: 1\nb: 2\n"


def test_core_stays_pure() -> None:
    source = Path(release.__file__).read_text(encoding="utf-8")
    for word in ("subprocess", "sopflow.adapters", "import git", "os.environ", "open("):
        assert word not in source


def test_builtin_template_exact_output(repo: Repo) -> None:
    repo.new("ISS-1", "【20260921】局点A设备重启", customer_type="金融", release_note="修复了设备重启问题")
    repo.new("ISS-2", "二")
    repo.tag("v1.0", annotated=True)
    repo.close("ISS-1")
    repo.close("ISS-2", wrap=True)
    feat = repo.commit("feat(export)!: CSV export replaces XLS")
    fix = repo.commit("fix: crash on empty title")
    misc = repo.commit("Update README")
    notes = repo.notes()
    expected = (
        f"## v1.0..HEAD ({notes['date'][:10]})\n"  # type: ignore[index]
        "\n"
        "### ⚠ Breaking changes\n"
        "\n"
        f"- **export:** CSV export replaces XLS ({feat[:7]})\n"
        "\n"
        "### 网上问题处理\n"
        "\n"
        "- **ISS-1** 修复了设备重启问题\n"
        "- **ISS-2** 二\n"
        "\n"
        "### Bug fixes\n"
        "\n"
        f"- crash on empty title ({fix[:7]})\n"
        "\n"
        "### Other changes\n"
        "\n"
        f"- Update README ({misc[:7]})\n"
    )
    assert render_release_notes(notes, None) == expected


def test_classify_agrees_with_the_helpers() -> None:
    """classify_commits inlines conventional() and ticket_ids() for speed: they must not drift apart."""
    rx = release.id_regex(["ISS", "FEAT"])
    messages = [
        ("feat(ui)!: a", ""),
        ("fix: b", "BREAKING CHANGE: c"),
        ("ISS-1 问题关闭", "Sopflow-Ticket: ISS-1\nSopflow-Action: 问题关闭"),
        ("chore: x", "Sopflow-Ticket: OLD-3"),
        ("docs: mention FEAT-2 and ISS-12x", "see ISS-4"),
        ('Revert "feat: y"', "This reverts commit 0123456789abcdef0123456789abcdef01234567."),
        ("plain words", "no ids"),
    ]
    commits = [
        release.Commit(f"{i:040x}", "a", "a@x", "2026-01-01T00:00:00+08:00", s, b)
        for i, (s, b) in enumerate(messages)
    ]
    result = release.classify_commits(reversed(commits), rx, ["ISS", "FEAT"])
    for c in commits:
        ids = release.ticket_ids(c.subject, c.body, rx)
        named = sorted(tid for tid, recs in result.by_ticket.items() if any(r["sha"] == c.sha for r in recs))
        assert named == sorted(ids), c.subject
        if not ids:
            rec = next(r for r in result.other if r["sha"] == c.sha)
            kind, scope, breaking, desc = release.conventional(c.subject, c.body)
            assert (rec["kind"], rec["scope"], rec["breaking"], rec["description"]) == (
                kind,
                scope,
                breaking,
                desc,
            )
    assert [r["subject"] for r in result.other] == [
        "feat(ui)!: a",
        "fix: b",
        'Revert "feat: y"',
        "plain words",
    ]
    assert result.commit_count == len(messages)


# ------------------------------------------------------------------------- how the tickets are read


def _notes_json(repo: Repo, rng: str | None = None, **kw: object) -> str:
    return json.dumps(repo.notes(rng, **kw), ensure_ascii=False, sort_keys=True)


@pytest.fixture
def always_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the release cache however few files a range changes, and write it whatever a run learns (these
    repositories change a dozen files)."""
    from sopflow import release_cache
    from sopflow import release_notes as rn

    monkeypatch.setattr(rn, "_CACHE_AFTER", 0)
    monkeypatch.setattr(release_cache, "SAVE_AFTER", 1)


def _drop_release_cache(repo: Repo) -> None:
    """Forget what earlier runs learnt (sopflow.release_cache), so the next run reads every file again."""
    (repo.path / ".git" / "sopflow" / "release-v1.json").unlink(missing_ok=True)


def _cold_json(repo: Repo, rng: str | None = None, **kw: object) -> str:
    """:func:`_notes_json` with nothing learnt from earlier runs: every ticket file is read."""
    _drop_release_cache(repo)
    return _notes_json(repo, rng, **kw)


def _busy_repo(repo: Repo) -> None:
    """Tickets closed before and in the range, renamed, reopened, wrapped, with and without release notes."""
    repo.new("ISS-1", "一", slug="-a")
    repo.new("ISS-2", "二")
    repo.new("FEAT-3", "三")
    repo.close("ISS-2")
    repo.tag("v1")
    for n in range(4, 12):
        repo.new(f"ISS-{n}", f"问题{n}", customer_type="金融", release_note=f"修复{n}")
        if n % 3:
            repo.close(f"ISS-{n}", wrap=n % 2 == 0)
    repo.close("ISS-1")
    repo.rename("ISS-1", "-b")
    repo.rename("ISS-2", "-renamed")  # closed before the range: ships nothing
    repo.close("FEAT-3")
    repo.do("ISS-4", "重新打开", "维护人员处理")
    repo.commit("fix: unrelated")


_RANGES: tuple[tuple[str | None, bool], ...] = (
    (None, False), (None, True), ("v1..HEAD~1", False), ("v1..HEAD~1", True), ("HEAD", False),
)


def _all_notes(repo: Repo, cold: bool) -> list[str]:
    return [(_cold_json if cold else _notes_json)(repo, rng, all_touched=touched) for rng, touched in _RANGES]


def _cache_parts(repo: Repo) -> list[dict[str, object]]:
    with open(repo.path / ".git" / "sopflow" / "release-v1.json", "rb") as fh:
        head = json.loads(fh.readline())
        return [json.loads(fh.read(size)) for size, _ in head["parts"]]


def test_what_earlier_runs_learnt_gives_the_notes_a_fresh_run_gives(repo: Repo, always_cache: None) -> None:
    """release_cache: after each change (work tree edits, a hand edit of the same size and mtime, new
    commits, a rename, a deletion, a workflow whose final states change) a run that starts from what the
    previous run learnt gives the very notes a run from nothing gives, for several ranges."""
    import time

    _busy_repo(repo)
    repo.commit("chore: on top", add=False)
    time.sleep(0.1)  # older than the racily-clean window: the work tree's front matter is kept too
    learnt = _all_notes(repo, cold=True)
    assert _all_notes(repo, cold=False) == learnt
    parts = _cache_parts(repo)
    assert parts[0] and parts[2], "hits and the front matter at a commit are kept"
    if os.stat(repo.path / "sopflow.yaml").st_mtime_ns % 1_000_000_000:  # timestamps finer than seconds
        assert parts[1], "and the work tree's"

    def same_after(change: str) -> None:
        warm = _all_notes(repo, cold=False)
        assert warm == _all_notes(repo, cold=True), change

    path = repo.path / repo._path("ISS-5")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: 问题5", "title: 问题5·改"), encoding="utf-8")
    same_after("a title edited in the work tree")
    st = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("问题5·改", "问题5·新"), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    same_after("a hand edit of the same size and mtime")
    assert "问题5·新" in _notes_json(repo)
    repo.git("checkout", "--", ".")
    same_after("the edits undone")
    repo.close("ISS-4")
    same_after("a closure committed")
    repo.rename("ISS-7", "-moved")
    same_after("a file renamed")
    (repo.path / repo._path("ISS-8")).unlink()
    same_after("a ticket deleted in the work tree")
    repo.write("workflows/feature.yaml", FEATURE_WF.replace("完成:     {final: true}", "完成:     {}\n  上线: {final: true}"))
    same_after("the final states changed")


def test_a_few_files_skip_the_cache_and_a_few_new_answers_leave_it_as_it_is(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range of few ticket files reads them rather than load the cache, and never rewrites it; a run that
    learns fewer than SAVE_AFTER answers leaves the file as it is (rewriting it would cost more)."""
    from sopflow import release_cache
    from sopflow import release_notes as rn

    _busy_repo(repo)
    path = repo.path / ".git" / "sopflow" / "release-v1.json"
    monkeypatch.setattr(rn, "_CACHE_AFTER", 0)
    learnt = _all_notes(repo, cold=True)
    before = path.read_bytes()
    monkeypatch.setattr(rn, "_CACHE_AFTER", 1000)
    monkeypatch.setattr(release_cache.ReleaseCache, "load", lambda self: pytest.fail("loaded"))
    repo.close("ISS-4")  # something new to learn
    small = _all_notes(repo, cold=False)
    assert path.read_bytes() == before
    monkeypatch.undo()
    monkeypatch.setattr(rn, "_CACHE_AFTER", 0)
    assert _all_notes(repo, cold=False) == small != learnt  # a handful learnt: not written
    assert path.read_bytes() == before
    monkeypatch.setattr(release_cache, "SAVE_AFTER", 1)
    assert _all_notes(repo, cold=False) == small
    assert path.read_bytes() != before


@pytest.mark.parametrize(
    "damage",
    [b"", b"garbage\n", b'{"format": "sopflow-release"}\n{}', "truncate", "flip", "swap-root"],
)
def test_a_damaged_cache_is_ignored_and_written_anew(repo: Repo, damage: object, always_cache: None) -> None:
    _busy_repo(repo)
    fresh = _all_notes(repo, cold=True)
    path = repo.path / ".git" / "sopflow" / "release-v1.json"
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) - 40]
    elif damage == "flip":
        at = len(data) - 200
        data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    elif damage == "swap-root":
        data = data.replace(str(repo.path.resolve()).encode(), b"/elsewhere", 1)
    else:
        assert isinstance(damage, bytes)
        data = damage
    path.write_bytes(data)
    assert _all_notes(repo, cold=False) == fresh
    assert path.read_bytes() != data and _cache_parts(repo)[0], "written anew"


def test_work_tree_shortcut_gives_git_s_answer(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """At HEAD an unchanged ticket file is read from the work tree instead of git: same notes."""
    from sopflow import release_notes as rn
    from sopflow.adapters import gitlog

    _busy_repo(repo)
    read: list[str] = []
    real_read_blobs = gitlog.read_blobs

    def spy(root: Path, oids: object) -> dict[str, bytes]:
        got = real_read_blobs(root, oids)  # type: ignore[arg-type]
        read.extend(got)
        return got

    monkeypatch.setattr(gitlog, "read_blobs", spy)
    shortcut = _notes_json(repo), _notes_json(repo, all_touched=True)
    _drop_release_cache(repo)
    changes = gitlog.tree_changes(repo.path, repo.git("rev-parse", "v1"), repo.git("rev-parse", "HEAD"), "tickets")
    removed = {c.old_id for c in changes if c.status == "D"}
    assert removed and set(read) == removed, "git gave the removed files, the work tree those at HEAD"
    read.clear()
    # the same without the shortcut: no work-tree copy is ever git's, so every blob is read from git
    monkeypatch.setattr(gitlog, "blob_id", lambda data, n: "")
    assert (_notes_json(repo), _drop_release_cache(repo), _notes_json(repo, all_touched=True)) == (
        shortcut[0], None, shortcut[1])
    assert {c.new_id for c in changes if c.status == "A"} <= set(read)
    # and away from HEAD (an empty commit on top, the range ending below it): git's copies only
    repo.commit("chore: on top", add=False)
    monkeypatch.setattr(rn._TicketFiles, "data", lambda *a, **k: pytest.fail("read the work tree"))
    assert json.loads(_notes_json(repo, "v1..HEAD~1"))["tickets"] == json.loads(shortcut[0])["tickets"]


def test_ticket_changed_in_the_work_tree_is_read_from_git(repo: Repo) -> None:
    """The closure is committed, then its history entry is deleted in the work tree (not committed): the
    range still ships it (the committed diff counts), and the work tree's metadata shows."""
    repo.new("ISS-1", "一")
    repo.tag("v1")
    repo.close("ISS-1")
    path = repo.path / repo._path("ISS-1")
    text = path.read_text(encoding="utf-8")
    closing = next(line for line in text.split("\n") if "to: 关闭" in line)
    path.write_text(text.replace(closing + "\n", "").replace("title: 一", "title: 一·改"), encoding="utf-8")
    notes = repo.notes()
    assert ids(notes) == ["ISS-1"]
    assert ticket(notes, "ISS-1")["title"] == "一·改"
    assert ticket(notes, "ISS-1")["entered_final_at"] == "2026-09-21T10:00:00+08:00"


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_worker_processes_give_the_same_notes(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, workers: int, always_cache: None
) -> None:
    from sopflow import release_notes as rn
    from sopflow.adapters import forkmap

    _busy_repo(repo)
    monkeypatch.setattr(forkmap, "cpus", lambda: 1)
    serial = _cold_json(repo), _cold_json(repo, all_touched=True), _cold_json(repo, "v1..HEAD~2")
    monkeypatch.setattr(forkmap, "cpus", lambda: workers)
    monkeypatch.setattr(rn, "_MIN_SLICE", 1)
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    assert (_cold_json(repo), _cold_json(repo, all_touched=True), _cold_json(repo, "v1..HEAD~2")) == serial
    assert len(forked) == 3 * (workers - 1)
    # what the runs learnt gives the same notes: once learnt, nothing is left to read in a worker
    for learnt in (False, True):
        forked.clear()
        assert (_notes_json(repo), _notes_json(repo, all_touched=True), _notes_json(repo, "v1..HEAD~2")) == serial
        assert (forked == []) is (learnt or workers == 1)


# files git shows in odd ways: the whole-file reading must find in them what a diff of the folder finds
_ODD_FILES = {
    "ISS-1-crlf.md": "---\r\nid: ISS-1\r\nstate: 关闭\r\nhistory:\r\n  - {at: 2026-01-01T00:00:00+08:00, by: a, "
    "action: 问题关闭, to: 关闭}\r\n---\r\nbody\r\n",
    "ISS-2-no-newline.md": "---\nid: ISS-2\nstate: 关闭\nhistory:\n  - {at: 2026-01-02T00:00:00+08:00, by: b,\n"
    '     action: 问题关闭, to: 关闭, note: "a, b: c"}\n---\n- {at: x, to: 关闭} in the body counts too',
    "ISS-3-binary.md": "---\nid: ISS-3\nstate: 关闭\nhistory:\n  - {at: 2026-01-03T00:00:00+08:00, by: c, "
    "action: 问题关闭, to: 关闭}\n---\n\x00",
    "ISS-4-tabs.md": "---\nid: ISS-4\nstate: 关闭\nhistory:\n\t- {at: 2026-01-04T00:00:00+08:00, by: d, "
    "action: 问题关闭, to: 关闭}\n  - {at: '2026-01-05', by: 'e', action: \"问题\\u5173闭\", to: 关闭}\n---\n",
    "ISS-5-twice.md": "---\nid: ISS-5\nhistory:\n  - {at: 2026-01-06T00:00:00+08:00, action: 问题关闭, to: 关闭}\n"
    "  - {at: 2026-01-06T00:00:00+08:00, action: 问题关闭, to: 关闭}\n  - {to: 关闭, at: [broken}\n---\n",
    "ISS-6-first-line.md": "  - {at: 2026-01-07T00:00:00+08:00, action: 问题关闭, to: 关闭}\n",
    "ISS-7-empty.md": "",
}


def test_whole_files_give_what_the_folder_diff_gives(repo: Repo) -> None:
    from sopflow import release_notes as rn
    from sopflow.adapters import gitlog

    base = repo.git("rev-parse", "HEAD")
    for name, text in _ODD_FILES.items():
        (repo.path / "tickets").mkdir(exist_ok=True)
        (repo.path / "tickets" / name).write_bytes(text.encode("utf-8") + (b"\xff" if "binary" in name else b""))
    (repo.path / "tickets" / "ISS-8-bad-utf8.md").write_bytes(
        b"---\nhistory:\n  - {at: 2026-01-08, action: \xe5\x85\xb3, to: \xe5\x85\xb3\xe9\x97\xad}\n---\n\xc3("
    )
    repo.commit("ISS-1 add odd files")
    middle = repo.git("rev-parse", "HEAD")
    repo.git("mv", "tickets/ISS-1-crlf.md", "tickets/ISS-1-moved.md")  # removed and added whole: nets out
    (repo.path / "tickets" / "ISS-2-no-newline.md").write_text(
        _ODD_FILES["ISS-2-no-newline.md"] + "\nmore\n  - {at: 2026-02-01T00:00:00+08:00, to: 关闭, action: x}\n",
        encoding="utf-8",
    )
    (repo.path / "tickets" / "ISS-5-twice.md").unlink()
    repo.commit("ISS-2 change odd files")
    end = repo.git("rev-parse", "HEAD")

    workflows = rn._load_workflows(repo.path, "workflows", None)
    by_prefix = {w.prefix: w for w in workflows}
    rx = release.id_regex(by_prefix)

    def finals_of(tid: str) -> frozenset[str]:
        return by_prefix[tid.rsplit("-", 1)[0]].final_states

    load = rn._yaml_loader()
    for a, b in [(base, middle), (middle, end), (base, end), (end, base), (gitlog.empty_tree(repo.path), end)]:
        diff = gitlog.finish(repo.path, gitlog.start_diff(repo.path, a, b, "tickets"), "diff")
        expected = release.final_entries_from_diff(diff, lambda p: release.id_from_path(p, rx), finals_of, load)
        for rev in (None, b):  # from the work tree at HEAD, else from git
            if rev is None and b != end:
                continue
            files = rn._TicketFiles(repo.path, "tickets", rev)
            finals, changed, _ = rn._Shipping(repo.path, "tickets", a, b, files, rx, by_prefix).finish()
            assert finals == expected, (a, b, rev)
            assert changed >= release.changed_ids(diff, lambda p: release.id_from_path(p, rx))
    assert release.final_entries_from_diff(
        gitlog.finish(repo.path, gitlog.start_diff(repo.path, base, middle, "tickets"), "diff"),
        lambda p: release.id_from_path(p, rx),
        finals_of,
        load,
    ).keys() == {"ISS-1", "ISS-2", "ISS-4", "ISS-5", "ISS-6", "ISS-8"}  # not ISS-3: git sees a binary file


_ENTRY_TEXT = st.lists(
    st.sampled_from([*"ab 关闭:,-#'\"\\{}[]&*!|>%@`?\t", "\\n", "\\u5173", ": ", ", "]), max_size=8
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    note=_ENTRY_TEXT,
    by=_ENTRY_TEXT,
    quote=st.sampled_from(['"', "'", ""]),
    wrap=st.booleans(),
    indent=st.sampled_from(["", " ", "   "]),
)
def test_entry_loader_agrees_with_the_yaml_loader(note: str, by: str, quote: str, wrap: bool, indent: str) -> None:
    from sopflow import release_notes as rn

    text = f"- {{at: 2026-01-01T00:00:00+08:00, by: {quote}{by}{quote},"
    text += f"\n{indent}" if wrap else " "
    text += f"to: 关闭, note: {quote}{note}{quote}}}"
    assert rn._entry_loader()(text) == rn._yaml_loader()(text)


def test_sandbox_reads_dict_keys_as_the_stock_sandbox_does() -> None:
    """The sandbox's shortcut for ``d.key`` on a plain dict gives what jinja2's own lookup gives."""
    import functools

    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from sopflow import release_notes as rn

    ours = rn._sandbox()
    stock = rn._sandbox()
    stock.getattr = functools.partial(ImmutableSandboxedEnvironment.getattr, stock)  # type: ignore[method-assign]

    def outcome(env: object, expr: str) -> tuple[str, str]:
        try:
            return "ok", env.from_string("{{ " + expr + " }}").render(data)  # type: ignore[attr-defined]
        except Exception as exc:  # the error itself is compared
            return type(exc).__name__, str(exc)

    data = {"d": {"title": "t", "items": "shadowed", "keys": 1, "_x": 2, "n": None, "l": [1]}}
    for expr in ["d.title", "d['items']", "d.items is callable", "d.keys is callable", "d._x is defined",
                 "d.n is none", "d.missing is defined", "d.update is defined", "d.get('title')", "d.missing",
                 "d.title.missing", "d.l.append", "d.__class__", "d.items()|list|length"]:  # fmt: skip
        assert outcome(ours, expr) == outcome(stock, expr), expr


def test_the_log_read_without_pread_gives_the_same_notes(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where os.pread is missing (Windows) the log is read once git has ended, from the file's start."""
    from sopflow.adapters import gitlog

    _busy_repo(repo)
    monkeypatch.setattr(gitlog.LogReader, "_CHUNK", 97)  # records cut across reads
    streamed = _all_notes(repo, cold=True)
    monkeypatch.delattr(os, "pread")
    assert _all_notes(repo, cold=True) == streamed
