"""``sopflow log``: history steps matched to the commits that made them, hand edits shown as such."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIG, ISSUE_TRACK, SOP, Repo, git_env

from sopflow import history_log as hl

ISSUE = ("new", "issue_track", "--title", "【20261121】XX局点XX设备发生掉电问题", "--set", "customer_type=金融",
         "--role", "维护代表=fan")


def log(repo: Repo, tid: str) -> dict[str, Any]:
    res = repo.run("log", tid, "--format", "json")
    assert res.code == 0, res.err
    data: dict[str, Any] = json.loads(res.out)
    return data


def shas(repo: Repo) -> list[str]:
    return repo.git("log", "--format=%H").split()


def ticket_file(repo: Repo, tid: str) -> str:
    return next(p.relative_to(repo.root).as_posix() for p in (repo.root / "tickets").glob(f"{tid}*.md"))


@pytest.fixture(scope="module")
def walked_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    base = tmp_path_factory.mktemp("walked")
    (base / "home").mkdir()
    (base / "repo").mkdir()
    r = Repo(base / "repo", git_env(base / "home"))
    r.git("init", "-q", "-b", "main")
    r.write("sopflow.yaml", CONFIG)
    r.write("workflows/issue_track.yaml", ISSUE_TRACK)
    r.write("sops/issue-handling.md", SOP)
    r.write("templates/issue_track.md", "【问题现象】: {{ title }}\n")
    r.commit_all("setup")
    walk(r)
    yield r


@pytest.fixture
def walked(walked_once: Repo, tmp_path: Path) -> Repo:
    """A copy of a repository where ISS-1 went through four sopflow commits (see ``walk``)."""
    root = tmp_path / "walked"
    shutil.copytree(walked_once.root, root, symlinks=True)
    return Repo(root, walked_once.env)


def walk(repo: Repo) -> str:
    """ISS-1 created, ticked, submitted, commented: four sopflow commits."""
    assert repo.run(*ISSUE, as_="alice").code == 0
    assert repo.run("tick", "ISS-1", "1", "2", as_="alice", now="2026-11-21T11:00:00+08:00").code == 0
    res = repo.run("do", "ISS-1", "提交审核", "--note", "背景 进展 下一步", as_="alice", now="2026-11-21T12:00:00+08:00")
    assert res.code == 0, res.err
    assert repo.run("comment", "ISS-1", "看过了", as_="fan", now="2026-11-21T13:00:00+08:00").code == 0
    return "ISS-1"


def test_every_step_has_the_sopflow_commit_that_made_it(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    data = log(repo, tid)
    assert data["id"] == tid and data["path"] == ticket_file(repo, tid) and data["state"] == "维护代表审核"
    steps = data["steps"]
    assert [s["kind"] for s in steps] == ["entry"] * 4
    assert [s["entry"]["action"] for s in steps] == ["create", "tick", "提交审核", "comment"]
    assert [s["index"] for s in steps] == [0, 1, 2, 3]
    made = [s["commit"]["sha"] for s in steps]
    assert made == list(reversed(shas(repo)[:4]))  # the four newest commits, oldest first
    for s in steps:
        c = s["commit"]
        assert c["sopflow"] is True
        assert c["subject"].startswith(f"{tid} {s['entry']['action']}")
        assert c["author"] == "Tester" and c["email"] == "tester@example.com"
        assert c["date"].startswith("2026-11-21T10:00:00")


def test_text_output(walked: Repo) -> None:
    repo = walked
    res = repo.run("log", "ISS-1")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "ISS-1  【20261121】XX局点XX设备发生掉电问题"
    head = shas(repo)[0][:10]
    assert re.search(rf"^    commit {head}  Tester  2026-11-21 10:00$", res.out, re.MULTILINE)
    assert "2026-11-21 12:00  alice  提交审核  维护人员处理 → 维护代表审核" in res.out
    assert "HAND EDIT" not in res.out and "not committed" not in res.out


def test_a_hand_edit_of_the_state_is_shown_with_its_commit(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    rel = ticket_file(repo, tid)
    repo.write(rel, repo.read(rel).replace("state: 维护代表审核", "state: SE分析改进"))
    repo.commit_all("move it along")
    hand = shas(repo)[0]
    res = repo.run("do", tid, "问题关闭", as_="fan", now="2026-11-22T09:00:00+08:00")
    assert res.code == 0, res.err
    steps = log(repo, tid)["steps"]
    kinds = [(s["kind"], s.get("entry", {}).get("action") if s["kind"] == "entry" else s["to"]) for s in steps]
    assert kinds == [("entry", "create"), ("entry", "tick"), ("entry", "提交审核"), ("entry", "comment"),
                     ("hand-edit", "SE分析改进"), ("entry", "问题关闭")]
    edit = steps[4]
    assert edit["from"] == "维护代表审核" and edit["commit"]["sha"] == hand
    assert edit["commit"]["sopflow"] is False and edit["commit"]["subject"] == "move it along"
    text = repo.run("log", tid).out
    assert "HAND EDIT  state 维护代表审核 → SE分析改进 without a history entry" in text
    assert "(not a sopflow commit: “move it along”)" in text
    assert "1 hand edit bypassed sopflow" in text


def test_uncommitted_steps_and_hand_edits(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    res = repo.run("--no-commit", "comment", tid, "还没提交", as_="fan", now="2026-11-21T14:00:00+08:00")
    assert res.code == 0, res.err
    steps = log(repo, tid)["steps"]
    assert steps[-1]["entry"]["note"] == "还没提交" and steps[-1]["commit"] is None
    rel = ticket_file(repo, tid)
    repo.write(rel, repo.read(rel).replace("state: 维护代表审核", "state: 关闭"))
    steps = log(repo, tid)["steps"]
    assert steps[-1] == {"kind": "hand-edit", "from": "维护代表审核", "to": "关闭", "commit": None}
    assert "not committed" in repo.run("log", tid).out


def test_an_uncommitted_sopflow_transition_is_not_a_hand_edit(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    assert repo.run("--no-commit", "do", tid, "问题关闭", as_="fan").code == 0
    steps = log(repo, tid)["steps"]
    assert [s["kind"] for s in steps] == ["entry"] * 5 and steps[-1]["commit"] is None


def test_a_ticket_written_by_hand(repo: Repo) -> None:
    repo.write("tickets/ISS-7.md", "---\nid: ISS-7\ntype: issue_track\ntitle: 手写\nstate: 维护代表审核\n"
               "history:\n  - {at: 2026-11-20T10:00:00+08:00, by: fan, action: create, to: 维护人员处理}\n"
               "  - at: 2026-11-20T11:00:00+08:00\n    by: fan\n    action: 提交审核\n"
               "    from: 维护人员处理\n    to: 维护代表审核\n---\nbody\n")
    steps = log(repo, "ISS-7")["steps"]
    assert [s["commit"] for s in steps] == [None, None]  # nothing committed, nothing inconsistent
    repo.commit_all("hand-written ticket")
    steps = log(repo, "ISS-7")["steps"]
    assert [s["kind"] for s in steps] == ["entry", "entry"]
    assert all(s["commit"]["subject"] == "hand-written ticket" and not s["commit"]["sopflow"] for s in steps)


def test_created_by_hand_in_a_later_state_without_history(repo: Repo) -> None:
    repo.write("tickets/ISS-8.md", "---\nid: ISS-8\ntype: issue_track\ntitle: 无历史\nstate: 关闭\n---\n")
    repo.commit_all("add closed ticket")
    steps = log(repo, "ISS-8")["steps"]
    assert steps == [{"kind": "hand-edit", "from": None, "to": "关闭", "commit": steps[0]["commit"]}]
    assert steps[0]["commit"]["subject"] == "add closed ticket"
    assert "HAND EDIT  state (new file) → 关闭" in repo.run("log", "ISS-8").out


def test_log_follows_a_renamed_file(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    rel = ticket_file(repo, tid)
    repo.git("mv", rel, "tickets/ISS-1-power-failure.md")
    repo.commit_all("rename")
    steps = log(repo, tid)["steps"]
    assert all(s["commit"] and s["commit"]["sopflow"] for s in steps) and len(steps) == 4


def test_log_does_not_wander_into_a_similar_file(walked: Repo) -> None:
    """--follow takes a copied file for the ticket's origin; nothing older than the creation is shown."""
    repo = walked
    rel = ticket_file(repo, "ISS-1")
    text = repo.read(rel).replace("id: ISS-1", "id: ISS-2")
    repo.write("tickets/ISS-2.md", text)
    repo.commit_all("copy ISS-1 by hand")
    steps = log(repo, "ISS-2")["steps"]
    assert {s["commit"]["subject"] for s in steps} == {"copy ISS-1 by hand"}
    assert [s["kind"] for s in steps] == ["entry"] * 4


