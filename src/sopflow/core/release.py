"""Release notes, pure part: commit records and ticket files in, the release-notes object out.

Nothing here runs git or reads files; the git adapter (``adapters/gitlog.py``) feeds it plain records and
:mod:`sopflow.release_notes` glues the two.

Rules (SPEC section 5):

* A commit belongs to a ticket through a ``Sopflow-Ticket:`` trailer or a ticket ID anywhere in its message.
  The ID pattern is built from the workflows' prefixes, so ``ISS-12`` matches and ``ISS-12x``, ``XISS-12``
  do not (``ISS-12修复`` does: only ASCII letters and digits glue onto an ID).
* A ticket *shipped* in the range when a history entry moving it into a final state of its type was added
  by the range and is still there at its end (so a reverted closure does not count), and the ticket is in
  a final state at the end of the range. The entries come from a ``-U0`` diff of the tickets folder between
  the range's ends (:func:`final_entries_from_diff`).
* A commit that is reverted by another commit of the range cancels out with it (:func:`cancelled_by_reverts`).
* Commits that name no ticket are kept as ``other_commits`` with their conventional-commit kind and a
  ``breaking`` flag (``feat!:`` or a ``BREAKING CHANGE:`` line).

Lists are in chronological order (oldest first); tickets are sorted by type (workflow order), then ID.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

RESERVED_KEYS = frozenset(
    [
        "id",
        "type",
        "title",
        "state",
        "priority",
        "assignee",
        "reporter",
        "roles",
        "labels",
        "links",
        "created",
        "updated",
        "history",
    ]
)

# what the notes never show of a ticket's front matter: the reserved keys but type, title, state, priority
# and labels (build_notes reads those, and every other key as a field)
UNREAD_KEYS = RESERVED_KEYS - {"type", "title", "state", "priority", "labels"}

KIND_TITLES: dict[str, str] = {
    "feat": "Features",
    "fix": "Bug fixes",
    "perf": "Performance",
    "refactor": "Refactoring",
    "revert": "Reverts",
    "docs": "Documentation",
    "style": "Style",
    "test": "Tests",
    "build": "Build",
    "ci": "Continuous integration",
    "chore": "Chores",
}
OTHER_TITLE = "Other changes"

_CONVENTIONAL = re.compile(r"([A-Za-z]+)(?:\(([^()\n]*)\))?(!)?:[ \t]+(.*)", re.DOTALL)
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,64})")
_TRAILER_TICKET = re.compile(
    r"^[ \t]*Sopflow-Ticket:[ \t]*([A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*-\d+)[ \t]*$", re.MULTILINE
)
_TRAILER_ACTION = re.compile(r"^[ \t]*Sopflow-Action:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_ANY_ID = re.compile(r"([A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z][A-Za-z0-9_]*)*-\d+)(?!\d)")


class Commit(NamedTuple):
    """One commit as ``git log`` reports it. ``date`` is the committer date (ISO 8601);
    ``subject`` is the first paragraph on one line, ``body`` the rest of the message ("" if none)."""

    sha: str
    author: str
    email: str
    date: str
    subject: str
    body: str = ""


# Records are NamedTuples: immutable, typed, and cheap to define and build (no dataclasses import on
# the release-notes path, which starts a process per run).


class WorkflowInfo(NamedTuple):
    """What release notes need of a workflow."""

    type: str
    title: str
    prefix: str
    final_states: frozenset[str]
    fields: Mapping[str, Mapping[str, Any]] = {}  # shared, never mutated


class TicketMeta(NamedTuple):
    """A ticket as its file stands at the end of the range."""

    id: str
    path: str
    type: str
    title: str
    state: str | None
    front: Mapping[str, Any]


class FinalEntry(NamedTuple):
    """A history entry, added in the range, that moved a ticket into a final state."""

    ticket: str
    to: str
    at: str | None
    by: str | None
    action: str | None


# --------------------------------------------------------------------------- workflows and ticket files


def parse_workflow(data: object, stem: str) -> WorkflowInfo | None:
    """Read a loaded ``workflows/<type>.yaml``; ``None`` when it has no usable ``prefix``."""
    if not isinstance(data, dict):
        return None
    prefix = data.get("prefix")
    if not isinstance(prefix, str) or not re.fullmatch(
        r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z][A-Za-z0-9_]*)*", prefix
    ):
        return None
    states = data.get("states")
    finals: set[str] = set()
    if isinstance(states, dict):
        finals = {str(k) for k, v in states.items() if isinstance(v, dict) and v.get("final") is True}
    fields = data.get("fields")
    field_meta: dict[str, dict[str, Any]] = {}
    if isinstance(fields, dict):
        for key, spec in fields.items():
            if isinstance(spec, dict):
                meta: dict[str, Any] = {"label": str(spec.get("label") or key)}
                choices = spec.get("choices")
                if isinstance(choices, list):
                    meta["choices"] = [str(c) for c in choices]
                field_meta[str(key)] = meta
    title = data.get("title")
    return WorkflowInfo(
        type=str(data.get("type") or stem),
        title=str(title) if title else str(data.get("type") or stem),
        prefix=prefix,
        final_states=frozenset(finals),
        fields=field_meta,
    )


def id_regex(prefixes: Iterable[str]) -> re.Pattern[str] | None:
    """The pattern of ticket IDs with these prefixes: ``ISS-12`` matches, ``ISS-12x`` and ``XISS-12`` do not."""
    alts = sorted({re.escape(p) for p in prefixes if p}, key=lambda p: (-len(p), p))
    if not alts:
        return None
    return re.compile(r"(?<![A-Za-z0-9_-])(?:" + "|".join(alts) + r")-\d+(?![A-Za-z0-9_])")


def id_from_path(path: str, id_re: re.Pattern[str] | None) -> str | None:
    """``tickets/ISS-12-some-slug.md`` → ``ISS-12``: the ID that starts the file name (``.md`` files only)."""
    name = path.rsplit("/", 1)[-1]
    if not name.endswith(".md"):
        return None
    if id_re is not None:
        m = id_re.match(name)
        if m and not name[m.end() : m.end() + 1].isdigit():
            return m.group(0)
    m = _ANY_ID.match(name)
    return m.group(1) if m else None


# both start with a literal "\n", which lets the regex engine skip ahead fast (a front matter with its
# history is a few kilobytes, and the notes of a long range read hundreds of them)
_FENCE = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\r?$)")
_NEXT_TOP_LEVEL_KEY = re.compile(r"\n[^\s#-]")


def split_front_matter(text: str) -> str | None:
    """The YAML between the leading ``---`` line and the next ``---`` (or ``...``) line, or ``None``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        return None
    start = text.index("\n")
    m = _FENCE.search(text, start)
    return text[start + 1 : m.start() + 1] if m else None


