"""Service levels as use cases: SLA clocks of tickets, the ``sla`` listing, escalation, ``stats`` (SPEC 2.7).

The arithmetic is in :mod:`sopflow.core.sla` and :mod:`sopflow.stats`; this module feeds them a ticket's
history and its workflow's policy, and turns due escalation rules into one :class:`~sopflow.project.ChangeSet`.

Escalation records one history entry per applied rule::

    {at: …, by: <actor or sopflow>, action: escalate, rule: 1, when: resolve, assignee: majun, role: 二线专家}

``rule`` is the rule's number in the workflow's ``sla.escalate`` list, counted from 1 like checklist items
and ``check`` messages; a rule with an entry is never applied again to that ticket, which is what makes
``sopflow escalate`` idempotent and safe to run on a schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sopflow.core.sla import (
    STATUS_ORDER,
    Clock,
    EscalationRule,
    SlaPolicy,
    compute_clock,
    due_escalations,
    is_running,
    parse_sla,
)
from sopflow.errors import SopflowError
from sopflow.stats import timeline

if TYPE_CHECKING:
    from sopflow.core.ticket import Ticket
    from sopflow.core.trail import Trail
    from sopflow.core.workflow import Workflow
    from sopflow.project import ChangeSet, Project

__all__ = [
    "Escalation",
    "EscalationRun",
    "SlaRow",
    "applied_rules",
    "board_flags",
    "clock_for",
    "escalate",
    "plan_escalations",
    "policy_for",
    "show_section",
    "sla_rows",
    "stats_report",
]

STATUS_LABEL = {"ok": "ok", "at_risk": "⚠ at risk", "breached": "✖ breached", "met": "✓ met"}
SYSTEM_ACTOR = "sopflow"

_Parsed = tuple[SlaPolicy | None, list[tuple[str, str]]]
_POLICIES: WeakKeyDictionary[Project, dict[str, _Parsed]] = WeakKeyDictionary()


# ------------------------------------------------------------------ policies and clocks


def _parsed(project: Project, wf: Workflow) -> _Parsed:
    cache = _POLICIES.setdefault(project, {})
    if wf.type not in cache:
        cache[wf.type] = parse_sla(wf.sla, project.tz) if wf.sla is not None else (None, [])
    return cache[wf.type]


def policy_for(project: Project, wf: Workflow) -> SlaPolicy | None:
    """The workflow's SLA policy (parsed once per project and type); None when it has no ``sla:``.

    Parsing is best effort (an invalid part is left out; ``check`` reports it).
    """
    return _parsed(project, wf)[0]


def _strict_policy(project: Project, wf: Workflow, where: str) -> SlaPolicy | None:
    """The policy for changing tickets: refused when any part of it is invalid (rule numbers would shift)."""
    wf = project.workflow(wf.type, where=where)
    policy, problems = _parsed(project, wf)
    rel = f"{project.config.paths['workflows']}/{wf.type}.yaml"
    if problems:
        key, message = problems[0]
        raise SopflowError(f"invalid {key}: {message}; run 'sopflow check'", where=rel)
    if policy is not None:
        for n, rule in enumerate(policy.escalate, 1):
            if rule.assign_to not in wf.roles:
                raise SopflowError(f"escalation rule {n}: unknown role {rule.assign_to!r}; run 'sopflow check'",
                                   where=rel)
    return policy


def _whole(project: Project, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with its history: the whole excerpt for a head the excerpt index handed out, ``data`` itself when
    it carries the history, else the ticket read from its ``path``."""
    from sopflow.index import whole

    data = whole(project, data)
    if "history" in data or not data.get("path"):
        return data
    try:
        return project.read_ticket(project.root / str(data["path"])).data
    except SopflowError:
        return data


def _trails(project: Project) -> Callable[[Mapping[str, Any]], Trail]:
    """The trail (see :mod:`sopflow.core.trail`) of a ticket: from the excerpt index for a head it handed out,
    else from the ticket's history (read from its file when the dict has none)."""
    from sopflow.index import trails

    return trails(project, lambda d: _whole(project, d))


def clock_for(project: Project, data: Mapping[str, Any]) -> Clock | None:
    """The SLA clock of a ticket (front matter, or an excerpt) at ``project.now``; None without an SLA."""
    wf = project.workflows.get(str(data.get("type", "")))
    if wf is None:
        return None
    return _clock(project, wf, policy_for(project, wf), data)


