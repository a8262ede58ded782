"""The pure replay behind ``check --base``: entries judged against a workflow and people as of the base."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sopflow.core import yamlio
from sopflow.core.config import parse_config
from sopflow.core.replay import After, Facts, added_entries, replay
from sopflow.core.workflow import Workflow, parse_workflow

WF = """\
type: job
prefix: JOB
roles: [dev, lead]
fields:
  size: {type: int}
  code: {type: string, readonly: true}
states:
  todo: {initial: true, checklist: sops/x.md}
  doing: {}
  done: {final: true}
transitions:
  - {trigger: start, source: todo, dest: doing, by: [dev], require: {checklist: complete}}
  - {trigger: back, source: doing, dest: todo, by: [lead, assignee]}
  - {trigger: finish, source: doing, dest: done, by: [lead], require: {children: closed, wiki: linked, fields: [size]}}
"""
CFG = """\
people:
  ann: {email: ann@x, roles: [dev]}
  lee: {email: lee@x, roles: [lead]}
  max: {email: max@x, roles: []}
"""


def wf() -> Workflow:
    w, problems = parse_workflow(yamlio.load(WF), "job", "workflows/job.yaml")
    assert w is not None and not [p for p in problems if p.severity == "error"], problems
    return w


CONFIG = parse_config(yamlio.load(CFG))[0]


def e(action: str, by: str = "ann", at: str = "10:00", **kw: Any) -> dict[str, Any]:
    return {"at": f"2026-11-21T{at}:00+08:00", "by": by, "action": action, **kw}


def ticket(state: str, hist: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"id": "JOB-1", "type": "job", "title": "t", "state": state, "reporter": "ann",
            "created": "2026-11-21T10:00:00+08:00", **kw, "history": hist}


CREATE = e("create", to="todo")


def run(before: dict[str, Any] | None, after: dict[str, Any], body: str = "", facts: Facts | None = None
        ) -> list[tuple[str, int | None, str]]:
    n = len(after["history"])
    a = After("tickets/JOB-1.md", after, body.splitlines(keepends=True), [100 + i for i in range(n)],
              {"state": 5, "assignee": 6, "roles": 7, "history": 99, "code": 8, "size": 9})
    return [(p.code, p.line, p.message) for p in replay(a, before, wf(), CONFIG, facts=facts, base="main")
            if p.severity == "error"]


TICKED = "## Checklist: todo\n- [x] one\n"
UNTICKED = "## Checklist: todo\n- [ ] one\n"


def test_legal_sequence_passes() -> None:
    before = ticket("todo", [CREATE])
    after = ticket("todo", [CREATE, e("start", **{"from": "todo"}, to="doing"),
                            e("back", by="lee", at="11:00", **{"from": "doing"}, to="todo")])
    assert run(before, after, TICKED + UNTICKED) == []  # the first visit's checklist was complete


def test_checklist_of_the_visit_is_judged() -> None:
    before = ticket("todo", [CREATE])
    after = ticket("doing", [CREATE, e("start", **{"from": "todo"}, to="doing")])
    [(code, line, msg)] = run(before, after, UNTICKED)
    assert (code, line) == ("gate-require", 101)
    assert "1 unticked checklist item of todo: 1. one" in msg


def test_pseudo_role_assignee_follows_the_history() -> None:
    before = ticket("doing", [CREATE, e("start", **{"from": "todo"}, to="doing")], assignee="max")
    after = ticket("todo", [*before["history"], e("back", by="max", **{"from": "doing"}, to="todo")],
                   assignee="max")
    assert run(before, after, TICKED) == []
    after2 = ticket("todo", [*before["history"], e("assign", by="ann", assignee="ann"),
                             e("back", by="max", **{"from": "doing"}, to="todo")], assignee="ann")
    [(code, line, _)] = run(before, after2, TICKED)
    assert (code, line) == ("gate-permission", 103)


def test_requirements_children_wiki_and_fields() -> None:
    before = ticket("doing", [CREATE, e("start", **{"from": "todo"}, to="doing")])
    after = ticket("done", [*before["history"], e("finish", by="lee", **{"from": "doing"}, to="done")])
    [(code, _, msg)] = run(before, after, facts=Facts(children_open=["JOB-2"]))
    assert code == "gate-require"
    assert "field size must be filled" in msg
    assert "child tickets not closed: JOB-2" in msg
    assert "a wiki page must be linked" in msg
    after["size"] = 3
    assert run(before, after, facts=Facts(children_open=[], wiki_mentioned=True)) == []
    after["links"] = {"wiki": ["wiki/a.md"]}
    assert run(before, after, facts=Facts(children_open=[])) == []


def test_binding_to_a_non_holder_does_not_count() -> None:
    before = ticket("doing", [CREATE, e("start", **{"from": "todo"}, to="doing")])
    hist = [*before["history"], e("assign", by="max", role="lead", person="max"),
            e("finish", by="max", **{"from": "doing"}, to="done")]
    after = ticket("done", hist, roles={"lead": "max"}, size=1, links={"wiki": ["w.md"]})
    errs = run(before, after, facts=Facts(children_open=[]))
    assert [c for c, _, _ in errs] == ["gate-permission"]
    # lee held lead at the base: binding lee and letting lee act is fine
    hist[-2] = e("assign", by="ann", role="lead", person="lee")
    hist[-1] = e("finish", by="lee", **{"from": "doing"}, to="done")
    after = ticket("done", hist, roles={"lead": "lee"}, size=1, links={"wiki": ["w.md"]})
    assert run(before, after, facts=Facts(children_open=[])) == []


def test_merged_history_with_new_entries_among_old_ones() -> None:
    old = [CREATE, e("comment", at="12:00", note="old")]
    before = ticket("todo", old)
    merged = [CREATE, e("start", at="11:00", **{"from": "todo"}, to="doing"), old[1]]
    assert run(before, ticket("doing", merged), TICKED) == []
    # an inserted entry that contradicts an old transition after it is reported
    old2 = [CREATE, e("start", at="12:00", **{"from": "todo"}, to="doing")]
    before2 = ticket("doing", old2)
    bad = [CREATE, e("start", at="11:00", **{"from": "todo"}, to="doing"), old2[1]]
    errs = run(before2, ticket("doing", bad), TICKED + TICKED)
    assert ("gate-transition", 102) in [(c, line) for c, line, _ in errs]


def test_readonly_and_fixed_keys() -> None:
    before = ticket("todo", [CREATE], code="A")
    after = ticket("todo", [CREATE, e("set", set={"code": "B"})], code="B")
    codes = sorted(c for c, _, _ in run(before, after))
    assert codes == ["gate-readonly", "gate-readonly"]
    after = ticket("todo", [CREATE], code="A")
    after["reporter"] = "lee"
    assert [c for c, _, _ in run(before, after)] == ["gate-hand-edit"]


def test_unknown_action_and_create_in_the_middle() -> None:
    before = ticket("todo", [CREATE])
    after = ticket("todo", [CREATE, e("frobnicate"), e("create", to="todo")])
    assert [c for c, _, _ in run(before, after)] == ["gate-transition", "gate-transition"]


entries = st.lists(st.integers(0, 50), max_size=8, unique=True)


@given(entries, entries)
def test_added_entries_finds_exactly_the_inserted_ones(old: list[int], extra: list[int]) -> None:
    olds = [{"n": x} for x in sorted(old)]
    news = [{"n": 100 + x} for x in extra]
    merged = sorted(olds + news, key=lambda d: d["n"] % 100 + (0.5 if d["n"] >= 100 else 0))
    added, _ = added_entries(olds, merged)
    assert added is not None
    assert [merged[i] for i in added] == [d for d in merged if d["n"] >= 100]
    if olds:
        changed = [*olds[:-1], {"n": -1}]
        assert added_entries(olds, changed + news)[0] is None