def drop_history(front: str) -> str:
    """The front matter without its ``history:`` block (it is long, and release notes read it from diffs)."""
    if front.startswith("history:"):
        idx = 0
    else:
        idx = front.find("\nhistory:") + 1
        if idx == 0:
            return front
    m = _NEXT_TOP_LEVEL_KEY.search(front, idx)
    return front[:idx] + (front[m.start() + 1 :] if m else "")


def ticket_meta(
    ticket_id: str, path: str, loaded: object, workflows_by_prefix: Mapping[str, WorkflowInfo]
) -> TicketMeta:
    """A :class:`TicketMeta` from the loaded front matter (anything; a broken file still yields a record)."""
    front: dict[str, Any] = dict(loaded) if isinstance(loaded, dict) else {}
    wf = workflows_by_prefix.get(ticket_id.rsplit("-", 1)[0])
    ttype = front.get("type")
    title = front.get("title")
    state = front.get("state")
    return TicketMeta(
        id=ticket_id,
        path=path,
        type=str(ttype) if ttype else (wf.type if wf else ""),
        title=str(title) if title not in (None, "") else ticket_id,
        state=str(state) if state is not None else None,
        front=front,
    )


# --------------------------------------------------------------------------- commit messages


def conventional(subject: str, body: str = "") -> tuple[str | None, str | None, bool, str]:
    """``(kind, scope, breaking, description)`` of a conventional-commit subject (kind ``None`` if it is not one)."""
    breaking = "BREAKING" in body and _BREAKING.search(body) is not None
    m = _CONVENTIONAL.match(subject)
    if m is None:
        if subject.startswith('Revert "'):
            return "revert", None, breaking, subject
        return None, None, breaking, subject
    return m.group(1).lower(), m.group(2), breaking or m.group(3) is not None, m.group(4)


