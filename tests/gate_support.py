"""Helpers of the tests that hand-edit ticket files and run commands as people (the gate, the security claims)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Repo

FAN = {"GIT_AUTHOR_EMAIL": "fan@example.com", "GIT_AUTHOR_NAME": "范慧阳"}
ALICE = {"GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_AUTHOR_NAME": "Alice"}


def ok(repo: Repo, *args: str, as_: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its stdout."""
    r = repo.run(*args, as_=as_, env=env)
    assert r.code == 0, r.err
    return r.out


def ticket(repo: Repo, tid: str = "ISS-1") -> str:
    """The path (relative to the repository) of the ticket file of ``tid``."""
    return next((repo.root / "tickets").glob(f"{tid}*.md")).relative_to(repo.root).as_posix()


def edit(repo: Repo, rel: str, old: str, new: str) -> None:
    """Replace the first ``old`` in a file by hand (``old`` must be there)."""
    text = repo.read(rel)
    assert old in text, old
    repo.write(rel, text.replace(old, new, 1))


def add_entry(repo: Repo, rel: str, entry: str) -> None:
    """Append a history entry line by hand (after the last one)."""
    lines = repo.read(rel).splitlines(keepends=True)
    last = max(i for i, x in enumerate(lines) if x.startswith("  - {"))
    lines.insert(last + 1, f"  - {entry}\n")
    repo.write(rel, "".join(lines))
