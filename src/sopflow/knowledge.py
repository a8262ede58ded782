"""Knowledge that stays: wiki pages, search, related knowledge in ``show``, review dates, SOP ownership.

Use cases return a :class:`~sopflow.project.ChangeSet` (written and committed by ``Project.apply``):

- :func:`new_page` creates ``wiki/**/PATH.md`` from the repository's ``templates/wiki-page.md`` (rendered in
  the sandbox; a built-in page when there is none) and links the tickets named, both ways, in one commit;
- :func:`do_with_new_page` does that and fires a transition, in one commit (``do … --wiki-new PATH``);
- :func:`review` records a review of a page or an SOP (``reviewed``, ``reviewed_by``) with a minimal diff.

Read side: :func:`list_pages` (the review queue with ``stale``), :func:`search`, :func:`sops`, and
:func:`show_section`, the ``show`` hook that renders the current state's SOP (title, owner, review status),
the pages linked to the ticket either way, and the most related other pages with the reasons they matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopflow.adapters import files
from sopflow.core.frontmatter import Document, FrontMatterError
from sopflow.errors import SopflowError
from sopflow.wikistore import PageMeta, PageStore, read_page

if TYPE_CHECKING:
    from sopflow.core.search import Doc, Hit
    from sopflow.core.ticket import Ticket
    from sopflow.project import ChangeSet, Project

DEFAULT_REVIEW_EVERY = "90d"
PAGE_ORDER = ("title", "tags", "tickets", "owner", "reviewed", "reviewed_by", "review_every")
SMALL_WIKI = 300  # up to this many pages, related() compares the ticket with every page
RELATED_CANDIDATES = 60

BUILTIN_PAGE = """\
# {{ title }}
{% if tags %}
标签：{{ tags | join('、') }}
{% endif %}{% if tickets %}
关联工单：{{ tickets | join('、') }}
{% endif %}
## 故障现象

## 排查步骤
1. …

## 修复方案

