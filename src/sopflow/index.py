"""The read path behind list, board, inbox: front-matter excerpts of every ticket.

For now each call parses the ticket files; the cache keyed by file identity plugs in here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopflow.project import Project


def load_excerpts(project: Project) -> list[dict[str, Any]]:
    from sopflow.errors import SopflowError

    out: list[dict[str, Any]] = []
    for p in project.ticket_paths():
        try:
            t = project.read_ticket(p)
        except SopflowError:
            continue
        d = dict(t.data)
        d["path"] = t.rel
        out.append(d)
    return out