def ticket_ids(subject: str, body: str, id_re: re.Pattern[str] | None) -> list[str]:
    """IDs the message names: ``Sopflow-Ticket:`` trailers, then IDs in subject and body, each once."""
    found: list[str] = []
    if "Sopflow-Ticket:" in body:
        found.extend(_TRAILER_TICKET.findall(body))
    if id_re is not None:
        found.extend(id_re.findall(subject))
        if body:
            found.extend(id_re.findall(body))
    if len(found) > 1:
        return list(dict.fromkeys(found))
    return found


def trailer_action(body: str) -> str | None:
    """The last ``Sopflow-Action:`` trailer value of a message body."""
    if "Sopflow-Action:" not in body:
        return None
    found = _TRAILER_ACTION.findall(body)
    return found[-1] if found else None


def cancelled_by_reverts(commits: Iterable[Commit]) -> set[str]:
    """SHAs of commits that cancel out: a revert and the commit it reverts, both in ``commits``.

    ``commits`` is in chronological order (oldest first). A revert of a revert brings the original back.
    """
    shas: list[str] = []
    reverts: list[tuple[str, str]] = []
    for c in commits:
        shas.append(c.sha)
        target = reverted_sha(c.body)
        if target:
            reverts.append((c.sha, target))
    return _cancel(set(shas), reverts)


def reverted_sha(body: str) -> str | None:
    """The commit a ``git revert`` message says it reverts (``This reverts commit <sha>.``)."""
    if "This reverts commit " not in body:
        return None
    m = _REVERTS.search(body)
    return m.group(1) if m else None


def _cancel(shas: set[str], reverts: list[tuple[str, str]]) -> set[str]:
    """``reverts``: ``(revert sha, reverted sha or prefix)`` in chronological order."""
    cancelled: set[str] = set()
    partner: dict[str, str] = {}
    for rev, target in reverts:
        full = target if target in shas else next((s for s in shas if s.startswith(target)), None)
        if full is None:
            continue  # it reverts a commit outside the range: it stays, as a change of its own
        if full in cancelled:
            # reverting a revert that had cancelled an earlier commit: that commit is back
            original = partner.get(full)
            if original is not None and original in cancelled and partner.get(original) == full:
                cancelled.discard(original)
            cancelled.add(rev)
        else:
            cancelled.update((full, rev))
            partner[full] = rev
            partner[rev] = full
    return cancelled


# --------------------------------------------------------------------------- history entries from a diff


class FileSide(NamedTuple):
    """What a change of one ticket file shows, as ``git diff -U0`` would: ``kind`` ``"+"`` (``text`` is the
    whole file, added), ``"-"`` (the whole file, removed) or ``"@"`` (``text`` is the hunks of a modified
    file: ``@@`` lines and ``+``/``-`` lines). A text file added or removed whole is shown by git as its
    every line with ``+`` or ``-``; handing over the file itself spares a diff of the whole tickets folder."""

    path: str
    kind: str
    text: str


def final_entries_from_diff(
    diff_text: str,
    id_of_path: Callable[[str], str | None],
    finals_of: Callable[[str], frozenset[str]],
    load_yaml: Callable[[str], object],
) -> dict[str, list[FinalEntry]]:
    """History entries into a final state that a ``git diff -U0`` of the tickets folder adds, per ticket
    (see :func:`final_entries`)."""
    return final_entries(diff_sides(diff_text), id_of_path, finals_of, load_yaml)