def _clock(project: Project, wf: Workflow, policy: SlaPolicy | None, data: Mapping[str, Any],
           trail_of: Callable[[Mapping[str, Any]], Trail] | None = None, *, running: bool = False) -> Clock | None:
    priority = data.get("priority")
    if policy is None or priority in (None, "") or str(priority) not in policy.priorities:
        return None
    trail = (trail_of or _trails(project))(data)
    events = timeline(data, project.tz, trail.moves)
    if running and not is_running(policy, events, wf.finals, project.now):
        return None
    return compute_clock(policy, str(priority), events, wf.initial, wf.finals, project.now)


def _clocks(project: Project, *, running: bool = False) -> Callable[[Mapping[str, Any]], Clock | None]:
    """:func:`clock_for` with the workflows and policies looked up once (for loops over many tickets).
    With ``running``, None also for a clock that would not be open (the ticket is resolved)."""
    known = {t: (wf, policy_for(project, wf)) for t, wf in project.workflows.items()}
    trail_of = _trails(project)

    def clock(data: Mapping[str, Any]) -> Clock | None:
        got = known.get(str(data.get("type", "")))
        if got is None or got[1] is None:
            return None
        return _clock(project, got[0], got[1], data, trail_of, running=running)

    return clock


def applied_rules(data: Mapping[str, Any]) -> set[int]:
    """Indexes (0-based) into ``sla.escalate`` of the rules already applied to the ticket."""
    out: set[int] = set()
    history = data.get("history")
    for entry in history if isinstance(history, list) else []:
        if isinstance(entry, dict) and entry.get("action") == "escalate":
            rule = entry.get("rule")
            if isinstance(rule, str) and rule.strip().isdigit():
                rule = int(rule)  # written by hand as "1"
            if isinstance(rule, int) and not isinstance(rule, bool) and rule >= 1:
                out.add(rule - 1)
    return out


def _iso(moment: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return moment.astimezone(tz).replace(microsecond=0).isoformat() if moment is not None else None


def _short_time(moment: dt.datetime, tz: dt.tzinfo, now: dt.datetime | None = None) -> str:
    local = moment.astimezone(tz)
    if now is not None and local.year != now.astimezone(tz).year:
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%m-%d %H:%M")


def _left(due: dt.datetime, now: dt.datetime) -> str:
    from sopflow.core.durations import format_duration

    seconds = (due - now).total_seconds()
    if seconds >= 0:
        return f"{format_duration(seconds)} left"
    return f"{format_duration(-seconds)} over"


def _id_key(ticket_id: str) -> tuple[str, int, str]:
    prefix, _, number = ticket_id.rpartition("-")
    return (prefix, int(number), "") if number.isdigit() else (ticket_id, 0, ticket_id)


# ------------------------------------------------------------------ the sla listing


@dataclass(frozen=True)
class SlaRow:
    """One ticket's line in ``sopflow sla``."""

    data: Mapping[str, Any]
    clock: Clock

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    def as_json(self, tz: dt.tzinfo) -> dict[str, Any]:
        """The SPEC 3 shape: times as ISO strings in the project time zone, null when absent."""
        c = self.clock
        return {
            "id": self.id,
            "priority": c.priority,
            "state": self.data.get("state"),
            "respond_due": _iso(c.respond_due, tz),
            "resolve_due": _iso(c.resolve_due, tz),
            "responded_at": _iso(c.responded_at, tz),
            "resolved_at": _iso(c.resolved_at, tz),
            "status": c.status,
        }

    def next_due(self) -> dt.datetime | None:
        """The earliest due time of a goal still running (None when none runs)."""
        c = self.clock
        running = []
        if c.respond_due is not None and c.responded_at is None and c.resolved_at is None:
            running.append(c.respond_due)
        if c.resolve_due is not None and c.resolved_at is None:
            running.append(c.resolve_due)
        return min(running) if running else None


def _check_types(project: Project, types: Collection[str]) -> None:
    for wtype in types:
        if wtype not in project.workflows:
            known = ", ".join(sorted(project.workflows)) or "none"
            raise SopflowError(f"unknown ticket type {wtype!r} (known: {known})", where="--type")


def sla_rows(project: Project, *, types: Collection[str] = (), breached: bool = False,
             include_closed: bool = False) -> list[SlaRow]:
    """Tickets with an SLA: open ones (closed too with ``include_closed``), worst status first, then the
    nearest due time, then ID. ``breached`` keeps only breached ones."""
    _check_types(project, types)
    from sopflow.index import load_heads

    rows = []
    clock_of = _clocks(project, running=not include_closed)
    for data in load_heads(project):
        if types and data.get("type") not in types:
            continue
        clock = clock_of(data)
        if clock is None or (not include_closed and not clock.is_open):
            continue
        if breached and clock.status != "breached":
            continue
        rows.append(SlaRow(data, clock))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def key(row: SlaRow) -> tuple[int, int, dt.datetime, tuple[str, int, str]]:
        due = row.next_due() or row.clock.resolved_at or far
        return (-STATUS_ORDER.index(row.clock.status), 0 if row.clock.is_open else 1, due, _id_key(row.id))

    return sorted(rows, key=key)


def goal_cell(clock: Clock, goal: str, now: dt.datetime, tz: dt.tzinfo) -> str:
    """A short description of one goal: ``✓ 11-21 10:10``, ``11-21 12:00 · 35m left``, ``-`` without a goal."""
    due = clock.respond_due if goal == "respond" else clock.resolve_due
    status = clock.respond_status if goal == "respond" else clock.resolve_status
    if due is None or status is None:
        return "-"
    done = clock.responded_at if goal == "respond" else clock.resolved_at
    if goal == "respond" and done is None and clock.resolved_at is not None:
        done = clock.resolved_at
    if done is not None:
        mark = "✓" if status == "met" else "✖"
        return f"{mark} {_short_time(done, tz, now)}"
    return f"{_short_time(due, tz, now)} · {_left(due, now)}"


def status_cell(clock: Clock, pause_state: str | None = None) -> str:
    text = STATUS_LABEL.get(clock.status, clock.status)
    if clock.paused:
        text += f" (paused{': ' + pause_state if pause_state else ''})"
    return text


# ------------------------------------------------------------------ escalation


@dataclass(frozen=True)
class Escalation:
    """One due rule of one ticket, and whom it hands the ticket to (None: nobody holds the role)."""

    id: str
    path: str
    type: str
    title: str
    priority: str
    rule: int  # number of the rule in sla.escalate, from 1
    when: str
    after: int
    role: str
    breached_at: dt.datetime
    due_at: dt.datetime
    previous: str | None
    assignee: str | None
    picked: bool  # True when the role was unbound and the assignee was picked (fewest open tickets)

    def as_json(self, tz: dt.tzinfo) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "priority": self.priority,
            "rule": self.rule,
            "when": self.when,
            "after": self.after,
            "role": self.role,
            "breached_at": _iso(self.breached_at, tz),
            "due_at": _iso(self.due_at, tz),
            "from": self.previous,
            "assignee": self.assignee,
            "picked": self.picked,
        }

    def describe(self, tz: dt.tzinfo) -> str:
        who = f"{self.previous or '(nobody)'} → {self.assignee} ({self.role})"
        if self.assignee is not None and self.assignee == self.previous:
            who = f"stays with {self.assignee} ({self.role})"
        elif self.assignee is None:
            who = f"nobody in sopflow.yaml holds role {self.role}"
        late = f" + {_fmt_after(self.after)}" if self.after else ""
        return (f"{self.id} {self.priority} rule {self.rule}: {self.when} goal breached "
                f"{_short_time(self.breached_at, tz)}{late}: {who}")


