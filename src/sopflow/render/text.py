"""Terminal text that lines up with Chinese: display widths, truncation with an ellipsis, plain tables."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def clean(text: object) -> str:
    """Make text safe for a terminal: escape sequences and control characters are shown, not obeyed."""
    s = str(text)
    if "\x1b" in s:
        s = _ANSI.sub(lambda m: repr(m.group(0))[1:-1], s)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else "", s)


@lru_cache(maxsize=4096)
def _char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    o = ord(c)
    if o < 32 or 0x7F <= o < 0xA0:
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def width(text: str) -> int:
    """Columns the text takes in a terminal (CJK wide characters count two)."""
    if text.isascii():
        return len(text)
    return sum(map(_char_width, text))  # the cached function is C-level: no generator frame per character


def truncate(text: str, limit: int) -> str:
    """Cut to at most ``limit`` columns, ending with '…' when cut."""
    if width(text) <= limit:
        return text
    if limit <= 0:
        return ""
    out, used = [], 0
    for c in text:
        w = _char_width(c)
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def one_line(value: object) -> str:
    if type(value) is str and value.isprintable() and "  " not in value and value[:1] != " " != value[-1:]:
        return value  # already one clean line (printable: no controls, no other spaces or separators)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(one_line(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={one_line(v)}" for k, v in value.items())
    if value is True:
        return "true"
    if value is False:
        return "false"
    return clean(" ".join(str(value).split()))


def terminal_width(default: int = 100) -> int:
    env = os.environ.get("COLUMNS")
    if env and env.isdigit():
        return max(20, int(env))
    if sys.stdout.isatty():
        try:
            return max(20, os.get_terminal_size().columns)
        except OSError:
            pass
    return default


def color_enabled() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def style(text: str, code: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color_enabled() else text


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: int | None = None,
          shrink: Sequence[int] = ()) -> str:
    """A plain aligned table. Columns listed in ``shrink`` are cut (with '…') to fit ``max_width``."""
    cells = [[one_line(c) for c in r] for r in rows]
    cell_widths = [[width(c) for c in r] for r in cells]  # measured once: CJK widths cost
    widths = [width(h) for h in headers]
    for row_widths in cell_widths:
        for i, cw in enumerate(row_widths):
            if cw > widths[i]:
                widths[i] = cw
    if max_width:
        total = sum(widths) + 2 * (len(widths) - 1)
        for i in shrink or [len(widths) - 1]:
            if total <= max_width:
                break
            floor = max(width(headers[i]), 8)
            cut = min(widths[i] - floor, total - max_width)
            if cut > 0:
                widths[i] -= cut
                total -= cut
    lines = ["  ".join(pad(truncate(h, widths[i]), widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines[0] = style(lines[0], "1")
    for row, row_widths in zip(cells, cell_widths, strict=True):
        lines.append("  ".join(c + " " * (widths[i] - cw) if cw <= widths[i] else pad(truncate(c, widths[i]), widths[i])
                               for i, (c, cw) in enumerate(zip(row, row_widths, strict=True))).rstrip())
    return "\n".join(lines)
