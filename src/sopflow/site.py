"""``sopflow site``: a static, read-only HTML site built from the repository.

The site is for people who never run git: an index with counts per type and state, a board per type, a
page per ticket (fields, roles, checklists, links, related wiki, history with the commit of each step),
the wiki with tag pages, each workflow as an inline SVG diagram, an SLA page, and a search box over ticket
titles and the wiki that runs in the browser from an index written at build time.

How a build goes
----------------
1. :func:`collect` reads everything once: config, workflows, every ticket (full parse), every wiki page,
   the commit of each history entry (one ``git log`` pass, cached by HEAD in the manifest and extended with
   ``OLD..HEAD`` on the next build), and the SLA clock of each ticket at the project's "now".
2. :func:`plan` turns that into :class:`Page` s. A page carries ``context``: the plain data its template
   shows, which is also what decides whether it changed; expensive parts derived from that data (Markdown
   to HTML, related wiki pages) are computed only when the page is rendered.
3. :func:`build_site` hashes each page's inputs (format version, language, the template files, the
   template name and the context), renders only pages whose hash differs from the manifest
   ``<out>/.sopflow-site.json`` (or whose file is missing), removes pages that no longer exist (only files
   the manifest lists: nothing else in the folder is ever deleted) and writes the manifest.

Templates are Jinja2, rendered in a sandbox with autoescape on: ``<repo>/<templates>/site/NAME`` overrides
the package's ``site_templates/NAME``. Every link between pages is relative (``{{ root }}`` is the way up
to the site's root from the page), so the site works from any sub-path and from ``file://``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sopflow.errors import SopflowError

if TYPE_CHECKING:
    from sopflow.core.sla import Clock, SlaPolicy
    from sopflow.core.workflow import Workflow
    from sopflow.project import Project

FORMAT = "sopflow-site/1"
MANIFEST = ".sopflow-site.json"
LANGS = ("zh", "en")
CARDS_PER_COLUMN = 200
NARROW_TO = 12  # related wiki: candidates kept after a search of the ticket's title
PRIORITY_ORDER = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
TEMPLATE_DIR = Path(__file__).resolve().parent / "site_templates"
ASSETS = ("assets/style.css", "assets/search.js")

# ------------------------------------------------------------------ UI text

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "home": "首页", "boards": "看板", "board": "看板", "wiki": "知识库", "workflows": "工作流", "sla": "SLA",
        "search": "搜索", "search_placeholder": "搜索标题与知识库…", "search_go": "搜索",
        "search_nojs": "搜索需要 JavaScript；其余页面无需 JavaScript。", "search_none": "没有找到结果。",
        "search_hint": "输入关键词（可用空格分隔多个词），在工单标题与知识库中查找。",
        "results": "条结果", "type": "类型", "state": "状态", "states": "状态", "priority": "优先级",
        "assignee": "处理人", "reporter": "提出人", "labels": "标签", "created": "创建时间", "updated": "更新时间",
        "fields": "字段", "roles": "角色", "checklist": "检查单", "earlier_checklists": "之前的检查单",
        "links": "关联", "parent": "父工单", "children": "子工单", "relates": "相关工单", "linked_wiki": "关联知识",
        "related_wiki": "相关知识", "reason_tag": "标签", "reason_field": "字段",
        "mentioned_in": "提到本单的知识页", "history": "历史", "commit": "提交",
        "not_committed": "尚未提交", "commit_unknown": "提交不详（浅克隆）", "body": "正文", "open": "进行中", "closed": "已完成", "total": "合计",
        "tickets": "工单", "count": "数量", "none": "无", "more": "还有 {n} 张未显示（按更新时间显示最近的 {shown} 张）",
        "sla_status": "SLA", "breached": "已超时", "at_risk": "临近超时", "ok": "正常", "met": "已达成",
        "paused": "暂停计时", "respond_due": "响应期限", "resolve_due": "解决期限", "responded_at": "响应于",
        "resolved_at": "解决于", "sla_title": "SLA：超时与临近超时的工单", "sla_none": "没有超时或临近超时的工单。",
        "sla_note": "状态按构建时计算；期限已扣除暂停与非工作时间。", "diagram": "流程图", "transitions": "流转",
        "trigger": "操作", "from": "从", "to": "到", "by": "可执行角色", "requires": "前提", "assign_to": "转交",
        "initial": "初始", "final": "终态", "prefix": "编号前缀", "tags": "标签", "tag": "标签", "owner": "负责人",
        "reviewed": "审阅于", "review_overdue": "需要重新审阅", "pages": "页面", "all_pages": "全部页面",
        "linked_tickets": "关联工单", "built_from": "构建自提交", "unreadable": "{n} 个文件无法读取（运行 sopflow check 查看）",
        "anyone": "任何人", "note": "说明", "field": "字段", "value": "值", "label": "名称", "kind_ticket": "工单",
        "kind_wiki": "知识", "unknown_field": "未知字段", "project": "项目", "no_tickets": "暂无工单",
        "respond": "响应", "resolve": "解决", "pause": "暂停计时的状态", "escalate": "升级", "calendar": "工作日历",
        "checklist_sop": "检查单 SOP", "skip": "跳到正文", "path": "文件",
        "req_checklist": "检查单全部完成", "req_note": "需填写说明", "req_children": "子工单全部关闭",
        "req_wiki": "已关联知识页", "req_fields": "字段", "req_roles": "角色",
    },
    "en": {
        "home": "Home", "boards": "Boards", "board": "Board", "wiki": "Wiki", "workflows": "Workflows", "sla": "SLA",
        "search": "Search", "search_placeholder": "Search titles and wiki…", "search_go": "Search",
        "search_nojs": "Search needs JavaScript; every other page works without it.", "search_none": "No results.",
        "search_hint": "Type words (separated by spaces) to find ticket titles and wiki pages.",
        "results": "results", "type": "Type", "state": "State", "states": "States", "priority": "Priority",
        "assignee": "Assignee", "reporter": "Reporter", "labels": "Labels", "created": "Created", "updated": "Updated",
        "fields": "Fields", "roles": "Roles", "checklist": "Checklist", "earlier_checklists": "Earlier checklists",
        "links": "Links", "parent": "Parent", "children": "Children", "relates": "Related tickets",
        "linked_wiki": "Linked wiki", "related_wiki": "Related wiki", "reason_tag": "tag", "reason_field": "field",
        "mentioned_in": "Wiki pages naming this ticket",
        "history": "History", "commit": "Commit", "not_committed": "not committed yet", "commit_unknown": "commit unknown (shallow clone)", "body": "Description",
        "open": "Open", "closed": "Closed", "total": "Total", "tickets": "Tickets", "count": "Count", "none": "none",
        "more": "{n} more not shown (the {shown} most recently updated are shown)", "sla_status": "SLA",
        "breached": "breached", "at_risk": "at risk", "ok": "ok", "met": "met", "paused": "paused",
        "respond_due": "Respond by", "resolve_due": "Resolve by", "responded_at": "Responded", "resolved_at": "Resolved",
        "sla_title": "SLA: breached and at-risk tickets", "sla_none": "No ticket is breached or at risk.",
        "sla_note": "Statuses as of the build; due times leave out paused and non-working time.",
        "diagram": "Diagram", "transitions": "Transitions", "trigger": "Action", "from": "From", "to": "To",
        "by": "Who may", "requires": "Requires", "assign_to": "Hands to", "initial": "initial", "final": "final",
        "prefix": "ID prefix", "tags": "Tags", "tag": "Tag", "owner": "Owner", "reviewed": "Reviewed",
        "review_overdue": "review overdue", "pages": "Pages", "all_pages": "All pages",
        "linked_tickets": "Linked tickets", "built_from": "Built from commit",
        "unreadable": "{n} files could not be read (run sopflow check)", "anyone": "anyone", "note": "Note",
        "field": "Field", "value": "Value", "label": "Name", "kind_ticket": "ticket", "kind_wiki": "wiki",
        "unknown_field": "unknown field", "project": "Project", "no_tickets": "No tickets yet",
        "respond": "Respond", "resolve": "Resolve", "pause": "Clock paused in", "escalate": "Escalation",
        "calendar": "Working calendar", "checklist_sop": "Checklist SOP", "skip": "Skip to content", "path": "File",
        "req_checklist": "checklist complete", "req_note": "a note", "req_children": "children closed",
        "req_wiki": "a wiki page linked", "req_fields": "fields", "req_roles": "roles",
    },
}


# ------------------------------------------------------------------ small helpers


def slug(text: str) -> str:
    """A file-name-safe, case-safe name for ``text``: kept as is when it is already lower-case letters,
    digits (CJK included), ``_`` and ``-``; otherwise the safe part plus a short hash, so that two names
    never share a file (``VPN`` and ``vpn``, ``a/b`` and ``a-b``)."""
    safe = re.sub(r"[^\w-]+", "-", unicodedata.normalize("NFC", text)).strip("-")[:60]
    if safe == text and safe == safe.lower() and safe not in ("", ".", "..") and not safe.startswith("-"):
        return safe
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{safe.lower()}-{digest}" if safe else digest


def href(path: str) -> str:
    """A site path as a URL path (each segment percent-encoded; ``/`` kept)."""
    return quote(path, safe="/")


def _short_time(value: Any) -> str:
    text = str(value or "")
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}" if m else text


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _num(tid: str) -> int:
    tail = tid.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# ------------------------------------------------------------------ collected data


@dataclass
class SiteTicket:
    id: str
    rel: str
    data: dict[str, Any]
    body_lines: list[str]
    digest: str


@dataclass
class WikiPage:
    rel: str  # repository-relative path
    page: str  # site path (wiki/…/x.html)
    title: str
    tags: list[str]
    tickets: list[str]
    owner: str
    reviewed: str
    review_every: str
    body: str


@dataclass
class Commit:
    sha: str
    author: str
    date: str
    subject: str


@dataclass
class Collected:
    project: Project
    workflows: dict[str, Workflow]
    tickets: dict[str, SiteTicket]
    wiki: list[WikiPage]
    entry_commits: dict[str, list[tuple[str, str]]]  # ticket id → [(at, sha)] in commit order
    commits: dict[str, Commit]
    clocks: dict[str, Clock]
    unreadable: list[str]
    head: str | None
    shallow: bool = False


# ------------------------------------------------------------------ git: the commit of each history entry

_ENTRY_AT = re.compile(r"""^\+\s*-\s*\{?\s*["']?at["']?\s*:\s*["']?([^,"'}\s]+)""")


def _git_entries(root: Path, tickets_dir: str, since: str | None) -> tuple[dict[str, list[tuple[str, str]]],
                                                                           dict[str, Commit]]:
    """One ``git log -p`` pass: which commit added each history entry (keyed by ticket ID and ``at``)."""
    from sopflow.adapters import gitrepo
    from sopflow.core import ids

    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    out = gitrepo.run(root, "-c", "core.quotePath=false", "log", "--reverse", "--no-renames", "--no-color",
                      "--no-ext-diff", "--no-textconv", "--unified=0", "--format=%x1e%H%x1f%an%x1f%aI%x1f%s",
                      "-p", *rng,
                      "--", tickets_dir, check=False)
    entries: dict[str, list[tuple[str, str]]] = {}
    commits: dict[str, Commit] = {}
    shallow = _shallow_roots(root)
    for record in out.split("\x1e")[1:]:
        header, _, diff = record.partition("\n")
        parts = header.split("\x1f")
        if len(parts) < 4:
            continue
        sha = parts[0]
        if sha in shallow:
            continue  # a shallow clone's oldest commit "adds" every file: it says nothing about who added what
        commits[sha] = Commit(sha, parts[1], parts[2], parts[3])
        tid: str | None = None
        for line in diff.split("\n"):
            if line.startswith("+++ "):
                name = line[4:].rsplit("/", 1)[-1]
                tid = ids.id_from_filename(name) if line[4:] != "/dev/null" else None
                continue
            if tid and line.startswith("+"):
                m = _ENTRY_AT.match(line)
                if m:
                    entries.setdefault(tid, []).append((m.group(1), sha))
    return entries, commits


def _shallow_roots(root: Path) -> set[str]:
    """The boundary commits of a shallow clone (``git clone --depth N``, CI's default checkout)."""
    from sopflow.adapters import gitrepo

    try:
        f = gitrepo.git_dir(root) / "shallow"
        return set(f.read_text("ascii").split()) if f.is_file() else set()
    except (SopflowError, OSError, UnicodeDecodeError):
        return set()


def _load_git(root: Path, tickets_dir: str, cache: Mapping[str, Any]) -> tuple[
        str | None, dict[str, list[tuple[str, str]]], dict[str, Commit]]:
    """Commits of history entries, reusing the previous build's answer when HEAD only moved forward."""
    from sopflow.adapters import gitrepo

    try:
        head = gitrepo.head(root)
    except SopflowError:
        return None, {}, {}
    if head is None:
        return None, {}, {}
    same_clone = cache.get("shallow", []) == sorted(_shallow_roots(root))  # e.g. not unshallowed since
    old = cache.get("head") if cache.get("tickets_dir") == tickets_dir and same_clone else None
    if isinstance(old, str) and old == head:
        return head, _entries_from(cache), _commits_from(cache)
    if isinstance(old, str) and re.fullmatch(r"[0-9a-f]{40}", old) and _is_ancestor(root, old, head):
        entries = _entries_from(cache)
        commits = _commits_from(cache)
        new_e, new_c = _git_entries(root, tickets_dir, old)
        for tid, lst in new_e.items():
            entries.setdefault(tid, []).extend(lst)
        commits.update(new_c)
        return head, entries, commits
    entries, commits = _git_entries(root, tickets_dir, None)
    return head, entries, commits


def _is_ancestor(root: Path, old: str, new: str) -> bool:
    import subprocess

    proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=root, capture_output=True,
                          check=False)
    return proc.returncode == 0


def _entries_from(cache: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    raw = cache.get("entries")
    out: dict[str, list[tuple[str, str]]] = {}
    if isinstance(raw, dict):
        for tid, lst in raw.items():
            if isinstance(lst, list):
                out[str(tid)] = [(str(a), str(s)) for a, s in (x for x in lst if isinstance(x, list) and len(x) == 2)]
    return out


def _commits_from(cache: Mapping[str, Any]) -> dict[str, Commit]:
    raw = cache.get("commits")
    out: dict[str, Commit] = {}
    if isinstance(raw, dict):
        for sha, v in raw.items():
            if isinstance(v, list) and len(v) == 3:
                out[str(sha)] = Commit(str(sha), str(v[0]), str(v[1]), str(v[2]))
    return out


def _git_cache(c: Collected) -> dict[str, Any]:
    if c.head is None:
        return {}
    used = {sha for lst in c.entry_commits.values() for _, sha in lst}
    return {
        "head": c.head,
        "tickets_dir": c.project.config.paths["tickets"],
        "shallow": sorted(_shallow_roots(c.project.root)),
        "entries": {tid: [list(x) for x in lst] for tid, lst in sorted(c.entry_commits.items())},
        "commits": {sha: [cm.author, cm.date, cm.subject] for sha, cm in sorted(c.commits.items()) if sha in used},
    }


# ------------------------------------------------------------------ SLA


def _policies(p: Project) -> dict[str, SlaPolicy]:
    from sopflow.core.sla import parse_sla

    out: dict[str, SlaPolicy] = {}
    for t, wf in p.workflows.items():
        if wf.sla is not None:
            policy, _ = parse_sla(wf.sla, p.tz)
            if policy is not None:
                out[t] = policy
    return out


def _clock(p: Project, wf: Workflow, policy: SlaPolicy, data: Mapping[str, Any]) -> Clock | None:
    """The SLA clock of one ticket at the project's "now".

    SINGLE CALL SITE: once branch ``slacli`` is merged, replace the body with
    ``from sopflow.service import clock_for; return clock_for(p, dict(data))``.
    """
    from sopflow.core.sla import compute_clock

    timeline: list[tuple[datetime, str]] = []
    history = data.get("history")
    for e in history if isinstance(history, list) else []:
        if isinstance(e, dict) and e.get("to") is not None:
            at = _parse_time(e.get("at"))
            if at is not None:
                timeline.append((at, str(e.get("to"))))
    if not timeline:
        created = _parse_time(data.get("created"))
        if created is None:
            return None
        timeline = [(created, str(data.get("state") or wf.initial))]
    prio = data.get("priority")
    try:
        return compute_clock(policy, str(prio) if prio else None, timeline, wf.initial, wf.finals, p.now)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ related wiki


def _reason(reason: str, lang: str) -> str:
    """A reason from ``core.search.related`` ("tag X", "field k=v", "text: …") in the site's language."""
    if reason.startswith("text: "):
        return reason[len("text: "):]
    strings = STRINGS.get(lang, STRINGS["en"])
    for prefix, key in (("tag ", "reason_tag"), ("field ", "reason_field")):
        if reason.startswith(prefix):
            return f"{strings[key]} {reason[len(prefix):]}"
    return reason


def _related_wiki(target: Any, wiki_docs: list[Any], index: Any, fields: Mapping[str, Mapping[str, str]],
                  limit: int = 5) -> list[tuple[str, float, list[str]]]:
    """Wiki pages related to a ticket: ``(wiki rel path, score, reasons)``.

    SINGLE CALL SITE: once branch ``knowledge`` is merged, ``sopflow.knowledge`` may answer this instead.
    The wiki is first narrowed by a BM25 search of the ticket's title (so a 10,000-ticket build compares
    each ticket with a few pages, not the whole wiki), then ranked by ``core.search.related``.
    """
    from sopflow.core.search import related

    cands = wiki_docs
    if len(wiki_docs) > NARROW_TO and index is not None:
        keys = {h.key for h in index.search(target.title, limit=NARROW_TO)}
        cands = [d for d in wiki_docs if d.key in keys]
    return related(target, cands, shared_fields=fields, limit=limit)


# ------------------------------------------------------------------ collecting


def collect(p: Project, git_cache: Mapping[str, Any] | None = None) -> Collected:
    """Read config, workflows, tickets, wiki pages, commits and SLA clocks once."""
    from sopflow.adapters import files
    from sopflow.core import ids
    from sopflow.core.frontmatter import Document, FrontMatterError

    workflows = p.workflows
    tickets: dict[str, SiteTicket] = {}
    unreadable: list[str] = []
    for path in p.ticket_paths():
        rel = p.relpath(path)
        try:
            text = files.read_text(path, rel)
            doc = Document.parse(text)
        except (SopflowError, FrontMatterError):
            unreadable.append(rel)
            continue
        data = doc.data
        tid = str(data.get("id") or "")
        if not ids.is_valid_id(tid) or tid in tickets:
            unreadable.append(rel)
            continue
        tickets[tid] = SiteTicket(tid, rel, data, doc.body_lines(), hashlib.sha1(text.encode("utf-8")).hexdigest())
    wiki: list[WikiPage] = []
    wdir = p.dir("wiki")
    if wdir.is_dir():
        for path in sorted(wdir.rglob("*.md")):
            if not path.is_file():
                continue
            rel = p.relpath(path)
            try:
                doc = Document.parse(files.read_text(path, rel))
            except (SopflowError, FrontMatterError):
                unreadable.append(rel)
                continue
            d = doc.data
            inner = path.relative_to(wdir).with_suffix("").parts
            page = "wiki/" + "/".join(slug(x) for x in inner) + ".html"
            tags = d.get("tags")
            tk = d.get("tickets")
            wiki.append(WikiPage(
                rel=rel, page=page, title=str(d.get("title") or path.stem),
                tags=[str(x) for x in tags] if isinstance(tags, list) else ([str(tags)] if tags else []),
                tickets=[str(x) for x in tk] if isinstance(tk, list) else [],
                owner=_text(d.get("owner")), reviewed=_text(d.get("reviewed")),
                review_every=_text(d.get("review_every")), body=doc.body,
            ))
    head, entries, commits = _load_git(p.root, p.config.paths["tickets"], git_cache or {})
    clocks: dict[str, Clock] = {}
    policies = _policies(p)
    for tid, t in tickets.items():
        wtype = str(t.data.get("type"))
        wf = workflows.get(wtype)
        policy = policies.get(wtype)
        if wf is not None and policy is not None:
            clock = _clock(p, wf, policy, t.data)
            if clock is not None:
                clocks[tid] = clock
    return Collected(p, workflows, tickets, wiki, entries, commits, clocks, unreadable, head,
                     shallow=bool(head and _shallow_roots(p.root)))


# ------------------------------------------------------------------ pages


@dataclass
class Page:
    """One output file. ``context`` is plain data: it is what the template shows and what decides whether
    the page changed. ``lazy`` computes the expensive, derived part of the context, at render time only."""

    path: str
    template: str | None
    context: dict[str, Any]
    lazy: Callable[[], dict[str, Any]] | None = None
    content: bytes | None = None  # for files that are not rendered from a template

    @property
    def root(self) -> str:
        return "../" * self.path.count("/")


def _person(c: Collected, key: Any) -> dict[str, str] | None:
    if not key:
        return None
    k = str(key)
    person = c.project.config.people.get(k)
    name = person.name if person and person.name else k
    return {"key": k, "name": name}


def _ticket_ref(c: Collected, tid: str) -> dict[str, Any]:
    t = c.tickets.get(tid)
    if t is None:
        return {"id": tid, "title": "", "state": "", "href": None, "final": False}
    wf = c.workflows.get(str(t.data.get("type")))
    state = _text(t.data.get("state"))
    return {"id": tid, "title": _text(t.data.get("title")), "state": state, "href": f"tickets/{href(tid)}.html",
            "final": bool(wf and wf.is_final(state))}


def _sla_view(clock: Clock | None) -> dict[str, Any] | None:
    if clock is None:
        return None

    def t(v: datetime | None) -> str | None:
        return v.replace(microsecond=0).isoformat() if v is not None else None

    return {"status": clock.status, "respond_status": clock.respond_status, "resolve_status": clock.resolve_status,
            "respond_due": t(clock.respond_due), "resolve_due": t(clock.resolve_due),
            "responded_at": t(clock.responded_at), "resolved_at": t(clock.resolved_at), "paused": clock.paused,
            "open": clock.is_open}


def _flag(clock: Clock | None) -> str | None:
    if clock is None or not clock.is_open:
        return None
    return clock.status if clock.status in ("breached", "at_risk") else None


def _card(c: Collected, t: SiteTicket) -> dict[str, Any]:
    d = t.data
    return {"id": t.id, "title": _text(d.get("title")), "href": f"tickets/{href(t.id)}.html",
            "assignee": _person(c, d.get("assignee")), "priority": _text(d.get("priority")) or None,
            "sla": _flag(c.clocks.get(t.id))}


def _history(c: Collected, t: SiteTicket, commit_url: str | None) -> list[dict[str, Any]]:
    history = t.data.get("history")
    entries = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
    pool: dict[str, list[str]] = {}
    for when, added_by in c.entry_commits.get(t.id, []):
        pool.setdefault(when, []).append(added_by)
    out = []
    for e in entries:
        at = _text(e.get("at"))
        shas = pool.get(at)
        sha = shas.pop(0) if shas else None
        commit = None
        if sha:
            cm = c.commits.get(sha)
            commit = {"sha": sha, "short": sha[:8], "subject": cm.subject if cm else "",
                      "author": cm.author if cm else "",
                      "url": commit_url.replace("{sha}", sha) if commit_url else None}
        details = []
        for key in ("assignee", "role", "person", "parent", "relates", "wiki", "items", "set", "rule"):
            if e.get(key) not in (None, "", [], {}):
                details.append({"key": key, "value": _text(e.get(key))})
        known = {"at", "by", "action", "from", "to", "note", "assignee", "role", "person", "parent", "relates",
                 "wiki", "items", "set", "rule"}
        for key, value in e.items():
            if key not in known and value not in (None, "", [], {}):
                details.append({"key": str(key), "value": _text(value)})
        out.append({"at": at, "when": _short_time(at), "by": _person(c, e.get("by")),
                    "action": _text(e.get("action")),
                    "from": _text(e.get("from")) if e.get("from") is not None else None,
                    "to": _text(e.get("to")) if e.get("to") is not None else None,
                    "note": _text(e.get("note")) or None, "details": details, "commit": commit,
                    "commit_unknown": commit is None and c.shallow})
    return out


def _checklists(t: SiteTicket) -> tuple[list[dict[str, Any]], list[str]]:
    """Every checklist section (the last one of the current state marked current), and the body without them."""
    from sopflow.core import checklist

    lines = t.body_lines
    secs = checklist.sections(lines)
    state = _text(t.data.get("state"))
    current_idx = max((i for i, s in enumerate(secs) if s.state == state), default=-1)
    out = []
    for i, s in enumerate(secs):
        out.append({"state": s.state, "current": i == current_idx,
                    "entries": [{"text": it.text, "checked": it.checked} for it in s.items],
                    "done": sum(1 for it in s.items if it.checked), "total": len(s.items)})
    # drop every checklist section (heading up to the next heading) from the body shown as text
    keep: list[str] = []
    skipping = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if re.match(r"^##\s+Checklist:", line):
            skipping = True
            continue
        if skipping and re.match(r"^#{1,6}\s", line):
            skipping = False
        if not skipping:
            keep.append(line)
    return out, keep


def _ticket_page(c: Collected, t: SiteTicket, *, children: list[str], wiki_mentions: list[WikiPage],
                 wiki_by_rel: Mapping[str, WikiPage], commit_url: str | None,
                 related: Callable[[SiteTicket], list[dict[str, Any]]], wiki_fp: str,
                 ticket_link: Callable[[str], str | None]) -> Page:
    from sopflow.core.ticket import parent, relates, wiki_links

    d = t.data
    wf = c.workflows.get(_text(d.get("type")))
    state = _text(d.get("state"))
    fields = []
    if wf is not None:
        for name, f in wf.fields.items():
            if d.get(name) not in (None, "", [], {}):
                fields.append({"name": name, "label": f.title, "value": _text(d.get(name)),
                               "link": f.type == "link"})
    reserved = {"id", "type", "title", "state", "priority", "assignee", "reporter", "roles", "labels", "links",
                "created", "updated", "history"}
    unknown = [{"name": str(k), "value": _text(v)} for k, v in d.items()
               if k not in reserved and (wf is None or k not in wf.fields)]
    roles_raw = d.get("roles")
    roles = [{"role": str(r), "person": _person(c, who)} for r, who in roles_raw.items()] \
        if isinstance(roles_raw, dict) else []
    checklists, body = _checklists(t)
    par = parent(d)
    linked_wiki = []
    for rel in wiki_links(d):
        w = wiki_by_rel.get(rel.strip("/"))
        linked_wiki.append({"title": w.title if w else rel, "href": w.page if w else None, "path": rel})
    body_text = "\n".join(body).strip("\n")
    ctx: dict[str, Any] = {
        "ticket": {
            "id": t.id, "title": _text(d.get("title")), "type": _text(d.get("type")),
            "type_title": wf.title if wf else _text(d.get("type")),
            "board": f"boards/{href(slug(wf.type))}.html" if wf else None,
            "state": state, "final": bool(wf and wf.is_final(state)),
            "priority": _text(d.get("priority")) or None, "assignee": _person(c, d.get("assignee")),
            "reporter": _person(c, d.get("reporter")),
            "labels": [str(x) for x in d.get("labels") or []] if isinstance(d.get("labels"), list) else [],
            "created": _short_time(d.get("created")), "updated": _short_time(d.get("updated")),
            "fields": fields, "unknown": unknown, "roles": roles, "checklists": checklists,
            "parent": _ticket_ref(c, par) if par else None,
            "children": [_ticket_ref(c, x) for x in children],
            "relates": [_ticket_ref(c, x) for x in relates(d)],
            "wiki": linked_wiki,
            "mentioned_in": [{"title": w.title, "href": w.page} for w in wiki_mentions
                             if w.rel not in {x.strip("/") for x in wiki_links(d)}],
            "sla": _sla_view(c.clocks.get(t.id)),
            "history": _history(c, t, commit_url),
            "path": t.rel,
        },
        "body_text": body_text,
        "wiki_fp": wiki_fp,  # related pages depend on the whole wiki
    }
    page_path = f"tickets/{t.id}.html"

    def lazy() -> dict[str, Any]:
        from markupsafe import Markup

        from sopflow.render.html import markdown

        root = "../"
        def tref(x: str) -> str | None:
            h = ticket_link(x)
            return root + h if h else None

        return {"body_html": Markup(markdown(body_text, ticket_href=tref, breaks=True)),
                "related": related(t)}

    return Page(page_path, "ticket.html", ctx, lazy)


def plan(c: Collected, *, lang: str = "zh", commit_url: str | None = None) -> list[Page]:
    """Every page of the site, with its context."""
    from sopflow.core import ids
    from sopflow.core.search import Doc, SearchIndex
    from sopflow.core.ticket import parent, wiki_links
    from sopflow.render.svg import workflow_svg

    p = c.project
    wfs = c.workflows
    prefixes = {wf.prefix for wf in wfs.values()}

    def ticket_link(tid: str) -> str | None:
        if not ids.is_valid_id(tid) or tid.rsplit("-", 1)[0] not in prefixes:
            return None
        return f"tickets/{href(tid)}.html"

    nav = [{"type": wf.type, "title": wf.title, "href": f"boards/{href(slug(wf.type))}.html"} for wf in wfs.values()]
    common = {"project": p.config.project or p.root.name, "lang": lang, "nav": nav}
    pages: list[Page] = []

    def add(path: str, template: str, ctx: dict[str, Any], lazy: Callable[[], dict[str, Any]] | None = None) -> None:
        pages.append(Page(path, template, {**common, **ctx}, lazy))

    by_type: dict[str, list[SiteTicket]] = {}
    children: dict[str, list[str]] = {}
    for t in c.tickets.values():
        by_type.setdefault(_text(t.data.get("type")), []).append(t)
        par = parent(t.data)
        if par:
            children.setdefault(par, []).append(t.id)
    wiki_by_rel = {w.rel: w for w in c.wiki}
    mentions: dict[str, list[WikiPage]] = {}
    for w in c.wiki:
        for tid in w.tickets:
            mentions.setdefault(tid, []).append(w)
    linked_from: dict[str, list[str]] = {}
    for t in c.tickets.values():
        for rel in wiki_links(t.data):
            linked_from.setdefault(rel.strip("/"), []).append(t.id)

    # -------- index
    types = []
    for wf in wfs.values():
        ts = by_type.get(wf.type, [])
        counts = {s: 0 for s in wf.states}
        for t in ts:
            st = _text(t.data.get("state"))
            counts[st] = counts.get(st, 0) + 1
        closed = sum(n for s, n in counts.items() if wf.is_final(s))
        types.append({"type": wf.type, "title": wf.title, "prefix": wf.prefix,
                      "board": f"boards/{href(slug(wf.type))}.html",
                      "workflow": f"workflows/{href(slug(wf.type))}.html",
                      "states": [{"name": s, "count": n, "final": wf.is_final(s), "known": s in wf.states}
                                 for s, n in counts.items()],
                      "open": len(ts) - closed, "closed": closed, "total": len(ts)})
    sla_rows: dict[str, list[dict[str, Any]]] = {"breached": [], "at_risk": []}
    for tid, clock in c.clocks.items():
        flag = _flag(clock)
        if flag:
            t = c.tickets[tid]
            row = {**_card(c, t), "type": _text(t.data.get("type")), "state": _text(t.data.get("state")),
                   "clock": _sla_view(clock)}
            sla_rows[flag].append(row)
    for rows in sla_rows.values():
        rows.sort(key=lambda r: (r["clock"]["resolve_due"] or r["clock"]["respond_due"] or "", r["id"]))
    add("index.html", "index.html", {
        "types": types, "sla_counts": {k: len(v) for k, v in sla_rows.items()},
        "wiki_count": len(c.wiki), "ticket_count": len(c.tickets), "head": c.head[:8] if c.head else None,
        "unreadable": len(c.unreadable),
    })
    add("sla.html", "sla.html", {"rows": sla_rows})

    # -------- boards
    for wf in wfs.values():
        ts = by_type.get(wf.type, [])
        cols: dict[str, list[SiteTicket]] = {s: [] for s in wf.states}
        for t in ts:
            cols.setdefault(_text(t.data.get("state")), []).append(t)
        columns = []
        for state, lst in cols.items():
            final = wf.is_final(state)
            if final:
                lst.sort(key=lambda t: (_text(t.data.get("updated")), _num(t.id)), reverse=True)
            else:
                lst.sort(key=lambda t: (PRIORITY_ORDER.get(_text(t.data.get("priority")), 9), _num(t.id)))
            shown = lst
            if len(lst) > CARDS_PER_COLUMN:
                shown = sorted(lst, key=lambda t: (_text(t.data.get("updated")), _num(t.id)),
                               reverse=True)[:CARDS_PER_COLUMN]
                keep = {t.id for t in shown}
                shown = [t for t in lst if t.id in keep]
            columns.append({"state": state, "final": final, "known": state in wf.states, "count": len(lst),
                            "cards": [_card(c, t) for t in shown], "hidden": len(lst) - len(shown)})
        add(f"boards/{slug(wf.type)}.html", "board.html", {
            "workflow": {"type": wf.type, "title": wf.title, "href": f"workflows/{href(slug(wf.type))}.html"},
            "columns": columns, "total": len(ts)})

    # -------- tickets
    wiki_docs = [Doc(w.rel, w.title, w.body, tuple(w.tags)) for w in c.wiki]
    wiki_fp = _digest(*(f"{w.rel}\x01{w.title}\x01{w.page}\x01{','.join(w.tags)}\x01{w.body}" for w in c.wiki))
    index_holder: list[Any] = []

    def related(t: SiteTicket) -> list[dict[str, Any]]:
        if not wiki_docs:
            return []
        if not index_holder:
            index_holder.append(SearchIndex.build(wiki_docs))
        body = "\n".join(_checklists(t)[1])
        target = Doc(t.id, _text(t.data.get("title")), body, tuple(str(x) for x in t.data.get("labels") or []))
        linked = {x.strip("/") for x in wiki_links(t.data)} | {w.rel for w in mentions.get(t.id, [])}
        out = []
        for key, score, reasons in _related_wiki(target, wiki_docs, index_holder[0], {}, limit=5):
            w = wiki_by_rel.get(key)
            if w is not None and key not in linked:
                shown = [_reason(r, lang) for r in reasons]
                out.append({"title": w.title, "href": w.page, "score": round(score, 2), "reasons": shown})
        return out[:3]

    for t in c.tickets.values():
        pages.append(_with_common(_ticket_page(
            c, t, children=sorted(children.get(t.id, []), key=_num), wiki_mentions=mentions.get(t.id, []),
            wiki_by_rel=wiki_by_rel, commit_url=commit_url, related=related, wiki_fp=wiki_fp,
            ticket_link=ticket_link), common))

    # -------- wiki
    tag_pages: dict[str, list[WikiPage]] = {}
    for w in c.wiki:
        for tag in w.tags:
            tag_pages.setdefault(tag, []).append(w)

    def tag_href(tag: str) -> str:
        return f"tags/{href(slug(tag))}.html"

    wiki_list = [{"title": w.title, "href": w.page, "path": w.rel,
                  "tags": [{"name": x, "href": tag_href(x)} for x in w.tags]} for w in c.wiki]
    add("wiki.html", "wiki_index.html", {
        "pages": wiki_list,
        "tags": [{"name": tag, "href": tag_href(tag), "count": len(ws)} for tag, ws in sorted(tag_pages.items())],
    })
    for w in c.wiki:
        tids = list(dict.fromkeys([*w.tickets, *linked_from.get(w.rel, [])]))
        overdue = _review_overdue(w.reviewed, w.review_every, p.now)
        ctx = {"page": {"title": w.title, "path": w.rel, "tags": [{"name": x, "href": tag_href(x)} for x in w.tags],
                        "owner": _person(c, w.owner) if w.owner else None, "reviewed": w.reviewed,
                        "review_every": w.review_every, "overdue": overdue,
                        "tickets": [_ticket_ref(c, x) for x in tids]},
               "body_text": w.body}
        depth = w.page.count("/")
        add(w.page, "wiki_page.html", ctx, _wiki_lazy(w, w.body, depth, wiki_by_rel, c, ticket_link))
    for tag, ws in sorted(tag_pages.items()):
        add(f"tags/{slug(tag)}.html", "tag.html", {
            "tag": tag, "pages": [{"title": w.title, "href": w.page, "path": w.rel} for w in ws]})

    # -------- workflows
    for wf in wfs.values():
        counts = {s: 0 for s in wf.states}
        for t in by_type.get(wf.type, []):
            st = _text(t.data.get("state"))
            if st in counts:
                counts[st] += 1
        add(f"workflows/{slug(wf.type)}.html", "workflow.html", {
            "workflow": _workflow_view(wf, counts, c),
            "svg": workflow_svg(wf, id_prefix=f"wf-{slug(wf.type)}"),
            "board": f"boards/{href(slug(wf.type))}.html",
        })

    # -------- search
    add("search.html", "search.html", {})
    docs = []
    for t in sorted(c.tickets.values(), key=lambda t: (t.id.rsplit("-", 1)[0], _num(t.id))):
        docs.append({"k": "t", "u": f"tickets/{href(t.id)}.html", "i": t.id, "t": _text(t.data.get("title")),
                     "s": _text(t.data.get("state"))})
    for w in c.wiki:
        docs.append({"k": "w", "u": href(w.page), "t": w.title, "g": " ".join(w.tags),
                     "x": re.sub(r"\s+", " ", w.body)[:3000]})
    payload = json.dumps(docs, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    pages.append(Page("search-index.js", None, {}, content=(
        "/* sopflow site search index: generated, do not edit */\n"
        f"window.SOPFLOW_SEARCH={payload};\n").encode()))
    return pages


def _with_common(page: Page, common: Mapping[str, Any]) -> Page:
    page.context = {**common, **page.context}
    return page


def _review_overdue(reviewed: str, every: str, now: datetime) -> bool:
    from datetime import date, timedelta

    from sopflow.core.durations import parse_duration

    if not reviewed or not every:
        return False
    try:
        seconds = parse_duration(every)
        day = date.fromisoformat(reviewed[:10])
    except (ValueError, TypeError, SopflowError):
        return False
    return day + timedelta(seconds=seconds) < now.date()


def _wiki_lazy(w: WikiPage, body: str, depth: int, wiki_by_rel: Mapping[str, WikiPage], c: Collected,
               ticket_link: Callable[[str], str | None]) -> Callable[[], dict[str, Any]]:
    import posixpath

    root = "../" * depth

    def link(url: str) -> str | None:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) or url.startswith(("#", "/")):
            return None
        target, _, frag = url.partition("#")
        if not target.endswith(".md"):
            return None
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(w.rel), target))
        other = wiki_by_rel.get(rel)
        if other is not None:
            return root + href(other.page) + (f"#{frag}" if frag else "")
        from sopflow.core import ids

        tid = ids.id_from_filename(posixpath.basename(rel))
        if tid and tid in c.tickets:
            return root + f"tickets/{href(tid)}.html"
        return None

    def lazy() -> dict[str, Any]:
        from markupsafe import Markup

        from sopflow.render.html import markdown

        def tref(x: str) -> str | None:
            h = ticket_link(x)
            return root + h if h else None

        return {"body_html": Markup(markdown(body, link=link, ticket_href=tref))}

    return lazy


