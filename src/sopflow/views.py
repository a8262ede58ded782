"""Read-side use cases shared by list, board and inbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sopflow.core.query import Criteria, matches

if TYPE_CHECKING:
    from sopflow.project import Project


def select(p: Project, c: Criteria, *, text: str | None = None, heads: bool = False) -> list[Mapping[str, Any]]:
    """Excerpts matching ``c`` (and ``text``). With ``heads``, excerpts may lack ``history`` (faster to load)."""
    def final(d: Mapping[str, Any]) -> bool:
        return not p.is_open(dict(d))

    if heads and not c.extra and all(k != "history" for k, _ in c.where):
        from sopflow.index import load_heads

        source = load_heads(p)
    else:
        source = p.excerpts()
    items: list[Mapping[str, Any]] = [d for d in source if matches(d, c, final)]
    if text and text.strip():
        from sopflow.index import text_filter

        items = text_filter(p, items, text)
    return items


def _text_match(p: Project, d: Mapping[str, Any], text: str) -> bool:
    from sopflow.core.search import matches as text_matches

    hay = str(d.get("title", ""))
    if text_matches(text, hay):
        return True
    body = d.get("body")
    if body is None:
        try:
            body = p.read_ticket(p.root / str(d["path"])).doc.body
        except Exception:
            return False
    return text_matches(text, f"{hay}\n{body}")
