"""Text renderings of knowledge: wiki lists, search results, a page, SOPs. Renderers return text, never print."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sopflow.render.text import clean, one_line, pad, style, table, terminal_width, truncate, width

if TYPE_CHECKING:
    from sopflow.core.search import Hit
    from sopflow.knowledge import PageView, SopView

PAGE_COLUMNS = ("PATH", "TITLE", "TAGS", "OWNER", "REVIEWED", "DUE", "STATUS")


def _status(v: PageView) -> str:
    return "invalid: " + v.meta.error if v.meta.error else v.review.status


def page_rows(views: Sequence[PageView]) -> list[list[str]]:
    return [[v.meta.path, v.meta.title, one_line(list(v.meta.tags)), v.meta.owner or "-", v.meta.reviewed or "-",
             v.review.due.isoformat() if v.review.due else "-", _status(v)] for v in views]


def page_table(views: Sequence[PageView], *, empty: str = "(no pages)") -> str:
    if not views:
        return empty
    return table(list(PAGE_COLUMNS), page_rows(views), max_width=terminal_width(), shrink=[2, 1, 0])


def page_csv(views: Sequence[PageView]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "title", "tags", "tickets", "owner", "reviewed", "reviewed_by", "review_every", "due",
                "status"])
    for v in views:
        d = v.as_json()
        w.writerow([one_line(d.get(k)) for k in ("path", "title", "tags", "tickets", "owner", "reviewed",
                                                  "reviewed_by", "review_every", "due", "status")])
    return buf.getvalue()


def search_json(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The contract's shape: ``[{"path", "title", "score", "line"}]``, best first."""
    return [{"path": h.key, "title": h.title, "score": round(h.score, 4), "line": h.line} for h in hits]


def search_text(hits: Sequence[Hit]) -> str:
    """Each hit on two lines: path, title and score, then the best matching line with its number."""
    if not hits:
        return "(no pages match)"
    cols = terminal_width()
    out = []
    for h in hits:
        out.append(truncate(f"{style(clean(h.key), '1')}  {one_line(h.title)}  ({h.score:.2f})", cols + 8))
        if h.line:
            out.append(truncate(f"    {h.line_no}: {one_line(h.line)}", cols))
    return "\n".join(out)


def _rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    w = max((width(k) for k, _ in rows), default=0)
    return [f"  {pad(k, w)}  {v}" for k, v in rows]


def show_page(view: PageView, body: str, *, people: Mapping[str, Any], tickets: Sequence[tuple[str, str]]) -> str:
    """One page: its keys, review status, linked tickets (ID and state), then its body."""
    m = view.meta
    rows = [("path", clean(m.path))]
    if m.tags:
        rows.append(("tags", one_line(list(m.tags))))
    rows.append(("owner", _person(people, m.owner)))
    rows.append(("review", one_line(view.review.describe(m))))
    if m.reviewed_by:
        rows.append(("reviewed by", _person(people, m.reviewed_by)))
    if m.fields:
        rows.append(("fields", one_line(m.fields)))
    if m.error:
        rows.append(("problem", one_line(m.error)))
    out = [style(one_line(m.title), "1"), *_rows(rows)]
    if tickets:
        out += ["", style("Tickets", "1")]
        out += [f"  {clean(tid)}  {one_line(state)}" for tid, state in tickets]
    text = body.strip("\r\n")
    if text:
        out += ["", *(clean(line.rstrip("\r")) for line in text.split("\n"))]
    return "\n".join(out)


def _person(people: Mapping[str, Any], key: str | None) -> str:
    if not key:
        return "-"
    p = people.get(key)
    name = getattr(p, "name", None) if p is not None else None
    return f"{clean(key)} ({clean(name)})" if name and name != key else clean(key)


def sop_table(views: Sequence[SopView]) -> str:
    if not views:
        return "(no SOPs)"
    rows = []
    for s in views:
        m = s.page.meta
        applies = "/".join(x for x in (m.applies_to.get("type"), m.applies_to.get("state")) if x) or "-"
        rows.append([s.name, m.title, applies, m.owner or "-", m.reviewed or "-",
                     s.page.review.due.isoformat() if s.page.review.due else "-", _status(s.page)])
    return table(["NAME", "TITLE", "APPLIES TO", "OWNER", "REVIEWED", "DUE", "STATUS"], rows,
                 max_width=terminal_width(), shrink=[1, 2])


def show_sop(view: SopView, items: Sequence[str], *, people: Mapping[str, Any]) -> str:
    m = view.page.meta
    rows = [("name", clean(view.name)), ("path", clean(m.path))]
    applies = "/".join(x for x in (m.applies_to.get("type"), m.applies_to.get("state")) if x)
    if applies:
        rows.append(("applies to", one_line(applies)))
    if view.used_by:
        rows.append(("used by", ", ".join(f"{one_line(t)}: {one_line(s)}" for t, s in view.used_by)))
    rows.append(("owner", _person(people, m.owner)))
    rows.append(("review", one_line(view.page.review.describe(m))))
    if m.reviewed_by:
        rows.append(("reviewed by", _person(people, m.reviewed_by)))
    if m.error:
        rows.append(("problem", one_line(m.error)))
    out = [style(one_line(m.title), "1"), *_rows(rows), "", style(f"Steps ({len(items)})", "1")]
    out += [f"  {n}. [ ] {one_line(i)}" for n, i in enumerate(items, 1)] or ["  (no checklist items)"]
    return "\n".join(out)
