"""SLA arithmetic: policies, working calendars, clocks and due escalations (SPEC 2.7).

Pure: no I/O and no clock. ``now`` is always passed in, and every function is a plain function of its inputs.

Time model
----------
* All arithmetic is done on absolute instants (UTC); a working calendar is evaluated in its time zone, day by
  day, so daylight-saving changes are handled: a working window ``09:00-18:00`` is the real elapsed time
  between those two local wall-clock times on that date. Naive datetimes are read in the policy's
  (calendar's) time zone, or as UTC where no zone is known. Returned datetimes are aware, in the policy's
  (calendar's) zone.
* *Counted time* runs only while the ticket is in a state outside ``pause`` and, when the policy has a
  calendar, inside working hours on a working day. The resolve clock also does not run while the ticket sits
  in a final state (between a close and a re-open).
* A goal's *due* time is the instant its counted time reaches the goal. A goal still running is projected
  from ``now`` as if the clock ran on from now (so a paused ticket's due is computed as if it resumed now); a
  goal that stopped (responded / resolved) before reaching it is projected from the moment it stopped.
* ``at_risk``: counted time >= 80% of the goal; ``breached``: ``now`` (or the stop) is strictly after due;
  ``met``: the clock stopped at or before due.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sopflow.core.durations import parse_duration

__all__ = [
    "AT_RISK_FRACTION",
    "STATUS_ORDER",
    "Calendar",
    "Clock",
    "EscalationRule",
    "Goal",
    "SlaPolicy",
    "add_working",
    "compute_clock",
    "due_escalations",
    "parse_sla",
    "working_seconds",
]

UTC = dt.UTC
AT_RISK_FRACTION = 0.8
#: Severity order of statuses, best first; ``worst`` of two is the one with the higher index.
STATUS_ORDER = ("met", "ok", "at_risk", "breached")
_ONE_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)


# ------------------------------------------------------------------ data


@dataclass(frozen=True)
class Calendar:
    """Working time. ``end=None`` means the end of the day (``24:00``).

    A date is a working day when it is in ``workdays`` (a make-up working day, 调休), or when its ISO weekday
    (1=Mon..7=Sun) is in ``days`` and it is not in ``holidays``.
    """

    days: frozenset[int]
    start: dt.time
    end: dt.time | None
    holidays: frozenset[dt.date]
    tz: dt.tzinfo
    workdays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if not all(isinstance(d, int) and 1 <= d <= 7 for d in self.days):
            raise ValueError(f"calendar days must be ISO weekdays 1..7: {sorted(self.days)}")
        if self.end is not None and self.start >= self.end:
            raise ValueError(f"calendar hours must start before they end: {self.start}-{self.end}")

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() in self.days and day not in self.holidays

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The working window of ``day`` as UTC instants (whether or not ``day`` is a working day)."""
        start = dt.datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        if self.end is None:
            end = dt.datetime.combine(day + _ONE_DAY, _MIDNIGHT, tzinfo=self.tz)
        else:
            end = dt.datetime.combine(day, self.end, tzinfo=self.tz)
        return start, end.astimezone(UTC)


@dataclass(frozen=True)
class Goal:
    """Goals of one priority, in seconds of counted time; None means no such goal."""

    respond: int | None
    resolve: int | None


@dataclass(frozen=True)
class EscalationRule:
    """Once the goal named by ``when`` is breached and ``after`` more seconds (wall time) have passed,
    assign the ticket to the role ``assign_to``."""

    when: str  # "respond" | "resolve"
    assign_to: str
    after: int = 0


@dataclass(frozen=True)
class SlaPolicy:
    pause: frozenset[str]
    calendar: Calendar | None
    priorities: Mapping[str, Goal]
    escalate: tuple[EscalationRule, ...]
    tz: dt.tzinfo = UTC


