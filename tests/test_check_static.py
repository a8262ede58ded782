"""`sopflow check` without --base (SPEC 4): every rule, every problem, one bad file never hides others."""

from __future__ import annotations

import json

import pytest
from conftest import Repo


def check_json(repo: Repo) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = repo.run("check", "--format", "json")
    assert "Traceback" not in res.err, res.err
    return res.code, json.loads(res.out)


def codes(data: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(p["path"], p["code"]) for p in data["problems"]}


def good_ticket(tid: str = "ISS-1", **over: str) -> str:
    fields = {
        "id": tid, "type": "issue_track", "title": "t", "state": "维护人员处理", "reporter": "alice",
        "created": "2026-11-21T10:00:00+08:00", "updated": "2026-11-21T10:00:00+08:00", "issue_level": "一般问题",
    }
    fields.update(over)
    lines = ["---", *(f"{k}: {v}" for k, v in fields.items() if v != "<drop>"),
             "history:", "  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}", "---", ""]
    return "\n".join(lines)


def test_clean_repo_passes(repo: Repo) -> None:
    repo.write("tickets/ISS-1.md", good_ticket())
    code, data = check_json(repo)
    assert code == 0 and data == {"ok": True, "problems": []}
    res = repo.run("check")
    assert res.code == 0 and res.out.strip() == "ok: 0 errors, 0 warnings"


def test_every_broken_file_is_reported_and_none_hides_the_others(repo: Repo) -> None:
    repo.write("tickets/ISS-1.md", good_ticket())
    repo.write("tickets/ISS-2.md", "---\nid: ISS-2\ntitle: [unclosed\n---\n")
    repo.write("tickets/ISS-3.md", good_ticket("ISS-3").replace("title: t", "<<<<<<< HEAD\ntitle: a\n=======\ntitle: b\n>>>>>>> x"))
    repo.write("tickets/ISS-4.md", "")
    (repo.root / "tickets/ISS-5.md").write_bytes(b"---\nid: ISS-5\ntitle: \xff\xfe\n---\n")
    repo.write("tickets/ISS-6.md", "---\nid: !!python/object/apply:os.system [echo pwned]\n---\n")
    repo.write("tickets/ISS-7.md", good_ticket("ISS-7", state="不存在"))
    repo.write("tickets/ISS-8.md", good_ticket("ISS-8", type="nosuch"))
    repo.write("tickets/ISS-9.md", good_ticket("ISS-9", issue_level="<drop>"))
    repo.write("tickets/ISS-10.md", good_ticket("ISS-10", customer_type="火星"))
    repo.write("tickets/ISS-11.md", good_ticket("ISS-11", links="{parent: ISS-404, wiki: [wiki/none.md]}"))
    repo.write("tickets/ISS-12-dup.md", good_ticket("ISS-12"))
    repo.write("tickets/ISS-12-again.md", good_ticket("ISS-12"))
    repo.write("tickets/ISS-13.md", good_ticket("ISS-13", state="关闭"))
    repo.write("tickets/ISS-14.md", good_ticket("ISS-14", mystery="42"))
    repo.write("tickets/ISS-15.md", good_ticket("ISS-15", effort="-3"))
    code, data = check_json(repo)
    assert code == 1 and data["ok"] is False
    got = codes(data)
    expected = {
        ("tickets/ISS-2.md", "front-matter"), ("tickets/ISS-3.md", "conflict"), ("tickets/ISS-4.md", "front-matter"),
        ("tickets/ISS-5.md", "encoding"), ("tickets/ISS-6.md", "front-matter"), ("tickets/ISS-7.md", "unknown-state"),
        ("tickets/ISS-8.md", "unknown-type"), ("tickets/ISS-9.md", "missing-field"), ("tickets/ISS-10.md", "bad-field"),
        ("tickets/ISS-11.md", "broken-link"), ("tickets/ISS-12-dup.md", "duplicate-id"),
        ("tickets/ISS-12-again.md", "duplicate-id"), ("tickets/ISS-13.md", "state-history"),
        ("tickets/ISS-14.md", "unknown-field"), ("tickets/ISS-15.md", "bad-field"),
    }
    assert expected <= got, expected - got
    assert not any(p["path"] == "tickets/ISS-1.md" for p in data["problems"])
    unknown = next(p for p in data["problems"] if p["code"] == "unknown-field")
    assert unknown["severity"] == "warning" and unknown["line"] == 10
    dup = next(p for p in data["problems"] if p["path"] == "tickets/ISS-12-again.md")
    assert "tickets/ISS-12-dup.md" in dup["message"]
    state = next(p for p in data["problems"] if p["path"] == "tickets/ISS-7.md")
    assert state["line"] == 5
    conflict = next(p for p in data["problems"] if p["path"] == "tickets/ISS-3.md")
    assert conflict["line"] == 4


