"""Read history with plain ``git`` subprocesses and return plain records.

Plain :mod:`subprocess`, not GitPython: release notes read tens of thousands of commits, and one
``git log`` pass with NUL-separated fields is far faster than a library call per commit.
Every call pins the settings that change git's output (colour, path quoting, signatures, diff prefixes,
external diff drivers) so a user's ``~/.gitconfig`` cannot break the parsing, and passes revisions after
``--end-of-options`` so a revision can never be read as an option.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from sopflow.core.release import Commit
from sopflow.errors import SopflowError

_CONFIG = (
    "-c", "core.quotepath=off",
    "-c", "color.ui=never",
    "-c", "log.showSignature=false",
    "-c", "i18n.logOutputEncoding=UTF-8",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
)  # fmt: skip
_ENV = {
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_PAGER": "cat",
    "GIT_FLUSH": "0",
}  # GIT_FLUSH=0: no flush per commit (into a pipe it costs ~50% of a large log)
# %H sha, %an author, %ae email, %cI committer date (strict ISO), %s subject (first paragraph on one
# line), %b body (the rest, with its final newline): the fields of a Commit, in order
_LOG_FORMAT = "%H%x00%an%x00%ae%x00%cI%x00%s%x00%b"
_LOG_FIELDS = 6


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(_ENV)
    return env


def _cmd(args: Sequence[str]) -> list[str]:
    return ["git", *_CONFIG, *args]


def _fail(root: Path, args: Sequence[str], stderr: bytes) -> SopflowError:
    text = stderr.decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    fatal = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "")
    msg = fatal.removeprefix("fatal:").removeprefix("error:").strip()
    if "not a git repository" in msg:
        return SopflowError("not a git repository", where=str(root))
    if "ambiguous argument" in msg or "unknown revision" in msg or "bad revision" in msg:
        return SopflowError(f"unknown revision or range: {msg}")
    return SopflowError(f"git {args[0]} failed: {msg or 'exit status not zero'}")


def run(root: Path, args: Sequence[str], *, ok: Iterable[int] = (0,), stdin: bytes | None = None) -> bytes:
    """Run ``git ARGS`` in ``root``; return stdout, or raise :class:`SopflowError` with git's reason."""
    try:
        proc = subprocess.run(_cmd(args), cwd=root, input=stdin, capture_output=True, env=_env(), check=False)
    except FileNotFoundError as exc:
        raise SopflowError("git is not installed (or not on PATH)") from exc
    except NotADirectoryError as exc:
        raise SopflowError("not a directory", where=str(root)) from exc
    if proc.returncode not in tuple(ok):
        raise _fail(root, args, proc.stderr)
    return proc.stdout


def check_rev(rev: str) -> str:
    """Refuse a revision that git could read as an option or that is empty."""
    if not rev or rev.startswith("-") or any(ch.isspace() or ch == "\0" for ch in rev):
        raise SopflowError(f"not a revision: {rev!r}")
    return rev


def head(root: Path) -> str | None:
    """HEAD's commit, or ``None`` in a repository without commits; raises when ``root`` is not a repository."""
    out = run(root, ["rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD^{commit}"], ok=(0, 1))
    sha = out.decode().strip()
    return sha or None


