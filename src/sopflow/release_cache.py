"""What ``release-notes`` learnt from ticket files, kept for the next run: ``<git dir>/sopflow/release-v1.json``.

Release notes read every ticket file a range adds, removes or changes (all 10,000 of them for a range that
starts before the tickets did) to find the history entries into a final state, and parse the front matter of
each ticket that ships. Both answers are kept here, keyed so that a stored answer is the answer:

- **hits** (part 0): the :func:`sopflow.core.release.entry_hits` of one side of a change, keyed by what git
  names it by: ``+<blob>`` (a file added whole), ``-<blob>`` (removed whole) or ``@<old blob>:<new blob>``
  (modified in place), then `` <prefix>`` (the ticket type's prefix, which decides the final states). Git
  objects never change, so neither does the answer.
- **work-tree fronts** (part 1): the front matter of a ticket file in the work tree (history left out),
  keyed by its path and its identity as ``os.stat`` gives it (size, mtime, ctime, inode), as the excerpt
  index keys it (:mod:`sopflow.index`, which explains why that is enough) and with the same "racily clean"
  rule: a file written within the timestamps' granularity of its reading is not kept.
- **blob fronts** (part 2): the same for a file at a commit (a range that does not end at HEAD), keyed by
  its blob.

The header names the format, the sopflow version, the repository and tickets folder, and the final states
of every ticket type; a header that differs, or a part whose length or CRC-32 does not check out, means the
file is ignored and written anew (the file format and its checks are the excerpt index's:
``index._CacheFile``). Values that JSON would not carry back unchanged are never stored. Each part keeps
what this run used, then older entries up to :data:`KEEP` of them, so alternating ranges stay warm and
the file does not grow without end. The file is decoded only for a range of many ticket files
(``release_notes._CACHE_AFTER``; a few are read faster than megabytes of JSON) and rewritten only when a
run learnt :data:`SAVE_AFTER` answers or found no usable file. A cache that cannot be written is skipped. :data:`LAYOUT` is in the
header and the file name: raise it whenever what is stored, or how it is computed, changes meaning.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sopflow import index

FORMAT = "sopflow-release"
LAYOUT = 1
CACHE_NAME = f"release-v{LAYOUT}.json"
KEEP = 100_000  # entries of each part kept beyond those this run used
SAVE_AFTER = 64  # answers learnt before the file is worth writing again

_HITS, _WORK, _BLOB = 0, 1, 2


def side_key(kind: str, oid: str, prefix: str) -> str | None:
    """The key of one side's hits; ``None`` when the side has no object ID to name it by."""
    return f"{kind}{oid} {prefix}" if oid else None


def stat_key(path: str) -> index.Key | None:
    """The identity of the file at ``path`` (links followed), or ``None`` when there is none."""
    try:
        return index.file_key(os.stat(path))
    except OSError:
        return None


class ReleaseCache:
    """The cache of one repository's tickets folder, read once; :meth:`save` writes what changed."""

    def __init__(self, path: Path | None, meta: Mapping[str, Any]) -> None:
        self.path = path
        self.meta = dict(meta)
        self.started = time.time_ns()
        self.parts: list[dict[str, Any]] = [{}, {}, {}]
        self.used: list[set[str]] = [set(), set(), set()]
        self.new: list[dict[str, Any]] = [{}, {}, {}]
        # the file, until load() reads it (a cache left unread is never written: what it holds is unknown)
        self._file = index._CacheFile.open(path, FORMAT, self.meta, 3) if path is not None else None

    def load(self) -> None:
        """Read what the cache file holds (about 0.05 s at 10,000 tickets: worth it for a range of many files;
        a caller that does not load finds nothing and saves nothing, unless there was no valid file)."""
        cached, self._file = self._file, None
        if cached is None:
            return
        try:
            parts = [cached.part(n) for n in range(3)]
        except index._Corrupt:
            return
        finally:
            cached.close()
        if all(type(p) is dict for p in parts):
            self.parts = parts

    @classmethod
    def open(cls, root: Path, tickets_dir: str, finals: Mapping[str, Iterable[str]]) -> ReleaseCache:
        """The cache for ``root``'s tickets folder, given each prefix's final states (empty when there is
        none, or it does not check out)."""
        from sopflow import __version__

        g = index.git_dir(root)
        meta = {
            "layout": LAYOUT,
            "sopflow": __version__,
            "root": str(root.resolve()),
            "tickets": tickets_dir,
            "finals": {p: sorted(f) for p, f in sorted(finals.items())},
        }
        return cls(g / "sopflow" / CACHE_NAME if g is not None else None, meta)

    # ------------------------------------------------------------ hits
    def hits(self, key: str | None) -> list[Any] | None:
        """The stored hits of a side (lists of ``[text, ±1, entry or None]``), or ``None``."""
        if key is None:
            return None
        got = self.parts[_HITS].get(key)
        if type(got) is not list:
            return None
        self.used[_HITS].add(key)
        return got

    def put_hits(self, key: str | None, hits: list[Any]) -> None:
        if key is not None and index._json_exact(hits):
            self.new[_HITS][key] = hits

    # ------------------------------------------------------------ fronts
    def work_front(self, rel: str, key: index.Key | None) -> tuple[bool, Any]:
        """``(found, front matter)`` of the work tree's file ``rel`` whose identity is ``key`` now."""
        got = self.parts[_WORK].get(rel)
        if key is None or type(got) is not list or len(got) != 5 or tuple(got[:4]) != key:
            return False, None
        self.used[_WORK].add(rel)
        return True, got[4]

    def put_work_front(self, rel: str, key: index.Key | None, front: Any) -> None:
        """Keep ``front``, read from ``rel`` after ``key`` was taken, unless the file is racily clean."""
        if key is None or max(key[1], key[2]) >= index.racy_cutoff(self.started, [key]):
            return
        if index._json_exact(front):
            self.new[_WORK][rel] = [*key, front]

    def blob_front(self, oid: str) -> tuple[bool, Any]:
        if oid not in self.parts[_BLOB]:
            return False, None
        self.used[_BLOB].add(oid)
        return True, self.parts[_BLOB][oid]

    def put_blob_front(self, oid: str, front: Any) -> None:
        if oid and index._json_exact(front):
            self.new[_BLOB][oid] = front

    # ------------------------------------------------------------ writing
    def save(self) -> None:
        """Write the cache when this run learnt enough (:data:`SAVE_AFTER` answers, or any when there was no
        usable file): what it used and learnt, then older entries. Rewriting megabytes for a few answers
        costs more than finding them again."""
        learnt = sum(map(len, self.new))
        if self._file is not None:
            self._file.close()
            self._file = None
            return  # never loaded: what the file holds is unknown here, so it is left as it is
        if self.path is None or not learnt or (learnt < SAVE_AFTER and any(self.parts)):
            return
        import json

        chunks: list[bytes] = []
        for old, used, new in zip(self.parts, self.used, self.new, strict=True):
            kept = {k: old[k] for k in used if k in old}
            kept.update(new)
            room = len(kept) + KEEP
            for k, v in old.items():
                if len(kept) >= room:
                    break
                kept.setdefault(k, v)
            try:
                chunks.append(json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            except (TypeError, ValueError, UnicodeEncodeError):
                return
        index._write_atomic(self.path, [index._header(FORMAT, self.meta, chunks), *chunks])