def _fmt_after(seconds: int) -> str:
    from sopflow.core.durations import format_duration

    return format_duration(seconds)


@dataclass
class EscalationRun:
    """What one ``sopflow escalate`` did (or, with ``dry_run``, would do)."""

    now: dt.datetime
    dry_run: bool
    escalations: list[Escalation]
    skipped: list[Escalation]
    change: ChangeSet | None = None
    by: str = SYSTEM_ACTOR
    messages: list[str] = field(default_factory=list)

    def as_json(self, tz: dt.tzinfo) -> dict[str, Any]:
        return {
            "now": _iso(self.now, tz),
            "dry_run": self.dry_run,
            "by": self.by,
            "escalated": [e.as_json(tz) for e in self.escalations],
            "skipped": [{**e.as_json(tz), "reason": f"nobody in sopflow.yaml holds role {e.role}"}
                        for e in self.skipped],
        }


def plan_escalations(project: Project) -> list[Escalation]:
    """Every due, not yet applied escalation rule of every open ticket, oldest breach first.

    Assignees are resolved as they would be applied, in that order: the person the ticket binds to the rule's
    role, else the holder of the role with the fewest open tickets, counting the escalations planned before
    (so several breached tickets are spread over the experts). Refused when a workflow that has open tickets
    with an SLA has an invalid ``sla:`` block.
    """
    from sopflow.core import fsm

    now = project.now
    due: list[tuple[dt.datetime, tuple[str, int, str], int, str, Mapping[str, Any], EscalationRule]] = []
    from sopflow.index import load_heads

    clock_of = _clocks(project, running=True)  # a resolved ticket has nothing due
    for data in load_heads(project):
        wf = project.workflows.get(str(data.get("type", "")))
        if wf is None or wf.sla is None or not project.is_open(data):
            continue
        clock = clock_of(data)
        if clock is None:
            continue
        tid = str(data.get("id", ""))
        policy = _strict_policy(project, wf, tid)
        assert policy is not None
        if not due_escalations(policy, clock, set(), now):
            continue  # nothing due even if no rule had been applied yet
        full = _whole(project, data)
        for index, rule in due_escalations(policy, clock, applied_rules(full), now):
            breached = clock.breached_at(rule.when)
            assert breached is not None
            due.append((breached, _id_key(tid), index, str(data.get("path", "")), full, rule))
    due.sort(key=lambda item: (item[0] + dt.timedelta(seconds=item[5].after), item[1], item[2]))

    counts = dict(project.open_counts())
    current: dict[str, str | None] = {}
    bound: dict[str, dict[str, str]] = {}
    plan: list[Escalation] = []
    for breached, _, index, path, ticket, rule in due:
        tid = str(ticket.get("id", ""))
        roles = bound.setdefault(tid, fsm.bound_roles(ticket))
        assignee = ticket.get("assignee")
        previous = current.get(tid, str(assignee) if assignee else None)
        picked = False
        person: str | None = roles.get(rule.assign_to)
        if person is None:
            person = fsm.pick_assignee(project.config, rule.assign_to, counts)
            picked = person is not None
        if person is not None:
            roles[rule.assign_to] = person
            current[tid] = person
            if previous != person:
                if previous:
                    counts[previous] = counts.get(previous, 0) - 1
                counts[person] = counts.get(person, 0) + 1
        plan.append(Escalation(
            id=tid, path=path, type=str(ticket.get("type", "")),
            title=str(ticket.get("title", "")), priority=str(ticket.get("priority", "")), rule=index + 1,
            when=rule.when, after=rule.after, role=rule.assign_to, breached_at=breached,
            due_at=breached + dt.timedelta(seconds=rule.after), previous=previous, assignee=person,
            picked=picked,
        ))
    return plan


