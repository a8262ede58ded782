"""The read path behind list, board, inbox, sla, stats and ``show``: an excerpt of every ticket, cached.

An *excerpt* is a ticket's front matter (a JSON-able dict: the YAML loader keeps times as strings) plus its
``path``; files that cannot be parsed have none. Parsing 10,000 front matters takes about a second, so the
excerpts are cached in ``<git dir>/sopflow/excerpts-v2.json`` (inside ``.git``: never committed, never seen
by ``git status``), keyed by each file's identity as ``os.stat`` gives it: size, mtime, ctime and inode.
Every run lists the tickets folder once (``os.scandir``), re-reads only the files whose identity changed,
drops the deleted ones, and writes the cache back when something changed.

Why the identity is enough: any write to a file changes its ctime (restoring the mtime with ``touch`` or
``os.utime`` sets the ctime too), and an atomic replace or a ``git checkout`` gives a new inode. A file
changed within the timestamp granularity of the moment it was read (git's "racily clean" problem) is not
trusted: entries whose mtime or ctime is that close to the scan are re-read on the next run too.

The cache is never trusted blindly: a header names the format, the sopflow version, the repository root and
the tickets folder, and carries the length and CRC-32 of each part; any mismatch, a truncated or
corrupt file, or a JSON shape we did not write means it is ignored and rebuilt. It is JSON, never pickle or
marshal, so a tampered cache cannot run code. Writes go to a temporary file renamed over the old one, so a
reader sees the old cache or the new one, never a mix; when two sopflow processes write at once the last
rename wins and both results are valid. A cache that cannot be written (read-only ``.git``) is skipped.

File layout: one header line, then part A (names, identities, parents: all that ``show`` needs to find a
ticket's children without loading every excerpt), part H (each excerpt without its history and long free
text: a fraction of the bytes, and what ``list`` needs to filter, sort and draw a table), part B (the whole
excerpts, one JSON text a line, which ``list --format json`` copies to its output without parsing) and part T
(each ticket's trail, :mod:`sopflow.core.trail`: what ``board``, ``inbox`` and ``sla`` need from a history).
Parts H, B and T are aligned with part A; each is read only when needed.

``list --text`` uses a second cache, ``<git dir>/sopflow/tickets-text-v2.json``: each ticket's title and body,
normalised as the search does (NFKC, case-folded), built on first use. A ticket passes when every query word
is a substring of it (a necessary condition of :func:`sopflow.core.search.matches`) and
:func:`~sopflow.core.search.matches` agrees on that normalised text (kept only where normalising it again
changes nothing, so the answer is the one the file's own text gives; other tickets are searched in the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sopflow.gcpause import paused

if TYPE_CHECKING:
    from sopflow.core.trail import Trail
    from sopflow.progress import Progress
    from sopflow.project import Project

FORMAT = "sopflow-excerpts"
TEXT_FORMAT = "sopflow-tickets-text"
VERSION = 2
CACHE_NAME = f"excerpts-v{VERSION}.json"
TEXT_CACHE_NAME = f"tickets-text-v{VERSION}.json"
PROGRESS_AFTER = 2000  # files to parse before a progress bar is worth showing (about a second)
PARALLEL_AFTER = 1000  # files to parse before a second process is worth forking (fork and transfer: ~20 ms)
PARALLEL_SCAN_AFTER = 20_000  # files to stat before a second process is worth it (3 us a file; fork ~10 ms)
SCAN_FIRST_SHARE = 0.35  # this process's share of the stat calls relative to the worker's: it reads part A too
FREEZE_AFTER = 20_000  # tickets loaded at once before the loaded objects are hidden from the collector
HEAD_TEXT_MAX = 32  # longer text in a workflow field is left out of the heads (see _head)

Key = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
_PART_A, _PART_H, _PART_B, _PART_T = 0, 1, 2, 3
_DICT_OR_NONE = frozenset({dict, type(None)})
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


def file_key(st: os.stat_result) -> Key:
    """A file's identity as the caches key it (see the module's docstring)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def racy_cutoff(started_ns: int, keys: Iterable[Key]) -> int:
    """The time (ns) from which a file's mtime or ctime is too recent to cache what was read from it (git's
    "racily clean" rule): a write within the timestamps' granularity of the read would go unseen. The
    granularity is guessed from ``keys`` (a sample of identities): 50 ms where timestamps carry fractions
    of a second, 2.5 s where they are whole seconds."""
    sample = list(islice(keys, 64))
    fine = any(k[1] % 1_000_000_000 or k[2] % 1_000_000_000 for k in sample)
    return started_ns - (50_000_000 if fine else 2_500_000_000)