def resolve(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names (tags are peeled), or ``None``."""
    check_rev(rev)
    out = run(root, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], ok=(0, 1))
    return out.decode().strip() or None


def tag_commit(root: Path, tag: str) -> str | None:
    """The commit the tag ``tag`` points to, or ``None`` if there is no such tag."""
    check_rev(tag)
    out = run(
        root,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/tags/{tag}^{{commit}}"],
        ok=(0, 1),
    )
    return out.decode().strip() or None


def nearest_tag(root: Path, rev: str) -> str | None:
    """The newest tag (annotated or lightweight) reachable from ``rev``: ``git describe --tags --abbrev=0``."""
    check_rev(rev)
    proc = subprocess.run(
        _cmd(["describe", "--tags", "--abbrev=0", "--end-of-options", rev]),
        cwd=root,
        capture_output=True,
        env=_env(),
        check=False,
    )
    if proc.returncode == 0:
        return proc.stdout.decode("utf-8", "replace").strip() or None
    err = proc.stderr.decode("utf-8", "replace")
    if "No names found" in err or "No tags can describe" in err or "cannot describe" in err:
        return None
    raise _fail(root, ["describe"], proc.stderr)


def last_before(root: Path, revs: Sequence[str], date: str) -> str | None:
    """The newest commit of ``revs`` (``git rev-list`` arguments) committed at or before ``date``."""
    out = run(root, ["rev-list", "-1", f"--until={date}", "--end-of-options", *revs, "--"])
    return out.decode().strip() or None


def is_shallow(root: Path) -> bool:
    """Whether the repository is a shallow clone (its oldest commits are missing)."""
    return run(root, ["rev-parse", "--is-shallow-repository"]).strip() == b"true"


def empty_tree(root: Path) -> str:
    """The ID of the empty tree (differs between SHA-1 and SHA-256 repositories)."""
    return run(root, ["hash-object", "-t", "tree", "--stdin"], stdin=b"").decode().strip()


class LogReader:
    """One ``git log`` pass over a range, started at once; git writes into an unlinked temporary file, so it
    never waits for the caller, who does other work meanwhile (no reader thread: the process stays
    single-threaded and may fork).

    ``revs`` are ``git rev-list`` arguments such as ``["<end>", "^<base>"]``. Merge commits are skipped
    (``--no-merges``): their changes are the merged commits', which the range already holds.
    Iterating yields :class:`Commit` records newest first, as git writes them; a failure of git is raised
    once it has ended.
    """

    _CHUNK = 1 << 20  # bytes parsed at a time, at most

    def __init__(
        self, root: Path, revs: Sequence[str], *, since: str | None = None, until: str | None = None
    ) -> None:
        import tempfile

        for rev in revs:
            check_rev(rev.removeprefix("^"))
        args = ["log", "-z", "--no-merges", "--no-color", "--no-decorate", f"--format={_LOG_FORMAT}"]
        if since:
            args.append(f"--since={since}")
        if until:
            args.append(f"--until={until}")
        args += ["--end-of-options", *revs, "--"]
        self._root = root
        self._args = args
        # both live as long as the reader: close() drops them
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                _cmd(args), cwd=root, stdout=self._out, stderr=self._err, env=_env()
            )
        except BaseException:
            self._out.close()
            self._err.close()
            raise
        self.first: Commit | None = None  # the newest commit read, once iterating has begun
        # called as records are parsed with (bytes parsed, bytes in all): for a progress bar
        self.on_progress: Callable[[int, int], None] | None = None

    def __iter__(self) -> Iterator[Commit]:
        proc = self._proc
        if proc is None:
            raise SopflowError("git log: already read")
        # Records are parsed as git writes them (git prints nothing until it has walked the range, then
        # writes fast; parsing alongside saves most of the parsing time). The file is read with pread at
        # an offset of our own: git's writes move the offset of the file description both processes share.
        fd = self._out.fileno()
        pread = getattr(os, "pread", None)
        code: int | None = None
        if pread is None:  # no pread (Windows): wait for git, then read the file from its start
            code = proc.wait()

            def pread(fd: int, size: int, at: int) -> bytes:
                self._out.seek(at)
                return self._out.read(size)

        n = _LOG_FIELDS
        pos = 0
        rest = b""
        report = self.on_progress
        while True:
            chunk = pread(fd, self._CHUNK, pos)
            if not chunk:
                if code is not None:
                    break
                code = proc.poll()
                if code is None:
                    time.sleep(_POLL)
                continue  # once git has ended: read what it wrote last, then stop
            pos += len(chunk)
            if report is not None:
                report(pos, max(pos, os.fstat(fd).st_size))
            data = rest + chunk if rest else chunk
            # cut after the last NUL that ends a whole record (every record has n NUL-terminated fields)
            count = data.count(b"\0")
            whole = count // n * n
            if not whole:
                rest = data
                continue
            cut = len(data)
            for _ in range(count - whole + 1):
                cut = data.rindex(b"\0", 0, cut)
            rest = data[cut + 1 :]
            records = _records(data[:cut])
            if self.first is None:
                self.first = records[0]
            yield from records
        self._proc = None
        if code != 0:
            self._err.seek(0)
            raise _fail(self._root, self._args, self._err.read())
        if rest.strip(b"\0\n"):
            raise SopflowError("git log: unexpected output")

    def close(self) -> None:
        """Stop git if the records are not wanted after all; drop the temporary files."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            self._proc = None
        self._out.close()
        self._err.close()


_POLL = 0.002  # seconds between looks at a git log that has written nothing new yet


def _records(raw: bytes) -> list[Commit]:
    fields = raw.decode("utf-8", "replace").split("\0")
    n = _LOG_FIELDS
    if len(fields) % n:
        raise SopflowError("git log: unexpected output")
    new = tuple.__new__  # Commit(...) without the Python-level __new__ of a NamedTuple: this runs per commit
    return [new(Commit, fields[i : i + n]) for i in range(0, len(fields), n)]


def start_diff(
    root: Path, base: str, end: str, folder: str, *, modified_only: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``git diff -U0`` of ``folder`` between two commits (or trees); read it with :func:`finish`.

    Paths are relative to ``root``. ``modified_only``: only the files changed in place (no added, removed
    or retyped files: :func:`tree_changes` lists those, and their text is read whole).
    """
    check_rev(base)
    check_rev(end)
    args = [
        "diff",
        "--no-renames",
        "--relative",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    if modified_only:
        args.append("--diff-filter=M")
    args += ["--end-of-options", base, end, "--", folder]
    return subprocess.Popen(_cmd(args), cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())


class TreeChange(NamedTuple):
    """One file that differs between two trees (``git diff --raw``). ``status`` is ``A`` (added), ``D``
    (deleted), ``M`` (modified in place) or ``T`` (its type changed: file, symlink, submodule); an absent
    side has mode ``000000`` and an all-zero object ID."""

    status: str
    old_mode: str
    new_mode: str
    old_id: str
    new_id: str
    path: str


def tree_changes(root: Path, base: str, end: str, folder: str) -> list[TreeChange]:
    """The files under ``folder`` that differ between two commits (or trees), in ``git diff`` order, with
    paths relative to ``root``: a comparison of trees, no file contents are read."""
    return read_tree_changes(root, start_tree_changes(root, base, end, folder))


def start_tree_changes(root: Path, base: str, end: str, folder: str) -> subprocess.Popen[bytes]:
    """Start :func:`tree_changes`; :func:`read_tree_changes` waits for it and reads the answer."""
    check_rev(base)
    check_rev(end)
    args = ["diff", "--raw", "-z", "--no-renames", "--relative", "--no-abbrev", "--no-ext-diff",
            "--end-of-options", base, end, "--", folder]  # fmt: skip
    return subprocess.Popen(_cmd(args), cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())


def read_tree_changes(root: Path, proc: subprocess.Popen[bytes]) -> list[TreeChange]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise _fail(root, ["diff"], err)
    fields = out.decode("utf-8", "replace").split("\0")
    changes: list[TreeChange] = []
    new = tuple.__new__  # TreeChange(...) without the Python-level __new__: this runs per file
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].lstrip(":").split()
        if len(meta) != 5:
            raise SopflowError("git diff --raw: unexpected output")
        old_mode, new_mode, old_id, new_id, status = meta
        changes.append(new(TreeChange, (status[:1], old_mode, new_mode, old_id, new_id, fields[i + 1])))
    return changes


def read_blobs(root: Path, ids: Iterable[str]) -> dict[str, bytes]:
    """The contents of the blobs ``ids``, in one ``git cat-file --batch``; missing ones are left out."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    for oid in wanted:
        if not oid or any(c not in "0123456789abcdef" for c in oid):
            raise SopflowError(f"not an object ID: {oid!r}")
    return {oid: data for oid, data in zip(wanted, _cat_batch(root, wanted), strict=True) if data is not None}


def _cat_batch(root: Path, names: Sequence[str]) -> list[bytes | None]:
    """The contents of each object ``names`` name (``<oid>`` or ``<rev>:<path>``), in one
    ``git cat-file --batch``; None for one that is missing, ambiguous or not a blob."""
    out = run(root, ["cat-file", "--batch"], stdin="".join(f"{name}\n" for name in names).encode())
    result: list[bytes | None] = []
    pos = 0
    for _ in names:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split()
        pos = nl + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            result.append(out[pos : pos + size])
            pos += size + 1
        else:  # "missing" / "ambiguous" / a tree: nothing follows the header
            result.append(None)
    return result


def blob_id(data: bytes, id_length: int) -> str:
    """The ID git gives a blob with these bytes (``git hash-object``): SHA-1, or SHA-256 when the
    repository's IDs are 64 digits long."""
    import hashlib

    digest = hashlib.sha256() if id_length == 64 else hashlib.sha1()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def finish(root: Path, proc: subprocess.Popen[bytes], what: str) -> str:
    """Wait for a process started here; return its stdout as text."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise _fail(root, [what], err)
    return out.decode("utf-8", "replace")


def list_files(root: Path, rev: str, folder: str) -> list[str]:
    """Paths (relative to ``root``) of the files under ``folder`` at commit ``rev``."""
    check_rev(rev)
    out = run(root, ["ls-tree", "-r", "--name-only", "-z", "--end-of-options", rev, "--", folder])
    return [p.decode("utf-8", "replace") for p in out.split(b"\0") if p]


def read_files(root: Path, rev: str, paths: Sequence[str]) -> dict[str, str]:
    """The text of ``paths`` (relative to ``root``) at commit ``rev``, in one ``git cat-file --batch``."""
    check_rev(rev)
    if not paths:
        return {}
    got = _cat_batch(root, [f"{rev}:./{p}" for p in paths])
    return {p: data.decode("utf-8", "replace") for p, data in zip(paths, got, strict=True) if data is not None}


def commit_date(root: Path, rev: str) -> str:
    """The committer date (ISO 8601) of commit ``rev``."""
    check_rev(rev)
    return (
        run(root, ["log", "-1", "--no-walk", "--format=%cI", "--end-of-options", rev, "--"]).decode().strip()
    )
