"""Extension points, named as ``"module:function"`` strings so nothing is imported until used.

- ``SHOW_SECTIONS``: ``f(project, ticket) -> list[tuple[title, list[line]]]`` — extra sections of ``show``.
- ``CHECKS``: ``f(project) -> Iterable[Problem]`` — extra rules of ``check``.
- ``BOARD_FLAGS``: ``f(project, excerpts) -> dict[ticket_id, flag_text]`` — a short flag per card on ``board``.
Each feature adds its line here; the core never imports the features directly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

SHOW_SECTIONS: list[str] = [
    "sopflow.service:show_section",
    "sopflow.knowledge:show_section",
]
CHECKS: list[str] = []
BOARD_FLAGS: list[str] = [
    "sopflow.service:board_flags",
]


def resolve(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    fn: Callable[..., Any] = getattr(import_module(module), name)
    return fn