@dataclass(frozen=True)
class Clock:
    """The SLA clock of one ticket at ``now``.

    Goal statuses are ``"ok" | "at_risk" | "breached" | "met"`` (None when the priority has no such goal).
    ``status`` for an open ticket is the worst of the two (``met`` counts as ``ok``); for a resolved ticket it
    is ``"met"`` when every goal was met and ``"breached"`` otherwise.
    """

    priority: str
    respond_due: dt.datetime | None
    resolve_due: dt.datetime | None
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    respond_status: str | None
    resolve_status: str | None
    status: str
    paused: bool
    respond_breached_at: dt.datetime | None
    resolve_breached_at: dt.datetime | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def breached_at(self, when: str) -> dt.datetime | None:
        """Breach instant of the goal named ``when`` (``"respond"`` or ``"resolve"``)."""
        if when == "respond":
            return self.respond_breached_at
        if when == "resolve":
            return self.resolve_breached_at
        raise ValueError(f"unknown goal: {when!r}")


# ------------------------------------------------------------------ calendar arithmetic


def _utc(moment: dt.datetime, tz: dt.tzinfo | None) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=tz or UTC)
    return moment.astimezone(UTC)


def _walk(
    start: dt.datetime, end: dt.datetime | None, need: dt.timedelta | None, cal: Calendar
) -> tuple[dt.timedelta, dt.datetime | None]:
    """Walk ``cal``'s working windows from ``start`` (UTC), day by day.

    Counts working time in ``[start, end)``; when ``need`` is given, stops as soon as that much is counted and
    returns ``(need, instant reached)``; otherwise returns ``(counted, None)``. ``end=None`` needs ``need``.
    """
    day = start.astimezone(cal.tz).date()
    last_day = end.astimezone(cal.tz).date() if end is not None else None
    # With no weekly working days, only the listed make-up days can ever count.
    last_possible = max(cal.workdays) if not cal.days and cal.workdays else None
    counted = dt.timedelta(0)
    while last_day is None or day <= last_day:
        if cal.is_working_day(day):
            w_start, w_end = cal.window(day)
            lo = max(w_start, start)
            hi = w_end if end is None else min(w_end, end)
            if hi > lo:
                span = hi - lo
                if need is not None and counted + span >= need:
                    return need, lo + (need - counted)
                counted += span
        elif end is None and not cal.days and (last_possible is None or day > last_possible):
            raise ValueError("the calendar has no working time left")
        day += _ONE_DAY
    return counted, None


def working_seconds(start: dt.datetime, end: dt.datetime, calendar: Calendar | None) -> float:
    """Counted (working) seconds between two instants; 0 when ``end <= start``. ``None`` means 24x7."""
    tz = calendar.tz if calendar is not None else None
    a, b = _utc(start, tz), _utc(end, tz)
    if b <= a:
        return 0.0
    if calendar is None:
        return (b - a).total_seconds()
    counted, _ = _walk(a, b, None, calendar)
    return counted.total_seconds()


def add_working(start: dt.datetime, seconds: float, calendar: Calendar | None) -> dt.datetime:
    """The earliest instant at which ``seconds`` of counted time have elapsed since ``start``.

    ``seconds <= 0`` gives ``start`` itself. The result is aware, in the calendar's zone (or ``start``'s zone,
    UTC for a naive ``start``, without a calendar). Raises ValueError if the calendar has no working time
    left.
    """
    tz = calendar.tz if calendar is not None else (start.tzinfo or UTC)
    a = _utc(start, tz)
    if seconds <= 0:
        return a.astimezone(tz)
    need = dt.timedelta(seconds=seconds)
    if calendar is None:
        return (a + need).astimezone(tz)
    _, reached = _walk(a, None, need, calendar)
    assert reached is not None
    return reached.astimezone(tz)


# ------------------------------------------------------------------ clocks


@dataclass(frozen=True)
class _GoalRun:
    due: dt.datetime
    counted: dt.timedelta  # counted time up to the stop (or now), capped at the goal


