"""Knowledge pages on disk: scanning ``wiki/**/*.md`` (and ``sops/``), their front matter, and two caches.

The read path behind ``wiki list``, ``wiki search`` and the knowledge sections of ``show``.

Caches (in ``<git dir>/sopflow/``, never in the work tree, never committed)
    ``wiki-pages.json``  the front matter summary of every page (:class:`PageMeta`), each entry keyed by the
                         file's (size, mtime_ns): only the pages that changed are parsed again.
    ``wiki-index.json``  the search index (:class:`sopflow.core.search.SearchIndex`), keyed by a fingerprint
                         of (path, size, mtime_ns) of every page: rebuilt when any page changed.

    Each file is one header line (JSON: format, repository root, fingerprint, sha256 of the rest) and a JSON
    payload. A cache that fails any check (truncated, edited, another format or root) is rebuilt, never
    trusted. Files are written atomically. A page modified within the last two seconds is "racy" (a second
    change in the same timestamp tick would keep its size and mtime), so it is never cached as valid: it is
    read again next time. Without a git directory, or when it is read-only, nothing is cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat as statmod
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopflow.core.frontmatter import BOM, Document, FrontMatterError

if TYPE_CHECKING:
    from sopflow.core.search import Doc, SearchIndex

PAGES_FORMAT = "sopflow-wiki-pages/1"
INDEX_FORMAT = "sopflow-wiki-index/1"
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStat:
    rel: str
    path: str  # absolute
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class PageMeta:
    """What ``wiki list`` and ``show`` need of a page, without its body. ``error`` is set (and the rest is
    best effort) when the file cannot be read or its front matter does not parse."""

    path: str
    title: str
    tags: tuple[str, ...] = ()
    tickets: tuple[str, ...] = ()
    owner: str | None = None
    reviewed: str | None = None
    reviewed_by: str | None = None
    review_every: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    applies_to: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "title": self.title, "tags": list(self.tags), "tickets": list(self.tickets),
                "owner": self.owner, "reviewed": self.reviewed, "reviewed_by": self.reviewed_by,
                "review_every": self.review_every, "fields": dict(self.fields),
                "applies_to": dict(self.applies_to), "error": self.error}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PageMeta:
        def opt(key: str) -> str | None:
            v = d.get(key)
            if v is not None and not isinstance(v, str):
                raise ValueError(f"{key} must be text")
            return v

        def strs(key: str) -> tuple[str, ...]:
            v = d[key]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ValueError(f"{key} must be a list of text")
            return tuple(v)

        def mapping(key: str) -> dict[str, str]:
            v = d[key]
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in (*v, *v.values())):
                raise ValueError(f"{key} must map text to text")
            return dict(v)

        path, title = d["path"], d["title"]
        if not isinstance(path, str) or not isinstance(title, str):
            raise ValueError("path and title must be text")
        return cls(path, title, strs("tags"), strs("tickets"), opt("owner"), opt("reviewed"), opt("reviewed_by"),
                   opt("review_every"), mapping("fields"), mapping("applies_to"), opt("error"))

    def schedule(self) -> dict[str, Any]:
        """The review keys as :func:`sopflow.checker.review_due` reads them."""
        return {"reviewed": self.reviewed, "review_every": self.review_every}


# ------------------------------------------------------------------------------------------ reading


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if value is True or value is False:
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def text_list(value: Any) -> tuple[str, ...]:
    """A list of non-empty texts (one text counts as a list of one), without repeats."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(t for t in (_text(v) for v in value) if t))


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for k, v in value.items():
        t = _text(v)
        if t is not None:
            out[str(k)] = t
    return out


def heading_title(body: str) -> str | None:
    for line in body.splitlines():
        s = line.strip()
        if s.startswith("# "):
            return s[2:].strip() or None
        if s and not s.startswith("<!--"):
            return None
    return None


def meta_of(rel: str, doc: Document) -> PageMeta:
    d = doc.data
    title = _text(d.get("title")) or heading_title(doc.body) or Path(rel).stem
    return PageMeta(
        path=rel,
        title=" ".join(title.split()),
        tags=text_list(d.get("tags")),
        tickets=text_list(d.get("tickets")),
        owner=_text(d.get("owner")),
        reviewed=_text(d.get("reviewed")),
        reviewed_by=_text(d.get("reviewed_by")),
        review_every=_text(d.get("review_every")),
        fields=_str_map(d.get("fields")),
        applies_to=_str_map(d.get("applies_to")),
    )


