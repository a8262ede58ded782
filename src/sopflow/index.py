"""The read path behind list, board, inbox, sla, stats and ``show``: an excerpt of every ticket, cached.

An *excerpt* is a ticket's front matter (a JSON-able dict: the YAML loader keeps times as strings) plus its
``path``; files that cannot be parsed have none. Parsing 10,000 front matters takes about a second, so the
excerpts are cached in ``<git dir>/sopflow/excerpts-v1.json`` (inside ``.git``: never committed, never seen
by ``git status``), keyed by each file's identity as ``os.stat`` gives it: size, mtime, ctime and inode.
Every run lists the tickets folder once (``os.scandir``), re-reads only the files whose identity changed,
drops the deleted ones, and writes the cache back when something changed.

Why the identity is enough: any write to a file changes its ctime (restoring the mtime with ``touch`` or
``os.utime`` sets the ctime too), and an atomic replace or a ``git checkout`` gives a new inode. A file
changed within the timestamp granularity of the moment it was read (git's "racily clean" problem) is not
trusted: entries whose mtime or ctime is that close to the scan are re-read on the next run too.

The cache is never trusted blindly: a header names the format, the sopflow version, the repository root and
the tickets folder, and carries the length and BLAKE2b digest of each part; any mismatch, a truncated or
corrupt file, or a JSON shape we did not write means it is ignored and rebuilt. It is JSON, never pickle or
marshal, so a tampered cache cannot run code. Writes go to a temporary file renamed over the old one, so a
reader sees the old cache or the new one, never a mix; when two sopflow processes write at once the last
rename wins and both results are valid. A cache that cannot be written (read-only ``.git``) is skipped.

File layout: one header line, then part A (names, identities, parents: all that ``show`` needs to find a
ticket's children without loading every excerpt), then part B (the excerpts, aligned with part A).

``list --text`` uses a second cache, ``<git dir>/sopflow/tickets-text-v1.json``: each ticket's title and body,
normalised as the search does (NFKC, case-folded), built on first use. A ticket passes when every query word
is a substring of it (a necessary condition of :func:`sopflow.core.search.matches`), and then
:func:`~sopflow.core.search.matches` itself decides on the file's text.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopflow.project import Project

FORMAT = "sopflow-excerpts"
TEXT_FORMAT = "sopflow-tickets-text"
VERSION = 1
CACHE_NAME = f"excerpts-v{VERSION}.json"
TEXT_CACHE_NAME = f"tickets-text-v{VERSION}.json"
PROGRESS_AFTER = 2000  # files to parse before a progress bar is worth showing (about a second)

Key = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
_INDEXES: weakref.WeakKeyDictionary[Project, Index] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------------------------ git dir


def git_dir(root: Path) -> Path | None:
    """The git directory of the work tree holding ``root``, found without running git (``.git`` dir or file)."""
    for p in (root, *root.parents):
        dot = p / ".git"
        try:
            if dot.is_dir():
                return dot
            if dot.is_file():
                text = dot.read_text("utf-8", "replace").strip()
                if text.startswith("gitdir:"):
                    target = Path(text[len("gitdir:"):].strip())
                    target = target if target.is_absolute() else p / target
                    return target if target.is_dir() else None
                return None
        except OSError:
            return None
    return None


def cache_dir(project: Project) -> Path | None:
    g = git_dir(project.root)
    return g / "sopflow" if g is not None else None


# ------------------------------------------------------------------------------------------ parsing

_BOM = "\ufeff"
_CONFLICT = re.compile(r"^(?:<<<<<<<|>>>>>>>|=======|\|\|\|\|\|\|\|)(?:\s|$)", re.M)


def front_matter(text: str) -> tuple[dict[str, Any] | None, bool]:
    """``(data, exact)``: the front matter as :meth:`Document.parse` reads it, or None where it reports an error.

    Faster than building a Document (no line list). ``exact`` is False when the data holds values JSON cannot
    carry unchanged (non-text keys in a nested mapping, dates, bytes, sets): such a file is never cached.
    """
    from sopflow.core import fastyaml, yamlio

    if text.startswith(_BOM):
        text = text[1:]
    if not text or text.isspace() or "\x00" in text:
        return None, True
    if ("<<<<<<<" in text or ">>>>>>>" in text or "=======" in text or "|||||||" in text) and _CONFLICT.search(text):
        return None, True
    nl = text.find("\n")
    if nl < 0 or text[:nl].rstrip() != "---":
        return None, True
    close = _closing_line(text, nl)
    if close is None:
        return None, True
    fm = text[nl + 1 : close]
    if "\r" in fm:
        fm = fm.replace("\r\n", "\n")
    if not fm or fm.isspace():
        return {}, True
    if len(fm) > yamlio.MAX_YAML_BYTES:
        return None, True
    ok, data = fastyaml.try_load(fm)
    exact = ok
    if not ok:
        try:
            data = yamlio.load(fm)
        except yamlio.YamlError:
            return None, True
    if data is None:
        return {}, True
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        return None, True
    return data, exact or _json_exact(data)


def _closing_line(text: str, pos: int) -> int | None:
    """Start of the first line after ``pos`` that is ``---`` or ``...`` (trailing blanks allowed)."""
    while True:
        hits = [i for i in (text.find("\n---", pos), text.find("\n...", pos)) if i >= 0]
        if not hits:
            return None
        at = min(hits)
        end = text.find("\n", at + 4)
        rest = text[at + 4 : end if end >= 0 else len(text)]
        if not rest or rest.isspace():
            return at + 1
        pos = at + 1


def body_of(text: str) -> str:
    """The body of a ticket whose front matter parses: everything after the closing line."""
    if text.startswith(_BOM):
        text = text[1:]
    close = _closing_line(text, text.find("\n"))
    if close is None:
        return ""
    end = text.find("\n", close)
    return "" if end < 0 else text[end + 1 :]


def _json_exact(value: Any) -> bool:
    """True when ``json.loads(json.dumps(value)) == value`` with the same types."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            if not all(type(k) is str for k in v):
                return False
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t is float:
            if v != v or v in (float("inf"), float("-inf")):
                return False
        elif t not in (str, int, bool) and v is not None:
            return False
    return True


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# ------------------------------------------------------------------------------------------ cache files


