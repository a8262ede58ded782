"""``sopflow check --base REV``: the pull-request gate.

For every ticket file changed between REV and the work tree (one ``git diff --raw -M`` plus the
untracked files of the tickets folder), read the old versions by object id (one ``git cat-file --batch``
process for every old object), take ``sopflow.yaml`` and the workflows *as of REV*, and replay the new history entries with
:func:`sopflow.core.replay.replay`. The cost follows the size of the change, not of the repository.

``verify_authors`` adds one ``git log -p REV..HEAD`` over the changed ticket files to map each added history
line to its commit's author email, compared with ``people[by].email`` as of REV.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sopflow.core import ids, yamlio
from sopflow.core.config import CONFIG_FILE, Config, parse_config
from sopflow.core.frontmatter import Document, FrontMatterError
from sopflow.core.problems import Problem, error, warning
from sopflow.core.replay import After, Facts, added_entries, history_of, replay
from sopflow.core.workflow import Workflow, parse_workflow

if TYPE_CHECKING:
    from sopflow.adapters.gitdiff import CatFile
    from sopflow.project import Project


@dataclass
class _Pair:
    """One ticket's change: its file before (at REV) and after (in the work tree)."""

    old_path: str | None
    new_path: str | None
    old_blob: str | None = None
    old_doc: Document | None = None
    new_doc: Document | None = None


def check_base(p: Project, base: str, *, verify_authors: bool = False) -> list[Problem]:
    """Every problem with the tickets changed since ``base`` (see the module notes and SPEC section 4)."""
    from sopflow.adapters import gitdiff

    root = p.root
    rev = gitdiff.resolve_commit(root, base)
    problems: list[Problem] = []
    with gitdiff.CatFile(root) as cat:
        config, note = _config_at(p, cat, rev, base)
        if note:
            problems.append(note)
        tdirs = list(dict.fromkeys([p.config.paths["tickets"], config.paths["tickets"]]))
        pairs = _changed(p, rev, tdirs)
        olds = cat.get_many([x.old_blob or f"{rev}:{x.old_path}" for x in pairs if x.old_path])
        old_iter = iter(olds)
        for pair in pairs:
            if pair.old_path:
                pair.old_doc = _parse(next(old_iter))
                if pair.old_doc is None:
                    problems.append(warning(pair.new_path or pair.old_path, None, "gate-skipped",
                                            f"cannot read this ticket as of {base}; its change is not judged"))
            if pair.new_path:
                pair.new_doc = _read(p, pair.new_path)
        types = {str(d.data.get("type")) for x in pairs for d in (x.old_doc, x.new_doc) if d is not None}
        workflows, wf_notes = _workflows_at(p, cat, rev, base, config, sorted(types))
        problems += wf_notes
    facts = _facts(p, pairs, workflows)
    for pair in pairs:
        problems += _judge(pair, workflows, config, facts, base)
    if verify_authors:
        problems += _verify_authors(p, rev, base, pairs, config)
    return sorted(set(problems), key=lambda x: (x.path, x.line or 0, x.code, x.message))


# ---------------------------------------------------------------- reading
def _config_at(p: Project, cat: CatFile, rev: str, base: str) -> tuple[Config, Problem | None]:
    raw = cat.get_many([f"{rev}:{CONFIG_FILE}"])[0]
    if raw is None:
        return p.config, warning(CONFIG_FILE, None, "gate-no-base-config",
                                 f"{base} has no {CONFIG_FILE}: people and roles are judged as they are now")
    try:
        data = yamlio.load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yamlio.YamlError):
        return p.config, warning(CONFIG_FILE, None, "gate-no-base-config",
                                 f"{CONFIG_FILE} cannot be read as of {base}: people and roles are judged as "
                                 "they are now")
    return parse_config(data, CONFIG_FILE)[0], None


def _workflows_at(p: Project, cat: CatFile, rev: str, base: str, config: Config, types: list[str]
                  ) -> tuple[dict[str, Workflow], list[Problem]]:
    wdir = config.paths["workflows"]
    specs = [f"{rev}:{wdir}/{t}.yaml" for t in types]
    out: dict[str, Workflow] = {}
    notes: list[Problem] = []
    for t, raw in zip(types, cat.get_many(specs), strict=True):
        wf: Workflow | None = None
        if raw is not None:
            try:
                wf, problems = parse_workflow(yamlio.load(raw.decode("utf-8")), t, f"{wdir}/{t}.yaml")
                if any(x.severity == "error" for x in problems):
                    wf = None
            except (UnicodeDecodeError, yamlio.YamlError):
                wf = None
        if wf is None:
            now = p.workflows.get(t)
            if now is None:
                continue  # unknown type: reported by the static check
            rel = f"{p.config.paths['workflows']}/{t}.yaml"
            notes.append(warning(rel, None, "gate-new-workflow",
                                 f"workflow {t} is new or invalid as of {base}: its tickets are judged against "
                                 "the proposed workflow"))
            wf = now
        out[t] = wf
    return out, notes


