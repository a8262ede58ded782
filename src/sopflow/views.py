"""Read-side use cases shared by list, board and inbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sopflow.core.query import Criteria, matches

if TYPE_CHECKING:
    from sopflow.project import Project


def select(p: Project, c: Criteria, *, text: str | None = None,
           keys: Iterable[str] | None = None) -> list[Mapping[str, Any]]:
    """Excerpts matching ``c`` (and ``text``). With ``keys`` (the keys the caller reads besides the reserved
    ones, e.g. sort keys), the excerpts may lack history and long free text elsewhere: faster to load."""
    def final(d: Mapping[str, Any]) -> bool:
        return not p.is_open(dict(d))

    if keys is not None and not c.extra:
        from sopflow.index import load_heads

        source = load_heads(p, [*keys, *(k for k, _ in c.where)])
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
