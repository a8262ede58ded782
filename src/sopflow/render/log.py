"""``sopflow log`` as text: each history step with the commit that made it; hand edits stand out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sopflow.render.text import clean, one_line, style
from sopflow.render.tickets import history_line


def commit_line(c: Mapping[str, Any] | None) -> str:
    if c is None:
        return "not committed"
    date = one_line(c.get("date"))[:16].replace("T", " ")
    text = f"commit {one_line(c.get('sha'))[:10]}  {one_line(c.get('author'))}  {date}"
    if not c.get("sopflow"):
        text += f"  (not a sopflow commit: “{one_line(c.get('subject'))}”)"
    return text


def log_text(data: Mapping[str, Any]) -> str:
    out = [style(f"{clean(data.get('id'))}  {one_line(data.get('title'))}", "1"),
           f"{clean(data.get('path'))}  (state {one_line(data.get('state'))})", ""]
    steps = data.get("steps", [])
    for s in steps:
        if s.get("kind") == "hand-edit":
            src = one_line(s.get("from")) if s.get("from") is not None else "(new file)"
            out.append(style(f"HAND EDIT  state {src} → {one_line(s.get('to'))} without a history entry", "1;31"))
        else:
            out.append(history_line(s.get("entry") or {}))
        out.append(style("    " + commit_line(s.get("commit")), "2" if s.get("commit") else "33"))
    if not steps:
        out.append("(no history)")
    edits = sum(1 for s in steps if s.get("kind") == "hand-edit")
    if edits:
        out.append("")
        out.append(f"{edits} hand edit{'s' if edits > 1 else ''} bypassed sopflow (the state changed without a "
                   "history entry); 'sopflow check' reports what no longer agrees")
    return "\n".join(out)