## 预防措施
- …
"""

_WHAT = {"wiki": "wiki page", "sops": "SOP"}


# ------------------------------------------------------------------------------------------ stores


def wiki_store(p: Project) -> PageStore:
    """The wiki pages of the project (cached per Project object, and on disk under the git directory)."""
    store: PageStore | None = p.__dict__.get("_wiki_store")
    if store is None:
        store = PageStore(p.root, p.config.paths["wiki"], cache_name="wiki")
        p.__dict__["_wiki_store"] = store
    return store


def sop_store(p: Project) -> PageStore:
    store: PageStore | None = p.__dict__.get("_sop_store")
    if store is None:
        store = PageStore(p.root, p.config.paths["sops"])
        p.__dict__["_sop_store"] = store
    return store


# ------------------------------------------------------------------------------------------ review


@dataclass(frozen=True)
class Review:
    """A page's review status on a given day.

    ``status``: ``ok``; ``overdue`` (past ``reviewed + review_every``); ``never-reviewed`` (a schedule but
    no ``reviewed``); ``unscheduled`` (no ``review_every``); ``invalid`` (dates that do not parse).
    """

    due: date | None
    status: str

    @property
    def stale(self) -> bool:
        return self.status in ("overdue", "never-reviewed", "invalid")

    def describe(self, meta: PageMeta) -> str:
        if self.status == "ok":
            return f"reviewed {meta.reviewed}, next review {self.due}"
        if self.status == "overdue":
            return f"review overdue since {self.due} (reviewed {meta.reviewed}, every {meta.review_every})"
        if self.status == "never-reviewed":
            return f"never reviewed (review every {meta.review_every})"
        if self.status == "invalid":
            return "review dates invalid (reviewed: YYYY-MM-DD, review_every: a duration such as 90d)"
        return f"reviewed {meta.reviewed} (no review_every)" if meta.reviewed else "no review schedule"


def review_of(meta: PageMeta, today: date) -> Review:
    from sopflow.checker import review_due

    due = review_due(meta.schedule())
    if due is None:
        return Review(None, "unscheduled")
    if due is False or due is True:
        return Review(None, "invalid")
    if due == date.min:
        return Review(None, "never-reviewed")
    return Review(due, "overdue" if due < today else "ok")


# ------------------------------------------------------------------------------------------ paths


def find_page(p: Project, path: str, kind: str = "wiki") -> Path:
    """An existing page (``kind`` ``wiki`` or ``sops``) named relative to the repository root, or relative
    to the folder itself (``faq/cable`` for ``wiki/faq/cable.md``); ``.md`` may be left out. A path outside
    the folder is refused."""
    folder = p.config.paths[kind]
    what = _WHAT[kind]
    path = path.strip()
    names = [path] if path.endswith(".md") else [f"{path}.md", path]
    tries = names + [f"{folder}/{n}" for n in names if not n.startswith(f"{folder}/")]
    first_error: SopflowError | None = None
    inside: str | None = None
    for name in tries:
        try:
            target = files.confine(p.root, name, under=folder, what=what)
        except SopflowError as exc:
            first_error = first_error or exc
            continue
        if target.is_file() and target.name.endswith(".md"):
            return target
        inside = inside or p.relpath(target)
    if inside is not None:
        raise SopflowError(f"no such {what}", where=inside)
    assert first_error is not None
    raise first_error


def _new_page_path(p: Project, path: str) -> Path:
    folder = p.config.paths["wiki"]
    rel = path.strip()
    if not rel.endswith(".md"):
        rel += ".md"
    target = files.confine(p.root, rel, under=folder, what="wiki page")
    shown = p.relpath(target)
    if target.exists() or target.is_symlink():
        raise SopflowError("already exists (choose another path, or link it: sopflow link ID --wiki PATH)",
                           where=shown)
    if target.name.startswith(".") or target.name == ".md":
        raise SopflowError("a page name must not start with '.'", where=shown)
    for parent in target.parents:
        if parent == p.root:
            break
        if parent.exists() and not parent.is_dir():
            raise SopflowError(f"{p.relpath(parent)} is a file, not a folder", where=shown)
    return target


# ------------------------------------------------------------------------------------------ writing


def _split_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        for t in raw.replace("，", ",").split(","):
            t = " ".join(t.split())
            if t and t not in out:
                out.append(t)
    return out


def _check_every(value: str, where: str) -> str:
    from sopflow.core.durations import parse_duration

    value = value.strip()
    try:
        parse_duration(value)
    except ValueError as exc:
        raise SopflowError(f"review interval: {exc}", where=where) from None
    return value


def _page_body(p: Project, ctx: dict[str, Any]) -> str:
    from sopflow.adapters.templates import render_string

    path = p.dir("templates") / "wiki-page.md"
    if path.is_file():
        rel = p.relpath(path)
        text = render_string(files.read_text(path, rel), ctx, rel)
    else:
        text = render_string(BUILTIN_PAGE, ctx, "built-in wiki page template")
    return text if text.endswith("\n") else text + "\n"


def _verified(doc: Document, where: str) -> bytes:
    try:
        doc.verify()
    except FrontMatterError as exc:
        raise SopflowError(exc.message, where=where) from None
    return doc.text().encode("utf-8")


def _link_ticket(p: Project, change: ChangeSet, t: Ticket, rel: str, who: str, now: str) -> None:
    """Add ``rel`` to the ticket's ``links.wiki`` with a ``link`` history entry (no-op when already there)."""
    from sopflow.core.ticket import FRONT_ORDER, wiki_links

    links = dict(t.links)
    if rel in wiki_links(links):
        return
    links["wiki"] = [*wiki_links(links), rel]
    t.doc.set("links", links, FRONT_ORDER)
    t.doc.set("updated", now)
    t.doc.append_history({"at": now, "by": who, "action": "link", "wiki": [rel]})
    change.writes[p.root / t.rel] = _verified(t.doc, t.rel)


def new_page(p: Project, path: str, title: str, *, tags: Sequence[str] = (), tickets: Sequence[str] = (),
             review_every: str = DEFAULT_REVIEW_EVERY, owner: str | None = None) -> ChangeSet:
    """Create a wiki page (refusing an existing one) and link ``tickets`` to it both ways, in one change."""
    from sopflow.project import ChangeSet

    target = _new_page_path(p, path)
    rel = p.relpath(target)
    title = title.strip()
    if not title or "\n" in title or "\r" in title:
        raise SopflowError("title must be one non-empty line", where=rel)
    every = _check_every(review_every, rel)
    who = p.require_actor()
    owner = owner.strip() if owner else who
    if owner != who and p.config.people and owner not in p.config.people:
        raise SopflowError(f"unknown person {owner!r} (people: {', '.join(p.config.people)})", where=rel)
    tag_list = _split_tags(tags)
    ids = list(dict.fromkeys(t.strip() for t in tickets if t.strip()))
    linked = [p.load(tid) for tid in ids]
    today = p.now.date().isoformat()
    data: dict[str, Any] = {"title": title, "tags": tag_list, "tickets": ids, "owner": owner, "reviewed": today,
                            "review_every": every}
    ctx = {"title": title, "tags": tag_list, "tickets": ids, "owner": owner, "path": rel, "today": today,
           "now": p.stamp()}
    doc = Document.new(data, _page_body(p, ctx))
    if len(ids) == 1:
        subject = f"{ids[0]} wiki new: {rel}"
    else:
        subject = f"wiki new: {rel}" + (f" ({', '.join(ids)})" if ids else "")
    change = ChangeSet("wiki-new", ids, subject, body=title)
    change.writes[target] = _verified(doc, rel)
    now = p.stamp()
    for t in linked:
        _link_ticket(p, change, t, rel, who, now)
    return change


