"""Text renderings for ``sla``, ``escalate`` and ``stats``: plain tables, and small bar charts where a chart
says it better than numbers. Renderers return text and never print."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sopflow.render.text import one_line, style, table, terminal_width

if TYPE_CHECKING:
    from sopflow.service import EscalationRun, SlaRow

BAR_WIDTH = 24
_EIGHTHS = "▏▎▍▌▋▊▉"
#: ``stats`` shows at most this many weeks as text (JSON has them all).
TEXT_WEEKS = 16


def bar(value: float, maximum: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of ``value / maximum`` of ``width`` columns, in eighths of a column."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / maximum * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest - 1] if rest else "")


def duration(seconds: float | None) -> str:
    from sopflow.core.durations import format_duration

    return "-" if seconds is None else format_duration(seconds)


# ------------------------------------------------------------------ sla


def sla_table(rows: Sequence[SlaRow], now: dt.datetime, tz: dt.tzinfo, *, empty: str) -> str:
    from sopflow.service import goal_cell, status_cell

    if not rows:
        return empty
    out = []
    for r in rows:
        c = r.clock
        out.append([
            r.id, c.priority, one_line(r.data.get("state")),
            status_cell(c, str(r.data.get("state")) if c.paused else None),
            goal_cell(c, "respond", now, tz), goal_cell(c, "resolve", now, tz),
            one_line(r.data.get("assignee")) or "-", one_line(r.data.get("title")),
        ])
    headers = ["ID", "PRI", "STATE", "SLA", "RESPOND", "RESOLVE", "ASSIGNEE", "TITLE"]
    return table(headers, out, max_width=terminal_width(), shrink=[7, 2])


def sla_csv(rows: Sequence[SlaRow], tz: dt.tzinfo) -> str:
    buf = io.StringIO()
    cols = ["id", "priority", "state", "respond_due", "resolve_due", "responded_at", "resolved_at", "status"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*cols, "type", "assignee", "title"])
    for r in rows:
        j = r.as_json(tz)
        w.writerow([one_line(j[c]) for c in cols]
                   + [one_line(r.data.get(k)) for k in ("type", "assignee", "title")])
    return buf.getvalue()


# ------------------------------------------------------------------ escalate


def escalation_text(run: EscalationRun, tz: dt.tzinfo) -> str:
    if not run.escalations and not run.skipped:
        return "nothing to escalate"
    verb = "would escalate" if run.dry_run else "escalated"
    lines = [f"{verb}: {e.describe(tz)}" for e in run.escalations]
    lines += [f"cannot escalate: {e.describe(tz)}" for e in run.skipped]
    return "\n".join(lines)


# ------------------------------------------------------------------ stats


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


def stats_text(report: Mapping[str, Any]) -> str:
    parts: list[str] = []
    t = report["tickets"]
    scope = []
    if report.get("since"):
        scope.append(f"created since {report['since']}")
    if report.get("types"):
        scope.append("types " + ", ".join(one_line(x) for x in report["types"]))
    head = f"Tickets: {t['total']} (open {t['open']}, closed {t['closed']})"
    parts.append(style(head, "1") + (f"  ·  {'; '.join(scope)}" if scope else "") + f"  ·  now {report['now']}")

    # by type and state
    rows = []
    biggest = max((s["count"] for g in report["by_type"] for s in g["states"]), default=0)
    for g in report["by_type"]:
        for s in g["states"]:
            rows.append([g["type"], s["state"], str(s["count"]), bar(s["count"], biggest)])
    parts.append(_section("By type and state", ["TYPE", "STATE", "COUNT", ""], rows))

    # weeks
    weeks = report["weeks"]
    shown = weeks[-TEXT_WEEKS:]
    top = max((max(w["created"], w["closed"]) for w in shown), default=0)
    rows = [[w["week"], w["start"], str(w["created"]), bar(w["created"], top, 16), str(w["closed"]),
             bar(w["closed"], top, 16)] for w in shown]
    text = _section("Created and closed per week", ["WEEK", "FROM", "CREATED", "", "CLOSED", ""], rows)
    if len(weeks) > len(shown):
        text += f"\n  ({len(weeks) - len(shown)} earlier weeks: use --since or --format json)"
    parts.append(text)

    # time to respond / resolve
    def times(label: str, tickets: object, respond: Mapping[str, Any], resolve: Mapping[str, Any]) -> list[str]:
        return [label, str(tickets), str(respond["count"]), duration(respond["median"]), duration(respond["p90"]),
                str(resolve["count"]), duration(resolve["median"]), duration(resolve["p90"])]

    rows = [times("all", t["total"], report["respond"], report["resolve"])]
    rows += [times(p["priority"] or "(none)", p["tickets"], p["respond"], p["resolve"])
             for p in report["by_priority"]]
    parts.append(_section("Time to respond / resolve (from creation)",
                          ["PRIORITY", "TICKETS", "RESPONDED", "MEDIAN", "P90", "RESOLVED", "MEDIAN", "P90"], rows))

    # time in state
    longest = max((s["median"] or 0 for s in report["time_in_state"]), default=0)
    rows = [[s["type"], s["state"], str(s["tickets"]), duration(s["median"]), duration(s["p90"]),
             duration(s["total"]), bar(s["median"] or 0, longest)] for s in report["time_in_state"]]
    parts.append(_section("Time in each state (per ticket)",
                          ["TYPE", "STATE", "TICKETS", "MEDIAN", "P90", "TOTAL", ""], rows))

    # sla compliance
    rows = [[s["priority"], str(s["tickets"]), str(s["met"]), str(s["breached"]), str(s["pending"]),
             _pct(s["compliance"]), bar(s["compliance"] or 0, 1.0, 20),
             f"{s['respond']['met']}/{s['respond']['met'] + s['respond']['breached']}",
             f"{s['resolve']['met']}/{s['resolve']['met'] + s['resolve']['breached']}"] for s in report["sla"]]
    parts.append(_section("SLA compliance (met / (met + breached))",
                          ["PRIORITY", "TICKETS", "MET", "BREACHED", "PENDING", "COMPLIANCE", "",
                           "RESPOND MET", "RESOLVE MET"], rows))

    # top values
    top_ = report["top"]
    most = max((v["count"] for v in top_["values"]), default=0)
    rows = [[str(n), v["value"], str(v["count"]), bar(v["count"], most)] for n, v in enumerate(top_["values"], 1)]
    text = _section(f"Top {len(top_['values'])} by {top_['by']}", ["#", "VALUE", "TICKETS", ""], rows)
    notes = []
    if top_["distinct"] > len(top_["values"]):
        notes.append(f"{top_['distinct'] - len(top_['values'])} more values")
    if top_["none"]:
        notes.append(f"{top_['none']} ticket{'' if top_['none'] == 1 else 's'} without a value")
    if notes:
        text += f"\n  ({'; '.join(notes)})"
    parts.append(text)
    return "\n\n".join(parts)


def _section(title: str, headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return f"{style(title, '1')}\n  (none)"
    body = table(headers, rows)
    return style(title, "1") + "\n" + "\n".join("  " + line for line in body.split("\n"))
