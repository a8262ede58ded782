"""``sopflow log ID``: a ticket's history with, for each step, the commit that made it.

One ``git log -p -U0`` pass over the ticket's file (under every name it has had) gives every commit's added
and removed lines. History entries a commit added (and did not merely move) are matched to the entries of the
current file, the oldest such commit being the one that made an entry; a commit that changed ``state:`` without adding a history entry that leads there is
a hand edit that bypassed sopflow, and is shown as such. Parsing and matching are pure functions of the
``git log`` text, so they are tested without git.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sopflow.core import yamlio

if TYPE_CHECKING:
    from sopflow.project import Project

RS, US = "\x1e", "\x1f"
LOG_FORMAT = f"{RS}%H{US}%an{US}%ae{US}%aI{US}%B{US}"
_STATE = re.compile(r"^state:\s*(.*?)\s*$")
_ITEM = re.compile(r"^([ \t]*)- ")
_FLOW_HISTORY = re.compile(r"^history:\s*\[")
_TRAILER = re.compile(r"^Sopflow-Action:\s*\S", re.MULTILINE)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str
    subject: str
    sopflow: bool  # made by sopflow (carries a Sopflow-Action trailer)

    def as_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "author": self.author, "email": self.email, "date": self.date,
                "subject": self.subject, "sopflow": self.sopflow}


@dataclass
class Patch:
    """What one commit did to the ticket's file (``-U0``: changed lines only)."""

    commit: Commit
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    created: bool = False


@dataclass
class Step:
    """One line of the log: a history entry (``kind == "entry"``) or a hand edit of ``state:``."""

    kind: str  # "entry" | "hand-edit"
    commit: Commit | None
    index: int | None = None  # position of the entry in the ticket's history
    entry: dict[str, Any] | None = None
    state_from: str | None = None
    state_to: str | None = None
    uncommitted: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "entry":
            out.update({"index": self.index, "entry": self.entry})
        else:
            out.update({"from": self.state_from, "to": self.state_to})
        out["commit"] = self.commit.as_json() if self.commit else None
        return out


# ---------------------------------------------------------------- parsing git log output

def parse_git_log(text: str) -> list[Patch]:
    """Patches from ``git log -p -U0 --format=LOG_FORMAT`` output, in the order git printed them (newest
    first). A commit touching several matching files (a rename, seen as a deletion and a creation) gives one
    patch with all their changed lines."""
    patches: list[Patch] = []
    for record in text.split(RS)[1:]:
        parts = record.split(US, 5)
        if len(parts) < 6:
            continue
        sha, author, email, date, message, diff = parts
        message = message.strip("\n")
        subject = message.split("\n", 1)[0]
        patch = Patch(Commit(sha.strip(), author, email, date, subject, bool(_TRAILER.search(message))))
        in_hunk = False
        for raw in diff.split("\n"):
            line = raw[:-1] if raw.endswith("\r") else raw
            if line.startswith("diff --git "):
                in_hunk = False
            elif line.startswith("@@"):
                in_hunk = True
            elif not in_hunk:
                if line.startswith("new file mode") or line == "--- /dev/null":
                    patch.created = True
            elif line.startswith("+"):
                patch.added.append(line[1:])
            elif line.startswith("-"):
                patch.removed.append(line[1:])
        patches.append(patch)
    return patches


def _load(text: str) -> Any:
    try:
        return yamlio.load(text)
    except yamlio.YamlError:
        return None


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [e for e in value if isinstance(e, dict) and "action" in e]


