"""``sopflow check --base REV``: the pull-request gate (filled in by the gate work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sopflow.core.problems import Problem

if TYPE_CHECKING:
    from sopflow.project import Project


def check_base(p: Project, base: str, *, verify_authors: bool = False) -> list[Problem]:
    from sopflow.errors import SopflowError

    raise SopflowError("check --base is not available yet")