def escalate(project: Project, *, dry_run: bool = False) -> EscalationRun:
    """Plan every due escalation and, unless ``dry_run``, build ONE change set for all tickets.

    The change set (``run.change``; None when there is nothing to write) is not applied here:
    ``Project.apply`` writes and commits it. Each ticket gets its assignee and role bindings updated,
    ``updated`` set, and one ``escalate`` history entry per rule.
    """
    from sopflow.core.ticket import FRONT_ORDER
    from sopflow.project import ChangeSet

    plan = plan_escalations(project)
    who = project.actor or SYSTEM_ACTOR
    tz = project.tz
    run = EscalationRun(now=project.now, dry_run=dry_run, by=who,
                        escalations=[e for e in plan if e.assignee is not None],
                        skipped=[e for e in plan if e.assignee is None])
    for e in run.skipped:
        run.messages.append(f"{e.id}: cannot escalate (rule {e.rule}): nobody in sopflow.yaml holds role "
                            f"{e.role}; add it to someone's roles")
    if dry_run or not run.escalations:
        return run
    stamp = project.stamp()
    by_ticket: dict[str, list[Escalation]] = {}
    for e in run.escalations:
        by_ticket.setdefault(e.id, []).append(e)
    subject_parts = []
    change = ChangeSet("escalate", list(by_ticket), "escalate")
    for tid, items in by_ticket.items():
        t: Ticket = project.read_ticket(project.root / items[0].path)
        if t.id != tid:
            raise SopflowError(f"file says id {t.id!r}, expected {tid}", where=t.rel)
        raw_roles = t.data.get("roles")
        roles: dict[str, Any] = dict(raw_roles) if isinstance(raw_roles, dict) else {}
        for e in items:
            if roles.get(e.role) != e.assignee:
                roles[e.role] = e.assignee
                if e.picked:
                    run.messages.append(f"{tid}: role {e.role} bound to {e.assignee} (fewest open tickets)")
        if roles != (raw_roles if isinstance(raw_roles, dict) else {}):
            t.doc.set("roles", roles, FRONT_ORDER)
        final = items[-1].assignee
        if final != t.data.get("assignee"):
            t.doc.set("assignee", final, FRONT_ORDER)
        t.doc.set("updated", stamp)
        for e in items:
            t.doc.append_history({"at": stamp, "by": who, "action": "escalate", "rule": e.rule, "when": e.when,
                                  "assignee": e.assignee, "role": e.role})
            run.messages.append(f"{tid}: escalated to {e.assignee} ({e.role}): {e.when} goal breached at "
                                f"{_short_time(e.breached_at, tz)}")
        subject_parts.append(f"{tid} → {final}")
        project._write_ticket(change, t)
    if len(by_ticket) == 1:
        change.subject = f"escalate: {subject_parts[0]}"
    else:
        shown = ", ".join(subject_parts[:3]) + (", …" if len(subject_parts) > 3 else "")
        change.subject = f"escalate: {len(by_ticket)} tickets ({shown})"
    change.body = "\n".join(e.describe(tz) for e in run.escalations)
    run.change = change
    return run