def diff_sides(diff_text: str) -> Iterator[FileSide]:
    """The file sections of a ``git diff -U0``, as ``"@"`` sides (sections without hunks are left out)."""
    for section in diff_text.split("\ndiff --git "):
        head_end = section.find("\n@@")
        if head_end < 0:
            continue
        path: str | None = None
        for line in section[:head_end].split("\n"):
            if line.startswith(("--- ", "+++ ")):
                path = _diff_path(line[4:]) or path
        if path is not None:
            yield FileSide(path, "@", section[head_end + 1 :])


def final_entries(
    sides: Iterable[FileSide],
    id_of_path: Callable[[str], str | None],
    finals_of: Callable[[str], frozenset[str]],
    load_yaml: Callable[[str], object],
) -> dict[str, list[FinalEntry]]:
    """History entries into a final state that the changes of the tickets folder add, per ticket.

    ``sides`` are the files in ``git diff`` order. An entry (``  - {at: …, to: 关闭}``, possibly wrapped over
    several lines) counts +1 where it is added and -1 where it is removed, per ticket ID and
    whitespace-normalised text, so a renamed file (removed and added whole) and a closure that was added
    and reverted both net to nothing. (:func:`entry_hits` per file, then :func:`net_final_entries`: the
    first can run in parallel.)
    """
    found: list[tuple[str, list[EntryHit]]] = []
    for side in sides:
        tid = id_of_path(side.path)
        if tid is None:
            continue
        finals = finals_of(tid)
        if finals:
            found.append((tid, entry_hits(side, finals, load_yaml)))
    return net_final_entries(found, finals_of)


# (whitespace-normalised text, +1 added or -1 removed, the entry as loaded or None if it is not one):
# a plain tuple, so that a worker process can send it back with marshal
EntryHit = tuple[str, int, "dict[str, Any] | None"]
_FINDERS: dict[frozenset[str], re.Pattern[str]] = {}


def entry_hits(side: FileSide, finals: frozenset[str], load_yaml: Callable[[str], object]) -> list[EntryHit]:
    """The history entries of one file side that mention one of ``finals``, in file order."""
    rx = _FINDERS.get(finals)
    if rx is None:
        rx = _FINDERS[finals] = re.compile("|".join(re.escape(f) for f in sorted(finals, key=len, reverse=True)))
    body = side.text
    in_diff = side.kind == "@"
    entry_at, start_at, continued_at = (
        (_DIFF_ENTRY.match, _ENTRY_START.match, _CONTINUATION.match)
        if in_diff
        else (_FILE_ENTRY.match, _FILE_ENTRY_START.match, _FILE_CONTINUATION.match)
    )
    sign = 0 if in_diff else (1 if side.kind == "+" else -1)
    hits: list[EntryHit] = []
    loaded: dict[str, dict[str, Any] | None] = {}
    seen: set[int] = set()
    # Work from the places where a final state's name occurs (a few per ticket), not line by line: a
    # ticket file or a diff of a long history has many lines and only these matter.
    for hit in rx.finditer(body):
        start = _entry_start(body, hit.start(), start_at, continued_at)
        if start < 0 or start in seen:
            continue
        m = entry_at(body, start)
        if m is None or m.end() < hit.end():
            continue
        seen.add(start)
        raw = m.group(0)
        text = "\n".join(line[1:] for line in raw.split("\n")) if in_diff else raw
        if "to" not in text:
            continue
        item = loaded[text] if text in loaded else loaded.setdefault(text, _load_entry(text, load_yaml))
        hits.append((" ".join(text.split()), sign or (1 if raw[0] == "+" else -1), item))
    return hits