def _parse(raw: bytes | None) -> Document | None:
    if raw is None:
        return None
    try:
        return Document.parse(raw.decode("utf-8"))
    except (UnicodeDecodeError, FrontMatterError):
        return None


def _read(p: Project, rel: str) -> Document | None:
    path = p.root / rel
    if path.is_symlink() or not path.is_file():
        return None  # the static check reports it
    try:
        return _parse(path.read_bytes())
    except OSError:
        return None


def _is_ticket(path: str, tdirs: list[str]) -> bool:
    return posixpath.dirname(path) in tdirs and path.endswith(".md")


def _changed(p: Project, rev: str, tdirs: list[str]) -> list[_Pair]:
    from sopflow.adapters import gitdiff

    pairs: list[_Pair] = []
    added: list[str] = []
    deleted: list[tuple[str, str | None]] = []
    for ch in gitdiff.changed_files(p.root, rev, tdirs):
        old = ch.old if ch.old and _is_ticket(ch.old, tdirs) else None
        new = ch.new if ch.new and _is_ticket(ch.new, tdirs) else None
        if ch.status == "R" and old and new and _fid(old) != _fid(new):
            deleted.append((old, ch.old_blob))
            added.append(new)
        elif old and new:
            pairs.append(_Pair(old, new, ch.old_blob))
        elif old:
            deleted.append((old, ch.old_blob))
        elif new:
            added.append(new)
    added += [x for x in gitdiff.untracked(p.root, tdirs) if _is_ticket(x, tdirs)]
    # a rename git did not recognise (the content changed a lot): pair by the ID in the file name
    by_id = {_fid(x): (x, blob) for x, blob in deleted if _fid(x)}
    for new in added:
        old_path, blob = by_id.pop(_fid(new), (None, None)) if _fid(new) else (None, None)
        pairs.append(_Pair(old_path, new, blob))
    pairs += [_Pair(x, None, blob) for x, blob in by_id.values()]
    pairs += [_Pair(x, None, blob) for x, blob in deleted if _fid(x) is None]
    return pairs


def _fid(path: str) -> str | None:
    return ids.id_from_filename(posixpath.basename(path))


# ---------------------------------------------------------------- judging
def _entry_lines(doc: Document) -> list[int | None]:
    fm = "".join(line.rstrip("\r\n") + "\n" for line in doc.lines[1 : doc.close])
    lines = yamlio.node_lines(fm, offset=1)
    n = len(history_of(doc.data))
    return [lines.get(("history", i)) for i in range(n)]


def _judge(pair: _Pair, workflows: dict[str, Workflow], config: Config, facts: dict[str, Facts],
           base: str) -> list[Problem]:
    if pair.new_path is None:
        assert pair.old_path is not None
        tid = _fid(pair.old_path) or pair.old_path
        return [error(pair.old_path, None, "gate-deleted",
                      f"ticket {tid} was deleted (tickets are never deleted: close it with a transition "
                      "into a final state)")]
    doc = pair.new_doc
    if doc is None:
        return []  # unreadable now: the static check reports why
    if pair.old_path and pair.old_doc is None:
        return []  # unreadable at the base: already warned
    wtype = str(doc.data.get("type"))
    if pair.old_doc is not None and str(pair.old_doc.data.get("type")) in workflows:
        wtype = str(pair.old_doc.data.get("type"))
    wf = workflows.get(wtype)
    if wf is None:
        return []  # unknown type: the static check reports it
    after = After(rel=pair.new_path, data=doc.data, body_lines=doc.body_lines(),
                  entry_lines=_entry_lines(doc), key_lines=doc.key_lines())
    before = pair.old_doc.data if pair.old_doc is not None else None
    tid = str(doc.data.get("id", ""))
    return replay(after, before, wf, config, facts=facts.get(tid), base=base)