def test_entries_made_on_a_merged_branch(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    repo.git("checkout", "-q", "-b", "side")
    assert repo.run("comment", tid, "在分支上", as_="fan", now="2026-11-21T15:00:00+08:00").code == 0
    side = shas(repo)[0]
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "x\n")
    repo.commit_all("unrelated")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    steps = log(repo, tid)["steps"]
    assert steps[-1]["entry"]["note"] == "在分支上" and steps[-1]["commit"]["sha"] == side


def test_log_errors(repo: Repo) -> None:
    res = repo.run("log", "ISS-99")
    assert res.code == 1 and res.err == "sopflow: ISS-99: no such ticket\n"
    res = repo.run("log", "../etc")
    assert res.code == 1 and "malformed ticket ID" in res.err
    assert "Example: sopflow log" in repo.run("log", "--help").out


# ---------------------------------------------------------------- pure parsing

def test_entries_in_reads_every_way_an_entry_can_be_written() -> None:
    lines = [
        "  - {at: 1, by: a, action: create, to: X}",
        "  - {at: 2, by: a, action: go, from: X, to: Y,",
        "     note: \"背景: … 下一步: …\"}",
        "  - at: 3",
        "    by: b",
        "    action: comment",
        "    note: hi",
        "- [ ] a checklist item",
        "history: [{at: 4, by: c, action: tick}, {at: 5, by: c, action: set}]",
        "state: Y",
    ]
    got = hl.entries_in(lines)
    assert [e["at"] for e in got] == [1, 2, 3, 4, 5]
    assert got[1]["note"] == "背景: … 下一步: …"


