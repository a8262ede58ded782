"""Property tests of the state machine: random workflows (dicts → files) and random action sequences.

After every action, read back from disk: the ticket is in a declared state, its history replays (from the
initial state, one legal transition per entry) to that state, and a refused action changed no byte. An
independent oracle written from SPEC 2.3 (who may fire, who may be bound, what ``require:`` needs) predicts
each outcome, so a refusal that should not happen, or a success that should not, fails the test too.
The use cases are driven through :class:`Project` directly (no git: ``commit: false``), as a process would.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sopflow.core import yamlio
from sopflow.core.frontmatter import Document
from sopflow.core.workflow import parse_workflow
from sopflow.errors import SopflowError
from sopflow.project import Project

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=8)))
STATE_NAMES = ["新建", "处理中", "审核", "Done", "关闭", "s-5 x"]
TRIGGERS = ["提交", "打回", "go", "转 SE"]
ROLES = ["开发", "测试", "运维"]
PEOPLE = ["ann", "ben", "cat"]
ACTORS = [*PEOPLE, "zed"]  # zed is not in people
CHOICES = ["a", "b"]


@dataclass
class Tr:
    trigger: str
    sources: list[str]
    dest: str
    by: list[str]
    note: bool
    fields: list[str]
    roles: list[str]
    assign_to: str | None


@dataclass
class Spec:
    states: list[str]
    finals: set[str]
    transitions: list[Tr]
    holders: dict[str, list[str]]  # person -> roles

    def workflow_dict(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        for i, s in enumerate(self.states):
            states[s] = {"initial": True} if i == 0 else {"final": True} if s in self.finals else {}
        trs = []
        for t in self.transitions:
            d: dict[str, Any] = {"trigger": t.trigger, "source": t.sources, "dest": t.dest}
            if t.by:
                d["by"] = t.by
            req: dict[str, Any] = {}
            if t.note:
                req["note"] = True
            if t.fields:
                req["fields"] = t.fields
            if t.roles:
                req["roles"] = t.roles
            if req:
                d["require"] = req
            if t.assign_to:
                d["assign_to"] = t.assign_to
            trs.append(d)
        return {"type": "flow", "title": "随机流程", "prefix": "FL", "roles": ROLES,
                "fields": {"f1": {"type": "string"}, "f2": {"type": "choice", "choices": CHOICES}},
                "states": states, "transitions": trs}

    def config_text(self) -> str:
        lines = ["project: fuzz", "timezone: '+08:00'", "commit: false", "people:"]
        for person, roles in self.holders.items():
            lines.append(f"  {person}: {{email: {person}@example.com, roles: {yamlio.emit_flow(roles)}}}")
        return "\n".join(lines) + "\n"

    def role_holders(self, role: str) -> list[str]:
        return [p for p, roles in self.holders.items() if role in roles]


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    states = draw(st.permutations(STATE_NAMES))[: draw(st.integers(2, 5))]
    finals = {states[-1]} | {s for s in states[1:-1] if draw(st.integers(0, 4)) == 0}
    by = st.one_of(st.just([]), st.lists(st.sampled_from([*ROLES, "assignee", "reporter"]), max_size=2, unique=True))

    def sometimes(strategy: Any) -> Any:  # a requirement on about one transition in three
        return draw(st.one_of(st.just([]), st.just([]), strategy))

    def transition(trigger: str, sources: list[str], dest: str) -> Tr:
        return Tr(trigger, sources, dest, draw(by), draw(st.integers(0, 2)) == 0,
                  sometimes(st.lists(st.sampled_from(["f1", "f2"]), min_size=1, max_size=1)),
                  sometimes(st.lists(st.sampled_from(ROLES), min_size=1, max_size=1)),
                  draw(st.sampled_from([None, None, "reporter", "assignee", *ROLES])))

    # a chain from the initial state to the last (final) one keeps every state reachable and able to finish
    trs = [transition(draw(st.sampled_from(TRIGGERS)), [a], b) for a, b in itertools.pairwise(states)]
    for _ in range(draw(st.integers(0, 5))):
        srcs = draw(st.lists(st.sampled_from(states), min_size=1, max_size=3, unique=True))
        trs.append(transition(draw(st.sampled_from(TRIGGERS)), srcs, draw(st.sampled_from(states))))
    seen: set[tuple[str, str]] = set()
    unique = []
    for t in trs:  # one transition per (trigger, source): drop later duplicates, keep the chain
        t.sources = [s for s in t.sources if (t.trigger, s) not in seen]
        if t.sources:
            seen.update((t.trigger, s) for s in t.sources)
            unique.append(t)
    holders = {p: draw(st.lists(st.sampled_from(ROLES), max_size=2, unique=True)) for p in PEOPLE}
    return Spec(states, finals, unique, holders)


do_actions = st.tuples(
    # an integer picks one of the triggers available in the current state (most do actions should be legal moves)
    st.just("do"), st.one_of(st.integers(0, 9), st.integers(0, 9), st.sampled_from([*TRIGGERS, "nosuch"])),
    st.sampled_from(ACTORS), st.integers(0, 3).map(bool),
    st.one_of(st.just([]), st.lists(st.tuples(st.sampled_from(["f1", "f2"]), st.sampled_from(["v", "a", "b", "zz"])),
                                    max_size=2)),
    st.one_of(st.just([]), st.lists(st.tuples(st.sampled_from([*ROLES, "nope"]), st.sampled_from(ACTORS)),
                                    max_size=2)))
actions = st.one_of(
    do_actions, do_actions, do_actions,
    st.tuples(st.just("comment"), st.sampled_from(ACTORS), st.sampled_from(["ok", "进展", "  "])),
    st.tuples(st.just("assign"), st.sampled_from(ACTORS), st.sampled_from(ACTORS),
              st.sampled_from([None, *ROLES, "nope"])),
    st.tuples(st.just("set"), st.sampled_from(ACTORS), st.sampled_from(["f1", "f2"]), st.sampled_from(["v", "a", "zz"])),
)


# ---------------------------------------------------------------- the oracle (SPEC 2.3, 2.4)
def bound(data: dict[str, Any]) -> dict[str, str]:
    roles = data.get("roles")
    return {str(k): str(v) for k, v in roles.items() if v} if isinstance(roles, dict) else {}


def may_bind(spec: Spec, role: str, person: str) -> bool:
    if role not in ROLES or person not in PEOPLE:
        return False
    holders = spec.role_holders(role)
    return not holders or person in holders


def field_ok(name: str, value: str) -> bool:
    return name == "f1" or value in CHOICES


def predict_do(spec: Spec, data: dict[str, Any], trigger: str, who: str, note: bool,
               sets: list[tuple[str, str]], roles: list[tuple[str, str]]) -> str | None:
    """The state the action leads to, or None when it must be refused."""
    state = data["state"]
    tr = next((t for t in spec.transitions if t.trigger == trigger and state in t.sources), None)
    if tr is None:
        return None
    b = bound(data)
    if tr.by and not any(
        (r == "assignee" and data.get("assignee") == who) or (r == "reporter" and data.get("reporter") == who)
        or (r in b and b[r] == who) or (r not in b and r not in ("assignee", "reporter") and r in spec.holders.get(who, []))
        for r in tr.by
    ):
        return None
    after = dict(data)
    for role, person in roles:
        if not may_bind(spec, role, person):
            return None
        b[role] = person
    for name, value in sets:
        if not field_ok(name, value):
            return None
        after[name] = value
    if any(not after.get(f) for f in tr.fields) or any(r not in b for r in tr.roles) or (tr.note and not note):
        return None
    return tr.dest


def replay(spec: Spec, history: list[dict[str, Any]]) -> str:
    """Walk the history from the create entry: each transition entry is legal from the state reached."""
    assert history and history[0]["action"] == "create" and history[0]["to"] == spec.states[0]
    state = spec.states[0]
    for e in history[1:]:
        if e["action"] in ("comment", "assign", "set"):
            assert "to" not in e
            continue
        assert e["from"] == state, (e, state)
        assert any(t.trigger == e["action"] and state in t.sources and t.dest == e["to"] for t in spec.transitions), e
        state = e["to"]
    return state


# ---------------------------------------------------------------- the property
def ticket_file(root: Path) -> Path:
    (path,) = (root / "tickets").glob("FL-1*.md")
    return path


def run(root: Path, who: str, use_case: str, *args: Any, **kw: Any) -> bool:
    p = Project(root, actor=who, now=NOW)
    try:
        with p.locked():
            p.apply(getattr(p, use_case)(*args, **kw))
    except SopflowError:
        return False
    return True


@settings(max_examples=int(__import__("os").environ.get("SOPFLOW_FSM_EXAMPLES", "200")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from(PEOPLE), st.lists(actions, min_size=3, max_size=15))
def test_random_workflows_and_actions(spec: Spec, reporter: str, steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "workflows").mkdir()
        (root / "sopflow.yaml").write_text(spec.config_text(), "utf-8")
        (root / "workflows" / "flow.yaml").write_text(
            "\n".join(f"{k}: {yamlio.emit_value(v)}" for k, v in spec.workflow_dict().items()) + "\n", "utf-8")
        p = Project(root, actor=reporter, now=NOW)
        assert p.workflow("flow").initial == spec.states[0]
        assert run(root, reporter, "new", "flow", "fuzzed ticket")
        for step in steps:
            path = ticket_file(root)
            before = path.read_bytes()
            data = Document.parse(before.decode("utf-8")).data
            kind = step[0]
            if kind == "do":
                _, trigger, who, note, sets, roles = step
                if isinstance(trigger, int):
                    avail = [t.trigger for t in spec.transitions if data["state"] in t.sources]
                    trigger = avail[trigger % len(avail)] if avail else "nosuch"
                    step = (kind, trigger, *step[2:])
                want = predict_do(spec, data, trigger, who, note, sets, roles)
                ok = run(root, who, "do", data["id"], trigger, note="交接说明" if note else None, sets=sets, roles=roles)
            elif kind == "comment":
                _, who, text = step
                want = data["state"] if text.strip() else None
                ok = run(root, who, "comment", data["id"], text)
            elif kind == "assign":
                _, who, person, role = step
                if role is None:
                    allowed = person in PEOPLE and data.get("assignee") != person
                else:
                    allowed = may_bind(spec, role, person) and bound(data).get(role) != person
                want = data["state"] if allowed else None
                ok = run(root, who, "assign", data["id"], person, role)
            else:
                _, who, name, value = step
                want = data["state"] if field_ok(name, value) and data.get(name) != value else None
                ok = run(root, who, "set_fields", data["id"], [(name, value)])
            after = path.read_bytes()
            event(f"{kind} {'done' if ok else 'refused'}")
            assert ok == (want is not None), (step, data, spec)
            now = Document.parse(after.decode("utf-8")).data
            if not ok:
                assert after == before, "a refused action changed the file"
                continue
            assert now["state"] == want
            assert len(now["history"]) == len(data["history"]) + 1
            last = now["history"][-1]
            assert last["by"] == step[2 if kind == "do" else 1]
            if kind == "do":
                assert (last["action"], last["from"], last["to"]) == (step[1], data["state"], want)
            assert now["state"] in spec.states
            assert replay(spec, now["history"]) == now["state"]
        from sopflow.checker import check

        problems = [x for x in check(Project(root, now=NOW)) if x.severity == "error"]
        assert problems == [], problems


# ---------------------------------------------------------------- workflow files of any shape
keys = st.sampled_from(["type", "title", "prefix", "roles", "fields", "states", "transitions", "trigger", "source",
                        "dest", "by", "require", "assign_to", "initial", "final", "checklist", "note", "choices",
                        "sla", "rules", "x"])
leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["flow", "FL", "a", "新建", "", "关闭"]))
shapes: Any = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, shapes, max_size=8))
def test_parse_workflow_never_crashes(data: dict[str, Any]) -> None:
    wf, problems = parse_workflow(data, "flow", "workflows/flow.yaml")
    assert wf is not None or any(x.severity == "error" for x in problems)
    for x in problems:
        assert x.path == "workflows/flow.yaml" and x.message