def do_with_new_page(p: Project, ticket_id: str, trigger: str, path: str, *, note: str | None = None,
                     sets: Sequence[tuple[str, str]] = (), roles: Sequence[tuple[str, str]] = ()) -> ChangeSet:
    """``do ID TRIGGER --wiki-new PATH``: create a page (titled and tagged like the ticket), link it both
    ways, and fire the transition, all in one commit; a refusal writes nothing."""
    from sopflow.wikistore import text_list

    t = p.load(ticket_id)
    title = " ".join(str(t.data.get("title") or ticket_id).split())
    page = new_page(p, path, title, tags=text_list(t.data.get("labels")), tickets=[ticket_id])
    page_file = next(f for f in page.writes if p.relpath(f) != t.rel)
    rel = p.relpath(page_file)
    try:
        change = p.do(ticket_id, trigger, note=note, sets=sets, roles=roles,
                      extra_writes={page_file: page.writes[page_file]}, wiki_linked_extra=True)
    except SopflowError:
        # the link was added to the ticket in memory: forget it, nothing was written
        p._tickets.pop(ticket_id, None)
        raise
    change.body = "\n\n".join(x for x in (change.body, f"wiki new: {rel}") if x)
    change.messages.insert(0, f"{ticket_id}: created {rel} and linked it")
    return change


def review(p: Project, path: str, *, kind: str = "wiki", every: str | None = None) -> ChangeSet:
    """Record a review of a page or an SOP: ``reviewed: <today>`` and ``reviewed_by: <actor>`` (and
    ``review_every`` when given), changing only those keys."""
    from sopflow.project import ChangeSet

    target = find_page(p, path, kind)
    rel = p.relpath(target)
    try:
        doc = Document.parse(files.read_text(target, rel))
    except FrontMatterError as exc:
        where = f"{rel}:{exc.line}" if exc.line else rel
        raise SopflowError(exc.message, where=where) from None
    who = p.require_actor()
    today = p.now.date().isoformat()
    changes: dict[str, str] = {}
    if str(doc.data.get("reviewed")) != today:
        changes["reviewed"] = today
    if doc.data.get("reviewed_by") != who:
        changes["reviewed_by"] = who
    if every is not None:
        value = _check_every(every, rel)
        if str(doc.data.get("review_every")) != value:
            changes["review_every"] = value
    if not changes:
        raise SopflowError(f"already reviewed today by {who}", where=rel)
    for key, value in changes.items():
        doc.set(key, value, PAGE_ORDER)
    action = "wiki-review" if kind == "wiki" else "sop-review"
    change = ChangeSet(action, [], f"{'wiki' if kind == 'wiki' else 'sop'} review: {rel}")
    change.writes[target] = _verified(doc, rel)
    return change


# ------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class PageView:
    meta: PageMeta
    review: Review

    def as_json(self) -> dict[str, Any]:
        m = self.meta
        out: dict[str, Any] = {"path": m.path, "title": m.title, "tags": list(m.tags), "tickets": list(m.tickets),
                               "owner": m.owner, "reviewed": m.reviewed, "reviewed_by": m.reviewed_by,
                               "review_every": m.review_every,
                               "due": self.review.due.isoformat() if self.review.due else None,
                               "status": self.review.status}
        if m.error:
            out["error"] = m.error
        return out


def _views(metas: Iterable[PageMeta], today: date, *, tags: Sequence[str] = (), stale: bool = False,
           owner: str | None = None) -> list[PageView]:
    wanted = [t.casefold() for t in _split_tags(tags)]
    out = []
    for m in metas:
        if wanted and not all(any(t == g.casefold() for g in m.tags) for t in wanted):
            continue
        if owner is not None and m.owner != owner:
            continue
        v = PageView(m, review_of(m, today))
        if stale and not v.review.stale:
            continue
        out.append(v)
    if stale:  # the review queue: by owner, the longest overdue first
        out.sort(key=lambda v: (v.meta.owner or "\uffff", v.review.due or date.min, v.meta.path))
    return out


