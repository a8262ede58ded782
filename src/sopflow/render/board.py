"""The board and the inbox as terminal text and CSV.

Renderers return text and never print. Widths are display columns (a Chinese character counts two), so
columns line up whatever the script; every cell is cut with '…' to its column, never wrapped. Colour only on
a terminal (``NO_COLOR``, ``TERM=dumb`` and pipes get plain text), and colour codes are added after padding
so they never count towards a width.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sopflow.render.text import clean, one_line, pad, style, table, terminal_width, truncate, width

GAP = 2  # spaces between board columns
MIN_COL = 18  # narrowest board column; below two of these the board becomes a list
MAX_COL = 44  # widest board column
FINAL_RECENT = 5  # cards shown in a final column unless --all

Cell = tuple[str, str]  # (plain text, colour code or "")


def age(seconds: Any) -> str:
    """A short age: 45m, 5h, 3d, 11w; '?' when unknown."""
    if not isinstance(seconds, int):
        return "?"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    return f"{days}d" if days < 70 else f"{days // 7}w"


# ---------------------------------------------------------------- board

def board_text(data: Mapping[str, Any], *, cols: int | None = None, show_all: bool = False,
               recent: int = FINAL_RECENT) -> str:
    """The board: one block per type; columns side by side when at least two fit in ``cols``
    (several bands of columns when all do not), otherwise one state after another as a list."""
    total = cols or terminal_width()
    blocks = [_type_block(t, total, show_all, recent) for t in data.get("types", [])]
    return "\n\n".join(blocks) if blocks else "(no tickets)"


def _type_block(t: Mapping[str, Any], total: int, show_all: bool, recent: int) -> str:
    columns: list[Mapping[str, Any]] = t.get("columns", [])
    count = sum(c.get("count", len(c.get("tickets", []))) for c in columns)
    title = clean(t.get("title") or "")
    head = clean(t.get("type", ""))
    if title and title != head:
        head += f"  {title}"
    head = truncate(f"{head}  ({count} ticket{'s' if count != 1 else ''})", total)
    lines = [style(head, "1")]
    fit = (total + GAP) // (MIN_COL + GAP)
    if fit < 2 or not columns:
        lines += _list_layout(columns, total, show_all, recent)
        return "\n".join(lines)
    bands = math.ceil(len(columns) / fit)
    per = math.ceil(len(columns) / bands)
    colw = min(MAX_COL, (total - GAP * (per - 1)) // per)
    for b in range(bands):
        band = columns[b * per : (b + 1) * per]
        if b:
            lines.append("")
        lines += _band(band, colw, show_all, recent)
    return "\n".join(lines)


def _column_cells(col: Mapping[str, Any], colw: int, show_all: bool, recent: int) -> list[Cell]:
    tickets: list[Mapping[str, Any]] = col.get("tickets", [])
    shown = tickets if show_all or not col.get("final") else tickets[:recent]
    name = clean(col.get("state", ""))
    mark = " ?" if col.get("unknown") else ""
    total = col.get("count", len(tickets))  # a final column cut by views.board(final_limit=…)
    cells: list[Cell] = [(truncate(f"{name}{mark} ({total})", colw), "1"),
                         ("─" * colw, "2")]
    for c in shown:
        cells.append((card_line(c, colw), "36"))
        cells.append((truncate(" " + one_line(c.get("title")), colw), ""))
    hidden = total - len(shown)
    if hidden:
        cells.append((truncate(f"+{hidden} older (--all)", colw), "2"))
    return cells


def card_line(c: Mapping[str, Any], colw: int) -> str:
    """``ID P2 3d assignee flag`` cut to ``colw``; the assignee gives way first, so the flag stays."""
    head = " ".join(x for x in (one_line(c.get("id")), one_line(c.get("priority")), age(c.get("age_seconds")))
                    if x)
    flag = one_line(c.get("flag"))
    who = one_line(c.get("assignee"))
    room = colw - width(head) - (width(flag) + 1 if flag else 0) - 1
    parts = [head]
    if who and room >= 3:
        parts.append(truncate(who, room))
    if flag:
        parts.append(flag)
    return truncate(" ".join(parts), colw)


def _band(band: Sequence[Mapping[str, Any]], colw: int, show_all: bool, recent: int) -> list[str]:
    grid = [_column_cells(col, colw, show_all, recent) for col in band]
    height = max(len(g) for g in grid)
    out = []
    for row in range(height):
        cells = [g[row] if row < len(g) else ("", "") for g in grid]
        out.append(join_cells(cells, colw))
    return out


def join_cells(cells: Sequence[Cell], colw: int) -> str:
    """One board line: each cell cut and padded to ``colw`` columns, ``GAP`` spaces apart."""
    parts = []
    for text, code in cells:
        text = truncate(text, colw)
        styled = style(text, code) if code and text else text
        parts.append(styled + " " * (colw - width(text)))
    return (" " * GAP).join(parts).rstrip()


def _list_layout(columns: Sequence[Mapping[str, Any]], total: int, show_all: bool, recent: int) -> list[str]:
    """One state after another, each card a row; the rows of every state share one set of column widths."""
    shown_by_col = [col.get("tickets", []) if show_all or not col.get("final") else col.get("tickets", [])[:recent]
                    for col in columns]
    rows = [[one_line(c.get("id")), one_line(c.get("priority")), age(c.get("age_seconds")),
             one_line(c.get("assignee")), one_line(c.get("flag")), one_line(c.get("title"))]
            for shown in shown_by_col for c in shown]
    lines = iter(aligned(rows, total - 2))
    out: list[str] = []
    for col, shown in zip(columns, shown_by_col, strict=True):
        tickets: list[Mapping[str, Any]] = col.get("tickets", [])
        mark = " ?" if col.get("unknown") else ""
        out.append(style(truncate(f"{clean(col.get('state', ''))}{mark} ({col.get('count', len(tickets))})", total),
                         "1"))
        out += ["  " + next(lines).replace("\n", "\n  ") for _ in shown]
        hidden = col.get("count", len(tickets)) - len(shown)
        if hidden:
            out.append(style(truncate(f"  +{hidden} older (--all)", total), "2"))
    return out


def aligned(rows: Sequence[Sequence[str]], total: int, min_last: int = 12) -> list[str]:
    """Rows of cells aligned in columns (empty columns dropped), each cut to ``total`` columns. The last
    cell (the title) is cut to what is left; when fewer than ``min_last`` columns are left it goes on a line
    of its own below the row, indented by two."""
    keep = [i for i in range(len(rows[0])) if any(r[i] for r in rows)] if rows else []
    rows = [[r[i] for i in keep] for r in rows]
    widths = [max(width(r[i]) for r in rows) for i in range(len(keep))]
    used = sum(widths[:-1]) + 2 * (len(widths) - 1)
    lines = []
    for r in rows:
        head = [pad(r[i], widths[i]) for i in range(len(r) - 1)]
        if total - used >= min_last:
            lines.append(truncate("  ".join([*head, truncate(r[-1], total - used)]).rstrip(), total))
        else:
            lines.append(truncate("  ".join(head).rstrip(), total) + "\n  " + truncate(r[-1], total - 2))
    return lines


def board_csv(data: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["type", "state", "final", "id", "title", "priority", "assignee", "since", "age_seconds", "flag"])
    for t in data.get("types", []):
        for col in t.get("columns", []):
            for c in col.get("tickets", []):
                w.writerow([one_line(t.get("type")), one_line(col.get("state")), one_line(bool(col.get("final"))),
                            *(one_line(c.get(k)) for k in ("id", "title", "priority", "assignee", "since",
                                                           "age_seconds", "flag"))])
    return buf.getvalue()


# ---------------------------------------------------------------- inbox

SECTIONS = (
    ("assigned", "Assigned to me"),
    ("waiting", "Waiting on a role I hold"),
    ("handled", "Handled by me, still open"),
)


def inbox_text(data: Mapping[str, Any], *, cols: int | None = None, people: Mapping[str, Any] | None = None) -> str:
    total = cols or terminal_width()
    person = str(data.get("person", ""))
    who = clean(person)
    entry = (people or {}).get(person)
    name = getattr(entry, "name", None)
    if name and name != person:
        who += f" ({clean(name)})"
    counts = ", ".join(f"{len(data.get(k, []))} {k}" for k, _ in SECTIONS)
    out = [style(truncate(f"Inbox of {who}: {counts}", total), "1")]
    for key, title in SECTIONS:
        items: list[Mapping[str, Any]] = data.get(key, [])
        out.append("")
        out.append(style(truncate(f"{title} ({len(items)})", total), "1"))
        if not items:
            out.append("  (none)")
            continue
        headers = ["ID", "STATE", "P", "AGE"]
        if key != "assigned":
            headers.append("ASSIGNEE")
        if key == "waiting":
            headers.append("CAN")
        if any(c.get("flag") for c in items):
            headers.append("FLAG")
        headers.append("TITLE")
        rows = []
        for c in items:
            row = [one_line(c.get("id")), one_line(c.get("state")), one_line(c.get("priority")) or "-",
                   age(c.get("age_seconds"))]
            if key != "assigned":
                row.append(one_line(c.get("assignee")) or "-")
            if key == "waiting":
                row.append(one_line(c.get("can_fire")))
            if "FLAG" in headers:
                row.append(one_line(c.get("flag")))
            row.append(one_line(c.get("title")))
            rows.append(row)
        shrink = [len(headers) - 1, 1] + ([headers.index("CAN")] if "CAN" in headers else [])
        text = table(headers, rows, max_width=total - 2, shrink=shrink)
        out += ["  " + line for line in text.split("\n")]
    return "\n".join(out)


def inbox_csv(data: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = ("id", "type", "state", "title", "priority", "assignee", "since", "age_seconds", "flag", "can_fire")
    w.writerow(["section", *keys])
    for section, _ in SECTIONS:
        for c in data.get(section, []):
            w.writerow([section, *(one_line(c.get(k)) for k in keys)])
    return buf.getvalue()