def net_final_entries(
    found: Iterable[tuple[str, list[EntryHit]]], finals_of: Callable[[str], frozenset[str]]
) -> dict[str, list[FinalEntry]]:
    """Add up :func:`entry_hits` (per ticket ID, in ``git diff`` order) into the entries that stay added.

    An entry is known by its ticket and normalised text; it is read as the first of its occurrences that
    loads, and counted from that one on.
    """
    net: dict[tuple[str, str], int] = {}
    parsed: dict[tuple[str, str], dict[str, Any]] = {}
    for tid, hits in found:
        for norm, delta, item in hits:
            key = (tid, norm)
            if key not in parsed:
                if item is None:
                    continue
                parsed[key] = item
            net[key] = net.get(key, 0) + delta

    result: dict[str, list[FinalEntry]] = {}
    for key, count in net.items():
        if count <= 0:
            continue
        tid = key[0]
        item = parsed[key]
        to = item.get("to")
        if to is None or str(to) not in finals_of(tid):
            continue
        result.setdefault(tid, []).append(
            FinalEntry(
                ticket=tid,
                to=str(to),
                at=_text(item.get("at")),
                by=_text(item.get("by")),
                action=_text(item.get("action")),
            )
        )
    for entries in result.values():
        entries.sort(key=lambda e: e.at or "")
    return result


# an added or removed history entry in a -U0 diff: "+  - {…}" and its deeper-indented continuation lines
_DIFF_ENTRY = re.compile(r"([+-])([ \t]*)- [^\n]*(?:\n\1\2[ \t]+\S[^\n]*)*")
_ENTRY_START = re.compile(r"[+-][ \t]*- ")
_CONTINUATION = re.compile(r"[+-][ \t]+\S")
# the same in a whole file (every line of it added or removed)
_FILE_ENTRY = re.compile(r"([ \t]*)- [^\n]*(?:\n\1[ \t]+\S[^\n]*)*")
_FILE_ENTRY_START = re.compile(r"[ \t]*- ")
_FILE_CONTINUATION = re.compile(r"[ \t]+\S")


def _entry_start(
    body: str,
    pos: int,
    start_at: Callable[[str, int], re.Match[str] | None],
    continued_at: Callable[[str, int], re.Match[str] | None],
) -> int:
    """Offset of the line starting the history entry that holds ``pos``, or -1 if it is in none."""
    start = body.rfind("\n", 0, pos) + 1
    for _ in range(64):
        if start_at(body, start):
            return start
        if start == 0 or not continued_at(body, start):
            return -1
        start = body.rfind("\n", 0, start - 1) + 1
    return -1


def _diff_path(raw: str) -> str | None:
    raw = raw.rstrip("\r").split("\t", 1)[0]
    if raw == "/dev/null":
        return None
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    if raw.startswith(("a/", "b/")):
        raw = raw[2:]
    return raw


def _load_entry(text: str, load_yaml: Callable[[str], object]) -> dict[str, Any] | None:
    item = _plain_flow_entry(text)
    if item is not None:
        return item
    lines = text.split("\n")
    indent = len(lines[0]) - len(lines[0].lstrip())
    try:
        data = load_yaml(
            "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip() for line in lines)
        )
    except Exception:  # a fragment that is not YAML is simply not a history entry
        return None
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        item = data[0]
        if "to" in item and ("action" in item or "at" in item):
            return item
    return None


_NOT_PLAIN = re.compile(r"['\"\[\]{}#&*!|>%@`]")


def _plain_flow_entry(text: str) -> dict[str, Any] | None:
    """Fast path for the usual entry, a flow mapping of plain scalars: ``- {at: …, by: alice, to: 关闭}``.

    Anything else (quotes, nesting, comments, …) returns ``None`` and goes to the YAML parser.
    """
    joined = " ".join(text.split())
    if not (joined.startswith("- {") and joined.endswith("}")):
        return None
    inner = joined[3:-1]
    if _NOT_PLAIN.search(inner):
        return None
    item: dict[str, Any] = {}
    for part in inner.split(","):
        key, colon, value = part.partition(":")
        key = key.strip()
        if not colon or not key or " " in key:
            return None
        value = value.strip()
        item[key] = None if value in ("", "~", "null", "Null", "NULL") else value
    if "to" in item and ("action" in item or "at" in item):
        return item
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return str(value)


def json_safe(value: object) -> Any:
    """Front-matter values as JSON values: dates and times become ISO strings."""
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --------------------------------------------------------------------------- the release-notes object