def _read(path: str) -> str | None:
    """The file's text, or None when it cannot be indexed (unreadable, not UTF-8, or over the size cap:
    callers then take the full path, which reports the problem)."""
    from sopflow.adapters.files import MAX_FILE_BYTES

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return None
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# ------------------------------------------------------------------------------------------ cache files


def _digest(data: bytes) -> str:
    """CRC-32 (as in zip and git's pack index): catches a torn, truncated or damaged part, at 2 GB/s; three
    times faster than BLAKE2b, which mattered at 100,000 tickets. Like any unkeyed digest it does not stop
    a deliberate edit, nor need it: the cache is JSON, so the worst it can do is show wrong data, and whoever
    can write into ``.git`` can do worse (hooks)."""
    import zlib

    return f"crc32:{zlib.crc32(data):08x}"


def _header(fmt: str, meta: Mapping[str, Any], parts: Sequence[bytes]) -> bytes:
    head = {"format": fmt, "version": VERSION, **meta,
            "parts": [[len(p), _digest(p)] for p in parts]}
    return json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class _Corrupt(Exception):
    pass


class _CacheFile:
    """A cache file opened for reading: its header, and each part read and verified on demand (in any order,
    from this very file even if another process has replaced it since)."""

    def __init__(self, fh: IO[bytes], head: dict[str, Any]) -> None:
        self.fh = fh
        self.head = head
        self.starts: list[int] = []
        at = fh.tell()
        for size, _ in head["parts"]:
            self.starts.append(at)
            at += size

    @classmethod
    def open(cls, path: Path, fmt: str, meta: Mapping[str, Any], nparts: int) -> _CacheFile | None:
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
            if not isinstance(parts, list) or len(parts) != nparts or not all(
                    isinstance(p, list) and len(p) == 2 and type(p[0]) is int and p[0] >= 0
                    and isinstance(p[1], str) for p in parts):
                raise _Corrupt
        except (OSError, ValueError, _Corrupt):
            fh.close()
            return None
        return cls(fh, head)

    def part(self, n: int) -> Any:
        """Part ``n``, parsed; raises _Corrupt when it does not check out."""
        text = self.part_bytes(n).decode("utf-8", "replace")  # the digest vouches for the bytes
        try:
            with paused():
                return json.loads(text)
        except ValueError:
            raise _Corrupt from None

    def part_bytes(self, n: int) -> bytes:
        try:
            size, digest = self.head["parts"][n]
            self.fh.seek(self.starts[n])
            data = self.fh.read(size)
        except (OSError, ValueError, IndexError):
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
class _Row:
    """A ticket file parsed in this run (new or changed since the cache was written)."""

    key: Key
    data: dict[str, Any] | None  # None: the file does not parse
    own_path: bool  # the front matter has a 'path' key of its own (the excerpt's 'path' replaced it)