def _digest(data: bytes) -> str:
    try:
        from _blake2 import blake2b  # what hashlib.blake2b is, without importing OpenSSL's bindings
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def _header(fmt: str, meta: Mapping[str, Any], parts: Sequence[bytes]) -> bytes:
    head = {"format": fmt, "version": VERSION, **meta,
            "parts": [[len(p), _digest(p)] for p in parts]}
    return json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class _Corrupt(Exception):
    pass


class _CacheFile:
    """A cache file opened for reading: its header, and each part read and verified on demand."""

    def __init__(self, fh: IO[bytes], head: dict[str, Any]) -> None:
        self.fh = fh
        self.head = head
        self.offset = fh.tell()
        self.next_part = 0

    @classmethod
    def open(cls, path: Path, fmt: str, meta: Mapping[str, Any]) -> _CacheFile | None:
        try:
            fh = open(path, "rb")  # noqa: SIM115 (kept open: parts are read later, from this very file)
        except OSError:
            return None
        try:
            line = fh.readline(1 << 16)
            head = json.loads(line)
            if not isinstance(head, dict) or head.get("format") != fmt or head.get("version") != VERSION:
                raise _Corrupt
            if any(head.get(k) != v for k, v in meta.items()):
                raise _Corrupt
            parts = head.get("parts")
            if not isinstance(parts, list) or not all(
                    isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and isinstance(p[1], str)
                    for p in parts):
                raise _Corrupt
        except (OSError, ValueError, _Corrupt):
            fh.close()
            return None
        return cls(fh, head)

    def part(self, n: int) -> Any:
        """Part ``n`` (parts are read in order), parsed; raises _Corrupt when it does not check out."""
        try:
            return json.loads(self.part_bytes(n))
        except ValueError:
            raise _Corrupt from None

    def part_bytes(self, n: int, *, keep_open: bool = False) -> bytes:
        if n != self.next_part:
            raise _Corrupt
        data = self._read(n)
        self.next_part += 1
        if self.next_part == len(self.head["parts"]) and not keep_open:
            self.close()
        return data

    def reread(self, n: int) -> bytes | None:
        """Part ``n`` again, from the same file (even if another process has replaced it since)."""
        try:
            self.fh.seek(self.offset + sum(size for size, _ in self.head["parts"][:n]))
            return self._read(n)
        except (OSError, ValueError, _Corrupt):
            return None
        finally:
            self.close()

    def _read(self, n: int) -> bytes:
        size, digest = self.head["parts"][n]
        try:
            data = self.fh.read(size)
        except OSError:
            raise _Corrupt from None
        if len(data) != size or _digest(data) != digest:
            raise _Corrupt
        return data

    def close(self) -> None:
        self.fh.close()