def test_text_and_github_formats(repo: Repo) -> None:
    repo.write("tickets/ISS-7.md", good_ticket("ISS-7", state="不存在"))
    res = repo.run("check")
    assert res.code == 1
    assert "tickets/ISS-7.md:5: error: state '不存在' is not a state of issue_track [unknown-state]" in res.out
    res = repo.run("check", "--format", "github")
    assert res.code == 1
    assert "::error file=tickets/ISS-7.md,line=5,title=sopflow unknown-state::state '不存在'" in res.out


def test_warnings_alone_pass(repo: Repo) -> None:
    repo.write("tickets/ISS-14.md", good_ticket("ISS-14", mystery="42"))
    code, data = check_json(repo)
    assert code == 0 and data["ok"] is True and data["problems"][0]["severity"] == "warning"


WF_BASE = """\
type: w
prefix: W
roles: [r1]
states:
  a: {initial: true}
  b: {}
  c: {final: true}
transitions:
  - {trigger: go, source: a, dest: b, by: [r1]}
  - {trigger: end, source: b, dest: c}
"""


@pytest.mark.parametrize("mutation, code", [
    (("  b: {}", "  b: {initial: true}"), "workflow-initial"),
    (("  c: {final: true}", "  c: {final: true}\n  island: {}"), "workflow-unreachable"),
    (("  - {trigger: end, source: b, dest: c}", "  - {trigger: end, source: b, dest: c}\n"
      "  - {trigger: trap, source: a, dest: d}\n  - {trigger: loop, source: d, dest: d}"), "unknown-state"),
    (("by: [r1]", "by: [nobody]"), "unknown-role"),
    (("type: w", "type: other"), "workflow-invalid"),
    (("prefix: W", "prefix: 'W-1'"), "workflow-invalid"),
    (("states:", "fields:\n  f: {type: choice}\nstates:"), "workflow-invalid"),
    (("  a: {initial: true}", "  a: {initial: true, checklist: sops/none.md}"), "missing-checklist"),
    (("transitions:", "sla:\n  priorities:\n    P1: {respond: soon}\ntransitions:"), "sla-invalid"),
    (("transitions:", "rules:\n  - {match: {keywords: [x]}, set: {nope: 1}}\ntransitions:"), "unknown-field"),
])
def test_workflow_rules(repo: Repo, mutation: tuple[str, str], code: str) -> None:
    old, new = mutation
    assert old in WF_BASE
    repo.write("workflows/w.yaml", WF_BASE.replace(old, new))
    rc, data = check_json(repo)
    assert rc == 1
    assert ("workflows/w.yaml", code) in codes(data), data


def test_dead_end_state(repo: Repo) -> None:
    repo.write("workflows/w.yaml", WF_BASE + "  - {trigger: stuck, source: a, dest: d}\n".replace("d}", "b}") +
               "")
    repo.write("workflows/w.yaml", WF_BASE.replace("  c: {final: true}", "  c: {final: true}\n  d: {}") +
               "  - {trigger: trap, source: a, dest: d}\n")
    _rc, data = check_json(repo)
    assert ("workflows/w.yaml", "workflow-dead-end") in codes(data)


def test_broken_workflow_yaml_is_reported_with_its_line(repo: Repo) -> None:
    repo.write("workflows/w.yaml", "type: w\nprefix: W\nstates: [unclosed\n")
    rc, data = check_json(repo)
    assert rc == 1
    p = next(x for x in data["problems"] if x["path"] == "workflows/w.yaml")
    assert p["code"] == "yaml" and p["line"] is not None


def test_config_errors(repo: Repo) -> None:
    repo.write("sopflow.yaml", "project: x\npeople: [1, 2]\npaths: {tickets: ../outside}\n")
    rc, data = check_json(repo)
    assert rc == 1
    assert ("sopflow.yaml", "config-invalid") in codes(data)
    assert ("sopflow.yaml", "path-outside") in codes(data)


def test_pages_review_overdue_and_links(repo: Repo) -> None:
    repo.write("wiki/old.md", "---\ntitle: old\nreviewed: 2026-01-01\nreview_every: 30d\ntickets: [ISS-404]\n---\n")
    _rc, data = check_json(repo)
    assert ("wiki/old.md", "review-overdue") in codes(data)
    assert ("wiki/old.md", "broken-link") in codes(data)
    # the shipped fixture page (reviewed 2026-10-01, every 90d) is due 2026-12-30: not overdue on 2026-11-21
    assert not any(p["path"] == "wiki/faq/cable.md" for p in data["problems"])
    res = repo.run("check", "--format", "json", now="2027-01-15T00:00:00+08:00")
    assert any(p["path"] == "wiki/faq/cable.md" and p["code"] == "review-overdue"
               for p in json.loads(res.out)["problems"])


def test_yaml_bomb_and_deep_nesting_do_not_hang(repo: Repo) -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n---\n"
    repo.write("tickets/ISS-1.md", bomb)
    repo.write("tickets/ISS-2.md", "---\nid: " + "[" * 5000 + "]" * 5000 + "\n---\n")
    rc, data = check_json(repo)
    assert rc == 1
    assert {("tickets/ISS-1.md", "front-matter"), ("tickets/ISS-2.md", "front-matter")} <= codes(data)