def read_text(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8")


def read_page(path: str | Path, rel: str) -> tuple[PageMeta, Document | None, str]:
    """Read one page: its summary, its parsed document (None when it does not parse) and its text."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        return PageMeta(rel, Path(rel).stem, error=f"not valid UTF-8 (byte {exc.start})"), None, ""
    except OSError as exc:
        return PageMeta(rel, Path(rel).stem, error=f"cannot read: {exc.strerror}"), None, ""
    try:
        doc = Document.parse(text)
    except FrontMatterError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        title = heading_title(text) or Path(rel).stem
        return PageMeta(rel, title, error=where + exc.message), None, text
    return meta_of(rel, doc), doc, text


def body_of(text: str) -> str:
    """The body of a page's text without parsing its front matter (the lines after the closing ``---``,
    exactly as :class:`Document` splits them); the whole text when it has no front matter."""
    if text.startswith(BOM):
        text = text[1:]
    if not text.startswith("---"):
        return text
    lines = text.splitlines(keepends=True)
    if lines[0].rstrip("\r\n").rstrip() != "---":
        return text
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[i + 1 :])
    return text


def search_doc(meta: PageMeta, text: str) -> Doc:
    """A page as the search index sees it: title, tags and body (the whole text when it does not parse)."""
    from sopflow.core.search import Doc

    return Doc(meta.path, meta.title, text if meta.error else body_of(text), meta.tags)


# ------------------------------------------------------------------------------------------ scanning


def scan(root: Path, folder: str) -> list[FileStat]:
    """Every ``*.md`` file under ``root/folder`` (``root`` resolved), sorted by path. Symbolic links to
    folders are not followed, and a linked file that leads outside the repository is left out (a page is
    never read from outside it)."""
    base = os.path.join(str(root), folder)
    if not os.path.isdir(base):
        return []
    real_root = os.path.realpath(root) + os.sep
    cut = len(str(root)) + 1
    out: list[FileStat] = []
    todo = [base]
    while todo:
        try:
            it = os.scandir(todo.pop())
        except OSError:
            continue
        with it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    todo.append(e.path)
                    continue
                if not e.name.endswith(".md"):
                    continue
                try:
                    st = e.stat()
                except OSError:
                    continue
                if not statmod.S_ISREG(st.st_mode):
                    continue
                if e.is_symlink() and not os.path.realpath(e.path).startswith(real_root):
                    continue
                out.append(FileStat(e.path[cut:].replace(os.sep, "/"), e.path, st.st_size, st.st_mtime_ns))
    out.sort(key=lambda f: f.rel)
    return out


def fingerprint(stats: Iterable[FileStat]) -> str:
    h = hashlib.sha256()
    for f in stats:
        h.update(f"{f.rel}\t{f.size}\t{f.mtime_ns}\n".encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ caches


def cache_dir(root: Path) -> Path | None:
    """``<git dir>/sopflow`` for the repository at ``root``; None outside git."""
    dot = root / ".git"
    if dot.is_dir():
        return dot / "sopflow"
    if dot.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            first = dot.read_text("utf-8").splitlines()[0]
            if first.startswith("gitdir:"):
                gd = Path(first[len("gitdir:"):].strip())
                gd = gd if gd.is_absolute() else root / gd
                if gd.is_dir():
                    return gd / "sopflow"
        return None
    from sopflow.adapters import gitrepo
    from sopflow.errors import SopflowError

    try:
        return gitrepo.git_dir(root) / "sopflow"
    except SopflowError:
        return None


def read_cache(path: Path, fmt: str, root: Path, **expect: Any) -> Any:
    """The payload of a cache file, or None when it is absent or fails any check: format, repository root,
    the ``expect`` ed header values (checked before the payload is even hashed), the payload's sha256."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline(4096)
            try:
                header = json.loads(head)
            except (ValueError, UnicodeDecodeError, RecursionError):
                return None
            if (not isinstance(header, dict) or header.get("format") != fmt or header.get("root") != str(root)
                    or any(header.get(k) != v for k, v in expect.items())):
                return None
            payload = fh.read()
    except OSError:
        return None
    if header.get("sha256") != hashlib.sha256(payload).hexdigest():
        return None
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def write_cache(path: Path, fmt: str, root: Path, payload: Any, **header: Any) -> bool:
    """Write a cache file atomically; False (and nothing written) when that is not possible."""
    from sopflow.adapters.files import atomic_write

    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = json.dumps({"format": fmt, "root": str(root), **header,
                       "sha256": hashlib.sha256(data).hexdigest()}).encode("utf-8")
    try:
        atomic_write(path, head + b"\n" + data)
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------------------ the store