def _write_atomic(path: Path, chunks: Iterable[bytes]) -> None:
    """Write a cache file: temp file + rename, so readers never see a partial file. Failures are ignored."""
    import tempfile

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# ------------------------------------------------------------------------------------------ the index


@dataclass
class _Entry:
    key: Key
    parent: str | None
    data: dict[str, Any] | None = None  # None: unparseable, or not loaded yet (see Index.loaded)
    own_path: bool = False  # the front matter has a 'path' key of its own (the excerpt's 'path' replaced it)


@dataclass
class Index:
    """The excerpts of one project's tickets, kept in step with the tickets folder."""

    project: Project
    root: str = ""
    tickets_dir: Path = field(default_factory=Path)
    rel_dir: str = ""
    path: Path | None = None  # the cache file, or None where there is no git directory
    names: list[str] = field(default_factory=list)  # current ticket files, sorted
    entries: dict[str, _Entry] = field(default_factory=dict)  # cacheable files
    volatile: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # symlinks, uncacheable files
    loaded: bool = False  # every entry's data is present
    _file: _CacheFile | None = None
    _cached_order: list[str] = field(default_factory=list)
    _found: dict[str, tuple[Key, bool]] = field(default_factory=dict)
    # part B as written (or the cache file to read it again from): names, and one JSON text a line
    _b: tuple[list[str], bytes | _CacheFile] | None = None
    _lines: tuple[bytes, dict[str, tuple[int, int]]] | None = None
    _started: int = 0

    @classmethod
    def open(cls, project: Project) -> Index:
        idx = cls(project)
        idx.root = str(project.root)
        idx.tickets_dir = project.dir("tickets")
        idx.rel_dir = project.relpath(idx.tickets_dir)
        d = cache_dir(project)
        idx.path = d / CACHE_NAME if d is not None else None
        idx._refresh()
        return idx

    def _meta(self) -> dict[str, Any]:
        from sopflow import __version__

        return {"sopflow": __version__, "root": self.root, "tickets": str(self.tickets_dir)}

    # ------------------------------------------------------------ scanning
    def _scan(self) -> dict[str, tuple[Key, bool]]:
        """name → (identity, is_symlink) for every ``*.md`` file of the tickets folder."""
        out: dict[str, tuple[Key, bool]] = {}
        try:
            it = os.scandir(self.tickets_dir)
        except OSError:
            return out
        with it:
            for e in it:
                name = e.name
                if not name.endswith(".md"):
                    continue
                try:
                    if not e.is_file():
                        continue
                    link = e.is_symlink()
                    st = e.stat()
                except OSError:
                    continue
                out[name] = ((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino), link)
        return out

    def _refresh(self) -> None:
        self._started = time.time_ns()
        self._found = found = self._scan()
        self.names = sorted(found)
        old = self._read_part_a()
        todo: list[str] = []
        dirty = bool(set(old) - set(found))  # deleted files
        for name, (key, link) in found.items():
            e = old.get(name)
            if not link and e is not None and e.key == key:
                self.entries[name] = e
            else:
                todo.append(name)
        if todo:
            if not self._load_part_b():
                todo, dirty = list(found), True
            self._update(todo, dirty)

    def _update(self, todo: list[str], dirty: bool) -> None:
        """Parse ``todo`` (new or changed files) and write the cache when the cached set changed."""
        found = self._found
        keys = [k for k, _ in found.values()]
        fine = any(k[1] % 1_000_000_000 or k[2] % 1_000_000_000 for k in keys[:64])
        racy_after = self._started - (50_000_000 if fine else 2_500_000_000)
        from sopflow.progress import Progress

        bar = Progress(len(todo), "indexing tickets") if len(todo) >= PROGRESS_AFTER else None
        for n, name in enumerate(todo, 1):
            if bar is not None:
                bar.update(n)
            key, link = found[name]
            self.entries.pop(name, None)
            if link:
                self.volatile[name] = self._parse_symlink(name)
                continue
            data, exact, own_path = self._parse_own(name)
            if not exact or max(key[1], key[2]) >= racy_after:
                # Not cached: values JSON cannot carry, or "racily clean" (the file may change again within
                # its timestamps' granularity, unseen). It is parsed again next run.
                self.volatile[name] = data
                continue
            self.entries[name] = _Entry(key, _parent(data), data, own_path)
            dirty = True
        if bar is not None:
            bar.close()
        if dirty:
            self._save()

    def _parse(self, name: str) -> tuple[dict[str, Any] | None, bool]:
        data, exact, _ = self._parse_own(name)
        return data, exact

    def _parse_own(self, name: str) -> tuple[dict[str, Any] | None, bool, bool]:
        """(excerpt, exact, whether the front matter has a 'path' key of its own)."""
        text = _read(os.path.join(self.tickets_dir, name))
        if text is None:
            return None, True, False
        data, exact = front_matter(text)
        own = data is not None and "path" in data
        if data is not None:
            data["path"] = f"{self.rel_dir}/{name}"
        return data, exact, own

    def _parse_symlink(self, name: str) -> dict[str, Any] | None:
        from sopflow.errors import SopflowError

        try:
            t = self.project.read_ticket(self.tickets_dir / name)
        except SopflowError:
            return None
        d = dict(t.data)
        d["path"] = t.rel
        return d

    # ------------------------------------------------------------ the cache file
    def _read_part_a(self) -> dict[str, _Entry]:
        if self.path is None:
            return {}
        f = _CacheFile.open(self.path, FORMAT, self._meta())
        if f is None:
            return {}
        try:
            a = f.part(0)
            names, keys, parents = a["names"], a["keys"], a["parents"]
            if not (isinstance(names, list) and isinstance(keys, list) and isinstance(parents, list)
                    and len(names) == len(keys) == len(parents)):
                raise _Corrupt
            # A name, identity or parent of another type cannot do harm (it matches nothing and is re-read),
            # so only the shape is checked here: the digests already vouch for the bytes.
            out = {name: _Entry((key[0], key[1], key[2], key[3]), par)
                   for name, key, par in zip(names, keys, parents, strict=True)}
            for name in a["own_path"]:
                out[name].own_path = True
        except (_Corrupt, KeyError, TypeError, IndexError, ValueError):
            f.close()
            return {}
        self._file = f
        self._cached_order = names
        return out

    def _load_part_b(self) -> bool:
        """Fill in the data of every cached entry (part B). False when it does not check out: then nothing
        cached is kept."""
        if self.loaded:
            return True
        self.loaded = True
        f, self._file = self._file, None
        if f is None:
            return not self.entries
        try:
            try:
                # decoded first and the bytes let go: the peak memory of a big list holds one copy, not two
                b = json.loads(f.part_bytes(1, keep_open=True).decode("utf-8"))
            except ValueError:
                raise _Corrupt from None
            if not isinstance(b, list) or len(b) != len(self._cached_order):
                raise _Corrupt
            entries = self.entries
            for name, data in zip(self._cached_order, b, strict=True):
                if data is not None and type(data) is not dict:
                    raise _Corrupt
                e = entries.get(name)
                if e is not None:
                    e.data = data
        except _Corrupt:
            f.close()
            self.entries.clear()
            return False
        self._b = (self._cached_order, f)
        return True

    def _ensure_loaded(self) -> None:
        if not self._load_part_b():
            self._update(list(self._found), True)

    def _save(self) -> None:
        if self.path is None:
            return
        names = sorted(self.entries)
        ents = [self.entries[n] for n in names]
        try:
            a = json.dumps({"names": names, "keys": [list(e.key) for e in ents],
                            "parents": [e.parent for e in ents],
                            "own_path": [n for n, e in zip(names, ents, strict=True) if e.own_path]},
                           ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            encode = json.JSONEncoder(ensure_ascii=False).encode
            b = _json_array([encode(e.data) for e in ents]).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError):
            return
        if self._b is not None and isinstance(self._b[1], _CacheFile):
            self._b[1].close()
        self._b = (names, b)
        self._lines = None
        _write_atomic(self.path, [_header(FORMAT, self._meta(), [a, b]), a, b])

    # ------------------------------------------------------------ answers
    def excerpts(self) -> list[dict[str, Any]]:
        self._ensure_loaded()
        out: list[dict[str, Any]] = []
        for name in self.names:
            e = self.entries.get(name)
            data = e.data if e is not None else self.volatile.get(name)
            if data is not None:
                out.append(data)
        return out

    def json_text(self, d: Mapping[str, Any]) -> bytes | None:
        """The JSON text (as :func:`json.dumps` with ``ensure_ascii=False`` writes it) of an excerpt this index
        handed out, straight from the cache file: no need to encode it again. None for any other dict."""
        path = d.get("path")
        if self._b is None or not isinstance(path, str) or not path.startswith(self.rel_dir):
            return None
        name = path[len(self.rel_dir) + 1:]
        e = self.entries.get(name)
        if e is None or e.data is not d:
            return None
        if self._lines is None:
            self._lines = self._line_spans()
        span = self._lines[1].get(name)
        return self._lines[0][span[0]:span[1]] if span is not None else None

    def _line_spans(self) -> tuple[bytes, dict[str, tuple[int, int]]]:
        """Part B's bytes, and where each name's line lies in them (offsets, not copies: it can be big)."""
        assert self._b is not None
        names, raw = self._b
        if isinstance(raw, _CacheFile):
            raw = raw.reread(1) or b""
        spans: dict[str, tuple[int, int]] = {}
        if names and raw.startswith(b"[\n") and raw.endswith(b"\n]"):
            start, last = 2, len(raw) - 2
            find = raw.find
            for name in names:
                end = find(b",\n", start, last)
                if end < 0:
                    end = last
                spans[name] = (start, end)
                start = end + 2
            if start != last + 2:
                spans = {}
        return raw, spans

    def children(self, ticket_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for name in self.names:
            e = self.entries.get(name)
            if e is not None:
                if e.parent != ticket_id:
                    continue
                data = e.data if self.loaded else self._parse(name)[0]
            else:
                data = self.volatile.get(name)
                if data is None or _parent(data) != ticket_id:
                    continue
            if data is not None:
                out.append(data)
        return out


    # ------------------------------------------------------------ text for list --text
    def texts(self, names: Iterable[str]) -> dict[str, str | None]:
        """Normalised ``title + "\\n" + body`` of the given ticket files (cached in the text cache); None for a
        text that normalising again would change (then the search must look at the file)."""
        from sopflow.core.search import _normalize

        path = self.path.with_name(TEXT_CACHE_NAME) if self.path is not None else None
        cached = self._read_texts(path) if path is not None else {}
        out: dict[str, str | None] = {}
        todo: list[str] = []
        for name in dict.fromkeys(names):
            if name not in self._found:
                continue
            e = self.entries.get(name)
            hit = cached.get(name)
            if e is not None and hit is not None and hit[0] == e.key:
                out[name] = hit[1]
            else:
                todo.append(name)
        if not todo:
            return out
        from sopflow.progress import Progress

        bar = Progress(len(todo), "indexing ticket text") if len(todo) >= PROGRESS_AFTER else None
        fresh: dict[str, tuple[Key, str | None]] = {}
        for n, name in enumerate(todo, 1):
            if bar is not None:
                bar.update(n)
            raw = _read(os.path.join(self.tickets_dir, name))
            if raw is None:
                continue
            e = self.entries.get(name)
            data = e.data if e is not None and self.loaded else front_matter(raw)[0]
            if data is None:
                continue
            norm: str | None = _normalize(f"{data.get('title', '')}\n{body_of(raw)}")
            if norm is not None and _normalize(norm) != norm:
                norm = None
            out[name] = norm
            if e is not None:  # cacheable: not a symbolic link, not racily clean
                fresh[name] = (e.key, norm)
        if bar is not None:
            bar.close()
        if fresh and path is not None:
            keep = {n: v for n, v in cached.items() if n in self.entries and self.entries[n].key == v[0]}
            keep.update(fresh)
            order = sorted(keep)
            try:
                blob = json.dumps({"names": order, "keys": [list(keep[n][0]) for n in order],
                                   "texts": [keep[n][1] for n in order]},
                                  ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            except (TypeError, ValueError, UnicodeEncodeError):
                return out
            _write_atomic(path, [_header(TEXT_FORMAT, self._meta(), [blob]), blob])
        return out

    def _read_texts(self, path: Path) -> dict[str, tuple[Key, str | None]]:
        f = _CacheFile.open(path, TEXT_FORMAT, self._meta())
        if f is None:
            return {}
        out: dict[str, tuple[Key, str | None]] = {}
        try:
            part = f.part(0)
            for name, key, norm in zip(part["names"], part["keys"], part["texts"], strict=True):
                if not (isinstance(name, str) and (norm is None or isinstance(norm, str)) and _is_key(key)):
                    raise _Corrupt
                out[name] = ((key[0], key[1], key[2], key[3]), norm)
        except (_Corrupt, KeyError, TypeError, ValueError):
            return {}
        finally:
            f.close()
        return out


def _is_key(key: Any) -> bool:
    return isinstance(key, list) and len(key) == 4 and all(type(x) is int for x in key)


def _json_array(texts: Sequence[str]) -> str:
    """A JSON array with one element a line (elements hold no line break: JSON escapes them in strings)."""
    return "[\n" + ",\n".join(texts) + "\n]" if texts else "[]"


def _parent(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    from sopflow.core.ticket import parent

    return parent(data)


def ticket_front_matters(project: Project) -> list[tuple[str, str, dict[str, Any] | None]]:
    """For ``check``: every ticket file (its path) in name order (as :meth:`Project.ticket_paths`), with its
    repository-relative path and its front matter exactly as :meth:`Document.parse` gives it; None where the
    caller must read the file itself (symbolic links, files that do not parse, a front matter holding a
    ``path`` key of its own). The dicts are fresh copies."""
    idx = open_index(project)
    idx._ensure_loaded()
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    base = str(idx.tickets_dir)
    for name in idx.names:
        path = os.path.join(base, name)
        e = idx.entries.get(name)
        if e is None or e.data is None or e.own_path:
            link = idx._found[name][1]
            out.append((path, project.relpath(Path(path)) if link else f"{idx.rel_dir}/{name}", None))
            continue
        data = e.data.copy()
        del data["path"]
        out.append((path, f"{idx.rel_dir}/{name}", data))
    return out


def ticket_names(project: Project) -> list[str]:
    """File names of every ticket, sorted (as :meth:`Project.ticket_paths`), from the index's one scan."""
    return list(open_index(project).names)


def open_index(project: Project) -> Index:
    """The index of ``project``, brought up to date with its tickets folder (once per Project object)."""
    idx = _INDEXES.get(project)
    if idx is None:
        idx = _INDEXES[project] = Index.open(project)
    return idx


def load_excerpts(project: Project) -> list[dict[str, Any]]:
    """Front matter plus ``path`` of every readable ticket, in file-name order (what ``list`` starts from)."""
    return open_index(project).excerpts()


def children(project: Project, ticket_id: str) -> list[dict[str, Any]]:
    """Excerpts of the tickets whose ``links.parent`` is ``ticket_id``, without loading every excerpt."""
    return open_index(project).children(ticket_id)


def text_filter(project: Project, items: Sequence[Mapping[str, Any]], query: str) -> list[Mapping[str, Any]]:
    """The items whose title or body holds every word of ``query``, as :func:`sopflow.core.search.matches`
    decides on ``title + "\\n" + body``; the text cache spares reading and normalising each file.

    Searching the normalised text gives the same answer as searching the file's text: the cache keeps only
    texts that normalising again leaves unchanged, and the others are searched in the file.
    """
    from sopflow.core.search import matches, query_words

    words = query_words(query)
    if not words or not items:
        return [d for d in items if matches(query, str(d.get("title", "")))]
    idx = open_index(project)
    prefix = idx.rel_dir + "/"
    names = [str(d.get("path", ""))[len(prefix):] for d in items]
    texts = idx.texts(n for n in names if "/" not in n)
    out: list[Mapping[str, Any]] = []
    for d, name in zip(items, names, strict=True):
        norm = texts.get(name)
        if norm is not None:
            if all(w in norm for w in words) and matches(query, norm):
                out.append(d)
        elif _text_match_file(project, d, query):
            out.append(d)
    return out


def _text_match_file(project: Project, d: Mapping[str, Any], query: str) -> bool:
    from sopflow.core.search import matches
    from sopflow.errors import SopflowError

    title = str(d.get("title", ""))
    if matches(query, title):
        return True
    try:
        body = project.read_ticket(project.root / str(d["path"])).doc.body
    except (SopflowError, KeyError):
        return False
    return matches(query, f"{title}\n{body}")


def write_json_list(project: Project, items: Sequence[Mapping[str, Any]], out: IO[str] | None = None) -> None:
    """Write ``items`` (excerpts) as ``list --format json`` does: a JSON array, one ticket a line, each as
    ``json.dumps`` writes it; ``body`` left out. Excerpts that come unchanged from the cache are copied from it
    instead of being encoded again (a tenth of a second at 10,000 tickets)."""
    import sys

    stream = out if out is not None else sys.stdout
    idx = _INDEXES.get(project)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    binary = getattr(stream, "buffer", None)
    if not items:
        stream.write("[]\n")
        return
    if binary is not None:
        stream.flush()
    for i in range(0, len(items), 1000):
        chunks: list[bytes] = []
        for d in items[i:i + 1000]:
            raw = idx.json_text(d) if idx is not None and "body" not in d else None
            if raw is None:
                raw = encode({k: v for k, v in d.items() if k != "body"}).encode("utf-8")
            chunks.append(raw)
        data = (b"[\n  " if i == 0 else b",\n  ") + b",\n  ".join(chunks)
        if i + 1000 >= len(items):
            data += b"\n]\n"
        if binary is not None:
            binary.write(data)
        else:
            stream.write(data.decode("utf-8"))
    if binary is not None:
        binary.flush()
