"""The claims of docs/security.md that no other test file proves: what sopflow guarantees, and what it
does not (each limit shown as it is, so the document cannot drift from the code)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import Repo
from gate_support import ALICE, FAN, add_entry, edit, ok, ticket


def gate(repo: Repo, *extra: str, base: str = "main") -> tuple[int, list[dict[str, object]]]:
    r = repo.run("check", "--base", base, "--format", "json", *extra)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)["problems"]


def codes(problems: list[dict[str, object]], severity: str = "error") -> set[object]:
    return {p["code"] for p in problems if p["severity"] == severity}


@pytest.fixture
def pr(repo: Repo) -> Repo:
    """main holds ISS-1 (alice's, in 维护人员处理); the pull request is branch pr."""
    ok(repo, "new", "issue_track", "--title", "Cable fault", "--set", "customer_type=金融", as_="alice", env=ALICE)
    repo.git("checkout", "-q", "-b", "pr")
    return repo


# ---------------------------------------------------------------- in a clone, identity is a claim
def test_local_identity_is_a_claim_not_authentication(pr: Repo) -> None:
    """Anyone with the clone can act in anyone's name locally (--as, SOPFLOW_USER); only the gate checks."""
    ok(pr, "comment", "ISS-1", "written by alice, recorded as fan", as_="fan", env=ALICE)
    data = json.loads(ok(pr, "show", "ISS-1", "--format", "json"))
    assert data["history"][-1]["by"] == "fan"
    _code, problems = gate(pr, "--verify-authors")
    assert "gate-author" in codes(problems)


def test_local_refusals_are_guidance_the_gate_is_the_enforcement(pr: Repo) -> None:
    """A hand edit can fabricate a consistent-looking transition: plain check accepts it, check --base not."""
    rel = ticket(pr)
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, "
              "to: 维护代表审核, note: skipped the checklist}")
    edit(pr, rel, "state: 维护人员处理", "state: 维护代表审核")
    assert pr.run("check").code == 0
    code, problems = gate(pr)
    assert code == 1 and "gate-require" in codes(problems)


def test_a_pull_request_cannot_loosen_a_workflow_and_use_it(pr: Repo) -> None:
    """Workflows are read as of the base: dropping a by: rule and firing the transition in one change fails."""
    wf = pr.read("workflows/issue_track.yaml")
    pr.write("workflows/issue_track.yaml", wf.replace("    dest: 维护代表审核\n    by: [维护处理人]\n",
                                                      "    dest: 维护代表审核\n"))
    pr.commit_all("anyone may submit")
    ok(pr, "tick", "ISS-1", "1", "2", as_="bob")
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="bob")  # sopflow reads the new rule
    code, problems = gate(pr)
    assert code == 1 and "gate-permission" in codes(problems)


def test_sopflow_never_rewrites_a_history_entry(pr: Repo) -> None:
    """Every commit sopflow makes only adds history lines (history is append-only), whatever the action."""
    start = pr.git("rev-parse", "HEAD").strip()
    ok(pr, "new", "issue_track", "--title", "Other", as_="fan")
    ok(pr, "tick", "ISS-1", "1", "2", as_="alice")
    ok(pr, "set", "ISS-1", "detail=more", as_="alice")
    ok(pr, "do", "ISS-1", "提交审核", "--note", "n", "--role", "维护代表=fan", as_="alice")
    ok(pr, "assign", "ISS-1", "alice", as_="fan")
    ok(pr, "comment", "ISS-1", "x", as_="fan")
    ok(pr, "link", "ISS-1", "--relates", "ISS-2", "--wiki", "wiki/faq/cable.md", as_="fan")
    ok(pr, "do", "ISS-1", "问题关闭", as_="fan")
    diff = pr.git("log", "-p", "-U0", "--format=%x00%s", f"{start}..HEAD")
    commits = [c for c in diff.split("\x00") if c.strip()]
    assert len(commits) == 8
    for c in commits:
        removed = [line for line in c.splitlines() if line.startswith("-  - {")]
        added = [line for line in c.splitlines() if line.startswith("+  - {")]
        assert removed == [] and added, c


