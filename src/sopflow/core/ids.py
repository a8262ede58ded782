"""Ticket IDs: ``<prefix>-<n>``, and file names that start with one."""

from __future__ import annotations

import re

ID_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-([0-9]+)$")
_FILE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*-[0-9]+)(?![0-9])(?:[-_. ].*)?\.md$")


MAX_ID_LENGTH = 64  # longer is not an ID but an attack on file-name and integer limits


def is_valid_id(text: str) -> bool:
    return len(text) <= MAX_ID_LENGTH and bool(ID_RE.fullmatch(text))


def split_id(ticket_id: str) -> tuple[str, int]:
    m = ID_RE.fullmatch(ticket_id)
    if not m:
        raise ValueError(ticket_id)
    return m.group(1), int(m.group(2))


def id_from_filename(name: str) -> str | None:
    m = _FILE_RE.match(name)
    return m.group(1) if m else None


def slugify(title: str, limit: int = 40) -> str:
    """An ASCII slug for a file name (empty for titles with non-ASCII letters, e.g. Chinese)."""
    if any(not c.isascii() and c.isalpha() for c in title):
        return ""  # a Chinese (or other non-ASCII) title: the ID alone names the file
    words = re.findall(r"[A-Za-z0-9]+", title.lower())
    slug = ""
    for w in words:
        nxt = f"{slug}-{w}" if slug else w
        if len(nxt) > limit:
            break
        slug = nxt
    return slug