class Index:
    """The excerpts of one project's tickets, kept in step with the tickets folder.

    Where things are: ``rows`` holds what this run parsed (new and changed files), ``volatile`` what it parsed
    but will not cache (symbolic links, racily clean files, values JSON cannot carry), and the cache file the
    rest, as aligned arrays read lazily (``_order`` names, then parents, heads, excerpts). On the common path
    (nothing changed) no per-ticket object is made besides the excerpts themselves.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = str(project.root)
        self.tickets_dir = project.dir("tickets")
        self.rel_dir = project.relpath(self.tickets_dir)
        d = cache_dir(project)
        self.path = d / CACHE_NAME if d is not None else None
        self.names: list[str] = []  # current ticket files, sorted
        self.keys: dict[str, Key] = {}  # identity of every current regular ticket file
        self.links: set[str] = set()  # ticket files that are symbolic links
        self.rows: dict[str, _Row] = {}
        self.volatile: dict[str, dict[str, Any] | None] = {}
        # the cache file's rows: valid for every name not in rows/volatile (their identity was checked)
        self._file: _CacheFile | None = None
        self._order: list[str] = []
        self._at: dict[str, int] = {}  # name → row in the cache file
        self._parents: list[Any] = []
        self._own_path: set[str] = set()
        self._data: list[Any] | None = None  # part B, parsed
        self._heads: list[Any] | None = None  # part H, parsed
        self._trails: list[Any] | None = None  # part T, parsed
        self._clean = False  # the cache file holds exactly the current files
        # Part B's text, for copying a whole excerpt to JSON output (see json_text): its names in line order, its
        # bytes (or the cache file to read them from), and the objects (excerpts or heads) each line encodes.
        self._b: tuple[list[str], bytes | _CacheFile] | None = None
        self._b_objs: list[list[Any]] = []
        self._b_ids: dict[int, str] | None = None  # id(object) → name, built from _b_objs on first use
        self._given: dict[int, str] | None = None  # id(head) → name for every head handed out (see _head_name)
        self._kept: list[tuple[list[Any], list[str]]] = []  # handed-out heads (and names), kept alive: ids stay theirs
        self._trail_of: dict[str, Trail] = {}  # trails handed out, by name
        self._wholes: dict[str, dict[str, Any] | None] = {}  # whole excerpts decoded one by one (see full)
        self._lines: tuple[memoryview, dict[str, tuple[int, int]]] | None = None
        self._line_lengths: list[Any] = []  # bytes of each line of part B (stored in part A)
        self._trimmed: set[Any] = set()  # keys some head lacks besides history (stored in part A)
        self._started = 0

    @classmethod
    def open(cls, project: Project) -> Index:
        idx = cls(project)
        idx._refresh()
        return idx

    def _meta(self) -> dict[str, Any]:
        from sopflow import __version__

        return {"sopflow": __version__, "root": self.root, "tickets": str(self.tickets_dir)}

    # ------------------------------------------------------------ scanning
    def _start_scan(self) -> tuple[list[str], Any, int]:
        """List the folder (``os.scandir``: names and file types, no ``stat``) and start taking each regular
        file's identity: with many files, a worker process takes most of them while this one reads the cache
        file's part A (``stat`` is a system call a file: 0.3 s at 100,000 tickets). Each file is stat'ed by
        name relative to the open folder where the platform can (``dir_fd``), a third faster than
        ``DirEntry.stat``, which makes the whole path first."""
        from sopflow.adapters import forkmap

        files: list[str] = []
        links: set[str] = set()
        try:
            it = os.scandir(self.tickets_dir)
        except OSError:
            it = None
        if it is not None:
            with it:
                for e in it:
                    name = e.name
                    if name[-3:] != ".md":
                        continue
                    try:
                        if not e.is_file():
                            continue
                        if e.is_symlink():
                            links.add(name)
                        else:
                            files.append(name)
                    except OSError:
                        continue
        self.links = links
        folder = -1
        if files and os.stat in os.supports_dir_fd:
            with contextlib.suppress(OSError):
                folder = os.open(self.tickets_dir, os.O_RDONLY)
        base = str(self.tickets_dir)

        def identities(names: Sequence[str]) -> list[Key | None]:
            out: list[Key | None] = []
            for name in names:
                try:  # (not a link: the file itself, as DirEntry.stat gives it)
                    st = (os.stat(name, dir_fd=folder, follow_symlinks=False) if folder >= 0
                          else os.stat(os.path.join(base, name), follow_symlinks=False))
                except OSError:
                    out.append(None)
                    continue
                out.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))  # file_key, inlined: 100,000s
            return out

        if len(files) >= PARALLEL_SCAN_AFTER:
            batch = forkmap.start(identities, files, workers=2, min_slice=1, first_share=SCAN_FIRST_SHARE)
        else:
            batch = forkmap.start(identities, files, workers=1)
        return files, batch, folder

    def _finish_scan(self, started: tuple[list[str], Any, int]) -> None:
        files, batch, folder = started
        try:
            found = batch.results()
        finally:
            if folder >= 0:
                os.close(folder)
        self.keys = {name: key for name, key in zip(files, found, strict=True) if key is not None}
        self.names = sorted([*self.keys, *self.links])

    def _refresh(self) -> None:
        with paused():  # 100,000s of identities, names and tuples: nothing for the collector to find
            self._refresh_paused()

    def _refresh_paused(self) -> None:
        self._started = time.time_ns()
        scan = self._start_scan()
        try:
            cached = self._read_part_a()
        finally:
            self._finish_scan(scan)
        if cached == self.keys:
            changed, deleted = [], False
            self._clean = not self.links
        else:
            changed = sorted(n for n, k in self.keys.items() if cached.get(n) != k)
            deleted = any(n not in self.keys for n in cached)
        if changed or deleted:  # the cache file will be written again: it needs every cached excerpt
            if not self._load_data():
                changed, deleted = sorted(self.keys), True
            self._update(changed + sorted(self.links), deleted)
        elif self.links:  # symbolic links are read every time, never cached
            self._update(sorted(self.links), False)

    def _update(self, todo: list[str], dirty: bool) -> None:
        """Parse ``todo`` (new or changed files) and write the cache when the cached set changed."""
        racy_after = racy_cutoff(self._started, self.keys.values())
        from sopflow.progress import Progress

        bar = Progress(len(todo), "indexing tickets") if len(todo) >= PROGRESS_AFTER else None
        with paused(freeze=len(todo) >= FREEZE_AFTER):
            parsed = self._parse_all([n for n in todo if n not in self.links], bar)
            for name in todo:
                self.rows.pop(name, None)
                if name in self.links:
                    self.volatile[name] = self._parse_symlink(name)
                    continue
                key = self.keys[name]
                data, exact, own_path = parsed[name]
                if not exact or max(key[1], key[2]) >= racy_after:
                    # Not cached: values JSON cannot carry, or "racily clean" (the file may change again within
                    # its timestamps' granularity, unseen). It is parsed again next run.
                    self.volatile[name] = data
                    continue
                self.rows[name] = _Row(key, data, own_path)
                dirty = True
        if bar is not None:
            bar.close()
        if dirty:
            self._save()

    def _parse(self, name: str) -> dict[str, Any] | None:
        return self._parse_own(name)[0]

    def _parse_all(self, names: list[str], bar: Progress | None) -> dict[str, tuple[dict[str, Any] | None, bool, bool]]:
        """:meth:`_parse_own` of every name; with many names and two or more cores, forked workers parse
        slices of them at the same time (parsing is CPU-bound: about 0.1 ms a ticket; see adapters/forkmap)."""
        from sopflow.adapters import forkmap

        me = os.getpid()
        done = [0]

        def parse(part: Sequence[str]) -> list[tuple[dict[str, Any] | None, bool, bool]]:
            out = []
            for name in part:
                out.append(self._parse_own(name))
                if bar is not None and os.getpid() == me:  # only this process draws the bar
                    done[0] += 1
                    bar.update(min(len(names), done[0] * len(names) // max(1, len(part))))
            return out

        batch = forkmap.start(parse, names, min_slice=PARALLEL_AFTER // 2)
        return dict(zip(names, batch.results(), strict=True))

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
    def _read_part_a(self) -> dict[str, Key]:
        """The cached identities (name → key); empty when there is no usable cache."""
        if self.path is None:
            return {}
        f = _CacheFile.open(self.path, FORMAT, self._meta(), 4)
        if f is None:
            return {}
        try:
            a = f.part(_PART_A)
            names, keys, parents, own, lines = a["names"], a["keys"], a["parents"], a["own_path"], a["lines"]
            trimmed = a["trimmed"]
            if not (type(names) is list and type(keys) is list and type(parents) is list and type(own) is list
                    and type(lines) is list and type(trimmed) is list
                    and len(names) == len(keys) == len(parents) == len(lines)):
                raise _Corrupt
            # A name, identity or parent of another type cannot do harm (it matches nothing and is read
            # again), so only the shape is checked: the digests already vouch for the bytes.
            cached = dict(zip(names, map(tuple, keys), strict=True))
            if len(cached) != len(names):
                raise _Corrupt
        except (_Corrupt, KeyError, TypeError, ValueError):
            f.close()
            return {}
        self._file = f
        weakref.finalize(self, f.close)
        self._order, self._parents, self._own_path, self._line_lengths = names, parents, set(own), lines
        self._trimmed = set(trimmed)
        self._at = dict(zip(names, range(len(names)), strict=True))
        return cached

    def _load_data(self) -> bool:
        """Read part B (every cached excerpt). False when it does not check out: then nothing cached is used."""
        if self._data is not None or self._file is None:
            return self._data is not None or not self._order
        try:
            with paused(freeze=len(self._order) >= FREEZE_AFTER):
                b = self._file.part(_PART_B)
            if type(b) is not list or len(b) != len(self._order) or not set(map(type, b)) <= _DICT_OR_NONE:
                raise _Corrupt
        except _Corrupt:
            self._forget_cache()
            return False
        self._data = b
        self._set_b_from_file(b)
        return True

    def _load_heads(self) -> bool:
        """Read part H (every cached excerpt without its history)."""
        if self._heads is not None or self._file is None:
            return self._heads is not None or not self._order
        try:
            with paused(freeze=len(self._order) >= FREEZE_AFTER):
                h = self._file.part(_PART_H)
            if type(h) is not list or len(h) != len(self._order) or not set(map(type, h)) <= _DICT_OR_NONE:
                raise _Corrupt
        except _Corrupt:
            return False
        self._heads = h
        self._set_b_from_file(h)
        return True

    def _load_trails(self) -> bool:
        """Read part T (every cached ticket's trail, see :mod:`sopflow.core.trail`)."""
        if self._trails is not None or self._file is None:
            return self._trails is not None
        try:
            t = self._file.part(_PART_T)
            if type(t) is not list or len(t) != len(self._order):
                raise _Corrupt
        except _Corrupt:
            return False
        self._trails = t
        return True

    def _set_b_from_file(self, objs: list[Any]) -> None:
        """Part B of the cache file encodes the cached rows, whose excerpts or heads are ``objs``."""
        if self._b is None or isinstance(self._b[1], _CacheFile):
            assert self._file is not None
            self._b = (self._order, self._file)
            self._b_objs.append(objs)
            self._b_ids = None

    def _forget_cache(self) -> None:
        self._order, self._at, self._parents, self._own_path = [], {}, [], set()
        self._data = self._heads = self._trails = None
        self._clean = False
        self._b, self._b_objs, self._b_ids = None, [], None

    def _ensure_loaded(self) -> None:
        if not self._load_data():
            self._update(list(self.names), True)

    def cached_names(self) -> set[str]:
        """The ticket files whose excerpt the cache file holds (or, after this run's changes, will hold)."""
        return {n for n in self.names if n in self.rows or self._cached_row(n) is not None}

    def _cached_row(self, name: str) -> int | None:
        """The cache-file row of ``name`` when it is valid (identity checked, not parsed again)."""
        if name in self.rows or name in self.volatile:
            return None
        return self._at.get(name)

    def _save(self) -> None:
        if self.path is None:
            return
        data = self._data or []
        names: list[str] = []
        ents: list[tuple[Key, dict[str, Any] | None, bool]] = []
        for name in self.names:
            r = self.rows.get(name)
            if r is not None:
                names.append(name)
                ents.append((r.key, r.data, r.own_path))
                continue
            at = self._cached_row(name)
            if at is not None and at < len(data) and name in self.keys:
                names.append(name)
                ents.append((self.keys[name], data[at], name in self._own_path))
        try:
            encode = json.JSONEncoder(ensure_ascii=False).encode
            lines = [encode(d).encode("utf-8") for _, d, _ in ents]
            b = b"[\n" + b",\n".join(lines) + b"\n]" if lines else b"[]"
            trimmed: set[str] = set()
            h = json.dumps([_head(d, trimmed) for _, d, _ in ents], ensure_ascii=False,
                           separators=(",", ":")).encode("utf-8")
            from sopflow.core import trail

            t = json.dumps([trail.encode(trail.trail_of(d)) if d is not None else None for _, d, _ in ents],
                           ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            a = json.dumps({"names": names, "keys": [list(k) for k, _, _ in ents],
                            "parents": [_parent(d) for _, d, _ in ents],
                            "own_path": [n for n, (_, _, own) in zip(names, ents, strict=True) if own],
                            "lines": [len(x) for x in lines], "trimmed": sorted(trimmed)},
                           ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError):
            return
        self._b = (names, b)
        self._b_objs, self._b_ids = [[d for _, d, _ in ents]], None
        self._line_lengths = [len(x) for x in lines]
        self._lines = None
        _write_atomic(self.path, [_header(FORMAT, self._meta(), [a, h, b, t]), a, h, b, t])
        _drop_old_versions(self.path.parent)

    # ------------------------------------------------------------ answers
    def _one(self, name: str, heads: bool) -> dict[str, Any] | None:
        if name in self.volatile:
            return self.volatile[name]
        r = self.rows.get(name)
        if r is not None:
            return r.data
        at = self._at.get(name)
        src = self._heads if heads and self._heads is not None else self._data
        return src[at] if at is not None and src is not None else None

    def excerpts(self) -> list[dict[str, Any]]:
        self._ensure_loaded()
        if self._clean and self._data is not None:
            return [d for d in self._data if d is not None]
        return [d for d in (self._one(n, False) for n in self.names) if d is not None]

    def heads(self, need: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The excerpts in file-name order, where that saves work without ``history`` and long free text in
        workflow fields (otherwise whole): every reserved key and every key in ``need`` is kept. A fraction
        of the bytes to parse: what ``list`` needs to filter, sort and show a table."""
        if (self._data is not None or "history" in need or any(k in self._trimmed for k in need)
                or not self._load_heads()):
            return self.excerpts()
        if self._clean and self._heads is not None:
            out = [d for d in self._heads if d is not None]
        else:
            out = [d for d in (self._one(n, True) for n in self.names) if d is not None]
        if self._heads is not None:
            self._given = None  # built when first needed: a tenth of a second at 100,000 tickets
            self._kept.append((self._heads, self._order))
        return out

    def _head_name(self, d: Mapping[str, Any]) -> str | None:
        """The file name of a head handed out by :meth:`heads`; None for any other dict."""
        if not self._kept or "history" in d:
            return None
        if self._given is None:
            self._given = {id(h): n for heads, order in self._kept for h, n in zip(heads, order, strict=True)}
        return self._given.get(id(d))

    def full(self, d: Mapping[str, Any]) -> Mapping[str, Any]:
        """The whole excerpt of ``d``: ``d`` itself, or for a head (see heads) the excerpt it was cut from."""
        name = self._head_name(d)
        if name is None:
            return d
        if self._data is None and self._cached_row(name) is not None:
            # One excerpt: decode its line of part B rather than the whole part (see json_text).
            if name not in self._wholes:
                raw = self.json_text(d)
                try:
                    got = json.loads(bytes(raw)) if raw is not None else None
                except ValueError:
                    got = None
                self._wholes[name] = got if type(got) is dict else None
            got = self._wholes[name]
            if got is not None:
                return got
        self._ensure_loaded()
        whole = self._one(name, False)
        return whole if whole is not None else d

    def trail(self, d: Mapping[str, Any]) -> Trail | None:
        """The trail (see :mod:`sopflow.core.trail`) of a head this index handed out, from the cache file when it
        holds that ticket, else cut from the whole excerpt; None for any other dict (its own history, if any,
        is the answer: see :func:`trails`)."""
        return self.trails_of([d])[0]

    def trails_of(self, ds: Sequence[Mapping[str, Any]]) -> list[Trail | None]:
        """:meth:`trail` of each of ``ds`` (the board asks for 10,000s at once: one loop, no call per ticket)."""
        from sopflow.core.trail import decode, trail_of

        if not self._kept:
            return [None] * len(ds)
        known = self._trail_of
        table = self._trails if self._load_trails() else None  # (part T is read once, not per ticket)
        out: list[Trail | None] = []
        for d in ds:
            name = self._head_name(d)
            if name is None:
                out.append(None)
                continue
            got = known.get(name)
            if got is None:
                at = self._cached_row(name)
                if at is not None and table is not None:
                    got = decode(table[at])
                known[name] = got = got if got is not None else trail_of(self.full(d))
            out.append(got)
        return out

    def json_text(self, d: Mapping[str, Any]) -> bytes | memoryview | None:
        """The JSON text (as :func:`json.dumps` with ``ensure_ascii=False`` writes it) of the whole excerpt of
        ``d`` (an excerpt or head this index handed out) straight from the cache file: no need to encode it
        again. None when the file's line is not that excerpt's (or ``d`` is any other dict)."""
        if self._b is None:
            return None
        if self._b_ids is None:
            names = self._b[0]
            self._b_ids = {id(o): n for objs in self._b_objs for o, n in zip(objs, names, strict=True)
                           if o is not None}
        name = self._b_ids.get(id(d))
        if name is None or (d is not self._one(name, False) and d is not self._one(name, True)):
            return None
        if self._lines is None:
            self._lines = self._line_spans()
        span = self._lines[1].get(name)
        return self._lines[0][span[0]:span[1]] if span is not None else None  # a view: no copy

    def _line_spans(self) -> tuple[memoryview, dict[str, tuple[int, int]]]:
        """Part B's bytes, and where each name's line lies in them (offsets, not copies: it can be big)."""
        from itertools import accumulate

        assert self._b is not None
        names, raw = self._b
        if isinstance(raw, _CacheFile):
            try:
                raw = raw.part_bytes(_PART_B)
            except _Corrupt:
                return memoryview(b""), {}
        view = memoryview(raw)
        lengths = self._line_lengths
        if not names or len(lengths) != len(names) or not all(type(n) is int and n > 0 for n in lengths):
            return view, {}
        ends = list(accumulate(n + 2 for n in lengths))  # each line and the ",\n" (or "[\n") before it
        if ends[-1] + 2 != len(raw) or not raw.startswith(b"[\n") or not raw.endswith(b"\n]"):
            return view, {}
        return view, {name: (end - n, end) for name, end, n in zip(names, ends, lengths, strict=True)}

    def parent_of(self, name: str) -> str | None:
        if name in self.volatile or name in self.rows:
            return _parent(self._one(name, False))
        at = self._at.get(name)
        p = self._parents[at] if at is not None else None
        return p if isinstance(p, str) else None

    def children(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.children_of([ticket_id])[ticket_id]

    def children_of(self, ticket_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The excerpts of the children of each of ``ticket_ids`` (``links.parent``), in one pass over part A."""
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in ticket_ids}
        for name in self.names:
            kids = out.get(self.parent_of(name))  # type: ignore[arg-type]
            if kids is None:
                continue
            data = self._one(name, False) if self._data is not None or name in self.rows or name in self.volatile \
                else self._parse(name)
            if data is not None:
                kids.append(data)
        return out

    def front_matter_of(self, name: str) -> dict[str, Any] | None:
        """The front matter exactly as Document.parse gives it (a fresh copy); None where only reading the file
        tells (symbolic link, a file that does not parse, a front matter with a 'path' key of its own)."""
        if name in self.volatile:
            return None
        r = self.rows.get(name)
        if r is not None:
            data, own = r.data, r.own_path
        else:
            at = self._at.get(name)
            data = self._data[at] if at is not None and self._data is not None else None
            own = name in self._own_path
        if data is None or own:
            return None
        out = data.copy()
        del out["path"]
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
            key = self.keys.get(name)
            if key is None:
                continue
            hit = cached.get(name)
            if hit is not None and hit[0] == key and name not in self.volatile:
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
            data = self._one(name, True)
            if data is None and name not in self.volatile:
                data = front_matter(raw)[0]
            if data is None:
                continue
            norm: str | None = _normalize(f"{data.get('title', '')}\n{body_of(raw)}")
            if norm is not None and _normalize(norm) != norm:
                norm = None
            out[name] = norm
            if name not in self.volatile:  # cacheable: not a symbolic link, not racily clean
                fresh[name] = (self.keys[name], norm)
        if bar is not None:
            bar.close()
        if fresh and path is not None:
            keep = {n: v for n, v in cached.items() if self.keys.get(n) == v[0] and n not in self.volatile}
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
        f = _CacheFile.open(path, TEXT_FORMAT, self._meta(), 1)
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


def _head(data: dict[str, Any] | None, trimmed: set[str]) -> dict[str, Any] | None:
    """The excerpt without ``history`` and without long free text in workflow fields (adding their keys to
    ``trimmed``): what ``list`` filters, sorts and draws tables from, at a fraction of the bytes."""
    if data is None:
        return None
    from sopflow.core.workflow import RESERVED

    out: dict[str, Any] = {}
    for k, v in data.items():
        if k == "history" or (type(v) is str and len(v) > HEAD_TEXT_MAX and k not in RESERVED and k != "path"):
            trimmed.add(k)
        else:
            out[k] = v
    return out


def _parent(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    from sopflow.core.ticket import parent

    return parent(data)


def trails(project: Project, without_history: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
           ) -> Callable[[Mapping[str, Any]], Trail]:
    """A function giving the trail of a ticket dict: for a head the project's index handed out, from the index;
    for any other dict, from its own history. ``without_history`` is given each such dict that has no
    ``history`` key, and returns the front matter to take the trail from (e.g. the ticket read from its
    file)."""
    from sopflow.core.trail import trail_of

    bound: list[Callable[[Mapping[str, Any]], Trail | None]] = []

    def get(d: Mapping[str, Any]) -> Trail:
        if not bound:  # the index may be opened after this function was made
            idx = _INDEXES.get(project)
            if idx is not None:
                bound.append(idx.trail)
        got = bound[0](d) if bound else None
        if got is not None:
            return got
        if without_history is not None and "history" not in d:
            d = without_history(d)
        return trail_of(d)

    return get


def trails_of(project: Project, items: Sequence[Mapping[str, Any]]) -> list[Trail]:
    """The trail of each ticket dict of ``items`` (see :func:`trails`), all at once."""
    from sopflow.core.trail import trail_of

    idx = _INDEXES.get(project)
    got = idx.trails_of(items) if idx is not None else [None] * len(items)
    return [t if t is not None else trail_of(d) for t, d in zip(got, items, strict=True)]


def whole(project: Project, d: Mapping[str, Any]) -> Mapping[str, Any]:
    """The whole excerpt of ``d`` when it is a head the project's index handed out, else ``d`` itself."""
    idx = _INDEXES.get(project)
    return idx.full(d) if idx is not None else d


def _drop_old_versions(folder: Path) -> None:
    """Remove the cache files of earlier formats (``excerpts-v1.json`` …): nothing reads them any more."""
    for old in range(1, VERSION):
        for name in (f"excerpts-v{old}.json", f"tickets-text-v{old}.json"):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)


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
        rel = project.relpath(Path(path)) if name in idx.links else f"{idx.rel_dir}/{name}"
        out.append((path, rel, idx.front_matter_of(name)))
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


def load_heads(project: Project, need: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Like :func:`load_excerpts`, but the dicts may lack ``history`` and long free text in workflow fields
    (never a reserved key, nor a key named in ``need``). For ``list``: filter, sort and draw tables; JSON output
    gets each whole excerpt from the cache (:func:`write_json_list`)."""
    return open_index(project).heads(set(need))


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
        chunks: list[bytes | memoryview] = []
        for d in items[i:i + 1000]:
            raw = idx.json_text(d) if idx is not None and "body" not in d else None
            if raw is None:
                whole = idx.full(d) if idx is not None else d
                raw = encode({k: v for k, v in whole.items() if k != "body"}).encode("utf-8")
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