def list_pages(p: Project, *, tags: Sequence[str] = (), stale: bool = False,
               owner: str | None = None) -> list[PageView]:
    """Wiki pages by path; with ``stale``, only those due for review, grouped by owner, oldest due first."""
    return _views(wiki_store(p).pages(), p.now.date(), tags=tags, stale=stale, owner=owner)


def show_page(p: Project, path: str) -> tuple[PageView, Document | None, str]:
    target = find_page(p, path, "wiki")
    rel = p.relpath(target)
    meta, doc, text = read_page(target, rel)
    if meta.error and not text:
        raise SopflowError(meta.error, where=rel)
    return PageView(meta, review_of(meta, p.now.date())), doc, text


def search(p: Project, words: str, *, limit: int = 20) -> list[Hit]:
    """Wiki pages matching ``words``, best first (see :mod:`sopflow.core.search` for the ranking)."""
    if not words.strip():
        raise SopflowError("nothing to search for: give one or more words")
    if limit <= 0:
        from sopflow.errors import UsageError

        raise UsageError("--limit must be at least 1")
    return wiki_store(p).index().search(words, limit)


# ------------------------------------------------------------------------------------------ SOPs


@dataclass(frozen=True)
class SopView:
    name: str
    page: PageView
    used_by: tuple[tuple[str, str], ...]  # (type, state) whose checklist is this SOP

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, **self.page.as_json()}
        out.pop("tags", None)
        out.pop("tickets", None)
        out["applies_to"] = dict(self.page.meta.applies_to)
        out["used_by"] = [{"type": t, "state": s} for t, s in self.used_by]
        return out


def _sop_users(p: Project) -> dict[str, list[tuple[str, str]]]:
    users: dict[str, list[tuple[str, str]]] = {}
    for wf in p.workflows.values():
        for st in wf.states.values():
            if st.checklist:
                try:
                    rel = p.relpath(files.confine(p.root, st.checklist, what="checklist"))
                except SopflowError:
                    continue
                users.setdefault(rel, []).append((wf.type, st.name))
    return users


def _sop_name(p: Project, rel: str) -> str:
    folder = p.config.paths["sops"].strip("/")
    name = rel[len(folder) + 1:] if rel.startswith(folder + "/") else rel
    return name[:-3] if name.endswith(".md") else name


def sops(p: Project, *, stale: bool = False, owner: str | None = None) -> list[SopView]:
    users = _sop_users(p)
    views = _views(sop_store(p).pages(), p.now.date(), stale=stale, owner=owner)
    return [SopView(_sop_name(p, v.meta.path), v, tuple(users.get(v.meta.path, ()))) for v in views]


def sop(p: Project, name: str) -> tuple[SopView, list[str]]:
    """One SOP and its checklist items."""
    from sopflow.core.checklist import sop_items

    target = find_page(p, name, "sops")
    rel = p.relpath(target)
    meta, doc, text = read_page(target, rel)
    if meta.error and not text:
        raise SopflowError(meta.error, where=rel)
    view = SopView(_sop_name(p, rel), PageView(meta, review_of(meta, p.now.date())),
                   tuple(_sop_users(p).get(rel, ())))
    return view, sop_items(doc.body if doc is not None else text)


# ------------------------------------------------------------------------------------------ show


def _clean(text: object) -> str:
    from sopflow.render.text import one_line

    return one_line(text)


def _person(p: Project, key: str | None) -> str:
    if not key:
        return "-"
    person = p.config.people.get(key)
    name = getattr(person, "name", None) if person is not None else None
    return f"{_clean(key)} ({_clean(name)})" if name and name != key else _clean(key)


def sop_lines(p: Project, t: Ticket) -> list[str]:
    """The current state's SOP: path and title, owner and review status."""
    wf = p.workflows.get(t.type)
    st = wf.states.get(t.state) if wf is not None else None
    if st is None or not st.checklist:
        return []
    try:
        target = files.confine(p.root, st.checklist, what="checklist")
    except SopflowError as exc:
        return [_clean(exc.message)]
    rel = p.relpath(target)
    if not target.is_file():
        return [f"{_clean(rel)} (missing)"]
    meta, _, _ = read_page(target, rel)
    if meta.error:
        return [f"{_clean(rel)} ({_clean(meta.error)})"]
    review = review_of(meta, p.now.date())
    flag = "  [review overdue]" if review.stale else ""
    return [f"{_clean(rel)} — {_clean(meta.title)}{flag}",
            f"owner {_person(p, meta.owner)} · {_clean(review.describe(meta))}"]