def entries_in(lines: Sequence[str]) -> list[dict[str, Any]]:
    """History entries found in added lines: list items (flow style on one line, or spread over several
    indented lines) and a flow-style ``history: [...]`` list."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FLOW_HISTORY.match(line):
            for j in range(i, min(len(lines), i + 200)):
                got = _load("\n".join(lines[i : j + 1]))
                if isinstance(got, dict):
                    out += _entries(got.get("history"))
                    i = j
                    break
            i += 1
            continue
        m = _ITEM.match(line)
        if not m:
            i += 1
            continue
        indent = len(m.group(1).expandtabs())
        j = i + 1
        while j < len(lines):
            nxt = lines[j]
            lead = len(nxt) - len(nxt.lstrip(" \t"))
            if not nxt.strip() or lead <= indent:
                break
            j += 1
        block = [x[indent:] if len(x) >= indent else x.lstrip() for x in lines[i:j]]
        out += _entries(_load("\n".join(block)))
        i = j
    return out


def state_change(patch: Patch) -> tuple[str | None, str] | None:
    """``(from, to)`` when the commit changed the top-level ``state:`` key (``from`` None at creation)."""
    def value(lines: Sequence[str]) -> str | None:
        for line in lines:
            m = _STATE.match(line)
            if m:
                got = _load(f"k: {m.group(1)}")
                return str(got["k"]) if isinstance(got, dict) and got.get("k") is not None else m.group(1)
        return None

    new = value(patch.added)
    if new is None:
        return None
    old = value(patch.removed)
    if old is None and not patch.created:
        return None  # a 'state:' line added elsewhere (the body), not the key changing
    return (old, new) if old != new else None


def new_entries(patch: Patch) -> list[dict[str, Any]]:
    """Entries the commit added and did not merely move (a rename, or a flow list rewritten as a block
    list, removes and adds the same entries)."""
    gone: dict[str, int] = {}
    for e in entries_in(patch.removed):
        gone[_key(e)] = gone.get(_key(e), 0) + 1
    out = []
    for e in entries_in(patch.added):
        k = _key(e)
        if gone.get(k):
            gone[k] -= 1
        else:
            out.append(e)
    return out


def _key(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)


def match(history: Sequence[Mapping[str, Any]], state: str | None, patches: Sequence[Patch]) -> list[Step]:
    """The steps of the log, oldest first. ``patches`` are in ``git log`` order (newest first)."""
    oldest = list(reversed(patches))
    made_by: dict[str, list[int]] = {}
    added_per_patch: list[list[dict[str, Any]]] = []
    for n, patch in enumerate(oldest):
        found = new_entries(patch)
        added_per_patch.append(found)
        for e in found:
            made_by.setdefault(_key(e), []).append(n)
    steps: list[Step] = []
    where: list[int | None] = []
    for i, entry in enumerate(history):
        got = made_by.get(_key(entry))
        made = got.pop(0) if got else None
        steps.append(Step("entry", oldest[made].commit if made is not None else None, index=i,
                          entry=dict(entry), uncommitted=made is None))
        where.append(made)
    committed_state: str | None = None
    for n, patch in enumerate(oldest):
        change = state_change(patch)
        if change is None:
            continue
        committed_state = change[1]
        if any(e.get("to") == change[1] for e in added_per_patch[n]):
            continue
        edit = Step("hand-edit", patch.commit, state_from=change[0], state_to=change[1])
        after = [k for k, w in enumerate(where) if w is not None and w > n]
        at = after[0] if after else (max((k for k, w in enumerate(where) if w is not None), default=-1) + 1)
        steps.insert(at, edit)
        where.insert(at, n)
    if state is not None:
        last_to = next((e.get("to") for e in reversed(history) if "to" in e), None)
        before = committed_state if committed_state is not None else (last_to if not patches else None)
        recorded = any(s.uncommitted and s.entry and s.entry.get("to") == state for s in steps)
        if before != state and not recorded and last_to != state:
            steps.append(Step("hand-edit", None, state_from=before, state_to=state, uncommitted=True))
    return steps


# ---------------------------------------------------------------- the use case

def pathspecs(tickets_dir: str, ticket_id: str, rel: str) -> list[str]:
    """Every file name the ticket may have had (``ID.md``, ``ID-slug.md`` …) in the tickets folder, and its
    current path. Following names rather than ``--follow``'s similarity guess keeps a ticket's log from
    wandering into a similar file (a ticket is mostly its SOP's checklist) and sees renames on merged
    branches; a rename reads as a deletion plus a creation, and an entry belongs to the oldest commit
    that added it, so renames change nothing."""
    base = re.sub(r"([*?\\[\]])", r"\\\1", tickets_dir.strip("/"))
    return [f":(glob){base}/{ticket_id}.md", f":(glob){base}/{ticket_id}[-_. ]*.md", f":(literal){rel}"]


def ticket_log(p: Project, ticket_id: str) -> dict[str, Any]:
    """``{"id", "path", "title", "state", "steps": [step…]}``; a step is
    ``{"kind": "entry", "index", "entry", "commit"}`` or ``{"kind": "hand-edit", "from", "to", "commit"}``,
    ``commit`` being ``{"sha", "author", "email", "date", "subject", "sopflow"}`` or null (not committed)."""
    from sopflow.adapters import gitrepo

    t = p.load(ticket_id)
    out = gitrepo.run(p.root, "-c", "core.quotepath=false", "log", "-p", "-U0", "--no-renames", "--no-color",
                      "--no-ext-diff", "--no-textconv", "--no-show-signature", f"--format={LOG_FORMAT}", "--",
                      *pathspecs(p.config.paths["tickets"], t.id, t.rel), check=False)
    patches = parse_git_log(out)
    for patch in patches:  # commit dates in the project's time zone, like the history entries
        c = patch.commit
        try:
            local = datetime.fromisoformat(c.date).astimezone(p.tz).isoformat()
        except ValueError:
            continue
        patch.commit = Commit(c.sha, c.author, c.email, local, c.subject, c.sopflow)
    steps = match(t.history, t.state or None, patches)
    return {"id": t.id, "path": t.rel, "title": t.data.get("title"), "state": t.data.get("state"),
            "steps": [s.as_json() for s in steps]}
