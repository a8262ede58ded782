"""Where the shipped examples and default templates live (package data, or the source tree)."""

from __future__ import annotations

from pathlib import Path

from sopflow.errors import SopflowError


def data_root() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "_data"
    if (installed / "workflows").is_dir():
        return installed
    source = here.parent.parent
    if (source / "workflows").is_dir() and (source / "examples").is_dir():
        return source
    raise SopflowError("the shipped examples are missing from this installation")


def examples() -> dict[str, Path]:
    root = data_root() / "examples"
    return {p.name: p for p in sorted(root.iterdir()) if (p / "example.yaml").is_file()}