def _run_goal(
    goal: int,
    segments: Sequence[tuple[dt.datetime, dt.datetime, str]],
    skip: Collection[str],
    stop: dt.datetime,
    cal: Calendar | None,
) -> _GoalRun:
    """Count ``goal`` seconds over ``segments`` (UTC, ordered) up to ``stop``, skipping states in ``skip``."""
    need = dt.timedelta(seconds=goal)
    counted = dt.timedelta(0)
    for seg_start, seg_end, state in segments:
        if seg_start >= stop:
            break
        if state in skip:
            continue
        hi = min(seg_end, stop)
        if hi <= seg_start:
            continue
        rest = need - counted
        if cal is None:
            span = hi - seg_start
            if span >= rest:
                return _GoalRun(seg_start + rest, need)
            counted += span
        else:
            got, reached = _walk(seg_start, hi, rest, cal)
            if reached is not None:
                return _GoalRun(reached, need)
            counted += got
    due = add_working(stop, (need - counted).total_seconds(), cal).astimezone(UTC)
    return _GoalRun(due, counted)


def _goal_status(run: _GoalRun, goal: int, stopped: bool, end: dt.datetime) -> str:
    if run.due < end:
        return "breached"
    if stopped:
        return "met"
    if run.counted >= dt.timedelta(seconds=goal) * AT_RISK_FRACTION:  # exact to the microsecond
        return "at_risk"
    return "ok"


def _worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=STATUS_ORDER.index)


def _events(timeline: Sequence[tuple[dt.datetime, str]], now: dt.datetime, tz: dt.tzinfo | None
            ) -> list[tuple[dt.datetime, str]]:
    """The timeline in UTC, sorted by time (stably), without what comes after ``now``."""
    now_u = _utc(now, tz)
    events = sorted(((_utc(when, tz), state) for when, state in timeline), key=lambda item: item[0])
    return [e for e in events if e[0] <= now_u]


def is_running(policy: SlaPolicy, timeline: Sequence[tuple[dt.datetime, str]], final_states: Collection[str],
               now: dt.datetime) -> bool:
    """Whether :func:`compute_clock` would give an open clock (not resolved at ``now``) for this timeline,
    priority aside: a quick test that spares computing the clocks of closed tickets."""
    events = _events(timeline, now, policy.tz)
    return bool(events) and events[-1][1] not in final_states


def compute_clock(
    policy: SlaPolicy,
    priority: str | None,
    timeline: Sequence[tuple[dt.datetime, str]],
    initial_state: str,
    final_states: Collection[str],
    now: dt.datetime,
) -> Clock | None:
    """The SLA clock of a ticket at ``now``; None when it has no SLA (no priority, or not in the policy, or an
    empty timeline).

    ``timeline`` lists the states the ticket entered, with when; the earliest is its creation. Order does not
    matter: it is sorted by time (stably, so entries at the same instant keep the order given). Entries after
    ``now`` are ignored, so this also answers "what was the clock at time T".

    * Responded = the first entry into a state other than ``initial_state``.
    * Resolved = the ticket is (at ``now``) in a final state; ``resolved_at`` is when it entered the final
      state(s) after its last re-open. A ticket that left a final state is open again, and the resolve clock
      carries on from what it had counted before the close: time spent in a final state never counts.
    """
    if priority is None or priority not in policy.priorities:
        return None
    tz = policy.tz
    events = _events(timeline, now, tz)
    if not events:
        return None
    now_u = _utc(now, tz)
    finals = frozenset(final_states)
    cal = policy.calendar
    goal = policy.priorities[priority]

    segments = [
        (when, events[i + 1][0] if i + 1 < len(events) else now_u, state)
        for i, (when, state) in enumerate(events)
    ]
    responded_at = next((when for when, state in events if state != initial_state), None)
    resolved_at: dt.datetime | None = None
    if events[-1][1] in finals:
        i = len(events) - 1
        while i > 0 and events[i - 1][1] in finals:
            i -= 1
        resolved_at = events[i][0]
    current = events[-1][1]
    paused = resolved_at is None and current in policy.pause

    def run(
        goal_s: int | None, stop: dt.datetime | None, skip: frozenset[str]
    ) -> tuple[str | None, _GoalRun | None]:
        if goal_s is None:
            return None, None
        end = stop if stop is not None else now_u
        r = _run_goal(goal_s, segments, skip, end, cal)
        return _goal_status(r, goal_s, stop is not None, end), r

    respond_stop = responded_at if responded_at is not None else resolved_at
    respond_status, respond_run = run(goal.respond, respond_stop, policy.pause)
    resolve_status, resolve_run = run(goal.resolve, resolved_at, policy.pause | finals)

    statuses = [s for s in (respond_status, resolve_status) if s is not None]
    if resolved_at is not None:
        status = "breached" if "breached" in statuses else "met"
    else:
        status = _worst(["ok", *("ok" if s == "met" else s for s in statuses)])

    def local(moment: dt.datetime | None) -> dt.datetime | None:
        return moment.astimezone(tz) if moment is not None else None

    return Clock(
        priority=priority,
        respond_due=local(respond_run.due if respond_run else None),
        resolve_due=local(resolve_run.due if resolve_run else None),
        responded_at=local(responded_at),
        resolved_at=local(resolved_at),
        respond_status=respond_status,
        resolve_status=resolve_status,
        status=status,
        paused=paused,
        respond_breached_at=local(respond_run.due if respond_status == "breached" and respond_run else None),
        resolve_breached_at=local(resolve_run.due if resolve_status == "breached" and resolve_run else None),
    )


