"""``sopflow check`` without ``--base``: validate every file, report every problem, never stop at the first."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopflow.core import yamlio
from sopflow.core.fields import is_empty, validate_value
from sopflow.core.frontmatter import Document, FrontMatterError
from sopflow.core.problems import Problem, error, warning
from sopflow.core.ticket import parent, relates, wiki_links
from sopflow.core.workflow import RESERVED, Workflow
from sopflow.errors import SopflowError

if TYPE_CHECKING:
    from sopflow.project import Project



def check(p: Project) -> list[Problem]:
    problems: list[Problem] = []
    try:
        problems += p._config_loaded[1]
    except SopflowError as exc:
        return [error("sopflow.yaml", _line_of(exc), "config-invalid", exc.message)]
    problems += check_workflows(p)
    for part in (check_tickets, check_pages):
        try:
            problems += part(p)
        except SopflowError as exc:  # e.g. a folder that is a symbolic link out of the repository
            problems.append(error(exc.where or "sopflow.yaml", None, "path-outside", exc.message))
    from sopflow import hooks

    for spec in hooks.CHECKS:
        problems += list(hooks.resolve(spec)(p))
    return sorted(set(problems), key=lambda x: (x.path, x.line or 0, x.code, x.message))


def _line_of(exc: SopflowError) -> int | None:
    import re

    m = re.match(r"line (\d+)", exc.message)
    return int(m.group(1)) if m else None


def check_workflows(p: Project) -> list[Problem]:
    out: list[Problem] = []
    all_roles: set[str] = set()
    for stem, (wf, problems) in p._workflows.items():
        out += problems
        if wf is None:
            continue
        all_roles.update(wf.roles)
        rel = f"{p.config.paths['workflows']}/{stem}.yaml"
        lines = _lines_of(p.root / rel)
        for st in wf.states.values():
            if st.checklist:
                try:
                    from sopflow.adapters.files import confine

                    path = confine(p.root, st.checklist, what="checklist")
                except SopflowError as exc:
                    out.append(error(rel, lines.get(("states", st.name, "checklist")), "path-outside", exc.message))
                    continue
                if not path.is_file():
                    out.append(error(rel, lines.get(("states", st.name, "checklist")), "missing-checklist",
                                     f"state {st.name}: checklist {st.checklist} does not exist"))
        if wf.rules is not None:
            from sopflow.core.intake import validate_rules

            out += validate_rules(wf, rel, lines)
        if wf.sla is not None:
            out += _check_sla(wf, rel, lines, p)
        prefixes = [w for w in p.workflows.values() if w.prefix == wf.prefix and w.type != wf.type]
        if prefixes:
            out.append(error(rel, lines.get(("prefix",)), "duplicate-prefix",
                             f"prefix {wf.prefix} is also used by {', '.join(w.type for w in prefixes)}"))
    for key, person in p.config.people.items():
        for role in person.roles:
            if all_roles and role not in all_roles:
                out.append(warning("sopflow.yaml", _config_line(p, ("people", key, "roles")), "unknown-role",
                                   f"person {key}: role {role!r} is not used by any workflow"))
    return out


def _check_sla(wf: Workflow, rel: str, lines: dict[tuple[Any, ...], int], p: Project) -> list[Problem]:
    from sopflow.core import sla as slamod

    policy, problems = slamod.parse_sla(wf.sla, p.tz)
    out = []
    for keypath, message in problems:
        import re

        parts = tuple(int(x) if x.isdigit() else x for x in re.findall(r"[^.\[\]]+", keypath))
        line = None
        for n in range(len(parts), 0, -1):
            if parts[:n] in lines:
                line = lines[parts[:n]]
                break
        out.append(error(rel, line, "sla-invalid", message))
    if policy is not None:
        for i, rule in enumerate(policy.escalate):
            if rule.assign_to not in wf.roles:
                out.append(error(rel, lines.get(("sla", "escalate", i)), "unknown-role",
                                 f"escalation rule {i + 1}: unknown role {rule.assign_to!r} (declare it in roles:)"))
        for state in policy.pause:
            if state not in wf.states:
                out.append(error(rel, lines.get(("sla", "pause")), "unknown-state", f"sla pause: unknown state {state!r}"))
    return out


def _lines_of(path: Path) -> dict[tuple[Any, ...], int]:
    try:
        return yamlio.node_lines(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def _config_line(p: Project, keypath: tuple[Any, ...]) -> int | None:
    return _lines_of(p.root / "sopflow.yaml").get(keypath)


class _CachedDoc:
    """A ticket's front matter from the index; the file is parsed only if a problem needs a line number."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._doc: Document | None = None

    def key_line(self, key: str) -> int | None:
        if self._doc is None:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    self._doc = Document.parse(fh.read())
            except (OSError, UnicodeDecodeError, FrontMatterError):
                return None
        return self._doc.key_line(key)