def _workflow_view(wf: Workflow, counts: Mapping[str, int], c: Collected) -> dict[str, Any]:
    def req(tr: Any) -> list[dict[str, str]]:
        r = tr.require
        out = []
        if r.fields:
            out.append({"key": "req_fields", "value": ", ".join(wf.fields[f].title if f in wf.fields else f
                                                                for f in r.fields)})
        if r.roles:
            out.append({"key": "req_roles", "value": ", ".join(r.roles)})
        for key, on in (("req_checklist", r.checklist), ("req_note", r.note), ("req_children", r.children),
                        ("req_wiki", r.wiki)):
            if on:
                out.append({"key": key, "value": ""})
        return out

    sla = None
    raw = wf.sla if isinstance(wf.sla, dict) else None
    if raw:
        prios = raw.get("priorities") if isinstance(raw.get("priorities"), dict) else {}
        sla = {"pause": [str(x) for x in raw.get("pause") or []] if isinstance(raw.get("pause"), list) else [],
               "calendar": _text(raw.get("calendar")) if raw.get("calendar") else None,
               "priorities": [{"priority": str(k), "respond": _text((v or {}).get("respond")) or None,
                               "resolve": _text((v or {}).get("resolve")) or None}
                              for k, v in (prios or {}).items() if isinstance(v, dict) or v is None],
               "escalate": [_text(x) for x in raw.get("escalate") or []] if isinstance(raw.get("escalate"), list)
               else []}
    return {
        "type": wf.type, "title": wf.title, "prefix": wf.prefix, "roles": list(wf.roles),
        "states": [{"name": s.name, "initial": s.initial, "final": s.final, "checklist": s.checklist,
                    "count": counts.get(s.name, 0)} for s in wf.states.values()],
        "transitions": [{"trigger": t.trigger, "sources": list(t.sources), "dest": t.dest, "by": list(t.by),
                         "requires": req(t), "assign_to": t.assign_to} for t in wf.transitions],
        "fields": [{"name": f.name, "label": f.title, "type": f.type, "required": f.required,
                    "choices": [str(x) for x in f.choices], "help": f.help} for f in wf.fields.values()],
        "sla": sla,
    }


