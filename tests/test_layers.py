"""The pure core imports nothing from the edges."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "src" / "sopflow" / "core"
FORBIDDEN = ("sopflow.adapters", "sopflow.cli", "sopflow.project", "git", "subprocess", "typer", "rich", "os")


def test_core_is_pure() -> None:
    bad = []
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                if any(n == f or n.startswith(f + ".") for f in FORBIDDEN):
                    bad.append(f"{path.name}: {n}")
    assert not bad, bad