def check_tickets(p: Project) -> list[Problem]:
    from sopflow.core import ids
    from sopflow.index import ticket_front_matters

    out: list[Problem] = []
    seen: dict[str, str] = {}
    loaded: list[tuple[str, Document | _CachedDoc]] = []
    for path, rel, data in ticket_front_matters(p):
        doc: Document | _CachedDoc | None
        doc = _parse_file(Path(path), rel, out) if data is None or os.path.islink(path) else _CachedDoc(path, data)
        if doc is None:
            continue
        data = doc.data
        tid = data.get("id")
        if not isinstance(tid, str) or not ids.is_valid_id(tid):
            out.append(error(rel, doc.key_line("id") or 2, "ticket-id", f"missing or malformed id {tid!r}"))
            continue
        if ids.id_from_filename(os.path.basename(path)) != tid:
            out.append(error(rel, doc.key_line("id"), "ticket-id", f"id {tid} does not match the file name"))
        if tid in seen:
            out.append(error(rel, doc.key_line("id"), "duplicate-id", f"ID {tid} is also used by {seen[tid]}"))
            out.append(error(seen[tid], None, "duplicate-id", f"ID {tid} is also used by {rel}"))
        else:
            seen[tid] = rel
        loaded.append((rel, doc))
    wiki_dir = p.dir("wiki")
    pages: dict[str, bool] = {}  # wiki link → whether it names a page: asked once per page, not per link
    for rel, doc in loaded:
        out += _check_ticket(p, rel, doc, seen, wiki_dir, pages)
    return out


def _parse_file(path: Path, rel: str, out: list[Problem]) -> Document | None:
    if path.is_symlink():
        out.append(error(rel, None, "symlink", "ticket files must not be symbolic links"))
        return None
    from sopflow.adapters.files import read_bytes

    try:
        raw = read_bytes(path, rel)
    except SopflowError as exc:
        out.append(error(rel, None, "unreadable", exc.message))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.append(error(rel, None, "encoding", f"not valid UTF-8 (byte {exc.start})"))
        return None
    try:
        return Document.parse(text)
    except FrontMatterError as exc:
        code = "conflict" if "conflict" in exc.message else "front-matter"
        out.append(error(rel, exc.line, code, exc.message))
        return None


def _check_ticket(p: Project, rel: str, doc: Document | _CachedDoc, ids_seen: dict[str, str],
                  wiki_dir: Path, pages: dict[str, bool] | None = None) -> list[Problem]:
    out: list[Problem] = []
    d = doc.data

    def line(key: str) -> int | None:
        return doc.key_line(key) or 2

    wtype = d.get("type")
    wf = p.workflows.get(str(wtype)) if isinstance(wtype, str) else None
    if wf is None:
        known = ", ".join(sorted(p.workflows)) or "none"
        out.append(error(rel, line("type"), "unknown-type", f"unknown type {wtype!r} (known: {known})"))
    title = d.get("title")
    if not isinstance(title, str) or not title.strip():
        out.append(error(rel, line("title"), "missing-title", "title is missing"))
    state = d.get("state")
    if wf is not None and state not in wf.states:
        out.append(error(rel, line("state"), "unknown-state", f"state {state!r} is not a state of {wf.type}"))
    for key in ("created", "updated"):
        if key in d and d[key] is not None:
            from datetime import datetime

            try:
                datetime.fromisoformat(str(d[key]))
            except ValueError:
                out.append(error(rel, line(key), "bad-time", f"{key} {d[key]!r} is not an ISO 8601 date-time"))
    people = p.config.people
    for key in ("assignee", "reporter"):
        v = d.get(key)
        if v is not None and not isinstance(v, str):
            out.append(error(rel, line(key), "bad-value", f"{key} must be a person key"))
    roles = d.get("roles")
    if roles is not None and not isinstance(roles, dict):
        out.append(error(rel, line("roles"), "bad-value", "roles must be a mapping ROLE: PERSON"))
    elif isinstance(roles, dict) and wf is not None:
        for r, person in roles.items():
            if r not in wf.roles:
                out.append(error(rel, line("roles"), "unknown-role", f"role {r!r} is not a role of {wf.type}"))
            elif people and person not in people:
                out.append(warning(rel, line("roles"), "unknown-person", f"role {r} bound to unknown person {person!r}"))
    labels = d.get("labels")
    if labels is not None and not isinstance(labels, list):
        out.append(error(rel, line("labels"), "bad-value", "labels must be a list"))
    if wf is not None:
        known_people = list(people) if people else None
        for name, f in wf.fields.items():
            v = d.get(name)
            if f.required and is_empty(v):
                out.append(error(rel, line(name) if name in d else 2, "missing-field",
                                 f"required field {name} ({f.title}) is empty"))
            msg = validate_value(f, v, people=known_people)
            if msg:
                out.append(error(rel, line(name), "bad-field", f"field {name}: {msg}"))
        for key in d:
            if key not in RESERVED and key not in wf.fields:
                out.append(warning(rel, line(key), "unknown-field", f"{key!r} is not a field of {wf.type}"))
    links = d.get("links")
    if links is not None and not isinstance(links, dict):
        out.append(error(rel, line("links"), "bad-value", "links must be a mapping (parent, relates, wiki)"))
    else:
        par = parent(d)
        if par and par not in ids_seen:
            out.append(error(rel, line("links"), "broken-link", f"parent {par} does not exist"))
        for other in relates(d):
            if other not in ids_seen:
                out.append(error(rel, line("links"), "broken-link", f"related ticket {other} does not exist"))
        for page in wiki_links(d):
            ok = pages.get(page) if pages is not None else None
            if ok is None:
                target = (p.root / page).resolve()
                ok = p.root in target.parents and target.is_file()
                if pages is not None:
                    pages[page] = ok
            if not ok:
                out.append(error(rel, line("links"), "broken-link", f"wiki page {page} does not exist"))
    history = d.get("history")
    if history is None or history == []:
        out.append(error(rel, line("history") if "history" in d else 2, "history",
                         "no history (a ticket starts with a create entry)"))
    elif not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        out.append(error(rel, line("history"), "history", "history must be a list of entries"))
    else:
        for n, e in enumerate(history):
            for key in ("at", "by", "action"):
                if key not in e:
                    hline = line("history") or 2
                    out.append(error(rel, hline + n + 1, "history", f"history entry {n + 1} has no {key}"))
        moves = [e for e in history if "to" in e]
        if moves and moves[-1].get("to") != state:
            out.append(error(rel, line("state"), "state-history",
                             f"state {state!r} disagrees with the last history entry (to {moves[-1].get('to')!r})"))
    return out