class Classified(NamedTuple):
    """The range's commits, split: per ticket, and those that name no ticket (both oldest first)."""

    by_ticket: dict[str, list[dict[str, Any]]]
    other: list[dict[str, Any]]
    commit_count: int


def classify_commits(
    commits: Iterable[Commit], id_re: re.Pattern[str] | None, prefixes: Iterable[str] | None = None
) -> Classified:
    """Split commits given newest first (as ``git log`` writes them, consumed as they arrive) into
    per-ticket lists and the commits that name no ticket; a commit and its revert both leave.

    ``prefixes`` (those ``id_re`` was built from) let messages that cannot hold an ID skip the regex.
    This loop runs once per commit of the range (tens of thousands): it is written for speed.
    """
    by_ticket: dict[str, list[dict[str, Any]]] = {}
    other: list[dict[str, Any]] = []
    reverts: list[tuple[str, str]] = []
    # cheap substring tests first: most messages name no ticket, carry no trailer and revert nothing
    needles = tuple(p + "-" for p in prefixes) if prefixes is not None else ("",)
    findall = id_re.findall if id_re is not None else None
    conv = _CONVENTIONAL.match
    count = 0
    for c in commits:
        sha, author, _email, date, subject, body = c
        count += 1
        ids: list[str] = []
        if findall is not None:
            for needle in needles:
                if needle in subject:
                    ids = findall(subject)
                    break
        if body:
            if "Sopflow-Ticket:" in body:
                ids = ids + _TRAILER_TICKET.findall(body)
            if findall is not None:
                for needle in needles:
                    if needle in body:
                        ids = ids + findall(body)
                        break
            if "This reverts commit " in body:
                target = reverted_sha(body)
                if target:
                    reverts.append((sha, target))
        if ids:
            rec: dict[str, Any] = {
                "sha": sha,
                "subject": subject,
                "author": author,
                "date": date,
                "action": trailer_action(body) if body else None,
            }
            for tid in dict.fromkeys(ids) if len(ids) > 1 else ids:
                lst = by_ticket.get(tid)
                if lst is None:
                    by_ticket[tid] = [rec]
                else:
                    lst.append(rec)
            continue
        breaking = "BREAKING" in body and _BREAKING.search(body) is not None
        m = conv(subject)
        if m is not None:
            kind_raw, scope, bang, desc = m.groups()
            kind: str | None = kind_raw.lower()
            breaking = breaking or bang is not None
        else:
            kind, scope, desc = ("revert" if subject.startswith('Revert "') else None), None, subject
        other.append(
            {
                "sha": sha,
                "subject": subject,
                "author": author,
                "kind": kind,
                "breaking": breaking,
                "scope": scope,
                "description": desc,
                "date": date,
            }
        )
    # chronological order: oldest first
    other.reverse()
    for lst in by_ticket.values():
        lst.reverse()
    if reverts:
        cancelled = _cancel(
            {r["sha"] for r in other} | {r["sha"] for lst in by_ticket.values() for r in lst}, reverts[::-1]
        )
        if cancelled:
            other = [r for r in other if r["sha"] not in cancelled]
            for tid in list(by_ticket):
                kept = [r for r in by_ticket[tid] if r["sha"] not in cancelled]
                if kept:
                    by_ticket[tid] = kept
                else:
                    del by_ticket[tid]
            count -= len(cancelled)
    return Classified(by_ticket=by_ticket, other=other, commit_count=count)


def changed_ids(diff_text: str, id_of_path: Callable[[str], str | None]) -> set[str]:
    """IDs of the ticket files a ``git diff`` touches (added, changed, removed or renamed)."""
    found: set[str] = set()
    for line in diff_text.split("\n"):
        if line.startswith(("--- ", "+++ ")):
            path = _diff_path(line[4:])
            tid = id_of_path(path) if path else None
            if tid:
                found.add(tid)
    return found


