"""``sopflow init`` and the example installer shared with ``demo``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sopflow.adapters.files import atomic_write
from sopflow.core import yamlio
from sopflow.errors import SopflowError

MINIMAL_CONFIG = """\
project: {project}
timezone: {timezone}
commit: true
people: {{}}
#  alice: {{name: Alice, email: alice@example.com, roles: []}}
"""


def example_names() -> list[str]:
    from sopflow.data import examples

    return list(examples())


def install(root: Path, names: list[str], *, project: str | None = None) -> list[Path]:
    """Copy the named examples into ``root`` (merging configs); return the files written."""
    from sopflow.data import data_root, examples

    avail = examples()
    for n in names:
        if n not in avail:
            raise SopflowError(f"unknown example {n!r} (one of {', '.join(n for n in avail if n != 'task')})")
    data = data_root()
    written: list[Path] = []
    people: dict[str, dict[str, Any]] = {}
    cfg: dict[str, Any] = {}
    for n in names:
        ex = avail[n]
        manifest = yamlio.load((ex / "example.yaml").read_text("utf-8")) or {}
        conf = yamlio.load((ex / "sopflow.yaml").read_text("utf-8")) or {}
        for key in ("project", "timezone", "commit"):
            cfg.setdefault(key, conf.get(key))
        for key, entry in (conf.get("people") or {}).items():
            merged = people.setdefault(key, {k: v for k, v in (entry or {}).items() if k != "roles"})
            roles = merged.setdefault("roles", [])
            for r in (entry or {}).get("roles") or []:
                if r not in roles:
                    roles.append(r)
        for t in manifest.get("types") or []:
            for src, dst in ((data / "workflows" / f"{t}.yaml", root / "workflows" / f"{t}.yaml"),
                             (data / "templates" / f"{t}.md", root / "templates" / f"{t}.md")):
                if src.is_file():
                    written.append(_copy(src, dst))
        for sub in ("sops", "wiki"):
            base = ex / sub
            if base.is_dir():
                for src in sorted(base.rglob("*")):
                    if src.is_file():
                        written.append(_copy(src, root / sub / src.relative_to(base)))
    for extra in ("wiki-page.md",):
        src = data / "templates" / extra
        if src.is_file():
            written.append(_copy(src, root / "templates" / extra))
    lines = [
        f"project: {yamlio.emit_scalar(project or cfg.get('project') or root.name)}",
        f"timezone: {yamlio.emit_scalar(cfg.get('timezone') or 'Asia/Shanghai')}",
        "commit: true",
    ]
    if people:
        lines.append("people:")
        for key, entry in people.items():
            lines.append(f"  {yamlio.emit_key(key)}: {yamlio.emit_flow(entry)}")
    else:
        lines.append("people: {}")
    cfg_path = root / "sopflow.yaml"
    atomic_write(cfg_path, ("\n".join(lines) + "\n").encode("utf-8"))
    written.append(cfg_path)
    return written


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def init(root: Path, example: str | None, *, commit: bool, author_env: dict[str, str] | None = None) -> list[str]:
    """Make ``root`` a sopflow repository; return messages for the user."""
    from sopflow.adapters import gitrepo

    if (root / "sopflow.yaml").exists():
        raise SopflowError("already a sopflow repository", where=str(root / "sopflow.yaml"))
    messages = []
    top = gitrepo.toplevel(root)
    if top is None:
        gitrepo.init(root)
        messages.append(f"initialised a git repository in {root}")
    names = [example] if example else ["task"]
    written = install(root, names, project=None if example else root.name)
    from sopflow.merge import install_merge_driver

    written += install_merge_driver(root)[0]
    messages.append("installed the sopflow merge driver (.gitattributes and git config merge.sopflow)")
    from sopflow.adapters.files import rel

    rels = [rel(root, p) for p in written]
    if commit:
        try:
            gitrepo.commit_paths(root, rels, f"sopflow init{' --example ' + example if example else ''}\n\n"
                                 "Sopflow-Action: init\n", env=author_env)
            messages.append(f"committed {len(rels)} files")
        except SopflowError as exc:
            messages.append(f"files written but not committed ({exc.message})")
    messages.append(f"sopflow repository ready ({example or 'task'} workflow); try: sopflow workflow list")
    return messages