def check_pages(p: Project) -> list[Problem]:
    out: list[Problem] = []
    today = p.now.date()
    from sopflow.core import ids
    from sopflow.index import ticket_names

    known = {ids.id_from_filename(name) for name in ticket_names(p)}
    for kind in ("sops", "wiki"):
        d = p.dir(kind)
        if not d.is_dir():
            continue
        for path in sorted(d.rglob("*.md")):
            rel = p.relpath(path)
            doc = _parse_file(path, rel, out)
            if doc is None:
                continue
            data = doc.data
            owner = data.get("owner")
            if owner is not None and p.config.people and owner not in p.config.people:
                out.append(warning(rel, doc.key_line("owner"), "unknown-person", f"owner {owner!r} is not in people"))
            tickets = data.get("tickets")
            if tickets is not None:
                if not isinstance(tickets, list):
                    out.append(error(rel, doc.key_line("tickets"), "bad-value", "tickets must be a list of IDs"))
                else:
                    for tid in tickets:
                        if str(tid) not in known:
                            out.append(error(rel, doc.key_line("tickets"), "broken-link", f"ticket {tid} does not exist"))
            if kind == "sops":
                applies = data.get("applies_to")
                if isinstance(applies, dict):
                    wf = p.workflows.get(str(applies.get("type")))
                    if applies.get("type") is not None and wf is None:
                        out.append(error(rel, doc.key_line("applies_to"), "unknown-type",
                                         f"applies_to type {applies.get('type')!r} does not exist"))
                    elif wf is not None and applies.get("state") is not None and applies.get("state") not in wf.states:
                        out.append(error(rel, doc.key_line("applies_to"), "unknown-state",
                                         f"applies_to state {applies.get('state')!r} is not a state of {wf.type}"))
            due = review_due(data)
            if due is False:
                out.append(error(rel, doc.key_line("reviewed") or doc.key_line("review_every"), "bad-review",
                                 "reviewed must be YYYY-MM-DD and review_every a duration such as 90d"))
            elif isinstance(due, date) and due < today:
                out.append(warning(rel, doc.key_line("reviewed"), "review-overdue",
                                   f"review overdue since {due.isoformat()} (reviewed {data.get('reviewed')}, "
                                   f"every {data.get('review_every')})"))
    return out


def review_due(data: dict[str, Any]) -> date | bool | None:
    """The date a page is next due for review; None when it has no schedule; False when malformed."""
    from sopflow.core.durations import parse_duration

    every = data.get("review_every")
    reviewed = data.get("reviewed")
    if every is None:
        return None
    try:
        seconds = parse_duration(str(every))
        last = date.fromisoformat(str(reviewed)) if reviewed is not None else None
    except ValueError:
        return False
    if last is None:
        return date.min
    return last + timedelta(seconds=seconds)