def ticket_records(
    finals: Mapping[str, list[FinalEntry]],
    metas: Mapping[str, TicketMeta],
    workflows: Iterable[WorkflowInfo],
    tids: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The entries of ``tickets`` in the notes for ``tids`` (default: the tickets ``finals`` ship), but for
    what the commits tell: ``commits`` is empty and ``entered_final_by`` null until :func:`build_notes` fills
    them in. (Nothing here needs the log: release_notes builds them while git walks the history.)"""
    wfs = list(workflows)
    by_type = {w.type: w for w in wfs}
    by_prefix = {w.prefix: w for w in wfs}
    reserved = RESERVED_KEYS
    records: dict[str, dict[str, Any]] = {}
    for tid in finals if tids is None else tids:
        meta = metas.get(tid)
        prefix = tid.rsplit("-", 1)[0]
        entries = finals.get(tid)
        last = None
        if entries and meta is not None and meta.state is not None:
            wf = by_type.get(meta.type) or by_prefix.get(prefix)
            if wf is not None and meta.state in wf.final_states:
                last = entries[-1]
        if tids is None and last is None:
            continue
        if meta is not None:
            front, ttype, title = meta.front, meta.type, meta.title
        else:
            wf = by_prefix.get(prefix)
            front, ttype, title = {}, wf.type if wf else "", tid
        note = front.get("release_note")
        priority = front.get("priority")
        labels = front.get("labels")
        records[tid] = {
            "id": tid,
            "type": ttype,
            "title": title,
            "release_note": str(note).strip() if note not in (None, "") else title,
            "commits": [],
            "path": meta.path if meta else None,
            "state": meta.state if meta else None,
            "shipped": last is not None,
            "entered_final_at": last.at if last else None,
            "entered_final_by": None,
            "priority": priority if type(priority) is str else json_safe(priority),
            "labels": json_safe(labels) if isinstance(labels, list) else [],
            "fields": {k: v if type(v) is str else json_safe(v) for k, v in front.items() if k not in reserved},
        }
    return records


def build_notes(
    *,
    range_label: str,
    classified: Classified,
    finals: Mapping[str, list[FinalEntry]],
    metas: Mapping[str, TicketMeta],
    workflows: Iterable[WorkflowInfo],
    changed_tickets: Iterable[str] = (),
    all_touched: bool = False,
    extra: Mapping[str, Any] | None = None,
    records: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The release-notes object (SPEC 3, ``release-notes --format json``), plus documented extra keys.

    ``records``: :func:`ticket_records` of the same ``finals`` and ``metas``, made earlier (else made here).
    """
    wfs = list(workflows)
    type_order = {w.type: i for i, w in enumerate(wfs)}
    made = dict(records) if records is not None else ticket_records(finals, metas, wfs)
    if all_touched:
        more = (set(classified.by_ticket) | set(changed_tickets)) - set(made)
        made.update(ticket_records(finals, metas, wfs, sorted(more)))

    by_ticket = classified.by_ticket
    tickets: list[dict[str, Any]] = []
    for tid, rec in made.items():
        commits = by_ticket.get(tid, [])
        action = finals[tid][-1].action if rec["shipped"] else None
        by_sha = None
        if action:  # the newest commit of the ticket that took the action of its entry into a final state
            for c in reversed(commits):
                if c["action"] == action:
                    by_sha = c["sha"]
                    break
        rec["commits"] = commits
        rec["entered_final_by"] = by_sha
        tickets.append(rec)
    n = len(wfs)
    tickets.sort(key=lambda t: (type_order.get(t["type"], n), t["type"], *_id_key(t["id"])))

    notes: dict[str, Any] = {"range": range_label}
    if extra:
        notes.update(extra)
    notes.update(
        {
            "tickets": tickets,
            "other_commits": classified.other,
            "commit_count": classified.commit_count,
            "types": [
                {
                    "type": w.type,
                    "title": w.title,
                    "prefix": w.prefix,
                    "final_states": sorted(w.final_states),
                    "fields": {k: dict(v) for k, v in w.fields.items()},
                }
                for w in wfs
            ],
        }
    )
    return notes


def _id_key(tid: str) -> tuple[str, int]:
    prefix, _, num = tid.rpartition("-")
    return prefix, int(num) if num.isdigit() else 0


# --------------------------------------------------------------------------- template context


def template_context(notes: Mapping[str, Any], group_by: str | None = None) -> dict[str, Any]:
    """What a release-notes template sees (documented in ``docs`` and the built-in template).

    * ``notes`` — the ``--format json`` object, unchanged;
    * ``ticket_sections`` — ``[{type, title, groups: [{value, label, tickets}]}]``: shipped (or touched)
      tickets by type in workflow order, then by the ``group_by`` field (one group with ``value`` none
      when not grouping; a ``multi`` field puts a ticket in each of its values' groups);
    * ``breaking`` — the ``other_commits`` flagged breaking;
    * ``commit_sections`` — ``[{kind, title, commits}]``: the other non-breaking commits by kind
      (feat, fix, perf, … in that order, unknown kinds alphabetically, commits with no kind last);
    * ``group_by`` and ``group_label`` — the grouping field's key and label (or none).
    """
    types = {t["type"]: t for t in notes.get("types", [])}
    sections: list[dict[str, Any]] = []
    group_label: str | None = None
    for ticket in notes.get("tickets", []):
        if not sections or sections[-1]["type"] != ticket["type"]:
            info = types.get(ticket["type"], {})
            sections.append(
                {
                    "type": ticket["type"],
                    "title": info.get("title") or ticket["type"] or "Tickets",
                    "tickets": [],
                }
            )
        sections[-1]["tickets"].append(ticket)
    for sec in sections:
        info = types.get(sec["type"], {})
        meta = info.get("fields", {}).get(group_by, {}) if group_by else {}
        if group_by and meta.get("label") and group_label is None:
            group_label = meta["label"]
        sec["groups"] = _group(sec.pop("tickets"), group_by, meta.get("choices") or [])
    other = list(notes.get("other_commits", []))
    breaking = [c for c in other if c.get("breaking")]
    kinds: dict[str | None, list[dict[str, Any]]] = {}
    for c in other:
        if not c.get("breaking"):
            kinds.setdefault(c.get("kind"), []).append(c)
    order = list(KIND_TITLES)

    def kind_key(k: str | None) -> tuple[int, str]:
        if k is None:
            return (2, "")
        return (0, f"{order.index(k):03d}") if k in KIND_TITLES else (1, k)

    commit_sections = [
        {"kind": k, "title": KIND_TITLES.get(k, k.capitalize()) if k else OTHER_TITLE, "commits": kinds[k]}
        for k in sorted(kinds, key=kind_key)
    ]
    return {
        "notes": notes,
        "ticket_sections": sections,
        "breaking": breaking,
        "commit_sections": commit_sections,
        "group_by": group_by,
        "group_label": group_label or group_by,
    }


def known_field(notes: Mapping[str, Any], key: str) -> bool:
    """Whether ``key`` can group tickets: a field of some workflow, a key some ticket has, or a
    ticket attribute (``priority``, ``labels``, ``state``, ``type``)."""
    if key in ("priority", "labels", "state", "type"):
        return True
    if any(key in t.get("fields", {}) for t in notes.get("types", [])):
        return True
    return any(key in t.get("fields", {}) for t in notes.get("tickets", []))


def _group(tickets: list[dict[str, Any]], group_by: str | None, choices: list[str]) -> list[dict[str, Any]]:
    if not group_by:
        return [{"value": None, "label": None, "tickets": tickets}]
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for t in tickets:
        fields = t.get("fields", {})
        value = fields[group_by] if group_by in fields else t.get(group_by)
        values = value if isinstance(value, list) else [value]
        for v in values or [None]:
            name = None if v in (None, "") else str(v)
            groups.setdefault(name, []).append(t)

    def order(v: str | None) -> tuple[int, int, str]:
        if v is None:
            return (2, 0, "")
        return (0, choices.index(v), v) if v in choices else (1, 0, v)

    return [
        {"value": v, "label": v if v is not None else "—", "tickets": groups[v]}
        for v in sorted(groups, key=order)
    ]
