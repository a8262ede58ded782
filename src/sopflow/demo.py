"""``sopflow demo``: placeholder until the shipped examples land."""

from __future__ import annotations


def run_demo(path: str | None) -> None:
    from sopflow.errors import SopflowError

    raise SopflowError("demo is not available yet")