class PageStore:
    """The pages of one folder (``wiki`` or ``sops``) of a repository, read once and cached.

    ``cache_name`` (e.g. ``"wiki"``) turns the on-disk caches on; None reads the files every time.
    """

    def __init__(self, root: Path, folder: str, *, cache_name: str | None = None, now_ns: int | None = None) -> None:
        self.root = root.resolve()
        self.folder = folder
        self.cache_name = cache_name
        self._now_ns = now_ns
        self._stats: list[FileStat] | None = None
        self._pages: list[PageMeta] | None = None
        self._index: SearchIndex | None = None
        self._docs: dict[str, Doc] = {}
        self._cdir: Path | bool | None = False  # False: not looked up yet
        self.rebuilt: list[str] = []  # what was (re)built rather than read from a cache: "pages", "index"

    # -- files ---------------------------------------------------------------------------------------

    def stats(self) -> list[FileStat]:
        if self._stats is None:
            self._stats = scan(self.root, self.folder)
        return self._stats

    def _cache_path(self, suffix: str) -> Path | None:
        if self.cache_name is None:
            return None
        if self._cdir is False:
            self._cdir = cache_dir(self.root)
        cdir = self._cdir
        return cdir / f"{self.cache_name}-{suffix}.json" if isinstance(cdir, Path) else None

    def _racy(self, f: FileStat) -> bool:
        now = self._now_ns if self._now_ns is not None else time.time_ns()
        return f.mtime_ns > now - RACY_NS

    # -- pages ---------------------------------------------------------------------------------------

    def pages(self) -> list[PageMeta]:
        """Every page's summary, sorted by path."""
        if self._pages is None:
            self._load_pages(with_text=False)
        assert self._pages is not None
        return self._pages

    def by_path(self) -> dict[str, PageMeta]:
        return {m.path: m for m in self.pages()}

    def index(self) -> SearchIndex:
        """The search index over every page (title, body, tags)."""
        if self._index is None:
            self._index = self._load_index()
        return self._index

    def doc(self, rel: str) -> Doc | None:
        """One page as a search :class:`Doc` (read from disk), or None when it is not a page here."""
        if rel in self._docs:
            return self._docs[rel]
        stat = next((f for f in self.stats() if f.rel == rel), None)
        if stat is None:
            return None
        meta, _, text = read_page(stat.path, rel)
        if meta.error and not text:
            return None
        d = self._docs[rel] = search_doc(meta, text)
        return d

    def _load_pages(self, *, with_text: bool) -> list[tuple[PageMeta, str | None]]:
        """Every page's summary (from the pages cache where the file is unchanged) and, ``with_text``,
        its text (None when unreadable). Refreshes the pages cache when anything changed."""
        stats = self.stats()
        known = {m.path: m for m in self._pages} if self._pages is not None else None
        cached: dict[str, tuple[int, int, PageMeta]] = {}
        pages_path = self._cache_path("pages")
        if known is None and pages_path is not None:
            cached = _read_pages_cache(pages_path, self.root)
        out: list[tuple[PageMeta, str | None]] = []
        changed = len(cached) != len(stats)
        for f in stats:
            meta = known.get(f.rel) if known is not None else None
            hit = cached.get(f.rel)
            if meta is None and hit is not None and hit[:2] == (f.size, f.mtime_ns):
                meta = hit[2]
            if meta is not None:
                text: str | None = None
                if with_text:
                    try:
                        text = read_text(f.path)
                    except (OSError, UnicodeDecodeError):
                        text = None
                out.append((meta, text))
                continue
            meta, _, raw = read_page(f.path, f.rel)
            out.append((meta, raw if (raw or not meta.error) else None))
            changed = changed or hit is None or hit[2] != meta or hit[:2] != (f.size, f.mtime_ns)
        if self._pages is None:
            self._pages = [m for m, _ in out]
            if pages_path is None or changed:
                self.rebuilt.append("pages")
            if pages_path is not None and changed:
                entries = [{"size": f.size, "mtime_ns": -1 if self._racy(f) else f.mtime_ns, **m.to_json()}
                           for f, (m, _) in zip(stats, out, strict=True)]
                write_cache(pages_path, PAGES_FORMAT, self.root, entries)
        return out

    def _load_index(self) -> SearchIndex:
        from sopflow.core.search import SearchIndex

        stats = self.stats()
        fp = fingerprint(stats)
        index_path = self._cache_path("index")
        if index_path is not None:
            data = read_cache(index_path, INDEX_FORMAT, self.root, fingerprint=fp)
            if data is not None:
                try:
                    return SearchIndex.from_dict(data)
                except ValueError:
                    pass
        docs = [search_doc(m, text) for m, text in self._load_pages(with_text=True) if text is not None]
        index = SearchIndex.build(docs)
        self.rebuilt.append("index")
        if index_path is not None and not any(self._racy(f) for f in stats):
            write_cache(index_path, INDEX_FORMAT, self.root, index.to_dict(), fingerprint=fp)
        return index


def _read_pages_cache(path: Path, root: Path) -> dict[str, tuple[int, int, PageMeta]]:
    data = read_cache(path, PAGES_FORMAT, root)
    if not isinstance(data, list):
        return {}
    out: dict[str, tuple[int, int, PageMeta]] = {}
    try:
        for e in data:
            size, mtime = e["size"], e["mtime_ns"]
            if not isinstance(size, int) or not isinstance(mtime, int):
                return {}
            out[str(e["path"])] = (size, mtime, PageMeta.from_json(e))
    except (KeyError, TypeError, ValueError):
        return {}
    return out
