"""Workflows (``workflows/<type>.yaml``): field schema, states, transitions, who and what they require."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sopflow.core.problems import Problem, error, warning

FIELD_TYPES = ("string", "text", "int", "date", "datetime", "choice", "multi", "person", "link", "bool")
RESERVED = (
    "id", "type", "title", "state", "priority", "assignee", "reporter", "roles",
    "labels", "links", "created", "updated", "history",
)
PSEUDO_ROLES = ("assignee", "reporter")
REQUIRE_KEYS = ("fields", "roles", "checklist", "note", "children", "wiki")
PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    label: str | None = None
    required: bool = False
    default: Any = None
    readonly: bool = False
    help: str | None = None
    choices: tuple[Any, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int | None = None

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class State:
    name: str
    initial: bool = False
    final: bool = False
    checklist: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Require:
    fields: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    checklist: bool = False
    note: bool = False
    children: bool = False
    wiki: bool = False

    def is_empty(self) -> bool:
        return not (self.fields or self.roles or self.checklist or self.note or self.children or self.wiki)


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    by: tuple[str, ...] = ()
    require: Require = field(default_factory=Require)
    assign_to: str | None = None
    help: str | None = None


@dataclass(frozen=True)
class Workflow:
    type: str
    title: str
    prefix: str
    roles: tuple[str, ...]
    fields: dict[str, Field]
    states: dict[str, State]
    transitions: tuple[Transition, ...]
    sla: Any = None
    rules: Any = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def initial(self) -> str:
        for s in self.states.values():
            if s.initial:
                return s.name
        return next(iter(self.states), "")

    @property
    def finals(self) -> frozenset[str]:
        return frozenset(s.name for s in self.states.values() if s.final)

    def is_final(self, state: str) -> bool:
        st = self.states.get(state)
        return bool(st and st.final)

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def find(self, trigger: str, state: str) -> Transition | None:
        for t in self.transitions:
            if t.trigger == trigger and state in t.sources:
                return t
        return None

    def triggers(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.setdefault(t.trigger, None)
        return list(seen)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def parse_workflow(
    data: Any, stem: str, path: str, lines: Mapping[tuple[Any, ...], int] | None = None
) -> tuple[Workflow | None, list[Problem]]:
    """Validate a loaded workflow mapping; return the Workflow (None when unusable) and every problem.
    ``lines`` (key path → line, for problems) is read only when there is a problem to place."""
    lines = {} if lines is None else lines
    problems: list[Problem] = []

    def at(*keypath: Any) -> int:
        for n in range(len(keypath), 0, -1):
            if keypath[:n] in lines:
                return lines[keypath[:n]]
        return 1

    def err(keypath: tuple[Any, ...], msg: str, code: str = "workflow-invalid") -> None:
        problems.append(error(path, at(*keypath), code, msg))

    if not isinstance(data, dict):
        return None, [error(path, 1, "workflow-invalid", "a workflow must be a mapping")]
    known = {"type", "title", "prefix", "roles", "fields", "states", "transitions", "sla", "rules", "description"}
    for key in data:
        if key not in known:
            problems.append(warning(path, at(key), "unknown-key", f"unknown workflow key {key!r}"))
    wtype = data.get("type", stem)
    if not isinstance(wtype, str) or wtype != stem:
        err(("type",), f"type {wtype!r} must equal the file name {stem!r}")
    prefix = data.get("prefix")
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        err(("prefix",), f"prefix {prefix!r} must be letters, digits or _ starting with a letter (e.g. ISS)")
        prefix = str(prefix) if isinstance(prefix, str) and prefix else stem.upper()[:3] or "T"
    title = data.get("title") or stem
    roles_raw = data.get("roles") or []
    if not isinstance(roles_raw, list) or not all(isinstance(r, str) and r for r in roles_raw):
        err(("roles",), "roles must be a list of role names")
        roles_raw = [r for r in _as_list(roles_raw) if isinstance(r, str)]
    roles = tuple(roles_raw)
    for r in roles:
        if r in PSEUDO_ROLES:
            err(("roles",), f"{r!r} is a pseudo-role and cannot be declared")

    # fields
    fields: dict[str, Field] = {}
    raw_fields = data.get("fields") or {}
    if not isinstance(raw_fields, dict):
        err(("fields",), "fields must be a mapping of field names to definitions")
        raw_fields = {}
    for name, spec in raw_fields.items():
        kp = ("fields", name)
        if not isinstance(name, str) or not name.strip():
            err(kp, f"invalid field name {name!r}")
            continue
        if name in RESERVED:
            err(kp, f"field {name!r} is a reserved key")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            err(kp, f"field {name}: expected a mapping such as {{type: choice, choices: [...]}}")
            continue
        ftype = spec.get("type", "string")
        if ftype not in FIELD_TYPES:
            err((*kp, "type"), f"field {name}: unknown type {ftype!r} (one of {', '.join(FIELD_TYPES)})")
            ftype = "string"
        choices = spec.get("choices")
        if ftype in ("choice", "multi"):
            if not isinstance(choices, list) or not choices:
                err((*kp, "choices"), f"field {name}: a {ftype} field needs a non-empty choices list")
                choices = []
        elif choices is not None:
            err((*kp, "choices"), f"field {name}: choices only apply to choice and multi fields")
            choices = []
        for key in spec:
            if key not in ("label", "type", "required", "default", "readonly", "help", "choices", "min", "max",
                           "max_length"):
                problems.append(warning(path, at(*kp, key), "unknown-key", f"field {name}: unknown key {key!r}"))
        nums: dict[str, int | None] = {}
        for key in ("min", "max", "max_length"):
            v = spec.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                err((*kp, key), f"field {name}: {key} must be an integer")
                v = None
            nums[key] = v
        f = Field(
            name=name,
            type=ftype,
            label=spec.get("label") if isinstance(spec.get("label"), str) else None,
            required=bool(spec.get("required", False)),
            default=spec.get("default"),
            readonly=bool(spec.get("readonly", False)),
            help=spec.get("help") if isinstance(spec.get("help"), str) else None,
            choices=tuple(choices or ()),
            min=nums["min"],
            max=nums["max"],
            max_length=nums["max_length"],
        )
        if f.default is not None:
            from sopflow.core.fields import validate_value

            msg = validate_value(f, f.default)
            if msg:
                err((*kp, "default"), f"field {name}: default {msg}")
        fields[name] = f

    # states
    states: dict[str, State] = {}
    raw_states = data.get("states")
    if isinstance(raw_states, list):
        raw_states = {s: {} for s in raw_states if isinstance(s, str)}
    if not isinstance(raw_states, dict) or not raw_states:
        err(("states",), "states must be a non-empty mapping of state names")
        raw_states = {}
    for name, spec in raw_states.items():
        kp = ("states", name)
        if not isinstance(name, str) or not name.strip():
            err(kp, f"invalid state name {name!r}")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            err(kp, f"state {name}: expected a mapping (e.g. {{initial: true}} or {{}})")
            spec = {}
        checklist = spec.get("checklist")
        if checklist is not None and not isinstance(checklist, str):
            err((*kp, "checklist"), f"state {name}: checklist must be a path such as sops/x.md")
            checklist = None
        for key in spec:
            if key not in ("initial", "final", "checklist", "label", "help"):
                problems.append(warning(path, at(*kp, key), "unknown-key", f"state {name}: unknown key {key!r}"))
        states[name] = State(
            name=name,
            initial=spec.get("initial") is True,
            final=spec.get("final") is True,
            checklist=checklist,
            label=spec.get("label") if isinstance(spec.get("label"), str) else None,
        )
    initials = [s.name for s in states.values() if s.initial]
    if states and len(initials) != 1:
        err(("states",), f"exactly one state must be initial (found {len(initials)}: {', '.join(initials) or 'none'})",
            "workflow-initial")
    if states and not any(s.final for s in states.values()):
        err(("states",), "no final state (mark one with final: true)", "workflow-final")

    role_names = set(roles)

    def check_role(r: Any, kp: tuple[Any, ...], pseudo: bool = True) -> bool:
        if not isinstance(r, str):
            err(kp, f"role {r!r} must be a name")
            return False
        if pseudo and r in PSEUDO_ROLES:
            return True
        if r not in role_names:
            err(kp, f"unknown role {r!r} (declare it in roles:)", "unknown-role")
            return False
        return True

    # transitions
    transitions: list[Transition] = []
    raw_tr = data.get("transitions") or []
    if not isinstance(raw_tr, list):
        err(("transitions",), "transitions must be a list")
        raw_tr = []
    seen: set[tuple[str, str]] = set()
    for i, spec in enumerate(raw_tr):
        kp = ("transitions", i)
        if not isinstance(spec, dict):
            err(kp, "a transition must be a mapping with trigger, source, dest")
            continue
        trigger = spec.get("trigger")
        if not isinstance(trigger, str) or not trigger.strip():
            err((*kp, "trigger"), "transition without a trigger name")
            continue
        if trigger in ("create", "assign", "set", "comment", "tick", "escalate", "link"):
            err((*kp, "trigger"), f"trigger {trigger!r} is a reserved action name")
        sources = [s for s in _as_list(spec.get("source")) if s is not None]
        if not sources:
            err((*kp, "source"), f"transition {trigger}: source is missing")
        ok = True
        for s in sources:
            if s not in states:
                err((*kp, "source"), f"transition {trigger}: unknown source state {s!r}", "unknown-state")
                ok = False
        dest = spec.get("dest")
        if dest not in states:
            err((*kp, "dest"), f"transition {trigger}: unknown dest state {dest!r}", "unknown-state")
            ok = False
        for s in sources:
            if (trigger, s) in seen:
                err((*kp, "trigger"), f"transition {trigger} from {s} is defined twice")
            seen.add((trigger, str(s)))
        by = _as_list(spec.get("by"))
        for r in by:
            check_role(r, (*kp, "by"))
        assign_to = spec.get("assign_to")
        if assign_to is not None:
            check_role(assign_to, (*kp, "assign_to"))
        req = spec.get("require") or {}
        require = Require()
        if not isinstance(req, dict):
            err((*kp, "require"), f"transition {trigger}: require must be a mapping")
        else:
            for key in req:
                if key not in REQUIRE_KEYS:
                    err((*kp, "require", key),
                        f"transition {trigger}: unknown require key {key!r} (one of {', '.join(REQUIRE_KEYS)})")
            rf = [x for x in _as_list(req.get("fields")) if isinstance(x, str)]
            for fname in rf:
                if fname not in fields and fname not in ("title", "priority", "labels"):
                    err((*kp, "require", "fields"), f"transition {trigger}: unknown field {fname!r}", "unknown-field")
            rr = [x for x in _as_list(req.get("roles")) if isinstance(x, str)]
            for r in rr:
                check_role(r, (*kp, "require", "roles"), pseudo=False)
            checklist = req.get("checklist")
            if checklist not in (None, "complete", True, False):
                err((*kp, "require", "checklist"), f"transition {trigger}: checklist must be 'complete'")
            note = req.get("note")
            if note not in (None, True, False):
                err((*kp, "require", "note"), f"transition {trigger}: note must be true or false")
            children = req.get("children")
            if children not in (None, "closed"):
                err((*kp, "require", "children"), f"transition {trigger}: children must be 'closed'")
            wiki = req.get("wiki")
            if wiki not in (None, "linked"):
                err((*kp, "require", "wiki"), f"transition {trigger}: wiki must be 'linked'")
            require = Require(
                fields=tuple(rf),
                roles=tuple(rr),
                checklist=checklist in ("complete", True),
                note=note is True,
                children=children == "closed",
                wiki=wiki == "linked",
            )
        if ok:
            transitions.append(
                Transition(
                    trigger=trigger,
                    sources=tuple(str(s) for s in sources),
                    dest=str(dest),
                    by=tuple(str(r) for r in by),
                    require=require,
                    assign_to=assign_to if isinstance(assign_to, str) else None,
                    help=spec.get("help") if isinstance(spec.get("help"), str) else None,
                )
            )

    wf = Workflow(
        type=stem,
        title=str(title),
        prefix=prefix,
        roles=roles,
        fields=fields,
        states=states,
        transitions=tuple(transitions),
        sla=data.get("sla"),
        rules=data.get("rules"),
        raw=data,
    )
    if len(initials) == 1:
        problems.extend(_graph_problems(wf, path, at))
    return wf, problems


def _graph_problems(wf: Workflow, path: str, at: Any) -> Iterable[Problem]:
    succ: dict[str, set[str]] = {s: set() for s in wf.states}
    for t in wf.transitions:
        for s in t.sources:
            succ[s].add(t.dest)
    reach = _closure(wf.initial, succ)
    for s in wf.states:
        if s not in reach:
            yield error(path, at("states", s), "workflow-unreachable", f"state {s!r} is not reachable from {wf.initial!r}")
    finals = wf.finals
    if finals:
        for s in wf.states:
            if s not in finals and not (_closure(s, succ) & finals):
                yield error(path, at("states", s), "workflow-dead-end", f"no final state is reachable from {s!r}")


def _closure(start: str, succ: dict[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in succ.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
