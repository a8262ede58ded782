"""Placeholder text matching (the ranked search index replaces this module)."""

from __future__ import annotations


def matches(query: str, text: str) -> bool:
    hay = text.casefold()
    return all(w.casefold() in hay for w in query.split())
