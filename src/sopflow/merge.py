"""The git merge driver for ticket files, and its installer.

Two branches that act on the same ticket (comments on both, a transition on one and a field change on the
other) merge without a hand-resolved conflict:

- ``history`` entries added on either side are kept, merged in time order (``at``), each line as it was written
  (so ``check --verify-authors`` still finds the commit that added it); an entry added on both sides is kept once;
- every other front-matter key merges three-way: a key changed on one side takes that side; mappings
  (``roles``, ``links``) merge key by key and lists (``labels``, ``links.relates``, multi fields) as sets;
  ``updated`` takes the later time;
- the body: when one side changed it, that side; when one side only appended (a new checklist section), the
  append is replayed on the other; otherwise ``git merge-file``.

When both sides changed the same value (the same field set twice, the state) or both fired transitions (their
order matters) or the old history was rewritten, the driver writes normal conflict markers around that key (for
history: around the entries each side added) and exits 1: never a silent loss.

git calls ``sopflow merge-driver %O %A %B %P`` (configured by :func:`install_merge_driver`); the result goes
to the ``%A`` file.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sopflow.core import yamlio
from sopflow.core.frontmatter import Document, FrontMatterError

DRIVER = "sopflow merge-driver %O %A %B %P"
DRIVER_NAME = "sopflow ticket merge (history union, three-way fields)"
OURS, THEIRS = "ours", "theirs"
_MISSING: Any = object()
_ITEM = re.compile(r"^([ \t]*)- ")

MergeLines = Callable[[str, str, str], tuple[str, bool]]


@dataclass
class Result:
    text: str
    clean: bool
    conflicts: list[str] = field(default_factory=list)  # names of the conflicting keys ("body", …)


# ---------------------------------------------------------------- text merge (git merge-file)
def git_merge_file(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    """Three-way line merge with ``git merge-file``; returns the text (with markers on conflict) and cleanliness."""
    with tempfile.TemporaryDirectory(prefix="sopflow-merge-") as d:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(d) / name
            path.write_bytes(text.encode("utf-8"))
            paths.append(str(path))
        proc = subprocess.run(["git", "merge-file", "-p", "-L", OURS, "-L", "base", "-L", THEIRS, *paths],
                              capture_output=True, check=False)
    if proc.returncode < 0 or proc.returncode > 127:
        raise OSError(proc.stderr.decode("utf-8", "replace").strip() or "git merge-file failed")
    return proc.stdout.decode("utf-8", "replace"), proc.returncode == 0


# ---------------------------------------------------------------- values
def _merge_value(key: str, b: Any, o: Any, t: Any) -> tuple[Any, bool]:
    """Three-way merge of one value; (value, ok)."""
    if _eq(o, t):
        return o, True
    if _eq(o, b):
        return t, True
    if _eq(t, b):
        return o, True
    if key == "updated" and isinstance(o, str) and isinstance(t, str):
        return max(o, t, key=_time_key), True
    dicts = [x for x in (b, o, t) if x is not _MISSING and x is not None]
    if dicts and all(isinstance(x, dict) for x in dicts):
        return _merge_dict(_as_dict(b), _as_dict(o), _as_dict(t))
    lists = [x for x in (b, o, t) if x is not _MISSING and x is not None]
    if lists and all(isinstance(x, list) for x in lists) and key != "history":
        return _merge_set(_as_list(b), _as_list(o), _as_list(t)), True
    return None, False


def _eq(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    return bool(a == b) and type(a) is type(b)


def _as_dict(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, dict) else {}


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else []


def _merge_dict(b: dict[str, Any], o: dict[str, Any], t: dict[str, Any]) -> tuple[Any, bool]:
    out: dict[str, Any] = {}
    for k in [*o, *(k for k in t if k not in o)]:
        v, ok = _merge_value(str(k), b.get(k, _MISSING), o.get(k, _MISSING), t.get(k, _MISSING))
        if not ok:
            return None, False
        if v is not _MISSING:
            out[k] = v
    return out, True


def _merge_set(b: list[Any], o: list[Any], t: list[Any]) -> list[Any]:
    """Lists as ordered sets: items removed on either side go, items added on either side come."""
    removed = [x for x in b if x not in o or x not in t]
    out = [x for x in o if x not in removed]
    out += [x for x in t if x not in out and x not in removed]
    return out


def _time_key(text: Any) -> tuple[int, float, str]:
    try:
        dt = datetime.fromisoformat(str(text))
    except ValueError:
        return (1, 0.0, str(text))
    if dt.tzinfo is None:
        return (1, 0.0, str(text))
    return (0, dt.timestamp(), str(text))


# ---------------------------------------------------------------- the document
@dataclass
class _Doc:
    doc: Document
    spans: dict[str, tuple[int, int]]  # key → (first, last) line index, inclusive
    entries: list[list[str]]  # raw lines of each history entry (block style); [] when not block style

    @classmethod
    def of(cls, text: str) -> _Doc:
        doc = Document.parse(text)
        spans = doc._spans()
        return cls(doc, spans, _entry_lines(doc, spans))

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data

    def key_lines(self, key: str) -> list[str]:
        if key not in self.spans:
            return []
        a, z = self.spans[key]
        return self.doc.lines[a : z + 1]


def _entry_lines(doc: Document, spans: dict[str, tuple[int, int]]) -> list[list[str]]:
    hist = doc.data.get("history")
    if "history" not in spans or not isinstance(hist, list):
        return []
    a, z = spans["history"]
    starts = [j for j in range(a + 1, z + 1) if _ITEM.match(doc.lines[j])]
    if len(starts) != len(hist):
        return []
    indents = {m.group(1) for j in starts if (m := _ITEM.match(doc.lines[j]))}
    if len(indents) > 1:
        return []
    return [doc.lines[s : (starts[n + 1] if n + 1 < len(starts) else z + 1)] for n, s in enumerate(starts)]


def merge_text(base: str, ours: str, theirs: str, *, merge_lines: MergeLines = git_merge_file) -> Result:
    """Merge three versions of a ticket file."""
    if ours == theirs:
        return Result(ours, True)
    if base == ours:
        return Result(theirs, True)
    if base == theirs:
        return Result(ours, True)
    try:
        b, o, t = _Doc.of(base), _Doc.of(ours), _Doc.of(theirs)
    except FrontMatterError:
        text, clean = merge_lines(base, ours, theirs)
        return Result(text, clean, [] if clean else ["file"])
    return _Merger(b, o, t, merge_lines).run()


@dataclass
class _Merger:
    b: _Doc
    o: _Doc
    t: _Doc
    merge_lines: MergeLines
    conflicts: list[str] = field(default_factory=list)

    def run(self) -> Result:
        b, o, t = self.b.data, self.o.data, self.t.data
        nl = self.o.doc.nl
        merged: dict[str, Any] = {}
        replace: dict[str, list[str] | None] = {}  # key → new lines in ours (None: delete)
        for key in [*o, *(k for k in t if k not in o)]:
            if key == "history":
                continue
            bv, ov, tv = b.get(key, _MISSING), o.get(key, _MISSING), t.get(key, _MISSING)
            value, ok = _merge_value(key, bv, ov, tv)
            if not ok:
                self.conflicts.append(key)
                replace[key] = self._conflict_lines(key, nl)
                continue
            if value is _MISSING:
                if ov is not _MISSING:
                    replace[key] = None
                continue
            merged[key] = value
            if _eq(value, ov):
                continue
            if _eq(value, tv) and key in self.t.spans:
                replace[key] = [_nl(x, nl) for x in self.t.key_lines(key)]
            else:
                replace[key] = [f"{yamlio.emit_key(key)}: {yamlio.emit_value(value)}{nl}"]
        history, hist_lines = self._history(nl)
        if history is not None:
            merged["history"] = history
        if hist_lines is not None:
            replace["history"] = hist_lines
        body = self._body()
        text = self._compose(replace, body)
        if not self.conflicts:
            check = _verify(text, merged)
            if not check and history is not None:
                # the history lines could not be reused as written: write every entry afresh
                replace["history"] = ["history:" + nl] + [f"  - {yamlio.emit_flow(e)}{nl}" for e in history]
                text = self._compose(replace, body)
                check = _verify(text, merged)
            if not check:
                fallback, clean = self.merge_lines(self.b.doc.text(), self.o.doc.text(), self.t.doc.text())
                return Result(fallback, clean, [] if clean else ["file"])
        return Result(text, not self.conflicts, self.conflicts)

    def _conflict_lines(self, key: str, nl: str) -> list[str]:
        ours = [_nl(x, nl) for x in self.o.key_lines(key)]
        theirs = [_nl(x, nl) for x in self.t.key_lines(key)]
        return [f"<<<<<<< {OURS}{nl}", *ours, f"======={nl}", *theirs, f">>>>>>> {THEIRS}{nl}"]

    def _history(self, nl: str) -> tuple[list[Any] | None, list[str] | None]:
        bh, oh, th = (_as_list(d.data.get("history")) for d in (self.b, self.o, self.t))
        n = len(bh)
        if oh[:n] != bh or th[:n] != bh:
            self.conflicts.append("history")
            return None, self._conflict_lines("history", nl)
        ours_new = list(range(n, len(oh)))
        theirs_new = [j for j in range(n, len(th)) if th[j] not in oh[n:]]
        if not theirs_new:
            return oh, None
        if _moves(oh[n:]) and _moves([th[j] for j in theirs_new]):
            # both sides fired transitions: their order is for a person to decide
            self.conflicts.append("history")
            return None, self._history_conflict(n, ours_new, theirs_new, nl)
        order = _merge_by_time([(oh[i], OURS, i) for i in ours_new], [(th[j], THEIRS, j) for j in theirs_new])
        history = bh + [e for e, _, _ in order]
        if not (self.o.entries and self.t.entries and _same_indent(self.o.entries, self.t.entries)):
            return history, ["history:" + nl] + [f"  - {yamlio.emit_flow(e)}{nl}" for e in history]
        lines = list(self.o.key_lines("history")[:1])
        for i in range(n):
            lines += self.o.entries[i]
        for _, side, i in order:
            src = self.o.entries if side == OURS else self.t.entries
            lines += src[i]
        return history, [_nl(x, nl) for x in lines]

    def _history_conflict(self, n: int, ours_new: list[int], theirs_new: list[int], nl: str) -> list[str]:
        def entry_lines(d: _Doc, idx: list[int]) -> list[str]:
            hist = _as_list(d.data.get("history"))
            if d.entries:
                return [_nl(x, nl) for i in idx for x in d.entries[i]]
            return [f"  - {yamlio.emit_flow(hist[i])}{nl}" for i in idx]

        head = ["history:" + nl, *entry_lines(self.o, list(range(n)))]
        return [*head, f"<<<<<<< {OURS}{nl}", *entry_lines(self.o, ours_new), f"======={nl}",
                *entry_lines(self.t, theirs_new), f">>>>>>> {THEIRS}{nl}"]

    def _body(self) -> list[str]:
        bb, ob, tb = self.b.doc.body, self.o.doc.body, self.t.doc.body
        if ob == tb or tb == bb:
            body = ob
        elif ob == bb:
            body = tb
        elif ob.startswith(bb) and not tb.startswith(bb):
            body = tb + ob[len(bb) :]
        elif tb.startswith(bb) and not ob.startswith(bb):
            body = ob + tb[len(bb) :]
        else:
            body, clean = self.merge_lines(bb, ob, tb)
            if not clean:
                self.conflicts.append("body")
        return body.splitlines(keepends=True)

    def _compose(self, replace: dict[str, list[str] | None], body: list[str]) -> str:
        doc = self.o.doc
        lines = list(doc.lines[: doc.close])
        spans = self.o.spans
        for key, (a, z) in sorted(spans.items(), key=lambda kv: kv[1][0], reverse=True):
            if key in replace:
                new = replace[key]
                lines[a : z + 1] = new or []
        added = [k for k in replace if k not in spans and replace[k]]
        if added:
            at = spans["history"][0] if "history" in spans else len(lines)
            extra: list[str] = []
            for k in added:
                extra += replace[k] or []
            lines[at:at] = extra
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += doc.nl
        close = doc.lines[doc.close]
        if body and not close.endswith(("\n", "\r")):
            close += doc.nl
        return doc.prefix + "".join(lines) + close + "".join(body)


def _moves(entries: list[Any]) -> bool:
    """Whether any entry records a transition (it names the state it leads ``to``)."""
    return any(isinstance(e, dict) and "to" in e for e in entries)


def _same_indent(a: list[list[str]], b: list[list[str]]) -> bool:
    ma, mb = _ITEM.match(a[0][0]), _ITEM.match(b[0][0])
    return bool(ma and mb and ma.group(1) == mb.group(1))


def _nl(line: str, nl: str) -> str:
    stripped = line.rstrip("\r\n")
    return stripped + nl if stripped != line or not line else line


def _merge_by_time(a: list[tuple[Any, str, int]], b: list[tuple[Any, str, int]]) -> list[tuple[Any, str, int]]:
    """Interleave two sequences by their entries' ``at``, keeping each side's own order (ties: ``a`` first)."""
    keys_a = [_time_key(e.get("at") if isinstance(e, dict) else None) for e, _, _ in a]
    keys_b = [_time_key(e.get("at") if isinstance(e, dict) else None) for e, _, _ in b]
    if any(k[0] for k in keys_a + keys_b):
        return a + b  # a time that cannot be compared: ours first, then theirs
    out: list[tuple[Any, str, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        if keys_b[j][1] < keys_a[i][1]:
            out.append(b[j])
            j += 1
        else:
            out.append(a[i])
            i += 1
    return out + a[i:] + b[j:]


def _verify(text: str, data: dict[str, Any]) -> bool:
    try:
        return Document.parse(text).data == data
    except FrontMatterError:
        return False


# ---------------------------------------------------------------- the driver
def run_driver(base_path: str, ours_path: str, theirs_path: str, label: str = "",
               *, merge_lines: MergeLines = git_merge_file) -> int:
    """What git runs: merge into ``ours_path``; 0 when clean, 1 when conflict markers were left."""
    try:
        base, ours, theirs = (Path(x).read_bytes().decode("utf-8") for x in (base_path, ours_path, theirs_path))
        result = merge_text(base, ours, theirs, merge_lines=merge_lines)
    except Exception:  # not UTF-8, or anything unforeseen: git's own line merge, markers and all
        proc = subprocess.run(["git", "merge-file", "-L", OURS, "-L", "base", "-L", THEIRS,
                               ours_path, base_path, theirs_path], capture_output=True, check=False)
        return 0 if proc.returncode == 0 else 1
    tmp = ours_path + ".sopflow-tmp"
    with open(tmp, "wb") as fh:
        fh.write(result.text.encode("utf-8"))
    os.replace(tmp, ours_path)
    return 0 if result.clean else 1


# ---------------------------------------------------------------- installing
def attributes_line(tickets_dir: str) -> str:
    return f"{tickets_dir.strip('/')}/*.md merge=sopflow"


def install_merge_driver(root: Path, tickets_dir: str = "tickets", *, driver: str = DRIVER
                         ) -> tuple[list[Path], list[str]]:
    """Add the ``.gitattributes`` line and set ``merge.sopflow.*`` in the repository's git config.

    Returns the files written (``.gitattributes`` when it changed) and messages for the user.
    """
    from sopflow.adapters import gitrepo
    from sopflow.adapters.files import atomic_write

    line = attributes_line(tickets_dir)
    path = root / ".gitattributes"
    written: list[Path] = []
    messages: list[str] = []
    old = path.read_text("utf-8") if path.is_file() else ""
    if line not in (x.strip() for x in old.splitlines()):
        sep = "" if not old or old.endswith("\n") else "\n"
        atomic_write(path, (old + sep + line + "\n").encode("utf-8"))
        written.append(path)
        messages.append(f".gitattributes: added '{line}'")
    gitrepo.run(root, "config", "merge.sopflow.name", DRIVER_NAME)
    gitrepo.run(root, "config", "merge.sopflow.driver", driver)
    messages.append(f"git config merge.sopflow.driver = {driver}")
    return written, messages