# ------------------------------------------------------------------ templates


def _template_dirs(p: Project) -> list[Path]:
    dirs = []
    override = p.dir("templates") / "site"
    if override.is_dir():
        dirs.append(override)
    dirs.append(TEMPLATE_DIR)
    return dirs


def _templates_fingerprint(dirs: Iterable[Path]) -> str:
    parts = []
    for d in dirs:
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.relative_to(d).parts[0] != "assets":  # assets are hashed as pages of their own
                parts.append(f"{f.relative_to(d).as_posix()}\x01{hashlib.sha1(f.read_bytes()).hexdigest()}")
        parts.append("\x02")
    return _digest(*parts)


def _environment(dirs: list[Path]) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["href"] = href
    env.filters["short_time"] = _short_time
    return env


def _render(env: Any, page: Page, strings: Mapping[str, str]) -> bytes:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    assert page.template is not None
    ctx = dict(page.context)
    if page.lazy is not None:
        ctx.update(page.lazy())
    ctx["root"] = page.root
    ctx["t"] = strings
    ctx["page_path"] = page.path
    name = page.template
    from sopflow.adapters.templates import bounded

    try:
        with bounded():  # templates/site/ comes from the repository: a time limit and a memory allowance
            text = str(env.get_template(name).render(**ctx))
    except SecurityError as exc:
        raise SopflowError(f"template refused by the sandbox: {exc}", where=name) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        tname = getattr(exc, "filename", None) or getattr(exc, "name", None) or name
        where = f"{tname}:{line}" if line else str(tname)
        raise SopflowError(f"template error: {exc.message or exc}", where=where) from None
    except Exception as exc:  # a template can raise anything through filters; never a traceback
        raise SopflowError(f"template failed: {type(exc).__name__}: {exc}", where=name) from None
    return text.encode("utf-8")