def _added(pair: _Pair) -> list[int]:
    """Indices of the history entries the change added (all of a new ticket's)."""
    assert pair.new_doc is not None
    hist = history_of(pair.new_doc.data)
    if pair.old_doc is None:
        return list(range(len(hist)))
    added, _ = added_entries(history_of(pair.old_doc.data), hist)
    return added or []


def _new_triggers(pair: _Pair) -> set[str]:
    assert pair.new_doc is not None
    hist = history_of(pair.new_doc.data)
    return {str(hist[i].get("action")) for i in _added(pair) if isinstance(hist[i], dict)}


def _facts(p: Project, pairs: list[_Pair], workflows: dict[str, Workflow]) -> dict[str, Facts]:
    """Children and wiki mentions, gathered only for tickets whose new transitions require them."""
    from sopflow.adapters import gitdiff
    from sopflow.core.ticket import wiki_links

    need_children: set[str] = set()
    need_wiki: set[str] = set()
    for pair in pairs:
        doc = pair.new_doc
        if doc is None:
            continue
        wf = workflows.get(str(doc.data.get("type")))
        if wf is None:
            continue
        fired = _new_triggers(pair)
        tid = str(doc.data.get("id", ""))
        for tr in wf.transitions:
            if tr.trigger in fired:
                if tr.require.children:
                    need_children.add(tid)
                if tr.require.wiki and not wiki_links(doc.data):
                    need_wiki.add(tid)
    out: dict[str, Facts] = {}
    if not (need_children or need_wiki):
        return out
    open_children: dict[str, list[str]] = {t: [] for t in need_children}
    if need_children:  # the tickets folder as it is: the index knows every file's parent
        from sopflow.index import open_index

        for par, kids in open_index(p).children_of(sorted(need_children)).items():
            for data in kids:
                if not p.workflows.get(str(data.get("type")), _NoWorkflow()).is_final(str(data.get("state"))):
                    open_children[par].append(str(data.get("id")))
    mentioned: set[str] = set()
    if need_wiki:
        wdir = p.config.paths["wiki"]
        for rel in gitdiff.grep_files(p.root, sorted(need_wiki), [wdir]):
            doc = _read(p, rel)
            tickets = doc.data.get("tickets") if doc is not None else None
            if isinstance(tickets, list):
                mentioned.update(str(t) for t in tickets if str(t) in need_wiki)
    for tid in need_children | need_wiki:
        out[tid] = Facts(children_open=sorted(open_children[tid]) if tid in open_children else None,
                         wiki_mentioned=tid in mentioned)
    return out


class _NoWorkflow:
    def is_final(self, state: str) -> bool:
        return False


# ---------------------------------------------------------------- authors
def _verify_authors(p: Project, rev: str, base: str, pairs: list[_Pair], config: Config) -> list[Problem]:
    from sopflow.adapters import gitdiff

    paths = sorted({x for pair in pairs if pair.new_doc is not None
                    for x in (pair.old_path, pair.new_path) if x})
    added = gitdiff.added_lines(p.root, rev, paths)
    out: list[Problem] = []
    for pair in pairs:
        doc = pair.new_doc
        if doc is None or pair.new_path is None:
            continue
        hist = history_of(doc.data)
        lines = _entry_lines(doc)
        for i in _added(pair):
            entry = hist[i]
            line = lines[i] if i < len(lines) else None
            if not isinstance(entry, dict) or line is None:
                continue
            text = doc.lines[line - 1].rstrip("\r\n")
            email = added.get(text)
            rel = pair.new_path
            if email is None:
                out.append(warning(rel, line, "gate-unverified",
                                   f"history entry {i + 1} is not committed yet (not in {base}..HEAD): its author "
                                   "cannot be verified"))
                continue
            out += _compare_author(rel, line, i + 1, entry, email, config, base)
    return out


def _compare_author(rel: str, line: int, n: int, entry: dict[str, Any], email: str, config: Config,
                    base: str) -> list[Problem]:
    by = entry.get("by")
    person = config.people.get(str(by)) if by is not None else None
    if person is None or not person.email:
        return [error(rel, line, "gate-author",
                      f"history entry {n}: by {by!r} has no email in people as of {base}, so it cannot be matched "
                      f"with its commit's author <{email}>")]
    if person.email.strip().lower() != email.strip().lower():
        return [error(rel, line, "gate-author",
                      f"history entry {n} says by {by} <{person.email}> but was committed by <{email}> "
                      "(nobody may act in someone else's name)")]
    return []
