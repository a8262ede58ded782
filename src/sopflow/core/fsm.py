"""The state machine's judgements: who may fire a transition, what it still needs, who gets the ticket next.

All functions are pure: they take the ticket's front-matter data and the project's people, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sopflow.core import checklist
from sopflow.core.config import Config
from sopflow.core.fields import is_empty
from sopflow.core.workflow import Require, Transition, Workflow


def bound_roles(data: Mapping[str, Any]) -> dict[str, str]:
    roles = data.get("roles")
    if not isinstance(roles, dict):
        return {}
    return {str(k): str(v) for k, v in roles.items() if v is not None and v != ""}


def holds(config: Config, person: str | None, role: str) -> bool:
    if person is None:
        return False
    p = config.people.get(person)
    return bool(p and role in p.roles)


def can_bind(config: Config, role: str, person: str) -> bool:
    """A role may be bound to a person whose people entry lists it; to anyone when nobody lists it."""
    holders = config.holders(role)
    return not holders or person in holders


def may_fire(config: Config, person: str | None, by: Sequence[str], data: Mapping[str, Any]) -> bool:
    """SPEC 2.3: ``by`` lists roles; absent means anyone."""
    if not by:
        return True
    if person is None:
        return False
    bound = bound_roles(data)
    for role in by:
        if role == "assignee":
            if data.get("assignee") == person:
                return True
        elif role == "reporter":
            if data.get("reporter") == person:
                return True
        elif role in bound:
            if bound[role] == person:
                return True
        elif holds(config, person, role):
            return True
    return False


def describe_by(by: Sequence[str]) -> str:
    return " or ".join(by)


def missing(
    require: Require,
    data: Mapping[str, Any],
    body_lines: Sequence[str],
    *,
    state: str,
    note: str | None,
    children_open: Sequence[str] = (),
    wiki_linked: bool = False,
    field_labels: Mapping[str, str] | None = None,
) -> list[str]:
    """What the transition still needs, each as a short phrase naming it; empty when it may fire."""
    out: list[str] = []
    labels = field_labels or {}
    empty = [f for f in require.fields if is_empty(data.get(f))]
    if empty:
        names = ", ".join(f"{f} ({labels[f]})" if labels.get(f) and labels[f] != f else f for f in empty)
        out.append(f"field{'s' if len(empty) > 1 else ''} {names} must be filled")
    bound = bound_roles(data)
    unbound = [r for r in require.roles if r not in bound]
    if unbound:
        out.append(f"role{'s' if len(unbound) > 1 else ''} {', '.join(unbound)} must be bound (--role R=PERSON)")
    if require.checklist:
        sec = checklist.current(body_lines, state)
        if sec is not None and sec.unticked:
            items = "; ".join(f"{sec.items.index(i) + 1}. {i.text}" for i in sec.unticked)
            out.append(f"{len(sec.unticked)} unticked checklist item{'s' if len(sec.unticked) > 1 else ''}: {items}")
    if require.note and not (note and note.strip()):
        out.append("a handoff note is required (--note 'background, progress, next step')")
    if require.children and children_open:
        out.append(f"child tickets not closed: {', '.join(children_open)}")
    if require.wiki and not wiki_linked:
        out.append("a wiki page must be linked (link --wiki PATH, or do … --wiki-new PATH)")
    return out


def pick_assignee(config: Config, role: str, open_counts: Mapping[str, int]) -> str | None:
    """The holder of ``role`` with the fewest open tickets assigned (ties: first in people order)."""
    best: str | None = None
    best_n = 0
    for person in config.holders(role):
        n = open_counts.get(person, 0)
        if best is None or n < best_n:
            best, best_n = person, n
    return best


def available(wf: Workflow, config: Config, person: str | None, data: Mapping[str, Any]) -> list[Transition]:
    """Transitions from the ticket's state that ``person`` may fire (requirements not judged)."""
    state = str(data.get("state", ""))
    return [t for t in wf.transitions_from(state) if may_fire(config, person, t.by, data)]