def linked_pages(p: Project, t: Ticket) -> list[tuple[str, str | None, str]]:
    """Pages linked to the ticket either way: ``(path, title or None when missing, how)``."""
    from sopflow.core.ticket import wiki_links

    by_path = wiki_store(p).by_path()
    forward = [str(x).strip() for x in wiki_links(t.data)]
    backward = [m.path for m in by_path.values() if t.id in m.tickets]
    out = []
    for rel in dict.fromkeys([*forward, *backward]):
        meta = by_path.get(rel)
        if rel in forward and rel in backward:
            how = "linked both ways"
        elif rel in forward:
            how = "linked from the ticket"
        else:
            how = "the page lists this ticket"
        out.append((rel, meta.title if meta is not None else None, how))
    return out


def _ticket_text(t: Ticket) -> str:
    """What the ticket says about its problem: the body without the scaffolding every ticket of its type
    shares (checklist sections, headings, HTML comments and 【label】s of the template), which would make every
    page that uses the same words in its headings look related."""
    import re

    body = re.sub(r"<!--.*?-->|【[^】\n]{1,12}】", " ", t.doc.body, flags=re.S)
    out, skipping = [], False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("## Checklist:"):
            skipping = True
            continue
        if line.startswith("#"):
            skipping = False
            continue
        if not skipping:
            out.append(line)
    return "\n".join(out)


def related_pages(p: Project, t: Ticket, *, limit: int = 5,
                  exclude: Iterable[str] = ()) -> list[tuple[str, str, list[str]]]:
    """The pages most related to the ticket (shared tags with its labels, its field values in a page's
    ``fields:`` or tags, similar text): ``(path, title, reasons)``, best first."""
    from sopflow.core.search import Doc, related
    from sopflow.wikistore import text_list

    store = wiki_store(p)
    metas = [m for m in store.pages() if m.path not in set(exclude) and not m.error]
    if not metas or limit <= 0:
        return []
    wf = p.workflows.get(t.type)
    values: dict[str, str] = {}
    if wf is not None:
        for name, f in wf.fields.items():
            v = t.data.get(name)
            if f.type in ("choice", "string") and isinstance(v, (str, int)) and 0 < len(str(v).strip()) <= 40:
                values[name] = str(v).strip()
    labels = text_list(t.data.get("labels"))
    target = Doc(t.id, str(t.data.get("title") or ""), _ticket_text(t), labels)

    if len(metas) > SMALL_WIKI:
        keep = {h.key for h in store.index().search(" ".join([target.title, *labels, *values.values()]),
                                                    RELATED_CANDIDATES)}
        marks = {x.casefold() for x in (*labels, *values.values())}
        keep |= {m.path for m in metas if marks & {g.casefold() for g in (*m.tags, *m.fields.values())}}
        metas = [m for m in metas if m.path in keep][: RELATED_CANDIDATES * 3]

    shared: dict[str, dict[str, str]] = {t.id: values}
    cands: list[Doc] = []
    for m in metas:
        d = store.doc(m.path)
        if d is None:
            continue
        cands.append(d)
        cf = dict(m.fields)
        tagset = {g.casefold() for g in m.tags}
        for name, v in values.items():
            if name not in cf and v.casefold() in tagset:
                cf[name] = v
        shared[m.path] = cf
    titles = {m.path: m.title for m in metas}
    return [(key, titles[key], reasons) for key, _, reasons in related(target, cands, shared_fields=shared,
                                                                       limit=limit)]


def show_section(p: Project, t: Ticket) -> list[tuple[str, list[str]]]:
    """The ``show`` hook: the current state's SOP, linked knowledge, related knowledge."""
    out: list[tuple[str, list[str]]] = []
    out.append(("SOP", sop_lines(p, t)))
    try:
        linked = linked_pages(p, t)
        related = related_pages(p, t, exclude=[r for r, _, _ in linked])
    except (SopflowError, OSError) as exc:
        return [*out, ("Knowledge", [f"(cannot read the wiki: {_clean(getattr(exc, 'message', exc))})"])]
    lines = [f"{_clean(rel)} — {_clean(title) if title else '(missing page)'} ({how})" for rel, title, how in linked]
    if not linked:
        wf = p.workflows.get(t.type)
        if wf is not None and any(tr.require.wiki for tr in wf.transitions_from(t.state)):
            lines.append(f"none linked yet: sopflow link {t.id} --wiki PATH, or sopflow do {t.id} TRIGGER "
                         "--wiki-new PATH")
    out.append(("Knowledge", lines))
    out.append(("Related knowledge",
                [f"{_clean(rel)} — {_clean(title)} ({_clean('; '.join(why))})" for rel, title, why in related]))
    return out