def due_escalations(
    policy: SlaPolicy, clock: Clock | None, applied: Collection[int], now: dt.datetime
) -> list[tuple[int, EscalationRule]]:
    """The escalation rules due at ``now`` and not yet ``applied``, as ``(index into policy.escalate, rule)``
    in policy order.

    A rule is due while the ticket is open once ``now >= breached_at(rule.when) + rule.after``. ``after`` is
    counted in wall time from the breach (not working time: an escalation is a reaction to a breach that has
    already happened, and "2h after the breach" should mean two hours on the clock). A rule whose goal was
    breached stays due after a late response, until it is applied or the ticket is resolved.
    """
    if clock is None or not clock.is_open:
        return []
    now_u = _utc(now, policy.tz)
    due: list[tuple[int, EscalationRule]] = []
    for index, rule in enumerate(policy.escalate):
        if index in applied:
            continue
        breached = clock.breached_at(rule.when)
        if breached is None:
            continue
        if now_u >= breached.astimezone(UTC) + dt.timedelta(seconds=rule.after):
            due.append((index, rule))
    return due


# ------------------------------------------------------------------ parsing

Problem = tuple[str, str]

_TOP_KEYS = ("pause", "calendar", "priorities", "escalate")
_CAL_KEYS = ("days", "hours", "holidays", "workdays")
_GOAL_KEYS = ("respond", "resolve")
_RULE_KEYS = ("when", "after", "assign_to")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DATE_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
_MAX_RANGE_DAYS = 366


def _key_name(key: object) -> str:
    # YAML 1.1 reads a bare `on` (also yes/y) as true; name it as the user most likely wrote it.
    if key is True:
        return "on"
    return str(key)


def _duration(value: object, path: str, problems: list[Problem], *, positive: bool) -> int | None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.append((path, str(exc)))
        return None
    if positive and seconds <= 0:
        problems.append((path, f"must be longer than zero: {value!r}"))
        return None
    return seconds


def _state_names(raw: object, path: str, problems: list[Problem]) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        problems.append((path, f"must be a list of states, e.g. [待用户确认]; got {raw!r}"))
        return frozenset()
    names: set[str] = set()
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            names.add(item)
        else:
            problems.append((f"{path}[{i}]", f"must be a state name; got {item!r}"))
    return frozenset(names)


def _parse_hours(raw: object, path: str, problems: list[Problem]) -> tuple[dt.time, dt.time | None] | None:
    m = _HOURS.match(raw) if isinstance(raw, str) else None
    if m is None:
        problems.append((path, f'must be "HH:MM-HH:MM", e.g. "09:00-18:00"; got {raw!r}'))
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        problems.append((path, f"not a time of day: {raw!r}"))
        return None
    if (h1, m1) >= (h2, m2):
        problems.append((path, f"the start must be before the end: {raw!r}"))
        return None
    return dt.time(h1, m1), (None if h2 == 24 else dt.time(h2, m2))