def due_escalation_count(project: Project) -> int:
    """How many escalation rules are due now (0 when they cannot be planned, e.g. an invalid workflow)."""
    try:
        return len(plan_escalations(project))
    except SopflowError:
        return 0


# ------------------------------------------------------------------ hooks: show and board


def show_section(project: Project, ticket: Ticket) -> list[tuple[str, list[str]]]:
    """The ``SLA`` section of ``sopflow show`` (nothing when the ticket's workflow has no SLA)."""
    wf = project.workflows.get(ticket.type)
    policy = policy_for(project, wf) if wf is not None else None
    if wf is None or policy is None:
        return []
    tz, now = project.tz, project.now
    data = ticket.data
    clock = clock_for(project, data)
    if clock is None:
        prio = data.get("priority")
        goals = ", ".join(policy.priorities) or "none"
        why = f"priority {prio} has no goals" if prio not in (None, "") else "no priority"
        return [("SLA", [f"none: {why} (goals exist for {goals}; sopflow set {ticket.id} priority=…)"])]
    lines = [f"status   {status_cell(clock, ticket.state if clock.paused else None)}"]
    for goal in ("respond", "resolve"):
        due = clock.respond_due if goal == "respond" else clock.resolve_due
        if due is None:
            continue
        cell = goal_cell(clock, goal, now, tz)
        state = clock.respond_status if goal == "respond" else clock.resolve_status
        extra = "" if cell.endswith(("left", "over")) else f" (due {_short_time(due, tz, now)})"
        lines.append(f"{goal:<8} {cell}{extra} · {STATUS_LABEL.get(state or '', state)}")
    if clock.is_open and policy.escalate:
        applied = applied_rules(data)
        for index, rule in enumerate(policy.escalate):
            if index in applied:
                continue
            breached = clock.breached_at(rule.when)
            if breached is None:
                projected = clock.respond_due if rule.when == "respond" else clock.resolve_due
                if projected is None or (rule.when == "respond" and clock.responded_at is not None):
                    continue
                at = projected + dt.timedelta(seconds=rule.after)
                still = "still unanswered" if rule.when == "respond" else "still unresolved"
                lines.append(f"escalate rule {index + 1}: → {rule.assign_to} at {_short_time(at, tz, now)} "
                             f"if {still}")
                continue
            at = breached + dt.timedelta(seconds=rule.after)
            if at <= now:
                lines.append(f"escalate rule {index + 1}: due now → {rule.assign_to} (run sopflow escalate)")
            else:
                lines.append(f"escalate rule {index + 1}: → {rule.assign_to} at {_short_time(at, tz, now)}")
    return [("SLA", lines)]


def board_flags(project: Project, excerpts: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{id: "⚠ at risk" | "✖ breached"}`` for open tickets whose SLA needs attention."""
    flags: dict[str, str] = {}
    clock_of = _clocks(project, running=True)
    for data in excerpts:
        clock = clock_of(data)
        if clock is None or not clock.is_open or clock.status not in ("at_risk", "breached"):
            continue
        flags[str(data.get("id", ""))] = STATUS_LABEL[clock.status]
    return flags


# ------------------------------------------------------------------ stats


def stats_report(project: Project, *, types: Sequence[str] = (), since: dt.date | None = None,
                 by: str | None = None) -> dict[str, Any]:
    """The ``stats`` object (see :func:`sopflow.stats.compute`) for this project at ``project.now``."""
    from sopflow.stats import CATEGORY_KEYS, compute

    _check_types(project, types)
    workflows = project.workflows
    key = by or "labels"
    chosen = [workflows[t] for t in types] if types else list(workflows.values())
    known = {*CATEGORY_KEYS, *(f for wf in chosen for f in wf.fields)}
    if key not in known:
        names = ", ".join([*CATEGORY_KEYS, *dict.fromkeys(f for wf in chosen for f in wf.fields)])
        raise SopflowError(f"unknown field {key!r} (one of: {names})", where="--by")
    policies = {name: policy_for(project, wf) for name, wf in workflows.items()}
    return compute(project.excerpts(), workflows, policies, project.now, project.tz, types=set(types),
                   since=since, by=key)
