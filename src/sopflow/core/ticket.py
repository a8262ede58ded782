"""A ticket: a front-matter Document plus where it lives. Pure: reading and editing happen in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sopflow.core.frontmatter import Document

FRONT_ORDER = (
    "id", "type", "title", "state", "priority", "assignee", "reporter",
    "roles", "labels", "links", "created", "updated",
)


@dataclass
class Ticket:
    rel: str  # repository-relative path with '/'
    doc: Document

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def state(self) -> str:
        return str(self.data.get("state", ""))

    @property
    def history(self) -> list[dict[str, Any]]:
        h = self.data.get("history")
        return [e for e in h if isinstance(e, dict)] if isinstance(h, list) else []

    @property
    def links(self) -> dict[str, Any]:
        links = self.data.get("links")
        return links if isinstance(links, dict) else {}

    def as_json(self, with_body: bool = True) -> dict[str, Any]:
        out = dict(self.data)
        out["path"] = self.rel
        if with_body:
            out["body"] = self.doc.body
        return out


def wiki_links(data: dict[str, Any]) -> list[str]:
    links = data.get("links")
    if not isinstance(links, dict):
        return []
    w = links.get("wiki")
    if isinstance(w, str):
        return [w]
    return [str(x) for x in w] if isinstance(w, list) else []


def relates(data: dict[str, Any]) -> list[str]:
    links = data.get("links")
    if not isinstance(links, dict):
        return []
    r = links.get("relates")
    if isinstance(r, str):
        return [r]
    return [str(x) for x in r] if isinstance(r, list) else []


def parent(data: dict[str, Any]) -> str | None:
    links = data.get("links")
    if not isinstance(links, dict):
        return None
    p = links.get("parent")
    return str(p) if p else None
