"""Replay a change to one ticket against its workflow as it stood at a base revision (``check --base``).

Pure: the caller passes the ticket as it was at the base (``before``) and as it is now (``after``), the
workflow and the people as of the base, and the few facts one ticket cannot tell (open children, wiki
pages that mention it). The result is a list of problems pointing at lines of the new file.

What is judged exactly:
- a new ticket starts with a ``create`` entry into the initial state; its ``reporter`` is that entry's ``by``;
- the history entries present at the base are unchanged and still first (history is append-only);
- each new entry is a known action; a trigger is legal from the state the replay has reached, its ``from``
  and ``to`` agree with the workflow, and the state the replay ends in is the ticket's ``state``;
- ``by`` of each trigger was allowed (SPEC 2.3) under ``people`` as of the base; a note was given when required;
- ``id``, ``type``, ``reporter`` and ``created`` never change; ``readonly`` fields of an existing ticket
  never change; ``assignee`` ends where the recorded entries leave it.

What is approximated (the history does not record everything):
- ``require: fields`` and ``require: roles`` are judged on the ticket as it is *after* the change, not as it
  was at the moment of the transition (a field filled in a later commit of the same change counts);
- role bindings made by ``do --role`` or ``assign_to`` are not recorded in the entry, so the replay does not
  know when inside the change they happened: for ``by`` it accepts a person named by any binding the role had
  during the change (at the base, in an ``assign`` entry, or at the end), but a binding made inside the change
  counts only when that person could be bound to the role under ``people`` as of the base (they held it, or
  nobody did); a role that may have been unbound at the time admits the holders listed at the base;
- ``require: checklist`` is judged on the checklist section of the final body that belongs to that visit of
  the state (sections are counted from the end), ticked boxes being as they are after the change;
- ``require: children`` uses the children's states in the work tree; unknown children are not judged;
- ``require: wiki`` is met by a wiki link in the final ticket or a wiki page listing the ticket;
- the assignee of a new ticket before its first recorded change is unknown, so ``by: [assignee]`` is not held
  against anyone until then.
Field edits that no ``set`` entry records are reported as warnings (``unrecorded-edit``), not errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sopflow.core import checklist, fsm
from sopflow.core.config import Config
from sopflow.core.problems import Problem, error, warning
from sopflow.core.workflow import Transition, Workflow

ACTIONS = ("create", "assign", "set", "comment", "tick", "escalate", "link")
NEVER_CHANGE = ("id", "type", "reporter", "created")
_MISSING = object()


@dataclass(frozen=True)
class After:
    """The ticket file as it is now."""

    rel: str
    data: Mapping[str, Any]
    body_lines: Sequence[str] = ()
    entry_lines: Sequence[int | None] = ()  # 1-based line of each history entry
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        return self.key_lines.get(key) or (2 if key in self.data else None)

    def entry_line(self, i: int) -> int | None:
        if 0 <= i < len(self.entry_lines) and self.entry_lines[i]:
            return self.entry_lines[i]
        return self.line("history")


@dataclass(frozen=True)
class Facts:
    """What one ticket cannot tell about itself, gathered by the caller where a requirement needs it."""

    children_open: Sequence[str] | None = None  # None: not known (requirement not judged)
    wiki_mentioned: bool = False


def history_of(data: Mapping[str, Any]) -> list[Any]:
    h = data.get("history")
    return list(h) if isinstance(h, list) else []


def replay(after: After, before: Mapping[str, Any] | None, wf: Workflow, config: Config, *,
           facts: Facts | None = None, base: str = "the base") -> list[Problem]:
    """Every problem with the change from ``before`` (None: a new ticket) to ``after``."""
    return _Replay(after, before, wf, config, facts or Facts(), base).run()


@dataclass
class _Replay:
    after: After
    before: Mapping[str, Any] | None
    wf: Workflow
    config: Config
    facts: Facts
    base: str
    out: list[Problem] = field(default_factory=list)

    # ------------------------------------------------------------ helpers
    def err(self, line: int | None, code: str, message: str) -> None:
        self.out.append(error(self.after.rel, line, code, message))

    def warn(self, line: int | None, code: str, message: str) -> None:
        self.out.append(warning(self.after.rel, line, code, message))

    @property
    def tid(self) -> str:
        return str(self.after.data.get("id", ""))

    # ------------------------------------------------------------ main
    def run(self) -> list[Problem]:
        new = self.after.data
        hist = history_of(new)
        if self.before is None:
            if self._check_create(hist) is None:
                return self.out
            added = list(range(1, len(hist)))
            start, state, assignee = 1, self.wf.initial, _MISSING  # assignee at creation: not recorded
            reporter = new.get("reporter")
        else:
            if not self._check_fixed():
                return self.out
            old = history_of(self.before)
            found = self._match_old(old, hist)
            if found is None:
                return self.out
            added = found
            start = added[0] if added else len(hist)
            reporter = self.before.get("reporter")
            if start >= len(old):  # the usual case: new entries after the old ones
                state, assignee = str(self.before.get("state", "")), self.before.get("assignee")
            else:  # a merge put new entries among old ones (time order): resume where they begin
                state, assignee = _state_at(hist[:start]), _assignee_at(hist[:start])
        self._replay(hist, start, set(added), state, assignee, reporter)
        if self.before is not None:
            self._check_fields([hist[i] for i in added])
        return self.out

    # ------------------------------------------------------------ shape
    def _check_create(self, hist: list[Any]) -> int | None:
        new = self.after.data
        if not hist or not isinstance(hist[0], dict):
            self.err(self.after.line("history") or 2, "gate-create",
                     f"new ticket {self.tid} must start with a create entry in its history")
            return None
        first = hist[0]
        line = self.after.entry_line(0)
        if first.get("action") != "create":
            self.err(line, "gate-create", f"new ticket {self.tid}: the first history entry must be a create "
                     f"entry (found action {first.get('action')!r})")
            return None
        if first.get("to") != self.wf.initial:
            self.err(line, "gate-create", f"new ticket {self.tid} must start in the initial state "
                     f"{self.wf.initial} (its create entry says to {first.get('to')!r})")
        if new.get("reporter") != first.get("by"):
            self.err(self.after.line("reporter") or line, "gate-hand-edit",
                     f"new ticket {self.tid}: reporter {new.get('reporter')!r} is not the creator "
                     f"{first.get('by')!r} named by the create entry")
        return 1

    def _check_fixed(self) -> bool:
        """id, type, reporter and created never change; False when the ticket cannot be judged further."""
        assert self.before is not None
        ok = True
        for key in NEVER_CHANGE:
            old, new = self.before.get(key), self.after.data.get(key)
            if old != new:
                self.err(self.after.line(key) or 2, "gate-hand-edit",
                         f"{key} changed from {old!r} to {new!r} ({key} never changes)")
                if key in ("id", "type"):
                    ok = False
        return ok

    def _match_old(self, old: list[Any], hist: list[Any]) -> list[int] | None:
        """Indices of the new entries, or None (reported) when an old entry was changed or removed."""
        added, at = added_entries(old, hist)
        if added is not None:
            return added
        if len(hist) < len(old) and all(hist[i] == old[i] for i in range(len(hist))):
            gone = len(old) - len(hist)
            self.err(self.after.line("history") or 2, "gate-history",
                     f"{gone} history entr{'y was' if gone == 1 else 'ies were'} removed (history is "
                     f"append-only; {self.base} has {len(old)})")
        else:
            j, pos = at
            line = self.after.entry_line(pos) if pos < len(hist) else self.after.line("history") or 2
            self.err(line, "gate-history", f"history entry {j + 1} as of {self.base} was changed or removed "
                     f"(history is append-only; it was {_short(old[j])})")
        return None

    # ------------------------------------------------------------ replay
    def _replay(self, hist: list[Any], start: int, added: set[int], state: str, assignee: Any,
                reporter: Any) -> None:
        new = self.after.data
        candidates = self._bindings([hist[i] for i in sorted(added)])
        entering = _entering(hist)
        triggers = set(self.wf.triggers())
        for i in range(start, len(hist)):
            e = hist[i]
            if not isinstance(e, dict):
                continue  # reported by the static check
            line = self.after.entry_line(i)
            n = i + 1
            if i not in added:  # an old entry (already judged): follow it
                frm = e.get("from")
                if frm is not None and frm != state:
                    self.err(line, "gate-transition", f"history entry {n} ({e.get('action')}) starts from {frm}, "
                             f"but the entries added before it leave the ticket in {state}")
                if isinstance(e.get("to"), str):
                    state = e["to"]
                if "assignee" in e:
                    assignee = e["assignee"]
                continue
            action = e.get("action")
            if action == "create":
                self.err(line, "gate-transition", f"history entry {n}: create may only be the first entry")
                continue
            if isinstance(action, str) and action in triggers:
                tr = self.wf.find(action, state)
                frm = e.get("from")
                if frm is not None and frm != state:
                    self.err(line, "gate-transition", f"history entry {n} ({action}) says from {frm} but the "
                             f"ticket was in {state}")
                if tr is None:
                    srcs = sorted({s for t in self.wf.transitions if t.trigger == action for s in t.sources})
                    self.err(line, "gate-transition", f"history entry {n}: {action} cannot be fired from state "
                             f"{state} (only from {', '.join(srcs)})")
                    if isinstance(e.get("to"), str):
                        state = e["to"]
                    continue
                if e.get("to") != tr.dest:
                    self.err(line, "gate-transition", f"history entry {n}: {action} leads to {tr.dest}, "
                             f"but the entry says to {e.get('to')!r}")
                by = e.get("by")
                who = str(by) if by is not None else None
                if not self._may_fire(who, tr.by, candidates, assignee, reporter):
                    self.err(line, "gate-permission",
                             f"history entry {n}: {who or 'nobody'} may not fire {action}: it needs "
                             f"{fsm.describe_by(tr.by)} under people as of {self.base}"
                             + self._hint(tr.by, candidates))
                later = sum(1 for k in range(i + 1, len(hist)) if entering[k] == state)
                missing = self._missing(tr, e, state, candidates, later)
                if missing:
                    self.err(line, "gate-require", f"history entry {n}: {action} did not meet its requirements: "
                             + "; ".join(missing))
                state = tr.dest
                if "assignee" in e:
                    assignee = e["assignee"]
                continue
            if action not in ACTIONS:
                self.err(line, "gate-transition", f"history entry {n}: unknown action {action!r} (not a trigger "
                         f"of {self.wf.type} as of {self.base}, nor one of {', '.join(ACTIONS)})")
                continue
            if "to" in e and e.get("to") != state:
                self.err(line, "gate-transition", f"history entry {n}: a {action} entry cannot change the state")
            if "assignee" in e:
                assignee = e["assignee"]
            if action == "set" and isinstance(e.get("set"), dict):
                for key in e["set"]:
                    f = self.wf.fields.get(str(key))
                    if f is not None and f.readonly:
                        self.err(line, "gate-readonly", f"history entry {n}: field {key} is read-only "
                                 "(only sopflow itself writes it)")
        if new.get("state") != state:
            self.err(self.after.line("state") or 2, "gate-state",
                     f"state is {new.get('state')!r} but the history entries lead to {state!r} "
                     "(state changes only through transitions recorded in history)")
        if assignee is not _MISSING and new.get("assignee") != assignee:
            self.err(self.after.line("assignee") or 2, "gate-hand-edit",
                     f"assignee is {new.get('assignee')!r} but the history entries leave it at {assignee!r} "
                     "(use sopflow assign)")

    def _bindings(self, entries: list[Any]) -> dict[str, set[str]]:
        """Every person each role was (validly) bound to during the change; see the module notes."""
        old = fsm.bound_roles(self.before or {})
        cand: dict[str, set[str]] = {r: {p} for r, p in old.items()}
        made: list[tuple[str, str]] = []
        for e in entries:
            if isinstance(e, dict) and e.get("action") == "assign" and e.get("role") and e.get("person"):
                made.append((str(e["role"]), str(e["person"])))
        for r, p in fsm.bound_roles(self.after.data).items():
            if old.get(r) != p:
                made.append((r, p))
        for r, p in made:
            if fsm.can_bind(self.config, r, p):
                cand.setdefault(r, set()).add(p)
        return cand

    def _may_fire(self, who: str | None, by: Sequence[str], cand: Mapping[str, set[str]], assignee: Any,
                  reporter: Any) -> bool:
        if not by:
            return True
        if who is None:
            return False
        old = fsm.bound_roles(self.before or {})
        final = fsm.bound_roles(self.after.data)
        for role in by:
            if role == "assignee":
                if assignee is _MISSING or assignee == who:
                    return True
            elif role == "reporter":
                if reporter == who:
                    return True
            else:
                if who in cand.get(role, set()):
                    return True
                maybe_unbound = role not in old or role not in final
                if maybe_unbound and fsm.holds(self.config, who, role):
                    return True
        return False

    def _hint(self, by: Sequence[str], cand: Mapping[str, set[str]]) -> str:
        parts = []
        for r in by:
            if cand.get(r):
                parts.append(f"{r} bound to {', '.join(sorted(cand[r]))}")
            elif r not in ("assignee", "reporter"):
                holders = self.config.holders(r)
                parts.append(f"{r}: {', '.join(holders) if holders else 'nobody holds it'}")
        return f" ({'; '.join(parts)})" if parts else ""

    def _missing(self, tr: Transition, e: Mapping[str, Any], state: str, cand: Mapping[str, set[str]],
                 later_visits: int) -> list[str]:
        data = dict(self.after.data)
        roles = {r: sorted(ps)[0] for r, ps in cand.items() if ps}
        roles.update(fsm.bound_roles(self.after.data))
        data["roles"] = roles
        note = e.get("note")
        children = self.facts.children_open
        req = replace(tr.require, checklist=False, children=tr.require.children and children is not None)
        out = fsm.missing(req, data, (), state=state, note=str(note) if note is not None else None,
                          children_open=children or (),
                          wiki_linked=self.facts.wiki_mentioned or bool(_wiki(self.after.data)),
                          field_labels={n: f.title for n, f in self.wf.fields.items()})
        out = [m.split(" (--")[0].split(" (link --")[0] for m in out]
        if tr.require.checklist:
            secs = [s for s in checklist.sections(self.after.body_lines) if s.state == state]
            idx = len(secs) - 1 - later_visits
            if 0 <= idx < len(secs) and secs[idx].unticked:
                sec = secs[idx]
                items = "; ".join(f"{sec.items.index(i) + 1}. {i.text}" for i in sec.unticked)
                out.append(f"{len(sec.unticked)} unticked checklist item{'s' if len(sec.unticked) > 1 else ''} "
                           f"of {state}: {items}")
        return out

    # ------------------------------------------------------------ fields
    def _check_fields(self, entries: list[Any]) -> None:
        assert self.before is not None
        old, new = self.before, self.after.data
        recorded: dict[str, Any] = {}
        actions: set[str] = set()
        for e in entries:
            if not isinstance(e, dict):
                continue
            actions.add(str(e.get("action")))
            if isinstance(e.get("set"), dict):
                recorded.update(e["set"])
        if fsm.bound_roles(old) != fsm.bound_roles(new) and not (actions - {"comment", "tick", "set", "link"}):
            self.err(self.after.line("roles") or 2, "gate-hand-edit",
                     "roles changed without a history entry (use sopflow assign --role or do --role)")
        if old.get("links") != new.get("links") and "link" not in actions:
            self.warn(self.after.line("links") or 2, "unrecorded-edit",
                      "links changed without a link entry in history (use sopflow link)")
        for key in [*self.wf.fields, "title", "priority", "labels"]:
            o, n = old.get(key), new.get(key)
            if o == n:
                continue
            f = self.wf.fields.get(key)
            if f is not None and f.readonly:
                self.err(self.after.line(key) or 2, "gate-readonly",
                         f"field {key} is read-only (only sopflow itself writes it); it changed from {o!r} to {n!r}")
            elif key not in recorded or recorded[key] != n:
                self.warn(self.after.line(key) or 2, "unrecorded-edit",
                          f"{key} changed from {o!r} to {n!r} without a history entry (use sopflow set)")


def added_entries(old: Sequence[Any], hist: Sequence[Any]) -> tuple[list[int] | None, tuple[int, int]]:
    """Indices in ``hist`` of the entries that are not ``old`` ones, when ``old`` is kept whole and in order.

    New entries usually follow the old ones; after a merge (entries united in time order) they may stand
    among them. On failure returns None and (index of the first old entry not found, where it was expected).
    """
    added: list[int] = []
    j = 0
    expected = 0
    for i, e in enumerate(hist):
        if j < len(old) and e == old[j]:
            j += 1
            expected = i + 1
        else:
            added.append(i)
    if j == len(old):
        return added, (j, 0)
    return None, (j, expected)


def _state_at(entries: Sequence[Any]) -> str:
    state = ""
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("to"), str):
            state = e["to"]
    return state


def _assignee_at(entries: Sequence[Any]) -> Any:
    value: Any = _MISSING
    for e in entries:
        if isinstance(e, dict) and "assignee" in e:
            value = e["assignee"]
    return value


def _entering(hist: Sequence[Any]) -> list[str | None]:
    """For each entry, the state it enters from another one (each such entry appends a checklist section)."""
    out: list[str | None] = []
    state: str | None = None
    for e in hist:
        to = e.get("to") if isinstance(e, dict) else None
        if isinstance(to, str) and to != state:
            out.append(to)
            state = to
        else:
            out.append(None)
    return out


def _wiki(data: Mapping[str, Any]) -> list[Any]:
    links = data.get("links")
    w = links.get("wiki") if isinstance(links, dict) else None
    return [w] if isinstance(w, str) else list(w) if isinstance(w, list) else []


def _short(entry: Any, n: int = 80) -> str:
    if isinstance(entry, dict):
        text = "{" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}"
    else:
        text = str(entry)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