def test_cloning_a_hostile_repository_runs_no_code(repo: Repo) -> None:
    """YAML tags, templates and git attributes from the repository never execute anything."""
    marker = repo.root.parent / "PWNED"
    payload = f"touch {marker}"
    repo.write("tickets/ISS-7.md", f'---\nid: ISS-7\nx: !!python/object/apply:os.system ["{payload}"]\n---\n')
    repo.write("templates/issue_track.md", "{{ cycler.__init__.__globals__.os.popen('" + payload + "').read() }}")
    repo.write("wiki/evil.md", f'---\ntitle: !!python/object/apply:os.system ["{payload}"]\n---\n')
    repo.write(".gitattributes", "* diff=evil merge=evil filter=evil\n")
    # even a git configuration that defines those helpers (which a repository cannot ship) is not used
    for key in ("diff.evil.command", "diff.evil.textconv"):
        repo.git("config", key, f"sh -c '{payload}'")
    repo.commit_all("hostile")
    for argv in (["list"], ["board"], ["show", "ISS-7"], ["check"], ["wiki", "list"], ["log", "ISS-7"],
                 ["new", "issue_track", "--title", "x"], ["release-notes"], ["stats"],
                 ["check", "--base", "HEAD~1", "--verify-authors"], ["site", "build"]):
        r = repo.run(*argv, as_="alice")
        assert "Traceback" not in r.err and "internal error" not in r.err, (argv, r.err)
    assert not marker.exists()


# ---------------------------------------------------------------- what the gate does not guarantee
def test_verify_authors_trusts_the_commit_author_email(pr: Repo) -> None:
    """Limit: a git author email is self-asserted; alice committing as fan passes --verify-authors."""
    ok(pr, "comment", "ISS-1", "in fan's name", as_="fan", env=FAN)  # alice's machine, fan's email
    assert gate(pr, "--verify-authors") == (0, [])


def test_history_already_on_the_base_is_trusted(pr: Repo) -> None:
    """Limit: whoever can push to the base (an admin, a force push) can rewrite history; the gate compares
    a change with its base and cannot see it. The same rewrite inside a pull request is caught."""
    rel = ticket(pr)
    edit(pr, rel, "by: alice, action: create", "by: fan, action: create")
    edit(pr, rel, "reporter: alice", "reporter: fan")
    code, problems = gate(pr)
    assert code == 1 and {"gate-history", "gate-hand-edit"} <= codes(problems)
    pr.commit_all("rewrite history")
    pr.git("branch", "-f", "main")  # pushed straight to the base
    ok(pr, "comment", "ISS-1", "later change", as_="alice")
    assert gate(pr) == (0, [])
    assert pr.run("check").code == 0


def test_a_ticket_unreadable_at_the_base_is_not_judged(pr: Repo) -> None:
    """Limit: when the base's copy of a ticket cannot be parsed, its change is reported as a warning
    (gate-skipped), not judged; plain check still validates the new file on its own."""
    rel = ticket(pr)
    edit(pr, rel, "title: Cable fault", "title: [unclosed")
    pr.commit_all("broken on main")
    pr.git("branch", "-f", "main")
    edit(pr, rel, "title: [unclosed", "title: fixed")
    add_entry(pr, rel, "{at: 2026-11-21T11:00:00+08:00, by: bob, action: 问题关闭, from: 维护人员处理, to: 关闭}")
    edit(pr, rel, "state: 维护人员处理", "state: 关闭")
    code, problems = gate(pr)
    assert code == 0 and codes(problems, "warning") == {"gate-skipped"}


def test_field_edits_without_history_are_only_warnings(pr: Repo) -> None:
    """Limit: a field changed by hand without a set entry is a warning (unrecorded-edit), not an error."""
    edit(pr, ticket(pr), "customer_type: 金融", "customer_type: 电网")
    code, problems = gate(pr)
    assert code == 0 and codes(problems, "warning") == {"unrecorded-edit"}


def test_the_gate_fails_closed_on_a_base_it_cannot_find(pr: Repo) -> None:
    r = pr.run("check", "--base", "origin/nowhere")
    assert r.code == 1 and re.search(r"--base origin/nowhere: no such revision", r.err)


def test_security_doc_names_only_tests_that_exist() -> None:
    from pathlib import Path

    import test_hostile

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "security.md").read_text("utf-8")
    refs = re.findall(r"`tests/(\w+\.py)::(\w+)(?:\[([^\]]+)\])?`", doc)
    assert len(refs) >= 50
    cases = {c.name for c in test_hostile.CASES}
    for file, name, param in refs:
        source = (root / "tests" / file).read_text("utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{file}::{name} does not exist"
        if param:
            assert file == "test_hostile.py" and param in cases, f"{file}::{name}[{param}] does not exist"
    for n in range(1, 14):
        assert f"**G{n}." in doc