def _asset(dirs: list[Path], name: str) -> bytes:
    for d in dirs:
        f = d / name
        if f.is_file():
            return f.read_bytes()
    raise SopflowError("site asset missing from the installation", where=name)


# ------------------------------------------------------------------ output


def _check_out(root: Path, out: Path) -> None:
    out_r = out.resolve()
    root_r = root.resolve()
    if out_r == root_r or out_r in root_r.parents:
        raise SopflowError("the site cannot be written to the repository root or a folder above it; "
                           "choose a folder such as _site", where=str(out))
    git = root_r / ".git"
    if out_r == git or git in out_r.parents:
        raise SopflowError("the site cannot be written inside .git", where=str(out))
    if out_r.exists() and not out_r.is_dir():
        raise SopflowError("not a folder", where=str(out))
    if out_r.is_dir() and not (out_r / MANIFEST).is_file() and any(out_r.iterdir()):
        raise SopflowError(f"folder is not empty and holds no sopflow site ({MANIFEST}); choose an empty or new "
                           "folder", where=str(out))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_manifest(out: Path) -> dict[str, Any]:
    f = out / MANIFEST
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


@dataclass
class BuildResult:
    out: Path
    pages: int
    written: list[str]
    removed: list[str]
    seconds: float
    unreadable: list[str]
    shallow: bool = False

    def summary(self) -> str:
        return (f"site: {self.pages} pages in {self.out} ({len(self.written)} written, "
                f"{self.pages - len(self.written)} unchanged, {len(self.removed)} removed) in {self.seconds:.1f}s")


