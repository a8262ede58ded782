"""``sopflow check --base REV``: the pull-request gate, on real repositories with branches.

Every rule has a case that passes and a case that fails with its message on the right file and line.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from gate_support import ALICE, FAN, add_entry, edit, ok, ticket
from tests.conftest import Repo

BOB = {"GIT_AUTHOR_EMAIL": "bob@example.com", "GIT_AUTHOR_NAME": "Bob"}


def line_of(repo: Repo, rel: str, needle: str) -> int:
    for n, line in enumerate(repo.read(rel).splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {rel}")


def gate(repo: Repo, base: str = "main", *extra: str) -> tuple[int, list[dict[str, object]]]:
    r = repo.run("check", "--base", base, "--format", "json", *extra)
    assert r.code in (0, 1), r.err
    data = json.loads(r.out)
    return r.code, data["problems"]


def errors(problems: list[dict[str, object]], code: str | None = None) -> list[dict[str, object]]:
    return [p for p in problems if p["severity"] == "error" and (code is None or p["code"] == code)]


@pytest.fixture
def pr(repo: Repo) -> Repo:
    """main holds ISS-1 (created by alice, in 维护人员处理); the work happens on branch pr."""
    ok(repo, "new", "issue_track", "--title", "Cable fault", "--set", "customer_type=金融", as_="alice")
    repo.git("checkout", "-q", "-b", "pr")
    return repo


def ready_to_submit(repo: Repo) -> None:
    ok(repo, "tick", "ISS-1", "1", "2", as_="alice")


# ---------------------------------------------------------------- legal changes pass
def test_legal_change_passes(pr: Repo) -> None:
    ready_to_submit(pr)
    ok(pr, "do", "ISS-1", "提交审核", "--note", "背景 进展 下一步", "--role", "维护代表=fan", as_="alice")
    ok(pr, "comment", "ISS-1", "looks fine", as_="fan")
    ok(pr, "do", "ISS-1", "转SE分析改进", as_="fan")
    ok(pr, "new", "issue_track", "--title", "Second", as_="fan")
    r = pr.run("check", "--base", "main")
    assert r.code == 0, r.out + r.err
    assert r.out.strip().endswith("ok: 0 errors, 0 warnings")


def test_unknown_base_is_a_clear_error(pr: Repo) -> None:
    r = pr.run("check", "--base", "no-such-branch")
    assert r.code == 1
    assert "--base no-such-branch: no such revision" in r.err
    assert "Traceback" not in r.err


def test_no_change_passes(pr: Repo) -> None:
    assert gate(pr) == (0, [])


# ---------------------------------------------------------------- new tickets
def test_new_ticket_must_start_in_initial_state(pr: Repo) -> None:
    ok(pr, "new", "issue_track", "--title", "Sneaky", as_="alice")
    rel = ticket(pr, "ISS-2")
    edit(pr, rel, "action: create, to: 维护人员处理", "action: create, to: 关闭")
    edit(pr, rel, "state: 维护人员处理", "state: 关闭")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-create")
    assert p["path"] == rel
    assert p["line"] == line_of(pr, rel, "action: create")
    assert "must start in the initial state 维护人员处理" in str(p["message"])


def test_new_ticket_needs_a_create_entry(pr: Repo) -> None:
    rel = "tickets/ISS-5.md"
    pr.write(rel, "---\nid: ISS-5\ntype: issue_track\ntitle: t\nstate: 维护代表审核\nreporter: alice\n"
             "issue_level: 一般问题\nhistory:\n"
             "  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, to: 维护代表审核}\n"
             "---\n")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-create")
    assert (p["path"], p["line"]) == (rel, 9)
    assert "first history entry must be a create entry" in str(p["message"])


def test_untracked_new_ticket_is_judged(pr: Repo) -> None:
    ok(pr, "--no-commit", "new", "issue_track", "--title", "Draft", as_="alice")
    rel = ticket(pr, "ISS-2")
    assert rel in pr.git("ls-files", "--others")
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核")
    code, problems = gate(pr)
    assert code == 1
    assert [p["path"] for p in errors(problems, "gate-state")] == [rel]


# ---------------------------------------------------------------- state changes
def test_state_edited_by_hand_fails_on_the_state_line(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核")
    pr.commit_all("hand edit")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-state")
    assert (p["path"], p["line"]) == (rel, line_of(pr, rel, "state:"))
    assert "history entries lead to '维护人员处理'" in str(p["message"])


def test_illegal_transition_fails_on_its_history_line(pr: Repo) -> None:
    rel = ticket(pr)
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: fan, action: 转SE分析改进, from: 维护人员处理, to: SE分析改进}")
    edit(pr, rel, "state: 维护人员处理", "state: SE分析改进")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-transition")
    assert (p["path"], p["line"]) == (rel, line_of(pr, rel, "action: 转SE分析改进"))
    assert "转SE分析改进 cannot be fired from state 维护人员处理 (only from 维护代表审核)" in str(p["message"])
    assert not errors(problems, "gate-state")


def test_requirements_must_hold(pr: Repo) -> None:
    rel = ticket(pr)
    # by hand: no note, checklist unticked, 维护代表 not bound
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, to: 维护代表审核}")
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-require")
    assert p["line"] == line_of(pr, rel, "action: 提交审核")
    msg = str(p["message"])
    assert "a handoff note is required" in msg
    assert "role 维护代表 must be bound" in msg
    assert "2 unticked checklist items of 维护人员处理" in msg


def test_requirements_met_pass_with_hand_written_entry(pr: Repo) -> None:
    rel = ticket(pr)
    ready_to_submit(pr)
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, "
              "to: 维护代表审核, assignee: fan, note: 背景}")
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核\nassignee: fan")
    edit(pr, rel, "reporter: alice", "reporter: alice\nroles: {维护代表: fan}")
    code, problems = gate(pr)
    assert (code, errors(problems)) == (0, [])


def test_checklist_of_an_earlier_visit_is_judged_on_its_own_section(pr: Repo) -> None:
    ready_to_submit(pr)
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="alice")
    ok(pr, "do", "ISS-1", "打回补充信息", "--note", "more", as_="fan")
    # back in 维护人员处理 with a fresh, unticked checklist: the first 提交审核 was still legal
    assert gate(pr)[0] == 0


# ---------------------------------------------------------------- permissions
def test_by_must_be_allowed(pr: Repo) -> None:
    rel = ticket(pr)
    ready_to_submit(pr)
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: bob, action: 提交审核, from: 维护人员处理, "
              "to: 维护代表审核, note: x}")
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核")
    edit(pr, rel, "reporter: alice", "reporter: alice\nroles: {维护代表: fan}")
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-permission")
    assert p["line"] == line_of(pr, rel, "by: bob")
    assert "bob may not fire 提交审核: it needs 维护处理人 under people as of main" in str(p["message"])


def test_a_pull_request_cannot_grant_itself_a_role_and_use_it(pr: Repo) -> None:
    cfg = pr.read("sopflow.yaml")
    pr.write("sopflow.yaml", cfg.replace("bob:   {email: bob@example.com, roles: [改进提取SE]}",
                                         "bob:   {email: bob@example.com, roles: [改进提取SE, 维护处理人]}"))
    pr.commit_all("give bob a role")
    ready_to_submit(pr)
    # sopflow itself (reading the proposed config) lets bob act ...
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="bob")
    # ... but the gate judges him with people as they stood at main
    code, problems = gate(pr)
    assert code == 1
    [p] = errors(problems, "gate-permission")
    assert "bob may not fire 提交审核" in str(p["message"])
    # once the role is merged into main, the same action passes
    pr.git("checkout", "-q", "main")
    pr.git("checkout", "-q", "pr", "--", "sopflow.yaml")
    pr.commit_all("role granted by review")
    pr.git("checkout", "-q", "pr")
    pr.git("merge", "-q", "main", "-m", "merge main")
    assert gate(pr, "main")[0] == 0


def test_role_binding_inside_the_change_counts_only_for_holders_at_base(pr: Repo) -> None:
    ready_to_submit(pr)
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="alice")
    ok(pr, "comment", "ISS-1", "base point", as_="fan")
    pr.git("branch", "-f", "main")  # main now has ISS-1 in 维护代表审核, bound to fan
    rel = ticket(pr)
    # bind bob (not a 维护代表 at main) by hand and let him send the ticket back
    edit(pr, rel, "roles: {维护代表: fan}", "roles: {维护代表: bob}")
    add_entry(pr, rel, "{at: 2026-11-21T12:00:00+08:00, by: bob, action: assign, role: 维护代表, person: bob}")
    add_entry(pr, rel, "{at: 2026-11-21T12:01:00+08:00, by: bob, action: 打回补充信息, from: 维护代表审核, "
              "to: 维护人员处理, note: again}")
    edit(pr, rel, "state: 维护代表审核", "state: 维护人员处理")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-permission")
    assert p["line"] == line_of(pr, rel, "action: 打回补充信息")
    assert "维护代表 bound to fan" in str(p["message"])
    # the same done by fan, who held the role at main, passes
    edit(pr, rel, "by: bob, action: 打回补充信息", "by: fan, action: 打回补充信息")
    assert not errors(gate(pr)[1], "gate-permission")


def test_role_binding_by_hand_without_history_is_reported(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "reporter: alice", "reporter: alice\nroles: {维护代表: fan}")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-hand-edit")
    assert (p["line"], "roles changed without a history entry" in str(p["message"])) == (
        line_of(pr, rel, "roles:"), True)


# ---------------------------------------------------------------- history is append-only
def test_old_history_entries_must_not_change(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "by: alice, action: create", "by: fan, action: create")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-history")
    assert (p["path"], p["line"]) == (rel, line_of(pr, rel, "action: create"))
    assert "history entry 1 as of main was changed or removed (history is append-only" in str(p["message"])


def test_old_history_entries_must_not_be_removed(pr: Repo) -> None:
    ok(pr, "comment", "ISS-1", "one", as_="alice")
    pr.git("branch", "-f", "main")
    rel = ticket(pr)
    text = pr.read(rel)
    pr.write(rel, re.sub(r"  - \{[^\n]*action: comment[^\n]*\n", "", text))
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-history")
    assert p["line"] == line_of(pr, rel, "history:")
    assert "1 history entry was removed" in str(p["message"])


# ---------------------------------------------------------------- deletion and renames
def test_deleted_ticket_fails(pr: Repo) -> None:
    rel = ticket(pr)
    pr.git("rm", "-q", rel)
    pr.git("commit", "-qm", "delete")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-deleted")
    assert (p["path"], p["line"]) == (rel, None)
    assert "ticket ISS-1 was deleted" in str(p["message"])


def test_renamed_file_with_same_id_passes(pr: Repo) -> None:
    rel = ticket(pr)
    pr.git("mv", rel, "tickets/ISS-1-cable.md")
    pr.git("commit", "-qm", "rename")
    ok(pr, "comment", "ISS-1", "after rename", as_="alice")
    assert gate(pr) == (0, [])


# ---------------------------------------------------------------- fields
def test_readonly_field_edited_by_hand_fails(pr: Repo) -> None:
    ok(pr, "new", "issue_track", "--title", "With serial", "--set", "serial=S1", as_="alice")
    pr.git("branch", "-f", "main")
    assert gate(pr) == (0, [])  # written at creation: fine
    rel = ticket(pr, "ISS-2")
    edit(pr, rel, "serial: S1", "serial: S2")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-readonly")
    assert (p["path"], p["line"]) == (rel, line_of(pr, rel, "serial:"))
    assert "field serial is read-only" in str(p["message"])


def test_field_edit_without_history_is_a_warning(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "customer_type: 金融", "customer_type: 电网")
    code, problems = gate(pr)
    assert code == 0
    [p] = [x for x in problems if x["code"] == "unrecorded-edit"]
    assert (p["severity"], p["line"]) == ("warning", line_of(pr, rel, "customer_type:"))
    ok(pr, "set", "ISS-1", "customer_type=煤炭", as_="alice")
    assert gate(pr) == (0, [])


def test_assignee_edited_by_hand_fails(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "reporter: alice", "assignee: bob\nreporter: alice")
    _code, problems = gate(pr)
    [p] = errors(problems, "gate-hand-edit")
    assert p["line"] == line_of(pr, rel, "assignee:")
    ok(pr, "assign", "ISS-1", "fan", as_="alice")
    assert not errors(gate(pr)[1])


# ---------------------------------------------------------------- authors
def test_verify_authors(pr: Repo) -> None:
    ready = pr.run("tick", "ISS-1", "1", "2", as_="alice", env=ALICE)
    assert ready.code == 0
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="alice", env=ALICE)
    assert gate(pr, "main", "--verify-authors") == (0, [])
    # fan's name used by someone committing as bob
    ok(pr, "comment", "ISS-1", "in fan's name", as_="fan", env=BOB)
    rel = ticket(pr)
    _code, problems = gate(pr, "main", "--verify-authors")
    [p] = errors(problems, "gate-author")
    assert (p["path"], p["line"]) == (rel, line_of(pr, rel, "in fan's name"))
    assert "says by fan <fan@example.com> but was committed by <bob@example.com>" in str(p["message"])
    # without --verify-authors nobody asks
    assert gate(pr)[0] == 0


def test_uncommitted_entries_are_unverifiable_warnings(pr: Repo) -> None:
    ok(pr, "--no-commit", "comment", "ISS-1", "draft", as_="alice")
    code, problems = gate(pr, "main", "--verify-authors")
    assert code == 0
    [p] = problems
    assert (p["severity"], p["code"]) == ("warning", "gate-unverified")


def test_verify_authors_needs_base(pr: Repo) -> None:
    r = pr.run("check", "--verify-authors")
    assert r.code == 2
    assert "--verify-authors needs --base" in r.err


# ---------------------------------------------------------------- output formats
def test_github_and_text_formats_point_at_file_and_line(pr: Repo) -> None:
    rel = ticket(pr)
    edit(pr, rel, "state: 维护人员处理", "state: 关闭")
    line = line_of(pr, rel, "state:")
    r = pr.run("check", "--base", "main", "--format", "github")
    assert r.code == 1
    assert f"::error file={rel},line={line},title=sopflow gate-state::state is '关闭'" in r.out
    r = pr.run("check", "--base", "main")
    assert f"{rel}:{line}: error: state is '关闭' but the history entries lead to '维护人员处理'" in r.out
    assert r.out.strip().splitlines()[-1].startswith("failed:")


# ---------------------------------------------------------------- IDs
def test_new_avoids_ids_on_other_branches(pr: Repo) -> None:
    ok(pr, "new", "issue_track", "--title", "On pr", as_="alice")  # ISS-2 on branch pr
    pr.git("checkout", "-q", "main")
    out = ok(pr, "new", "issue_track", "--title", "On main", as_="alice")
    assert out.strip() == "ISS-3"  # main can see branch pr


def test_duplicate_ids_from_two_branches_fail_with_both_paths(pr: Repo) -> None:
    ok(pr, "new", "issue_track", "--title", "From pr", as_="alice")
    pr_file = ticket(pr, "ISS-2")
    other = pr.read(pr_file).replace("From pr", "From main")
    pr.git("checkout", "-q", "main")
    # someone offline made ISS-2 too (written directly: sopflow new would have skipped it)
    pr.write("tickets/ISS-2-from-main.md", other)
    pr.commit_all("offline ticket")
    pr.git("merge", "-q", "--no-edit", "pr")
    r = pr.run("check", "--format", "json")
    assert r.code == 1
    dups = [p for p in json.loads(r.out)["problems"] if p["code"] == "duplicate-id"]
    assert {p["path"] for p in dups} == {pr_file, "tickets/ISS-2-from-main.md"}
    assert all("ISS-2 is also used by" in p["message"] for p in dups)


# ---------------------------------------------------------------- cost
def test_only_changed_tickets_are_read(pr: Repo) -> None:
    # an unchanged ticket that is broken at base and now is never opened by the gate
    pr.write("tickets/ISS-9.md", "---\nid: [broken\n---\n")
    pr.commit_all("broken, committed at base")
    pr.git("branch", "-f", "main")
    ok(pr, "comment", "ISS-1", "hello", as_="alice")
    from sopflow.gate import check_base
    from sopflow.project import Project

    old = dict(os.environ)
    os.environ.update(pr.env)
    try:
        problems = check_base(Project(pr.root), "main")
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert problems == []


# ---------------------------------------------------------------- children and wiki requirements
JOB = """\
type: job
prefix: JOB
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {trigger: close, source: open, dest: closed, require: {children: closed, wiki: linked}}
"""


def test_children_and_wiki_requirements_are_judged_on_the_work_tree(repo: Repo) -> None:
    repo.write("workflows/job.yaml", JOB)
    repo.commit_all("job workflow")
    ok(repo, "new", "job", "--title", "Parent", as_="alice")
    ok(repo, "new", "job", "--title", "Child", as_="alice")
    ok(repo, "link", "JOB-2", "--parent", "JOB-1", as_="alice")
    repo.git("checkout", "-q", "-b", "pr")
    rel = ticket(repo, "JOB-1")
    add_entry(repo, rel, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: close, from: open, to: closed}")
    edit(repo, rel, "state: open", "state: closed")
    code, problems = gate(repo)
    assert code == 1
    [p] = errors(problems, "gate-require")
    assert p["line"] == line_of(repo, rel, "action: close")
    assert "child tickets not closed: JOB-2" in str(p["message"])
    assert "a wiki page must be linked" in str(p["message"])
    # close the child properly, and mention the parent on a wiki page
    ok(repo, "link", "JOB-2", "--wiki", "wiki/faq/cable.md", as_="alice")
    ok(repo, "do", "JOB-2", "close", as_="alice")
    edit(repo, "wiki/faq/cable.md", "tickets: [JOB-2]", "tickets: [JOB-2, JOB-1]")
    assert gate(repo) == (0, [])


def test_verify_authors_sees_lines_written_while_resolving_a_merge(pr: Repo) -> None:
    ok(pr, "new", "issue_track", "--title", "Other", as_="fan", env=FAN)
    pr.git("branch", "side")
    pr.git("branch", "-f", "main")
    ok(pr, "comment", "ISS-1", "alice on pr", as_="alice", env=ALICE)
    pr.git("checkout", "-q", "side")
    ok(pr, "comment", "ISS-2", "fan on side", as_="fan", env=FAN)
    pr.git("checkout", "-q", "pr")
    pr.git("merge", "-q", "--no-commit", "--no-ff", "side")
    rel = ticket(pr)
    add_entry(pr, rel, "{at: 2026-11-21T12:00:00+08:00, by: fan, action: comment, note: slipped into the merge}")
    pr.git("add", "-A")
    pr.git("commit", "-q", "--no-edit", "--author", "Bob <bob@example.com>")
    code, problems = gate(pr, "main", "--verify-authors")
    assert code == 1
    [p] = errors(problems, "gate-author")
    assert p["line"] == line_of(pr, rel, "slipped into the merge")
    assert "committed by <bob@example.com>" in str(p["message"])


def test_a_workflow_new_in_the_change_judges_its_tickets_with_a_warning(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.write("workflows/job.yaml", JOB)
    repo.commit_all("job workflow")
    ok(repo, "new", "job", "--title", "First job", as_="alice")
    code, problems = gate(repo)
    assert code == 0
    assert [(p["path"], p["code"]) for p in problems] == [("workflows/job.yaml", "gate-new-workflow")]


def test_a_base_without_sopflow_yaml_uses_the_current_people_with_a_warning(repo: Repo) -> None:
    repo.git("checkout", "-q", "--orphan", "before")
    repo.git("rm", "-rq", "--cached", ".")
    repo.git("commit", "-q", "--allow-empty", "-m", "empty")
    repo.git("checkout", "-q", "-f", "main")
    ok(repo, "new", "issue_track", "--title", "Adopted", as_="alice")
    code, problems = gate(repo, "before")
    assert code == 0
    assert {p["code"] for p in problems} == {"gate-no-base-config", "gate-new-workflow"}
