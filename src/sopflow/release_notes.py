"""Release notes: the use case behind ``sopflow release-notes`` (SPEC section 5).

:func:`release_notes` reads a range of history and returns the object ``--format json`` prints;
:func:`render_release_notes` renders it with a Jinja2 template in a sandbox; :func:`load_template` finds
the template (``--template PATH``, else the repository's ``templates/release-notes.md.j2``, else the
built-in one); :func:`prepend_changelog` puts a rendered section on top of an existing changelog.

How the history is read (git processes per call, whatever the size of the range):

* one ``git log`` pass over the range (``-z``, NUL-separated fields, full message for trailers and IDs,
  ``--no-merges``), started first and written to a temporary file while the rest goes on;
* one ``git diff --raw`` of the tickets folder between the range's two ends (trees only, no contents) and,
  when some ticket files were modified in place, one ``git diff -U0`` of those: the history entries the
  range adds and removes tell which tickets entered a final state. A file added or removed whole is what
  that diff would show as all ``+`` or all ``-`` lines, so it is read instead, from the work tree when the
  range ends at HEAD and the file there is byte for byte the committed one (same blob ID), else with one
  ``cat-file --batch`` (see :class:`_Shipping`);
* two or three small calls to resolve the range (``rev-parse``, ``describe``), one more when it reaches
  the first commit (is this a shallow clone?), and one ``rev-list -1`` per ``--since``/``--until`` date;
* when the range does not end at HEAD: one ``ls-tree`` and one ``cat-file --batch`` for the workflows and
  the ticket files read (at HEAD they are read from the work tree).

The ticket files are scanned and their front matter parsed in worker processes on the other cores
(:mod:`sopflow.adapters.forkmap`, POSIX; in this process alone elsewhere) while this one reads the log.

JSON object (``--format json``; keys beyond SPEC's are extras that scripts may use)::

    {"range": "v1.2..HEAD", "base": sha|null, "end": sha, "date": ISO (end commit), "since": ISO|null,
     "until": ISO|null,
     "tickets": [{"id", "type", "title", "release_note", "commits": [{"sha", "subject", "author",
                  "date", "action"}], "path", "state", "shipped", "entered_final_at",
                  "entered_final_by", "priority", "labels", "fields"}],
     "other_commits": [{"sha", "subject", "author", "kind", "breaking", "scope", "description", "date"}],
     "commit_count": int,       # non-merge commits in the range, reverted pairs left out
     "types": [{"type", "title", "prefix", "final_states", "fields": {key: {"label", "choices"?}}}]}

Template context: see :func:`sopflow.core.release.template_context` (``notes`` is the object above).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sopflow.adapters import gitlog
from sopflow.core import release
from sopflow.errors import SopflowError, UsageError
from sopflow.release_cache import ReleaseCache, side_key, stat_key

if TYPE_CHECKING:
    from sopflow.progress import Progress

BUILTIN_TEMPLATE = "release-notes.md.j2"
REPO_TEMPLATE = "release-notes.md.j2"
_MAX_OUTPUT = 50_000_000  # characters a template may produce


# --------------------------------------------------------------------------- the notes


def release_notes(
    root: Path,
    rng: str | None = None,
    *,
    since_tag: str | None = None,
    since: str | None = None,
    until: str | None = None,
    all_touched: bool = False,
    tickets_dir: str = "tickets",
    workflows_dir: str = "workflows",
    timezone: str | tzinfo | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """The release-notes object for a range of history (see the module docstring for its keys).

    ``rng``: ``None`` (from the newest tag reachable from HEAD, or the whole history if there is none),
    ``A..B``, ``A..`` (to HEAD), or one revision (its whole history). ``since_tag`` starts the range at a
    tag. ``since``/``until`` (``YYYY-MM-DD`` or ISO 8601; a date alone means the whole day, in
    ``timezone`` or the machine's) keep the commits whose committer date falls in the window.
    ``all_touched`` lists every ticket a commit of the range names or changes, not only those shipped.
    ``meanwhile`` is called once while git walks the range (before it has printed anything, on a long
    history): the caller's own preparation, such as compiling the template, costs no time there.
    """
    from sopflow.gcpause import paused

    # tens of thousands of small records: the cyclic GC would rescan them again and again for nothing
    with paused():
        return _release_notes(
            root,
            rng,
            since_tag=since_tag,
            since=since,
            until=until,
            all_touched=all_touched,
            tickets_dir=tickets_dir,
            workflows_dir=workflows_dir,
            timezone=timezone,
            meanwhile=meanwhile,
        )


def _release_notes(
    root: Path,
    rng: str | None,
    *,
    since_tag: str | None,
    since: str | None,
    until: str | None,
    all_touched: bool,
    tickets_dir: str,
    workflows_dir: str,
    timezone: str | tzinfo | None,
    meanwhile: Callable[[], object] | None,
) -> dict[str, Any]:
    from sopflow.gcpause import leave

    root = Path(root)
    head = gitlog.head(root)
    if head is None:
        raise SopflowError("the repository has no commits yet: nothing to release", where=str(root))

    label, base, end = _resolve_range(root, rng, since_tag, head)
    tz = _tz(timezone)
    since_s = _git_date(since, tz, end_of_day=False, what="--since") if since else None
    until_s = _git_date(until, tz, end_of_day=True, what="--until") if until else None
    revs = [end] if base is None else [end, f"^{base}"]

    if base is None and gitlog.is_shallow(root):
        raise SopflowError(
            "this is a shallow clone and the range reaches back to the first commit, which it lacks",
            hint="fetch the whole history (git fetch --unshallow; fetch-depth: 0 in CI) or give a range",
        )
    reader = gitlog.LogReader(root, revs, since=since_s, until=until_s)
    bar = _history_bar(reader)
    try:
        # the tree diff's ends: the state just before the window and at its end
        diff_base: str | None = base
        diff_end: str | None = end
        if since_s:
            diff_base = gitlog.last_before(root, revs, _minus_one_second(since_s)) or base
        if until_s:
            diff_end = gitlog.last_before(root, revs, until_s) or diff_base
        at_head = diff_end == head
        meta_rev = None if at_head else (diff_end or end)
        workflows = _load_workflows(root, workflows_dir, meta_rev)
        id_re = release.id_regex(w.prefix for w in workflows)
        by_prefix = {w.prefix: w for w in workflows}
        # the ticket files: the work tree's when the range ends at HEAD (read once, shared below)
        files = _TicketFiles(root, tickets_dir, meta_rev)

        # while git log runs, find the tickets the range ships and read them (in worker processes too)
        metas: dict[str, release.TicketMeta] = {}
        finals: dict[str, list[release.FinalEntry]] = {}
        changed: set[str] = set()
        shipping: _Shipping | None = None
        records: dict[str, dict[str, Any]] | None = None  # the shipped tickets' entries in the notes
        if diff_end is not None and diff_end != diff_base:
            shipping = _Shipping(
                root, tickets_dir, diff_base or gitlog.empty_tree(root), diff_end, files, id_re, by_prefix
            )
        try:
            if shipping is not None:
                shipping.batch.own()  # this process's share of the tickets while git log and the workers run
                if not shipping.todo:  # all known from earlier runs: done before git has written anything
                    finals, changed, metas = shipping.finish()
                    leave("release-notes", shipping)  # what it read (freeing it costs more than reading it)
                    shipping = None
                    records = release.ticket_records(finals, metas, workflows)
            if meanwhile is not None:
                meanwhile()
            classified = release.classify_commits(reader, id_re, [w.prefix for w in workflows])
            if shipping is not None:
                finals, changed, metas = shipping.finish()
                leave("release-notes", shipping)
        finally:
            if shipping is not None:
                shipping.cancel()
    finally:
        reader.close()
        if bar is not None:
            bar.close()

    wanted = set(finals)
    if all_touched:
        wanted |= changed | set(classified.by_ticket)
    metas = {tid: meta for tid, meta in metas.items() if tid in wanted}
    if wanted - set(metas):
        records = None  # made with front matter still to read
    metas.update(_load_tickets(files, wanted - set(metas), id_re, by_prefix))
    if meta_rev is None and wanted - set(metas):
        # gone from the work tree (deleted, or an unreadable link) but committed: read it from HEAD
        at_head_commit = _TicketFiles(root, tickets_dir, head)
        metas.update(_load_tickets(at_head_commit, wanted - set(metas), id_re, by_prefix))
    newest = reader.first
    end_date = newest.date if newest is not None and newest.sha == end else gitlog.commit_date(root, end)
    return release.build_notes(
        range_label=label,
        classified=classified,
        finals=finals,
        metas=metas,
        workflows=workflows,
        changed_tickets=changed,
        all_touched=all_touched,
        records=records,
        extra={
            "base": base,
            "end": end,
            "date": end_date,
            "since": since_s and _iso(since_s),
            "until": until_s and _iso(until_s),
        },
    )


def _history_bar(reader: gitlog.LogReader) -> Progress | None:
    """A progress bar for reading a long history (on a terminal only, after a second: see progress.py),
    fed by the log reader with the bytes of git's output parsed so far."""
    from sopflow.progress import Progress

    bar = Progress(1, "reading history")
    if not bar.enabled:
        return None

    def step(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.update(done)

    reader.on_progress = step
    return bar


def _resolve_range(
    root: Path, rng: str | None, since_tag: str | None, head: str
) -> tuple[str, str | None, str]:
    """``(label, base commit or None, end commit)``."""
    if rng is not None:
        rng = rng.strip()
        if not rng:
            rng = None
    if since_tag is not None:
        if rng is not None and ".." in rng:
            raise UsageError("give a range or --since-tag, not both")
        base = gitlog.tag_commit(root, since_tag)
        if base is None:
            raise SopflowError(f"unknown tag: {since_tag}")
        end_name = rng or "HEAD"
        end = head if rng is None else _commit(root, rng)
        return f"{since_tag}..{end_name}", base, end
    if rng is None:
        tag = gitlog.nearest_tag(root, "HEAD")
        if tag is None:
            return "HEAD", None, head
        base = gitlog.resolve(root, tag)
        return f"{tag}..HEAD", base, head
    if "..." in rng:
        raise SopflowError(f"symmetric ranges are not supported: {rng} (use A..B)")
    if ".." in rng:
        left, _, right = rng.partition("..")
        base = _commit(root, left or "HEAD")
        end = head if not right else _commit(root, right)
        return f"{left or 'HEAD'}..{right or 'HEAD'}", base, end
    return rng, None, _commit(root, rng)


def _commit(root: Path, rev: str) -> str:
    sha = gitlog.resolve(root, rev)
    if sha is None:
        raise SopflowError(f"unknown revision: {rev}")
    return sha


def _tz(timezone: str | tzinfo | None) -> tzinfo | None:
    if timezone is None or isinstance(timezone, tzinfo):
        return timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SopflowError(f"unknown time zone: {timezone}") from exc


def _git_date(text: str, tz: tzinfo | None, *, end_of_day: bool, what: str) -> str:
    """A date for git: ``YYYY-MM-DD HH:MM:SS +HHMM``; a bare date is the start (or end) of that day."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day)
            if end_of_day:
                moment += timedelta(days=1, seconds=-1)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{what}: not a date (use YYYY-MM-DD or ISO 8601): {text!r}") from exc
    moment = moment.replace(tzinfo=tz) if moment.tzinfo is None and tz is not None else moment
    moment = moment.astimezone() if moment.tzinfo is None else moment
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def _minus_one_second(git_date: str) -> str:
    moment = datetime.strptime(git_date, "%Y-%m-%d %H:%M:%S %z") - timedelta(seconds=1)
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def _iso(git_date: str) -> str:
    return datetime.strptime(git_date, "%Y-%m-%d %H:%M:%S %z").isoformat()


def _yaml_loader() -> Callable[[str], object]:
    """sopflow's own safe loader: the fast path for everyday front matter, PyYAML's C loader otherwise."""
    from sopflow.core import yamlio

    def load(text: str) -> object:
        try:
            return yamlio.load(text)
        except yamlio.YamlError:
            return None

    return load


def _entry_loader() -> Callable[[str], object]:
    """:func:`_yaml_loader` for history entries (``- {at: …, to: 关闭, note: "…"}``, dedented).

    A sequence at the top level is outside the subset :mod:`sopflow.core.fastyaml` reads, but the same lines
    as the value of a key (``e:`` above them) are inside it and load to the same list; anything fastyaml
    declines goes to the full loader as it is.
    """
    from sopflow.core import fastyaml

    load = _yaml_loader()

    def load_entry(text: str) -> object:
        if text.startswith("- ") and len(text) < 10_000:
            ok, data = fastyaml.try_load("e:\n" + text)
            if ok and isinstance(data, dict) and len(data) == 1 and isinstance(data.get("e"), list):
                return data["e"]
        return load(text)

    return load_entry


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _walk_md(root: Path, folder: str) -> list[tuple[str, str]]:
    """``(path relative to root, path)`` of the ``.md`` files under ``folder``, sorted; symlinks that lead
    out of the repository are left out (a pull request must not make release notes read outside files),
    and linked folders are not entered. (Plain strings: this lists every ticket file.)"""
    base = root / folder
    if not base.is_dir() or not _inside(root, base):
        return []
    rel_base = base.relative_to(root).as_posix()
    found: list[tuple[str, str]] = []
    stack = [(str(base), "" if rel_base == "." else rel_base + "/")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() and not _inside(root, Path(entry.path)):
                continue
            if entry.is_dir(follow_symlinks=False):  # not into linked folders: no loops
                stack.append((entry.path, prefix + entry.name + "/"))
            elif entry.name.endswith(".md") and entry.is_file():
                found.append((prefix + entry.name, entry.path))
    found.sort()
    return found


def _load_workflows(root: Path, folder: str, rev: str | None) -> list[release.WorkflowInfo]:
    """The workflows at ``rev`` (``None``: the work tree), in file-name order; broken ones are skipped."""
    texts: dict[str, str] = {}
    if rev is None:
        base = root / folder
        if base.is_dir() and _inside(root, base):
            for path in sorted(base.glob("*.yaml")):
                if path.is_file() and _inside(root, path):
                    try:
                        texts[path.stem] = path.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError):
                        continue
    else:
        prefix = folder.strip("/") + "/"
        names = [
            p
            for p in gitlog.list_files(root, rev, folder)
            if p.endswith(".yaml") and p.startswith(prefix) and "/" not in p[len(prefix) :]
        ]
        for rel, text in gitlog.read_files(root, rev, sorted(names)).items():
            texts[rel.rsplit("/", 1)[-1][: -len(".yaml")]] = text
    load = _yaml_loader()
    result: list[release.WorkflowInfo] = []
    for stem, text in texts.items():
        try:
            info = release.parse_workflow(load(text), stem)
        except Exception:  # `sopflow check` reports broken workflows; release notes use the rest
            continue
        if info is not None:
            result.append(info)
    return result


class _TicketFiles:
    """The ticket files as they stand at ``rev`` (``None``: in the work tree).

    In the work tree, symlinks that lead out of the repository are left out and linked folders are not
    entered (see :func:`_walk_md`); at a commit, the files are listed with ``ls-tree`` when first needed.
    """

    def __init__(self, root: Path, folder: str, rev: str | None) -> None:
        self.root = root
        self.folder = folder
        self.rev = rev
        self._walk: dict[str, str] | None = None
        self.texts: dict[str, str] = {}  # at a commit: the text of files read from git (decoded, as is)

    def paths(self) -> list[str]:
        """The files' paths (relative to the root), sorted."""
        if self.rev is not None:
            return sorted(gitlog.list_files(self.root, self.rev, self.folder))
        if self._walk is None:
            self._walk = dict(_walk_md(self.root, self.folder))
        return list(self._walk)

    def data(self, rel: str) -> bytes | None:
        """The bytes of the work tree's file ``rel``, or ``None`` (not a file the walk found, unreadable)."""
        path = self.walked().get(rel)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def walked(self) -> dict[str, str]:
        """The work tree's files: path relative to the root -> path (do not change it)."""
        if self._walk is None:
            self.paths()
        assert self._walk is not None
        return self._walk

    def text(self, rel: str) -> str | None:
        """The text of the work tree's file ``rel`` as reading it in text mode gives it (strict UTF-8,
        universal newlines), or ``None``."""
        data = self.data(rel)
        return None if data is None else _worktree_text(data)

    def read(self, rels: list[str]) -> dict[str, str]:
        """The text of the files ``rels`` at the commit (decoded as is; missing ones are left out)."""
        assert self.rev is not None
        missing = [r for r in rels if r not in self.texts]
        self.texts.update(gitlog.read_files(self.root, self.rev, missing))
        return {r: self.texts[r] for r in rels if r in self.texts}


def _worktree_text(data: bytes) -> str | None:
    """A file's bytes as reading it in text mode gives them (strict UTF-8, universal newlines), or
    ``None`` when they are not UTF-8."""
    try:
        return _universal_newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _universal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


_ENTRY_KEYS = ("to", "at", "by", "action")  # what net_final_entries reads of an entry


class _Side(NamedTuple):
    """One side of a changed ticket file, to scan for history entries (see :class:`release.FileSide`)."""

    path: str
    tid: str
    kind: str  # "+" the whole file added, "-" removed, "@" the hunks of a file modified in place
    oid: str  # "+"/"-": the blob
    hunks: str  # "@": the hunks
    meta: str | None  # the file whose front matter to read for ``tid`` too, should this side ship it


class _Shipping:
    """The tickets a range ships: their history entries into a final state and their front matter.

    Git compares the two trees (no contents); only the files modified in place go through ``git diff
    -U0``. A file added or removed whole is what that diff would show as all ``+`` or all ``-`` lines, so its
    text is read instead: from the work tree when ``end`` is HEAD and the file there has the very blob ID it
    has at ``end`` (the same bytes), else from git in one ``cat-file --batch``. What an earlier run learnt
    is taken from :mod:`sopflow.release_cache` (keyed by blob IDs, and by file identity in the work tree),
    so only new files are read. Those are scanned, and the front matter of those that add an entry into a
    final state read, in worker processes (:mod:`sopflow.adapters.forkmap`) while the caller reads the log;
    :meth:`finish` adds it all up and keeps what was learnt.
    """

    def __init__(
        self,
        root: Path,
        folder: str,
        base: str,
        end: str,
        files: _TicketFiles,
        id_re: re.Pattern[str] | None,
        by_prefix: Mapping[str, release.WorkflowInfo],
    ) -> None:
        from sopflow.adapters import forkmap

        self.root = root
        self.files = files
        self.by_prefix = by_prefix
        self.id_re = id_re
        self.load_entry = _entry_loader()
        self.load = _yaml_loader()
        diff_proc = gitlog.start_tree_changes(root, base, end, folder)  # git compares meanwhile
        try:
            self.cache = cache = ReleaseCache.open(root, folder, {p: w.final_states for p, w in by_prefix.items()})
            changes = gitlog.read_tree_changes(root, diff_proc)
        finally:
            if diff_proc.poll() is None:
                diff_proc.kill()
                diff_proc.communicate()
        self._ids: dict[str, str | None] = {}  # path -> ticket ID (see id_of)
        self._finals = {p: w.final_states for p, w in by_prefix.items() if w.final_states}
        id_of = self.id_of
        self.changed = set()
        plan: list[_Side] = []
        for c in changes:  # in git's order, as one diff of the whole folder would list them
            tid = id_of(c.path)
            if tid is None:
                continue
            if c.old_id != c.new_id:
                self.changed.add(tid)
            if not self.finals_of(tid):
                continue
            if c.status == "M":
                if c.old_id != c.new_id:
                    plan.append(_Side(c.path, tid, "@", f"{c.old_id}:{c.new_id}", "", None))
                continue
            if c.status in ("D", "T") and c.old_mode != _GITLINK:
                plan.append(_Side(c.path, tid, "-", c.old_id, "", None))
            if c.status in ("A", "T") and c.new_mode != _GITLINK:
                plan.append(_Side(c.path, tid, "+", c.new_id, "", None))
        # the front matter _load_tickets would read for each ID that may ship (added or modified side)
        first: dict[str, str] = {}
        if any(s.kind != "-" for s in plan):
            for rel in files.paths():
                tid = id_of(rel)
                if tid is not None and tid not in first:
                    first[tid] = rel
        for i, s in enumerate(plan):
            if s.kind != "-" and s.tid in first:
                plan[i] = s._replace(meta=first.pop(s.tid))
        # what earlier runs learnt: a side whose hits are known, and whose front matter is known or not
        # needed, is done; the others are scanned (their known hits are used there). For a few files,
        # reading them costs less than loading the cache.
        if len(plan) >= _CACHE_AFTER:
            cache.load()
        self.known: dict[int, list[Any]] = {}
        self.done: dict[int, Any] = {}
        self.meta_keys: dict[str, Any] = {}  # work tree: the identity of each meta file, taken before reading
        todo: list[int] = []
        at_head = files.rev is None
        for i, s in enumerate(plan):
            hits = cache.hits(self._key(s))
            if hits is None:
                todo.append(i)
                continue
            self.known[i] = hits
            meta = s.meta
            if meta is None or not _adds_final(hits, self.finals_of(s.tid)):
                self.done[i] = (hits, None)
                continue
            if at_head:
                found, front = cache.work_front(meta, self._identity(meta))
            else:
                oid = self._front_blob(s)
                found, front = cache.blob_front(oid) if oid else (False, None)
            if found:
                self.done[i] = (hits, (meta, front))
            else:
                todo.append(i)
        if at_head:
            for i in todo:
                meta = plan[i].meta
                if meta is not None:
                    self._identity(meta)
        # the hunks of the files modified in place, for the sides still to scan
        patch = ""
        if any(plan[i].kind == "@" and i not in self.known for i in todo):
            patch_proc = gitlog.start_diff(root, base, end, folder, modified_only=True)
            try:
                # git's copy of what the work tree cannot give: removed sides, and every side away from HEAD
                self.contents = self._blobs(plan, todo)
                patch = gitlog.finish(root, patch_proc, "diff")
            finally:
                if patch_proc.poll() is None:
                    patch_proc.kill()
                    patch_proc.communicate()
        else:
            self.contents = self._blobs(plan, todo)
        hunks = {side.path: side.text for side in release.diff_sides(patch)}
        for i in todo:
            s = plan[i]
            if s.kind == "@" and i not in self.known:
                plan[i] = s._replace(hunks=hunks.get(s.path, ""))
        if patch:  # a file the diff shows that the tree comparison did not: scanned as it is
            listed = {s.path for s in plan if s.kind == "@"}
            for path, text in hunks.items():
                if path not in listed and (tid := self.id_of(path)):
                    todo.append(len(plan))
                    plan.append(_Side(path, tid, "@", "", text, None))
        if files.rev is not None:  # at a commit: git's text of each such file, the added ones from their blob
            for i in todo:
                s = plan[i]
                if s.meta == s.path and s.kind == "+" and s.oid in self.contents:
                    files.texts[s.path] = self.contents[s.oid].decode("utf-8", "replace")
            files.read([m for i in todo if (m := plan[i].meta) is not None])
        self.plan = plan
        self.todo = todo
        self.batch = forkmap.start(self._scan, todo, min_slice=_MIN_SLICE, first_share=_FIRST_SHARE)

    def _blobs(self, plan: list[_Side], todo: list[int]) -> dict[str, bytes]:
        wanted = [
            plan[i].oid
            for i in todo
            if i not in self.known and (plan[i].kind == "-" or (plan[i].kind == "+" and self.files.rev is not None))
        ]
        return gitlog.read_blobs(self.root, wanted)

    def id_of(self, path: str) -> str | None:
        """The ticket ID of a file (each path is asked for two or three times: worked out once)."""
        tid = self._ids.get(path, "")
        if tid == "":
            tid = self._ids[path] = release.id_from_path(path, self.id_re)
        return tid

    def finals_of(self, tid: str) -> frozenset[str]:
        return self._finals.get(tid.rsplit("-", 1)[0], frozenset())

    def _key(self, s: _Side) -> str | None:
        return side_key(s.kind, s.oid, s.tid.rsplit("-", 1)[0])

    def _identity(self, rel: str) -> Any:
        """The work tree's identity of the file ``rel``, taken once, before anything reads the file."""
        if rel not in self.meta_keys:
            self.meta_keys[rel] = stat_key(self.files.walked().get(rel) or "")
        return self.meta_keys[rel]

    def _front_blob(self, s: _Side) -> str | None:
        """At a commit: the blob holding the front matter of ``s.meta``, when the side names it."""
        if self.files.rev is None or s.meta != s.path or not s.oid:
            return None
        return s.oid.rsplit(":", 1)[-1] if s.kind in ("+", "@") else None

    def _scan(self, indices: Sequence[int]) -> list[Any]:
        """Per side: ``None`` when the work tree's copy is not git's (read it from git), else ``(hits,
        front)``: the :func:`release.entry_hits`, and ``(rel, loaded front matter)`` of ``meta`` when the side
        adds an entry into a final state, ``(rel,)`` when that file is unreadable, ``None`` otherwise."""
        out: list[Any] = []
        for i in indices:
            s = self.plan[i]
            decoded: str | None = None
            worktree: bytes | None = None  # the work tree's copy of s.path, when it is git's
            hits = self.known.get(i)
            if hits is None:
                text = s.hunks
                if s.kind != "@":
                    data = self.contents.get(s.oid)
                    if data is None and s.kind == "+" and self.files.rev is None:
                        data = worktree = self.files.data(s.path)
                        if data is None or gitlog.blob_id(data, len(s.oid)) != s.oid:
                            out.append(None)
                            continue
                    data = data or b""
                    try:
                        decoded = data.decode("utf-8")
                    except UnicodeDecodeError:
                        decoded = None
                    # git shows no lines of a binary file (a NUL in its first 8000 bytes)
                    text = (
                        "" if b"\0" in data[:8000] else data.decode("utf-8", "replace") if decoded is None else decoded
                    )
                finals = self.finals_of(s.tid)
                found = release.entry_hits(release.FileSide(s.path, s.kind, text), finals, self.load_entry)
                # only what net_final_entries reads of an entry goes back (through a pipe, from a worker)
                hits = [(k, d, it and {f: it[f] for f in _ENTRY_KEYS if f in it}) for k, d, it in found]
            front: tuple[Any, ...] | None = None
            if s.meta is not None and _adds_final(hits, self.finals_of(s.tid)):
                if self.files.rev is not None:
                    meta_text = self.files.texts.get(s.meta)  # all read in __init__
                elif s.meta == s.path and worktree is not None:  # what _worktree_text(worktree) gives
                    meta_text = None if decoded is None else _universal_newlines(decoded)
                else:
                    meta_text = self.files.text(s.meta)
                front = (s.meta,) if meta_text is None else (s.meta, _parse_front(meta_text, self.load))
            out.append((hits, front))
        return out

    def finish(
        self,
    ) -> tuple[dict[str, list[release.FinalEntry]], set[str], dict[str, release.TicketMeta]]:
        """``(final entries per ticket, IDs of the tickets whose files changed, front matter read)``."""
        scanned = dict(zip(self.todo, self.batch.results(), strict=True))
        redo = [i for i, r in scanned.items() if r is None]
        if redo:  # changed in the work tree: git's copy (none if git lacks it: nothing to count)
            self.contents.update(gitlog.read_blobs(self.root, [self.plan[i].oid for i in redo]))
            for i, r in zip(redo, self._scan(redo), strict=True):
                scanned[i] = r if r is not None else ([], None)
        cache = self.cache
        for i, (hits, front) in scanned.items():
            s = self.plan[i]
            if i not in self.known:
                cache.put_hits(self._key(s), [list(h) for h in hits])
            if front is not None and len(front) == 2:
                if self.files.rev is None:
                    cache.put_work_front(front[0], self.meta_keys.get(front[0]), front[1])
                elif (oid := self._front_blob(s)) is not None:
                    cache.put_blob_front(oid, front[1])
        cache.save()
        results = [self.done[i] if i in self.done else scanned[i] for i in range(len(self.plan))]
        finals = release.net_final_entries(
            ((s.tid, r[0]) for s, r in zip(self.plan, results, strict=True)), self.finals_of
        )
        metas: dict[str, release.TicketMeta] = {}
        for s, r in zip(self.plan, results, strict=True):
            front = r[1]
            if front is not None and len(front) == 2:
                metas[s.tid] = release.ticket_meta(s.tid, front[0], front[1], self.by_prefix)
        return finals, self.changed, metas

    def cancel(self) -> None:
        """Stop the workers, if any are still running."""
        self.batch.cancel()


def _adds_final(hits: Sequence[Any], finals: frozenset[str]) -> bool:
    """Whether a side's hits add an entry into a final state (so its ticket's front matter is needed)."""
    return any(d > 0 and it and str(it.get("to")) in finals for _, d, it in hits)


def _parse_front(text: str, load: Callable[[str], object]) -> object:
    """The loaded front matter of a ticket file's text, but for the keys release notes never read (the
    history, people, links, dates: :data:`release.UNREAD_KEYS`), or ``None`` when it is broken."""
    front = release.split_front_matter(text)
    if front is None:
        return None
    try:
        data = load(release.drop_history(front))
    except Exception:  # a broken ticket still gets a line, under its ID
        return None
    if type(data) is dict:
        unread = release.UNREAD_KEYS
        return {k: v for k, v in data.items() if k not in unread}
    return data


_GITLINK = "160000"  # a submodule: no blob to read
_MIN_SLICE = 256  # ticket files per worker process, at least (fewer: not worth a fork)
_CACHE_AFTER = 200  # changed ticket files from which the release cache is worth loading
# this process's share of the ticket files relative to a worker's: it also parses the log meanwhile
_FIRST_SHARE = 0.5


def _load_tickets(
    files: _TicketFiles,
    wanted: set[str],
    id_re: re.Pattern[str] | None,
    by_prefix: Mapping[str, release.WorkflowInfo],
) -> dict[str, release.TicketMeta]:
    """Front matter of the ``wanted`` tickets (the first file of each ID, in path order)."""
    if not wanted:
        return {}
    paths: dict[str, str] = {}
    texts: dict[str, str] = {}
    if files.rev is None:
        for rel in files.paths():
            tid = release.id_from_path(rel, id_re)
            if tid in wanted and tid not in paths:
                text = files.text(rel)
                if text is None:  # unreadable: the next file of that ID, or HEAD's copy
                    continue
                texts[rel] = text
                paths[tid] = rel
    else:
        for rel in files.paths():
            tid = release.id_from_path(rel, id_re)
            if tid in wanted and tid not in paths:
                paths[tid] = rel
        texts = files.read(list(paths.values()))
    load = _yaml_loader()
    return {
        tid: release.ticket_meta(tid, rel, _parse_front(texts.get(rel, ""), load), by_prefix)
        for tid, rel in paths.items()
    }


# --------------------------------------------------------------------------- templates


def builtin_template() -> str:
    """The text of the built-in Markdown template."""
    from importlib import resources

    return (resources.files("sopflow") / "templates_builtin" / BUILTIN_TEMPLATE).read_text(encoding="utf-8")


def load_template(
    root: Path, template: str | Path | None = None, *, templates_dir: str = "templates"
) -> tuple[str | None, str]:
    """``(text, name)`` of the template to use: ``template`` (``--template PATH``, relative to the current
    directory), else ``<templates_dir>/release-notes.md.j2`` in the repository, else ``(None, "built-in")``.

    Either path must resolve inside the repository (a symlink pointing out of it is refused).
    """
    root = Path(root)
    if template is not None:
        path = Path(template)
        if not path.is_absolute():
            path = Path.cwd() / path
        where = str(template)
    else:
        path = root / templates_dir / REPO_TEMPLATE
        if not (path.exists() or path.is_symlink()):
            return None, "built-in"
        where = f"{templates_dir}/{REPO_TEMPLATE}"
    if not _inside(root, path):
        raise SopflowError("the template must be inside the repository", where=where)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SopflowError("no such template", where=where) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SopflowError(f"cannot read the template: {exc}", where=where) from exc
    try:
        name = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        name = where
    return text, name


class Compiled(NamedTuple):
    """A template ready to render (:func:`compile_template`) and the name its errors are reported under."""

    template: Any
    name: str


def compile_template(template_text: str | None = None, template_name: str | None = None) -> Compiled:
    """Compile ``template_text`` (``None``: the built-in template) for Jinja2's sandbox; a syntax error raises
    :class:`SopflowError` ``template NAME: line N: message``. (The CLI compiles while git reads the history.)"""
    if template_text is None:
        template_text = builtin_template()
        template_name = template_name or "built-in"
    name = template_name or "<template>"
    from sopflow.adapters.templates import bounded

    try:
        with bounded():  # a time limit and a memory allowance
            return Compiled(_sandbox().from_string(template_text), name)
    except Exception as exc:
        raise _template_error(exc, name) from None


def render_release_notes(
    notes: Mapping[str, Any],
    template_text: str | None = None,
    *,
    group_by: str | None = None,
    template_name: str | None = None,
    compiled: Compiled | None = None,
) -> str:
    """Render ``notes`` with ``template_text`` (``None``: the built-in template), or with the template
    ``compiled`` already, in Jinja2's sandbox.

    Templates see :func:`sopflow.core.release.template_context`; undefined names are errors
    (``StrictUndefined``: test optional values with ``is defined`` or ``.get``); ``trim_blocks`` and
    ``lstrip_blocks`` are on; trailing blank lines are trimmed to one newline. A syntax error, a runtime
    error, or an attempt to reach Python internals (``''.__class__``, ``cycler.__init__.__globals__``, …)
    raises :class:`SopflowError` ``template NAME: line N: message``; nothing is rendered.
    """
    from jinja2.exceptions import SecurityError

    if group_by and not release.known_field(notes, group_by):
        raise UsageError(f"--group-by: no workflow or ticket has a field {group_by!r}")
    if compiled is None:
        compiled = compile_template(template_text, template_name)
    context = release.template_context(notes, group_by)
    template = compiled.template
    pieces: list[str] = []
    size = 0
    from sopflow.adapters.templates import bounded

    try:
        with bounded():  # a time limit and a memory allowance
            # streamed, so a runaway template stops early (a few hundred pieces at a time: there are 100,000s)
            stream = template.root_render_func(template.new_context(context))
            while True:
                try:
                    batch = list(islice(stream, 512))
                except Exception:
                    template.environment.handle_exception()  # raises it again, with the template's lines
                    raise
                if not batch:
                    break
                size += sum(map(len, batch))
                if size > _MAX_OUTPUT:
                    raise SecurityError(f"sandbox: the output is longer than {_MAX_OUTPUT} characters")
                pieces += batch
    except Exception as exc:
        raise _template_error(exc, compiled.name) from None
    out = "".join(pieces)
    return out.rstrip("\n") + "\n" if out.strip() else ""


def _sandbox() -> Any:
    """The repository templates' sandbox (:func:`sopflow.adapters.templates.environment`), strict about unsafe
    attributes."""
    from sopflow.adapters.templates import environment

    return environment(strict=True)


def _template_error(exc: Exception, name: str) -> SopflowError:
    from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

    line: int | None = None
    if isinstance(exc, TemplateSyntaxError):
        line = exc.lineno
    else:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<template>":
                line = tb.tb_lineno
            tb = tb.tb_next
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, SecurityError) and not msg.startswith("sandbox:"):
        msg = f"sandbox: {msg}"
    elif isinstance(exc, UndefinedError):
        msg = f"undefined: {msg}"
    elif not isinstance(exc, TemplateSyntaxError | SecurityError):
        msg = f"{type(exc).__name__}: {msg}"
    msg = " ".join(msg.split())
    return SopflowError(f"line {line}: {msg}" if line else msg, where=f"template {name}")


# --------------------------------------------------------------------------- changelog files


def prepend_changelog(path: Path, section: str) -> None:
    """Put ``section`` on top of the changelog at ``path`` (created if missing), atomically.

    The existing bytes are kept as they are, below the new section; a leading ``# Title`` line stays on
    top. The section is separated from its neighbours by one blank line and written with the file's line
    endings (CRLF if the file uses them).
    """
    path = Path(path)
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    crlf = old.count(b"\r\n") * 2 > old.count(b"\n")
    nl = b"\r\n" if crlf else b"\n"
    body = section.replace("\r\n", "\n").strip("\n").encode("utf-8").replace(b"\n", nl)
    head, rest = b"", old
    probe = old[3:] if old.startswith(b"\xef\xbb\xbf") else old
    if probe.startswith(b"# "):
        cut = old.find(b"\n")
        head, rest = (old, b"") if cut < 0 else (old[: cut + 1], old[cut + 1 :])
        if not head.endswith(b"\n"):
            head += nl
        head += nl
    if not rest:
        new = head + body + nl
    elif rest.startswith((b"\n", b"\r\n")):
        new = head + body + nl + rest
    else:
        new = head + body + nl + nl + rest
    write_atomic(path, new)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    import contextlib
    import tempfile

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    mode = None
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