def _parse_date(text: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def _parse_dates(raw: object, path: str, problems: list[Problem]) -> frozenset[dt.date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        problems.append(
            (path, f"must be a list of dates (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD); got {raw!r}")
        )
        return frozenset()
    dates: set[dt.date] = set()
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, dt.datetime):
            problems.append((where, f"must be a date without a time: {item!r}"))
        elif isinstance(item, dt.date):
            dates.add(item)
        elif isinstance(item, str) and (m := _DATE_RANGE.match(item)):
            try:
                first, last = _parse_date(m.group(1)), _parse_date(m.group(2))
            except ValueError:
                problems.append((where, f"not a date range YYYY-MM-DD..YYYY-MM-DD: {item!r}"))
                continue
            if last < first or (last - first).days >= _MAX_RANGE_DAYS:
                problems.append(
                    (where, f"a date range must run forwards, at most {_MAX_RANGE_DAYS} days: {item!r}")
                )
                continue
            dates.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
        else:
            try:
                if not isinstance(item, str):
                    raise ValueError(item)
                dates.add(_parse_date(item.strip()))
            except ValueError:
                problems.append((where, f"not a date YYYY-MM-DD: {item!r}"))
    return frozenset(dates)


def _parse_calendar(raw: object, tz: dt.tzinfo, problems: list[Problem]) -> Calendar | None:
    path = "sla.calendar"
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(
            (path, f'must be a mapping like {{days: [1,2,3,4,5], hours: "09:00-18:00"}}; got {raw!r}')
        )
        return None
    for key in raw:
        if key not in _CAL_KEYS:
            problems.append(
                (f"{path}.{_key_name(key)}", f"unknown key (expected one of: {', '.join(_CAL_KEYS)})")
            )
    ok = True
    days: set[int] = set()
    raw_days = raw.get("days", [1, 2, 3, 4, 5])
    if not isinstance(raw_days, list) or not raw_days:
        problems.append(
            (f"{path}.days", f"must be a non-empty list of ISO weekdays 1 (Mon) .. 7 (Sun); got {raw_days!r}")
        )
        ok = False
    else:
        for i, d in enumerate(raw_days):
            if isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7:
                days.add(d)
            else:
                problems.append((f"{path}.days[{i}]", f"must be a weekday 1 (Mon) .. 7 (Sun); got {d!r}"))
                ok = False
    hours = _parse_hours(raw["hours"], f"{path}.hours", problems) if "hours" in raw else (_MIDNIGHT, None)
    holidays = _parse_dates(raw.get("holidays"), f"{path}.holidays", problems)
    workdays = _parse_dates(raw.get("workdays"), f"{path}.workdays", problems)
    both = sorted(holidays & workdays)
    if both:
        problems.append(
            (f"{path}.workdays", f"listed as holidays too: {', '.join(d.isoformat() for d in both)}")
        )
    if not ok or hours is None:
        return None
    return Calendar(
        days=frozenset(days),
        start=hours[0],
        end=hours[1],
        holidays=holidays - workdays,
        tz=tz,
        workdays=workdays,
    )


def _parse_priorities(raw: object, problems: list[Problem]) -> dict[str, Goal]:
    path = "sla.priorities"
    if not isinstance(raw, dict) or not raw:
        problems.append(
            (path, f"must map priorities to goals, e.g. {{P1: {{respond: 30m, resolve: 2h}}}}; got {raw!r}")
        )
        return {}
    goals: dict[str, Goal] = {}
    for name, spec in raw.items():
        where = f"{path}.{_key_name(name)}"
        if not isinstance(name, str) or not name.strip():
            problems.append((where, f"a priority name must be text, e.g. P1; got {name!r}"))
            continue
        if not isinstance(spec, dict):
            problems.append((where, f"must be a mapping like {{respond: 30m, resolve: 2h}}; got {spec!r}"))
            continue
        for key in spec:
            if key not in _GOAL_KEYS:
                problems.append((f"{where}.{_key_name(key)}", "unknown key (expected respond or resolve)"))
        if not any(k in spec for k in _GOAL_KEYS):
            problems.append((where, "needs a respond or resolve goal"))
            continue
        values: dict[str, int | None] = {}
        bad = False
        for key in _GOAL_KEYS:
            values[key] = None
            if key in spec:
                values[key] = _duration(spec[key], f"{where}.{key}", problems, positive=True)
                bad = bad or values[key] is None
        if not bad:
            goals[name] = Goal(respond=values["respond"], resolve=values["resolve"])
    return goals


def _parse_escalate(raw: object, problems: list[Problem]) -> tuple[EscalationRule, ...]:
    path = "sla.escalate"
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(
            (path, f"must be a list of rules like {{when: resolve, assign_to: ROLE}}; got {raw!r}")
        )
        return ()
    rules: list[EscalationRule] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.append(
                (where, f"must be a mapping like {{when: resolve, after: 2h, assign_to: ROLE}}; got {item!r}")
            )
            continue
        for key in item:
            if key is True and "when" not in item:
                problems.append(
                    (
                        f"{where}.on",
                        "YAML reads a bare `on:` as true; write `when: respond` or `when: resolve`",
                    )
                )
            elif key not in _RULE_KEYS:
                problems.append(
                    (f"{where}.{_key_name(key)}", f"unknown key (expected one of: {', '.join(_RULE_KEYS)})")
                )
        when = item.get("when")
        if when is None:
            if True not in item:
                problems.append((f"{where}.when", "missing: respond or resolve"))
        elif when not in _GOAL_KEYS:
            problems.append((f"{where}.when", f"must be respond or resolve; got {when!r}"))
        assign_to = item.get("assign_to")
        if not isinstance(assign_to, str) or not assign_to.strip():
            problems.append((f"{where}.assign_to", f"must name a role; got {assign_to!r}"))
        after = _duration(item["after"], f"{where}.after", problems, positive=False) if "after" in item else 0
        if when in _GOAL_KEYS and isinstance(assign_to, str) and assign_to.strip() and after is not None:
            rules.append(EscalationRule(when=str(when), assign_to=assign_to, after=after))
    return tuple(rules)


def parse_sla(raw: object, tz: dt.tzinfo) -> tuple[SlaPolicy | None, list[Problem]]:
    """Read a workflow's ``sla:`` mapping (already YAML-loaded; None when absent) into a policy.

    Returns ``(policy, problems)``; each problem is ``(key path, message)``, e.g.
    ``("sla.priorities.P1.respond", "not a duration ...")``, list items written ``sla.escalate[1].when``.
    Parsing is best effort: invalid parts are left out of the policy (a bad priority is dropped, a bad
    calendar makes it 24x7, a bad rule is skipped) and reported, so the caller decides whether to use it.
    The policy is None only when ``raw`` is None or not a mapping.

    Calendar defaults: ``days`` Mon–Fri, ``hours`` the whole day. Dates may be ``YYYY-MM-DD`` or a range
    ``YYYY-MM-DD..YYYY-MM-DD``; ``workdays`` lists make-up working days (调休) that count even on a weekend.
    Whether the pause states and the roles named by ``assign_to`` exist is for the workflow check to say.
    """
    if raw is None:
        return None, []
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        return None, [("sla", f"must be a mapping with pause, calendar, priorities, escalate; got {raw!r}")]
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(
                (f"sla.{_key_name(key)}", f"unknown key (expected one of: {', '.join(_TOP_KEYS)})")
            )
    pause = _state_names(raw.get("pause"), "sla.pause", problems)
    calendar = _parse_calendar(raw.get("calendar"), tz, problems)
    priorities = _parse_priorities(raw.get("priorities"), problems)
    escalate = _parse_escalate(raw.get("escalate"), problems)
    policy = SlaPolicy(pause=pause, calendar=calendar, priorities=priorities, escalate=escalate, tz=tz)
    return policy, problems