def test_state_change_ignores_a_state_line_added_to_the_body() -> None:
    commit = hl.Commit("s", "a", "e", "d", "subj", True)
    assert hl.state_change(hl.Patch(commit, added=["state: B"], removed=["state: A"])) == ("A", "B")
    assert hl.state_change(hl.Patch(commit, added=["state: B"], created=True)) == (None, "B")
    assert hl.state_change(hl.Patch(commit, added=["state: B"])) is None
    assert hl.state_change(hl.Patch(commit, added=["state: '关闭'"], removed=["state: 关闭"])) is None


def test_parse_git_log() -> None:
    def record(sha: str, header: str, body: str, trailer: str = "Sopflow-Action: x") -> str:
        return f"{hl.RS}{sha}{hl.US}A B{hl.US}a@x{hl.US}2026-01-01T00:00:00+00:00{hl.US}subj {sha}\n\n{trailer}\n" \
               f"{hl.US}\ndiff --git a/x b/y\n{header}\n--- a/x\n+++ b/y\n@@ -1 +1 @@\n{body}\n"

    text = record("2", "index 1..2", "-state: A\r\n+state: B\r") + record("1", "new file mode 100644", "+state: A", "")
    p2, p1 = hl.parse_git_log(text)
    assert (p2.commit.sha, p2.commit.author, p2.commit.subject, p2.commit.sopflow) == ("2", "A B", "subj 2", True)
    assert p2.added == ["state: B"] and p2.removed == ["state: A"] and not p2.created
    assert p1.created and not p1.commit.sopflow and p1.added == ["state: A"]


def test_pathspecs_name_every_file_the_ticket_may_have_had() -> None:
    assert hl.pathspecs("tickets", "ISS-1", "tickets/ISS-1-x.md") == [
        ":(glob)tickets/ISS-1.md", ":(glob)tickets/ISS-1[-_. ]*.md", ":(literal)tickets/ISS-1-x.md"]
    assert hl.pathspecs("a[b]/", "T-2", "a[b]/T-2.md")[0] == ":(glob)a\\[b\\]/T-2.md"


def test_a_rename_that_also_changes_the_state_by_hand_is_a_hand_edit(walked: Repo) -> None:
    repo, tid = walked, "ISS-1"
    rel = ticket_file(repo, tid)
    text = repo.read(rel).replace("state: 维护代表审核", "state: 维护人员处理")  # an entry once led there
    (repo.root / rel).unlink()
    repo.write("tickets/ISS-1-renamed.md", text)
    repo.commit_all("rename and reopen")
    steps = log(repo, tid)["steps"]
    assert [s["kind"] for s in steps] == ["entry"] * 4 + ["hand-edit"]
    assert all(s["commit"]["sopflow"] for s in steps[:4])
    assert steps[-1]["to"] == "维护人员处理" and steps[-1]["commit"]["subject"] == "rename and reopen"


def test_match_assigns_a_re_added_entry_to_the_oldest_commit() -> None:
    e1 = {"at": 1, "by": "a", "action": "create", "to": "X"}
    e2 = {"at": 2, "by": "a", "action": "go", "from": "X", "to": "Y"}
    old = hl.Patch(hl.Commit("old", "", "", "", "", True), added=["history: [{at: 1, by: a, action: create, to: X}]",
                                                                    "state: X"], created=True)
    new = hl.Patch(hl.Commit("new", "", "", "", "", True),
                   added=["history:", "  - {at: 1, by: a, action: create, to: X}",
                          "  - {at: 2, by: a, action: go, from: X, to: Y}", "state: Y"],
                   removed=["history: [{at: 1, by: a, action: create, to: X}]", "state: X"])
    steps = hl.match([e1, e2], "Y", [new, old])
    assert [(s.kind, s.commit.sha if s.commit else None) for s in steps] == [("entry", "old"), ("entry", "new")]


def test_commit_dates_are_shown_in_the_project_time_zone(repo: Repo) -> None:
    assert repo.run(*ISSUE, as_="alice", env={"GIT_AUTHOR_DATE": "2026-11-21T03:30:00+00:00"}).code == 0
    step = log(repo, "ISS-1")["steps"][0]
    assert step["commit"]["date"] == "2026-11-21T11:30:00+08:00"
    assert "    commit " in repo.run("log", "ISS-1").out and "  2026-11-21 11:30" in repo.run("log", "ISS-1").out
