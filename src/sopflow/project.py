"""The project façade: one sopflow repository with its config, workflows, tickets, identity and clock.

The CLI, ``demo`` and the tests all go through :class:`Project`. Use cases decide in memory and return a
:class:`ChangeSet`; :meth:`Project.apply` is the one edge that writes files atomically and commits.
A refused action raises before anything is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

from sopflow.adapters import env as envmod
from sopflow.adapters import files
from sopflow.core import checklist, fsm, ids, yamlio
from sopflow.core.config import CONFIG_FILE, Config, parse_config
from sopflow.core.fields import coerce, is_empty
from sopflow.core.frontmatter import Document, FrontMatterError
from sopflow.core.problems import Problem
from sopflow.core.ticket import FRONT_ORDER, Ticket, parent, relates, wiki_links
from sopflow.core.workflow import RESERVED, Workflow, parse_workflow
from sopflow.errors import SopflowError

SETTABLE_RESERVED = ("title", "priority", "labels")


@dataclass
class ChangeSet:
    """What a use case wants written: files (path → new bytes), and the commit describing it."""

    action: str
    tickets: list[str]
    subject: str
    writes: dict[Path, bytes] = field(default_factory=dict)
    body: str = ""
    messages: list[str] = field(default_factory=list)  # told to the user on stderr
    result: Ticket | None = None

    def message(self) -> str:
        from sopflow.render.text import clean  # escape sequences in a title must not reach 'git log' raw

        trailers = [f"Sopflow-Ticket: {t}" for t in self.tickets] + [f"Sopflow-Action: {clean(self.action)}"]
        parts = [clean(self.subject)]
        if self.body:
            parts.append(clean(self.body))
        parts.append("\n".join(trailers))
        return "\n\n".join(parts) + "\n"


def find_root(start: Path) -> Path | None:
    cur = start.resolve()
    for p in (cur, *cur.parents):
        if (p / CONFIG_FILE).is_file():
            return p
    return None


class Project:
    def __init__(self, root: Path, *, actor: str | None = None, no_commit: bool = False,
                 author_env: dict[str, str] | None = None, now: datetime | None = None) -> None:
        self.root = root.resolve()
        if now is not None:
            self.__dict__["now"] = now
        self._actor_opt = actor
        self.no_commit = no_commit
        self.author_env = author_env or {}
        self._tickets: dict[str, Ticket] = {}
        self.notices: list[str] = []  # told to the user on stderr (e.g. an interrupted command settled)
        self.journal_refused = False

    # ------------------------------------------------------------ locating
    @classmethod
    def locate(cls, start: Path | None = None, *, repo: str | None = None, actor: str | None = None,
               no_commit: bool = False) -> Project:
        explicit = repo or os.environ.get("SOPFLOW_REPO")
        if explicit:
            base = Path(explicit).expanduser()
            if not base.is_dir():
                raise SopflowError(f"{explicit}: no such directory")
            root = find_root(base)
        else:
            root = find_root(start or Path.cwd())
        if root is None:
            where = explicit or str(start or Path.cwd())
            raise SopflowError(f"not a sopflow repository (no {CONFIG_FILE} here or above {where}); "
                               "run 'sopflow init' to make one")
        return cls(root, actor=actor, no_commit=no_commit)

    # ------------------------------------------------------------ config
    @cached_property
    def _config_loaded(self) -> tuple[Config, list[Problem]]:
        path = self.root / CONFIG_FILE
        text = files.read_text(path, CONFIG_FILE)
        try:
            data = yamlio.load(text)
        except yamlio.YamlError as exc:
            raise SopflowError(f"line {exc.line or 1}: {exc.message}", where=CONFIG_FILE) from None
        return parse_config(data, CONFIG_FILE, yamlio.LazyLines(text))

    @property
    def config(self) -> Config:
        return self._config_loaded[0]

    @cached_property
    def tz(self) -> tzinfo:
        return envmod.parse_tz(self.config.timezone)

    @cached_property
    def now(self) -> datetime:
        return envmod.now(self.tz)

    def stamp_tz(self, value: datetime) -> str:
        return envmod.fmt_time(value.astimezone(self.tz))

    def stamp(self) -> str:
        return envmod.fmt_time(self.now.astimezone(self.tz))

    def dir(self, kind: str) -> Path:
        d = self.root / self.config.paths[kind]
        if d.is_symlink():
            target = d.resolve()
            if target != self.root and self.root not in target.parents:
                raise SopflowError(f"the {kind} folder is a symbolic link leading outside the repository",
                                   where=self.config.paths[kind])
        return d

    def relpath(self, path: Path) -> str:
        return files.rel(self.root, path)

    # ------------------------------------------------------------ identity
    @cached_property
    def actor(self) -> str | None:
        """Who runs the command: --as, SOPFLOW_USER, git user.email, git user.name (SPEC 2.1)."""
        for value in (self._actor_opt, os.environ.get("SOPFLOW_USER")):
            if value:
                return value.strip()
        from sopflow.adapters import gitrepo

        email = gitrepo.config_get(self.root, "user.email")
        if email:
            key = self.config.person_by_email(email)
            if key:
                return key
        name = gitrepo.config_get(self.root, "user.name")
        if name:
            return name
        return None

    def require_actor(self) -> str:
        who = self.actor
        if not who:
            raise SopflowError("cannot tell who you are: use --as PERSON, set SOPFLOW_USER, "
                               "or set git user.email to an email in sopflow.yaml people")
        return who

    # ------------------------------------------------------------ workflows
    def workflow_files(self) -> list[Path]:
        d = self.dir("workflows")
        return sorted(p for p in d.glob("*.yaml") if p.is_file()) if d.is_dir() else []

    @cached_property
    def _workflows(self) -> dict[str, tuple[Workflow | None, list[Problem]]]:
        out: dict[str, tuple[Workflow | None, list[Problem]]] = {}
        for p in self.workflow_files():
            rel = self.relpath(p)
            try:
                text = files.read_text(p, rel)
                data = yamlio.load(text)
            except SopflowError as exc:
                out[p.stem] = (None, [Problem(rel, None, "error", "workflow-invalid", exc.message)])
                continue
            except yamlio.YamlError as exc:
                out[p.stem] = (None, [Problem(rel, exc.line, "error", "yaml", exc.message)])
                continue
            out[p.stem] = parse_workflow(data, p.stem, rel, yamlio.LazyLines(text))
        return out

    @cached_property
    def workflows(self) -> dict[str, Workflow]:
        """The valid workflows by type (built once; treat as read-only)."""
        return {k: wf for k, (wf, _) in self._workflows.items() if wf is not None}

    def workflow(self, wtype: str, where: str | None = None) -> Workflow:
        entry = self._workflows.get(wtype)
        if entry is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            raise SopflowError(f"unknown ticket type {wtype!r} (known: {known})", where=where)
        wf, problems = entry
        errors = [p for p in problems if p.severity == "error"]
        if wf is None or errors:
            first = errors[0] if errors else None
            detail = f": {first.text()}" if first else ""
            raise SopflowError(f"workflow {wtype!r} is invalid{detail}; run 'sopflow check'", where=where)
        return wf

    def workflow_for_prefix(self, prefix: str) -> Workflow | None:
        for wf in self.workflows.values():
            if wf.prefix == prefix:
                return wf
        return None

    # ------------------------------------------------------------ tickets
    def ticket_paths(self) -> list[Path]:
        d = self.dir("tickets")
        if not d.is_dir():
            return []
        return sorted(p for p in d.glob("*.md") if p.is_file())

    def ticket_path(self, ticket_id: str) -> Path:
        """Find a ticket file by its name, without reading any other ticket."""
        if not ids.is_valid_id(ticket_id):
            raise SopflowError("malformed ticket ID (expected PREFIX-NUMBER such as ISS-12)",
                               where=_printable(ticket_id))
        d = self.dir("tickets")
        exact = d / f"{ticket_id}.md"
        found = [exact] if exact.is_file() else []
        found += [p for p in d.glob(f"{ticket_id}[-_. ]*.md") if ids.id_from_filename(p.name) == ticket_id]
        if not found:
            raise SopflowError("no such ticket", where=ticket_id)
        if len(found) > 1:
            names = ", ".join(self.relpath(p) for p in found)
            raise SopflowError(f"several files claim this ID: {names}", where=ticket_id)
        return found[0]

    def load(self, ticket_id: str) -> Ticket:
        if ticket_id in self._tickets:
            return self._tickets[ticket_id]
        path = self.ticket_path(ticket_id)
        t = self.read_ticket(path)
        if t.id != ticket_id:
            raise SopflowError(f"file says id {t.id!r}, its name says {ticket_id}", where=t.rel)
        self._tickets[ticket_id] = t
        return t

    def read_ticket(self, path: Path) -> Ticket:
        rel = self.relpath(path)
        if self.root not in path.resolve().parents:
            raise SopflowError("symbolic link pointing outside the repository", where=rel)
        text = files.read_text(path, rel)
        try:
            doc = Document.parse(text)
        except FrontMatterError as exc:
            where = f"{rel}:{exc.line}" if exc.line else rel
            raise SopflowError(exc.message, where=where) from None
        return Ticket(rel, doc)

    def iter_tickets(self) -> Iterator[Ticket | SopflowError]:
        """Every ticket file, parsed; a file that cannot be parsed yields its error instead."""
        for p in self.ticket_paths():
            try:
                yield self.read_ticket(p)
            except SopflowError as exc:
                yield exc

    def excerpts(self) -> list[dict[str, Any]]:
        """Front matter of every readable ticket plus ``path`` (the read path behind list/board/inbox)."""
        cached: list[dict[str, Any]] | None = getattr(self, "_excerpts", None)
        if cached is None:
            from sopflow.index import load_excerpts

            cached = load_excerpts(self)
            self._excerpts = cached
        return cached

    def is_open(self, data: Mapping[str, Any]) -> bool:
        wf = self.workflows.get(str(data.get("type")))
        return not (wf and wf.is_final(str(data.get("state"))))

    def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if getattr(self, "_excerpts", None) is not None:
            items = self.excerpts()
        else:
            from sopflow.index import load_heads

            items = load_heads(self)  # assignee, type and state are all it needs
        for d in items:
            a = d.get("assignee")
            if isinstance(a, str) and self.is_open(d):
                counts[a] = counts.get(a, 0) + 1
        return counts

    def children_of(self, ticket_id: str) -> list[dict[str, Any]]:
        if getattr(self, "_excerpts", None) is not None:
            return [d for d in self.excerpts() if parent(d) == ticket_id]
        from sopflow.index import children

        return children(self, ticket_id)  # without loading every excerpt

    # ------------------------------------------------------------ ids
    def next_id(self, wf: Workflow) -> str:
        highest = 0
        names = [p.name for p in self.ticket_paths()]
        names += self._names_on_other_branches()
        for name in names:
            tid = ids.id_from_filename(name)
            if tid:
                prefix, n = ids.split_id(tid)
                if prefix == wf.prefix:
                    highest = max(highest, n)
        return f"{wf.prefix}-{highest + 1}"

    def _names_on_other_branches(self) -> list[str]:
        """Ticket file names on every local and remote-tracking branch (one git call for all)."""
        from sopflow.adapters import gitrepo

        try:
            refs = gitrepo.run(self.root, "for-each-ref", "--format=%(objectname)",
                               "refs/heads", "refs/remotes", check=False).split()
        except SopflowError:
            return []
        if not refs:
            return []
        tdir = self.config.paths["tickets"]
        return gitrepo.tree_names(self.root, [f"{r}:{tdir}" for r in dict.fromkeys(refs)])

    # ------------------------------------------------------------ writing
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the repository lock around a whole read-modify-write-commit.

        Inside the lock, the journal of an interrupted command is settled first (see adapters/journal.py):
        cleaned up when it finished, else the command refuses and names ``sopflow recover``.
        """
        from sopflow.adapters import journal
        from sopflow.adapters.lock import locked

        with locked(self.root):
            try:
                self.notices += journal.settle(self.root)
            except journal.Interrupted:
                self.journal_refused = True
                raise
            yield

    def apply(self, change: ChangeSet) -> ChangeSet:
        """Write every file atomically, then make one commit holding exactly those files.

        A journal recorded first (old and new bytes of every file) lets the next command finish or undo
        this one if it is killed half-way; on an error the old bytes are put back.
        """
        if not change.writes:
            return change
        from sopflow.adapters import journal

        rels = [self._confined(p) for p in change.writes]
        commit = self.config.commit and not self.no_commit
        what = " ".join([*change.tickets, change.action])
        j = journal.begin(self.root, dict(zip(rels, change.writes.values(), strict=True)), change.message(),
                          what=what, commit=commit, author_env=self.author_env)
        try:
            for path, data in change.writes.items():
                files.atomic_write(path, data)
            if commit:
                from sopflow.adapters import gitrepo

                gitrepo.commit_paths(self.root, rels, change.message(), env=self.author_env or None)
        except BaseException:
            with contextlib.suppress(Exception):
                journal.abort(self.root, j)
            raise
        journal.end(self.root)
        return change

    def _confined(self, path: Path) -> str:
        """The repository-relative path of a file about to be written; nothing is written outside the repository."""
        target = path.parent.resolve() / path.name
        if target.is_symlink() or (self.root != target.parent and self.root not in target.parent.parents):
            raise SopflowError("refusing to write outside the repository (a symbolic link?)",
                               where=self.relpath(path))
        return target.relative_to(self.root).as_posix()

    def _write_ticket(self, change: ChangeSet, t: Ticket) -> None:
        try:
            t.doc.verify()
        except FrontMatterError as exc:
            raise SopflowError(exc.message, where=t.rel) from None
        change.writes[self.root / t.rel] = t.doc.text().encode("utf-8")

    # ------------------------------------------------------------ use cases
    def _check_person(self, person: str, where: str) -> None:
        if self.config.people and person not in self.config.people:
            known = ", ".join(self.config.people)
            raise SopflowError(f"unknown person {person!r} (people: {known})", where=where)

    def _bind(self, wf: Workflow, roles: dict[str, Any], role: str, person: str, where: str) -> None:
        if role not in wf.roles:
            raise SopflowError(f"unknown role {role!r} for type {wf.type} (roles: {', '.join(wf.roles) or 'none'})",
                               where=where)
        self._check_person(person, where)
        if not fsm.can_bind(self.config, role, person):
            holders = ", ".join(self.config.holders(role))
            raise SopflowError(f"{person} does not hold role {role} (holders: {holders})", where=where)
        roles[role] = person

    def _apply_sets(self, wf: Workflow, data: dict[str, Any], sets: Sequence[tuple[str, str]], where: str,
                    *, creating: bool = False) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        for key, raw in sets:
            if key in SETTABLE_RESERVED:
                if key == "labels":
                    value: Any = [x.strip() for x in raw.split(",") if x.strip()]
                elif key == "title":
                    value = raw.strip()
                    if not value or "\n" in value or "\r" in value:
                        raise SopflowError("title must be one non-empty line", where=where)
                else:
                    value = raw.strip() or None
            elif key in RESERVED:
                raise SopflowError(f"{key!r} cannot be set (it changes only through its own command)", where=where)
            elif key in wf.fields:
                f = wf.fields[key]
                if f.readonly and not creating:
                    raise SopflowError(f"field {key} is read-only", where=where)
                try:
                    value = coerce(f, raw)
                except ValueError as exc:
                    raise SopflowError(f"field {key} ({f.title}): {exc}", where=where) from None
                if f.type == "person" and value:
                    self._check_person(value, where)
            else:
                known = ", ".join(wf.fields) or "none"
                raise SopflowError(f"unknown field {key!r} for type {wf.type} (fields: {known})", where=where)
            data[key] = value
            changed[key] = value
        return changed

    def new(self, wtype: str, title: str, *, sets: Sequence[tuple[str, str]] = (), priority: str | None = None,
            roles: Sequence[tuple[str, str]] = (), assignee: str | None = None, labels: Sequence[str] = (),
            body: str | None = None) -> ChangeSet:
        wf = self.workflow(wtype)
        who = self.require_actor()
        title = title.strip()
        if not title or "\n" in title or "\r" in title:
            raise SopflowError("title must be one non-empty line", where=wtype)
        tid = self.next_id(wf)
        now = self.stamp()
        data: dict[str, Any] = {"id": tid, "type": wf.type, "title": title, "state": wf.initial}
        if priority:
            data["priority"] = priority.strip()
        bound: dict[str, Any] = {}
        for role, person in roles:
            self._bind(wf, bound, role, person, tid)
        if assignee:
            self._check_person(assignee, tid)
        fields_set: dict[str, Any] = {}
        self._apply_sets(wf, fields_set, sets, tid, creating=True)
        for key in SETTABLE_RESERVED:
            if key in fields_set:
                data[key] = fields_set.pop(key)
        if labels:
            data["labels"] = list(dict.fromkeys([*data.get("labels", []), *labels]))
        text_for_rules = (title, body or "")
        messages: list[str] = []
        if wf.rules:
            from sopflow.core import intake

            outcome = intake.apply_rules(wf, {**data, **fields_set}, *text_for_rules)
            for k, v in outcome.fields.items():
                fields_set.setdefault(k, v)
            if outcome.priority and "priority" not in data:
                data["priority"] = outcome.priority
            if outcome.labels:
                data["labels"] = list(dict.fromkeys([*data.get("labels", []), *outcome.labels]))
            if outcome.assign_to and not assignee:
                assignee = self._resolve_assign(wf, outcome.assign_to, bound, {"reporter": who}, messages, tid)
            messages += [f"{tid}: intake rule {n!r} applied" for n in outcome.names]
        for name, f in wf.fields.items():
            if f.required and is_empty(fields_set.get(name)) and f.default is not None:
                fields_set[name] = f.default
        missing = [n for n, f in wf.fields.items() if f.required and is_empty(fields_set.get(n))]
        if missing:
            raise SopflowError("required field" + ("s " if len(missing) > 1 else " ")
                               + ", ".join(f"{n} ({wf.fields[n].title})" for n in missing)
                               + " missing: use --set FIELD=VALUE", where=wtype)
        data["assignee"] = assignee
        data["reporter"] = who
        if bound:
            data["roles"] = bound
        data["created"] = now
        data["updated"] = now
        ordered: dict[str, Any] = {k: data[k] for k in ("id", "type", "title", "state", "priority", "assignee", "reporter", "roles",
                                        "labels", "links", "created", "updated") if k in data}
        if ordered.get("assignee") is None:
            ordered.pop("assignee", None)
        ordered.update(fields_set)
        entry: dict[str, Any] = {"at": now, "by": who, "action": "create", "to": wf.initial}
        ordered["history"] = [entry]
        if body is None:
            body = self.render_template(wf, ordered, who)
        doc = Document.new(ordered, body)
        items = self.checklist_items(wf, wf.initial, tid)
        if items is not None:
            doc.append_body(checklist.render(wf.initial, items))
        slug = ids.slugify(title)
        name = f"{tid}-{slug}.md" if slug else f"{tid}.md"
        rel = f"{self.config.paths['tickets']}/{name}"
        target = self.root / rel
        if target.exists() or target.is_symlink():
            raise SopflowError(f"{rel} already exists (but is not a ticket sopflow can read); move it away",
                               where=tid)
        t = Ticket(rel, doc)
        change = ChangeSet("create", [tid], f"{tid} create: {title}", messages=messages)
        self._write_ticket(change, t)
        change.result = t
        return change

    def render_template(self, wf: Workflow, data: dict[str, Any], who: str) -> str:
        path = self.dir("templates") / f"{wf.type}.md"
        if not path.is_file():
            return ""
        from sopflow.adapters.templates import render_string

        text = files.read_text(path, self.relpath(path))
        fields = {k: v for k, v in data.items() if k in wf.fields}
        ctx = {"title": data["title"], "type": wf.type, "id": data["id"], "reporter": who,
               "now": self.stamp(), "fields": fields}
        return render_string(text, ctx, self.relpath(path))

    def checklist_items(self, wf: Workflow, state: str, where: str) -> list[str] | None:
        st = wf.states.get(state)
        if not st or not st.checklist:
            return None
        path = files.confine(self.root, st.checklist, what="checklist")
        rel = self.relpath(path)
        if not path.is_file():
            raise SopflowError(f"checklist {st.checklist} of state {state} does not exist", where=where)
        try:
            doc = Document.parse(files.read_text(path, rel))
            body = doc.body
        except FrontMatterError:
            body = files.read_text(path, rel)
        return checklist.sop_items(body)

    def _resolve_assign(self, wf: Workflow, target: str, bound: dict[str, Any], data: dict[str, Any],
                        messages: list[str], tid: str) -> str | None:
        if target == "reporter":
            return str(data.get("reporter")) if data.get("reporter") else None
        if target == "assignee":
            return str(data.get("assignee")) if data.get("assignee") else None
        if bound.get(target):
            return str(bound[target])
        pick = fsm.pick_assignee(self.config, target, self.open_counts())
        if pick is None:
            messages.append(f"{tid}: nobody in sopflow.yaml holds role {target}; assignee unchanged")
            return str(data.get("assignee")) if data.get("assignee") else None
        bound[target] = pick
        messages.append(f"{tid}: role {target} bound to {pick} (fewest open tickets)")
        return pick

    def do(self, ticket_id: str, trigger: str, *, note: str | None = None, sets: Sequence[tuple[str, str]] = (),
           roles: Sequence[tuple[str, str]] = (), extra_writes: dict[Path, bytes] | None = None,
           wiki_linked_extra: bool = False) -> ChangeSet:
        t = self.load(ticket_id)
        wf = self.workflow(t.type, where=ticket_id)
        who = self.require_actor()
        state = t.state
        tr = wf.find(trigger, state)
        if tr is None:
            if trigger in wf.triggers():
                srcs = sorted({s for x in wf.transitions if x.trigger == trigger for s in x.sources})
                raise SopflowError(f"{trigger} cannot be fired from state {state} (only from {', '.join(srcs)})",
                                   where=ticket_id)
            avail = ", ".join(x.trigger for x in wf.transitions_from(state)) or "none"
            raise SopflowError(f"unknown trigger {trigger!r} (from {state}: {avail})", where=ticket_id)
        before = dict(t.data)
        if not fsm.may_fire(self.config, who, tr.by, before):
            raise SopflowError(f"{who} may not fire {trigger}: it needs {fsm.describe_by(tr.by)}"
                               + _holder_hint(self.config, before, tr.by), where=ticket_id)
        data = dict(before)
        bound = dict(fsm.bound_roles(before))
        for role, person in roles:
            self._bind(wf, bound, role, person, ticket_id)
        changed = self._apply_sets(wf, data, sets, ticket_id)
        data["roles"] = bound
        children_open: list[str] = []
        if tr.require.children:
            children_open = [str(c.get("id")) for c in self.children_of(ticket_id) if self.is_open(c)]
        wiki_ok = wiki_linked_extra or bool(wiki_links(data))
        if tr.require.wiki and not wiki_ok:
            wiki_ok = self._wiki_mentions(ticket_id)
        missing = fsm.missing(tr.require, data, t.doc.body_lines(), state=state, note=note,
                              children_open=children_open, wiki_linked=wiki_ok,
                              field_labels={n: f.title for n, f in wf.fields.items()})
        if missing:
            raise SopflowError(f"cannot {trigger}: " + "; ".join(missing), where=ticket_id)
        messages: list[str] = []
        new_assignee = data.get("assignee")
        if tr.assign_to:
            new_assignee = self._resolve_assign(wf, tr.assign_to, bound, data, messages, ticket_id)
        now = self.stamp()
        doc = t.doc
        for key, value in changed.items():
            if value is None:
                doc.delete(key)
            else:
                doc.set(key, value, (*FRONT_ORDER, *wf.fields))
        if bound != fsm.bound_roles(before):
            doc.set("roles", bound, FRONT_ORDER)
        if new_assignee != before.get("assignee"):
            doc.set("assignee", new_assignee, FRONT_ORDER)
        doc.set("state", tr.dest)
        doc.set("updated", now)
        entry: dict[str, Any] = {"at": now, "by": who, "action": trigger, "from": state, "to": tr.dest}
        if new_assignee != before.get("assignee") and new_assignee:
            entry["assignee"] = new_assignee
        if changed:
            entry["set"] = changed
        if note:
            entry["note"] = note
        doc.append_history(entry)
        if tr.dest != state:
            items = self.checklist_items(wf, tr.dest, ticket_id)
            if items is not None:
                doc.append_body(checklist.render(tr.dest, items))
        change = ChangeSet(trigger, [ticket_id], f"{ticket_id} {trigger}: {state} → {tr.dest}", messages=messages)
        if note:
            change.body = note
        if extra_writes:
            change.writes.update(extra_writes)
        self._write_ticket(change, t)
        change.result = t
        return change

    def _wiki_mentions(self, ticket_id: str) -> bool:
        d = self.dir("wiki")
        if not d.is_dir():
            return False
        for p in d.rglob("*.md"):
            try:
                doc = Document.parse(p.read_text("utf-8"))
            except (FrontMatterError, UnicodeDecodeError, OSError):
                continue
            tickets = doc.data.get("tickets")
            if isinstance(tickets, list) and ticket_id in tickets:
                return True
        return False

    def assign(self, ticket_id: str, person: str, role: str | None = None) -> ChangeSet:
        t = self.load(ticket_id)
        wf = self.workflow(t.type, where=ticket_id)
        who = self.require_actor()
        now = self.stamp()
        entry: dict[str, Any] = {"at": now, "by": who, "action": "assign"}
        if role:
            bound = dict(fsm.bound_roles(t.data))
            self._bind(wf, bound, role, person, ticket_id)
            if fsm.bound_roles(t.data).get(role) == person:
                raise SopflowError(f"role {role} is already bound to {person}", where=ticket_id)
            t.doc.set("roles", bound, FRONT_ORDER)
            entry.update({"role": role, "person": person})
            subject = f"{ticket_id} assign: {role} → {person}"
        else:
            self._check_person(person, ticket_id)
            if t.data.get("assignee") == person:
                raise SopflowError(f"already assigned to {person}", where=ticket_id)
            t.doc.set("assignee", person, FRONT_ORDER)
            entry["assignee"] = person
            subject = f"{ticket_id} assign: → {person}"
        t.doc.set("updated", now)
        t.doc.append_history(entry)
        change = ChangeSet("assign", [ticket_id], subject)
        self._write_ticket(change, t)
        change.result = t
        return change

    def set_fields(self, ticket_id: str, sets: Sequence[tuple[str, str]]) -> ChangeSet:
        if not sets:
            raise SopflowError("nothing to set: give FIELD=VALUE", where=ticket_id)
        t = self.load(ticket_id)
        wf = self.workflow(t.type, where=ticket_id)
        who = self.require_actor()
        data = dict(t.data)
        changed = self._apply_sets(wf, data, sets, ticket_id)
        changed = {k: v for k, v in changed.items() if t.data.get(k) != v}
        if not changed:
            raise SopflowError("nothing changed (the values are already set)", where=ticket_id)
        now = self.stamp()
        for key, value in changed.items():
            if value is None:
                t.doc.delete(key)
            else:
                t.doc.set(key, value, (*FRONT_ORDER, *wf.fields))
        t.doc.set("updated", now)
        t.doc.append_history({"at": now, "by": who, "action": "set", "set": changed})
        change = ChangeSet("set", [ticket_id], f"{ticket_id} set: " + ", ".join(
            f"{k}={_short(v)}" for k, v in changed.items()))
        self._write_ticket(change, t)
        change.result = t
        return change

    def tick(self, ticket_id: str, items: Sequence[str]) -> ChangeSet:
        if not items:
            raise SopflowError("nothing to tick: give item numbers or texts", where=ticket_id)
        t = self.load(ticket_id)
        who = self.require_actor()
        body = t.doc.body_lines()
        sec = checklist.current(body)
        if sec is None or not sec.items:
            raise SopflowError("no checklist in this ticket", where=ticket_id)
        chosen: list[checklist.Item] = []
        for item in items:
            spec = item.strip()
            if spec.isdigit():
                n = int(spec)
                if not 1 <= n <= len(sec.items):
                    raise SopflowError(f"no checklist item {n} (the checklist of {sec.state} has "
                                       f"{len(sec.items)} items)", where=ticket_id)
                chosen.append(sec.items[n - 1])
            else:
                match = [i for i in sec.items if i.text == spec]
                if not match:
                    raise SopflowError(f"no checklist item {spec!r} in the checklist of {sec.state}",
                                       where=ticket_id)
                chosen.append(match[0])
        todo = [i for i in dict.fromkeys(chosen) if not i.checked]
        if not todo:
            raise SopflowError("already ticked: " + "; ".join(i.text for i in chosen), where=ticket_id)
        for i in todo:
            t.doc.set_body_line(i.index, checklist.ticked_line(body[i.index]))
        now = self.stamp()
        t.doc.set("updated", now)
        t.doc.append_history({"at": now, "by": who, "action": "tick", "items": [i.text for i in todo]})
        change = ChangeSet("tick", [ticket_id], f"{ticket_id} tick: " + "; ".join(_short(i.text) for i in todo))
        self._write_ticket(change, t)
        change.result = t
        return change

    def comment(self, ticket_id: str, text: str) -> ChangeSet:
        if not text.strip():
            raise SopflowError("empty comment", where=ticket_id)
        t = self.load(ticket_id)
        who = self.require_actor()
        now = self.stamp()
        t.doc.set("updated", now)
        t.doc.append_history({"at": now, "by": who, "action": "comment", "note": text})
        change = ChangeSet("comment", [ticket_id], f"{ticket_id} comment: {_short(text)}", body=text)
        self._write_ticket(change, t)
        change.result = t
        return change

    def link(self, ticket_id: str, *, parent_id: str | None = None, relates_to: Sequence[str] = (),
             wiki: Sequence[str] = ()) -> ChangeSet:
        if not (parent_id or relates_to or wiki):
            raise SopflowError("nothing to link: give --parent, --relates or --wiki", where=ticket_id)
        t = self.load(ticket_id)
        who = self.require_actor()
        now = self.stamp()
        links = dict(t.links)
        entry: dict[str, Any] = {"at": now, "by": who, "action": "link"}
        change = ChangeSet("link", [ticket_id], f"{ticket_id} link")
        parts: list[str] = []
        if parent_id:
            if parent_id == ticket_id:
                raise SopflowError("a ticket cannot be its own parent", where=ticket_id)
            self.load(parent_id)
            seen, cur = {ticket_id}, parent_id
            while cur:
                if cur in seen:
                    raise SopflowError(f"linking to parent {parent_id} would make a cycle", where=ticket_id)
                seen.add(cur)
                try:
                    cur = parent(self.load(cur).data) or ""
                except SopflowError:
                    break
            links["parent"] = parent_id
            entry["parent"] = parent_id
            parts.append(f"parent {parent_id}")
        rel_new: list[str] = []
        for other in relates_to:
            if other == ticket_id:
                raise SopflowError("a ticket cannot relate to itself", where=ticket_id)
            o = self.load(other)
            if other not in relates(links) and other not in rel_new:
                rel_new.append(other)
            if ticket_id not in relates(o.data):
                olinks = dict(o.links)
                olinks["relates"] = [*relates(o.data), ticket_id]
                o.doc.set("links", olinks, FRONT_ORDER)
                o.doc.set("updated", now)
                o.doc.append_history({"at": now, "by": who, "action": "link", "relates": [ticket_id]})
                self._write_ticket(change, o)
                change.tickets.append(other)
        if rel_new:
            links["relates"] = [*relates(links), *rel_new]
            entry["relates"] = rel_new
            parts.append("relates " + ", ".join(rel_new))
        wiki_new: list[str] = []
        for page in wiki:
            path = files.confine(self.root, page, under=self.config.paths["wiki"], what="wiki page")
            rel = self.relpath(path)
            if not path.is_file():
                raise SopflowError("no such wiki page", where=rel)
            if rel not in wiki_links(links) and rel not in wiki_new:
                wiki_new.append(rel)
            change.writes.update(self._wiki_backlink(path, ticket_id))
        if wiki_new:
            links["wiki"] = [*wiki_links(links), *wiki_new]
            entry["wiki"] = wiki_new
            parts.append("wiki " + ", ".join(wiki_new))
        if links == t.links:
            raise SopflowError("already linked", where=ticket_id)
        t.doc.set("links", links, FRONT_ORDER)
        t.doc.set("updated", now)
        t.doc.append_history(entry)
        change.subject = f"{ticket_id} link: " + "; ".join(parts)
        self._write_ticket(change, t)
        change.result = t
        return change

    def _wiki_backlink(self, path: Path, ticket_id: str) -> dict[Path, bytes]:
        """Add the ticket to a wiki page's ``tickets:`` (links go both ways); nothing when already there."""
        rel = self.relpath(path)
        try:
            doc = Document.parse(files.read_text(path, rel))
        except FrontMatterError as exc:
            raise SopflowError(exc.message, where=rel) from None
        tickets = doc.data.get("tickets")
        current = [str(x) for x in tickets] if isinstance(tickets, list) else []
        if ticket_id in current:
            return {}
        doc.set("tickets", [*current, ticket_id])
        try:
            doc.verify()
        except FrontMatterError as exc:
            raise SopflowError(exc.message, where=rel) from None
        return {path: doc.text().encode("utf-8")}


def _short(value: Any, n: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)[:80]


def _holder_hint(config: Config, data: dict[str, Any], by: Iterable[str]) -> str:
    bound = fsm.bound_roles(data)
    hints = []
    for r in by:
        if r in bound:
            hints.append(f"{r} is {bound[r]}")
        elif r in ("assignee", "reporter"):
            if data.get(r):
                hints.append(f"{r} is {data.get(r)}")
        else:
            holders = config.holders(r)
            if holders:
                hints.append(f"{r}: {', '.join(holders)}")
    return f" ({'; '.join(hints)})" if hints else ""