def build_site(p: Project, out: Path, *, lang: str = "zh", commit_url: str | None = None) -> BuildResult:
    """Build (or bring up to date) the static site of ``p`` in ``out``."""
    started = time.perf_counter()
    if lang not in LANGS:
        raise SopflowError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
    if commit_url is not None and "{sha}" not in commit_url:
        raise SopflowError("--commit-url must contain {sha}, e.g. https://github.com/OWNER/REPO/commit/{sha}")
    _check_out(p.root, out)
    manifest = _read_manifest(out)
    raw_pages = manifest.get("pages")
    old_pages: dict[str, str] = {str(k): str(v) for k, v in raw_pages.items()} if isinstance(raw_pages, dict) else {}
    c = collect(p, manifest.get("git") if isinstance(manifest.get("git"), dict) else None)
    dirs = _template_dirs(p)
    tfp = _templates_fingerprint(dirs)
    env = _environment(dirs)
    strings = STRINGS[lang]
    pages = plan(c, lang=lang, commit_url=commit_url)
    for name in ASSETS:
        pages.append(Page(name, None, {}, content=_asset(dirs, name)))
    seen: dict[str, str] = {}
    written: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    try:
        for page in pages:
            if page.path in seen:
                continue  # two sources mapped to one page: the first wins (check reports duplicates)
            if page.content is not None:
                digest = _digest(FORMAT, hashlib.sha256(page.content).hexdigest())
            else:
                digest = _digest(FORMAT, lang, tfp, page.template or "", _json(page.context))
            target = out / page.path
            if old_pages.get(page.path) == digest and target.is_file():
                seen[page.path] = digest
                continue
            data = page.content if page.content is not None else _render(env, page, strings)
            _write(target, data)
            seen[page.path] = digest
            written.append(page.path)
    except BaseException:
        # keep what was written listed, so the next build can finish (and clean up) from here
        partial = {"format": FORMAT, "lang": lang, "pages": {**old_pages, **seen}, "git": {}}
        _write(out / MANIFEST, json.dumps(partial, ensure_ascii=False).encode("utf-8"))
        raise
    removed = []
    for path in old_pages:
        if path not in seen:
            target = out / path
            if target.is_file() and (out.resolve() in target.resolve().parents):
                target.unlink()
                removed.append(path)
                with contextlib.suppress(OSError):
                    parent = target.parent
                    while parent != out and not any(parent.iterdir()):
                        parent.rmdir()
                        parent = parent.parent
    new_manifest = {"format": FORMAT, "lang": lang, "pages": dict(sorted(seen.items())), "git": _git_cache(c)}
    _write(out / MANIFEST, json.dumps(new_manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return BuildResult(out, len(seen), written, removed, time.perf_counter() - started, c.unreadable, c.shallow)
