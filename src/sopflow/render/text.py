"""Terminal text that lines up with Chinese: display widths, truncation with an ellipsis, plain tables."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate, repeat
from operator import mul, sub
from typing import cast

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def clean(text: object) -> str:
    """Make text safe for a terminal: escape sequences and control characters are shown, not obeyed."""
    s = str(text)
    if "\x1b" in s:
        s = _ANSI.sub(lambda m: repr(m.group(0))[1:-1], s)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else "", s)


def _char_width(c: str) -> int:
    """Columns of one character (uncached: see ``_CHAR_WIDTH``)."""
    if unicodedata.combining(c):
        return 0
    o = ord(c)
    if o < 32 or 0x7F <= o < 0xA0:
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


class _Widths(dict[str, int]):
    """Character → columns, filled on first sight. A lookup is a C-level dict access: faster than an
    ``lru_cache`` wrapper, and nothing is evicted (a long list may hold more than 4,096 distinct CJK characters)."""

    def __missing__(self, c: str) -> int:
        w = self[c] = _char_width(c)
        return w


_CHAR_WIDTH = _Widths().__getitem__


def width(text: str) -> int:
    """Columns the text takes in a terminal (CJK wide characters count two)."""
    if text.isascii():
        return len(text)
    return sum(map(_CHAR_WIDTH, text))  # C-level: no generator frame per character


def truncate(text: str, limit: int) -> str:
    """Cut to at most ``limit`` columns, ending with '…' when cut."""
    if text.isascii() and text.isprintable():  # one column per character
        if len(text) <= limit:
            return text
        return text[:limit - 1] + "…" if limit > 0 else ""
    if width(text) <= limit:
        return text
    if limit <= 0:
        return ""
    # Keep the longest prefix that fits in limit - 1 columns (the running widths never decrease).
    return text[:bisect_right(list(accumulate(map(_CHAR_WIDTH, text))), limit - 1)] + "…"


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def one_line(value: object) -> str:
    if type(value) is str and value.isprintable() and "  " not in value and value[:1] != " " != value[-1:]:
        return value  # already one clean line (printable: no controls, no other spaces or separators)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(one_line, value))
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


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int | None = None,
          shrink: Sequence[int] = ()) -> str:
    """A plain aligned table. Columns listed in ``shrink`` are cut (with '…') to fit ``max_width``."""
    n = len(headers)
    if not n:
        return "\n".join([style("", "1"), *("" for _ in rows)])
    if any(len(r) > n for r in rows):
        raise IndexError("table: a row has more cells than there are headers")
    # A short row prints as if its missing cells were empty (their padding is stripped with the line's end).
    columns = [[r[i] if i < len(r) else "" for r in rows] for i in range(n)]
    return table_columns(headers, columns, max_width=max_width, shrink=shrink)


def table_columns(headers: Sequence[str], columns: Sequence[Sequence[object]], *, max_width: int | None = None,
                  shrink: Sequence[int] = ()) -> str:
    """:func:`table` given its columns (one sequence of values per header, all as long) instead of its rows.

    The text is what the row by row definition gives: each cell ``one_line``-d, padded (or cut with '…') to its
    column's width, each line stripped on the right. It is made column by column so that the work per cell is
    done in C: a column of clean one-line strings is checked with one join (:func:`one_line_all`); widths,
    padding and cuts are worked out once per distinct value where a column repeats itself (types, states,
    people); the last column is never padded (the padding would be stripped); lines are joined with ``map``.
    """
    n = len(headers)
    cells = [one_line_all(c) for c in columns]
    widths = [width(h) for h in headers]
    measured: list[dict[str, int] | None] = []  # per column: value → width (None: ASCII, width is len)
    longest: list[int] = []
    # The last column's distinct values, widest possible first, and those widths (when it is not ASCII).
    ranked: list[str] = []
    bounds: list[int] = []
    for i, col in enumerate(cells):
        if col.ascii if type(col) is OneLine else "".join(col).isascii():
            measured.append(None)
            longest.append(max(map(len, col), default=0))
        elif i == n - 1:
            # Not padded: only the widest value and the values to cut need their width. An ASCII character
            # takes one column, another at most two: going down from the widest a value could be, the search
            # soon stops (the bounds are worked out in C).
            distinct = list(set(col))
            ascii_chars = map(len, map(str.encode, distinct, repeat("ascii"), repeat("ignore")))
            bound_of = list(map(sub, map(mul, map(len, distinct), repeat(2)), ascii_chars))
            order = sorted(range(len(distinct)), key=bound_of.__getitem__, reverse=True)  # (no tuple per value)
            ranked, bounds = list(map(distinct.__getitem__, order)), list(map(bound_of.__getitem__, order))
            widest = 0
            for bound, v in zip(bounds, ranked, strict=True):
                if bound <= widest:
                    break
                widest = max(widest, width(v))
            measured.append({})
            longest.append(widest)
        else:
            m = {v: width(v) for v in set(col)}
            measured.append(m)
            longest.append(max(m.values()))
        widths[i] = max(widths[i], longest[i])
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
    head = style("  ".join(pad(truncate(h, widths[i]), widths[i]) for i, h in enumerate(headers)).rstrip(), "1")
    if not cells or not cells[0]:
        return head
    shown: list[Sequence[str]] = []
    for i, col in enumerate(cells):
        w, known = widths[i], measured[i]
        if i == n - 1:  # not padded
            if longest[i] <= w:
                shown.append(col)
                continue
            if known is None:
                cut_to = {v: truncate(v, w) for v in set(col) if len(v) > w}
            else:  # the values wider than w are among those that could be
                cut_to = {}
                for bound, v in zip(bounds, ranked, strict=True):
                    if bound <= w:
                        break
                    if v.isascii():
                        if len(v) > w:
                            cut_to[v] = truncate(v, w)
                        continue
                    ends = list(accumulate(map(_CHAR_WIDTH, v)))  # as truncate does, measuring v once
                    if ends[-1] > w:
                        cut_to[v] = v[:bisect_right(ends, w - 1)] + "…" if w > 0 else ""
            shown.append(list(map(cut_to.get, col, col)))
        elif known is None and longest[i] <= w and len(set(col[:1000])) > 500:  # distinct values: pad each
            shown.append(list(map(str.ljust, col, repeat(w))))
        else:
            of = known if known is not None else {v: len(v) for v in set(col)}
            fit = {v: v + " " * (w - vw) if vw <= w else pad(truncate(v, w), w) for v, vw in of.items()}
            shown.append(list(map(fit.__getitem__, col)))
    return "\n".join([head, *map(str.rstrip, map("  ".join, zip(*shown, strict=True)))])


class OneLine(tuple[str, ...]):
    """Strings that are each their own :func:`one_line` (what :func:`one_line_all` gives for clean input);
    ``ascii`` tells whether they are all ASCII."""

    ascii: bool

    def __new__(cls, strs: Iterable[str], is_ascii: bool) -> OneLine:
        self = super().__new__(cls, strs)
        self.ascii = is_ascii
        return self


def one_line_all(values: Sequence[object]) -> OneLine | list[str]:
    """``[one_line(v) for v in values]`` (as a sequence), without a call per value when the values are clean
    one-line strings (the usual column), with one call per distinct value when they are strings or None."""
    if type(values) is OneLine:
        return values
    kinds = set(map(type, values))
    if not kinds <= {str, type(None)}:  # (exactly str: a subclass may print otherwise)
        return [one_line(v) for v in values]
    strs = cast("Sequence[str]", values if type(None) not in kinds else ["" if v is None else v for v in values])
    joined = " ".join(strs)
    # A space between values: a double space or one at either end shows a value that is empty or has a
    # space too many; a value that is not printable makes the whole not printable.
    if joined.isprintable() and "  " not in joined and joined[:1] != " " != joined[-1:]:
        return OneLine(strs, joined.isascii())  # every value passes one_line's first test: it is its own one_line
    fixed = {v: one_line(v) for v in set(strs)}
    if all(k == v for k, v in fixed.items()):  # e.g. empty strings (one_line("") is "")
        return OneLine(strs, joined.isascii())
    return list(map(fixed.__getitem__, strs))
