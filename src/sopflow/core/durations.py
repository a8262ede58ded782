"""Durations such as ``30m``, ``2h``, ``1d``, ``1w``, ``1h30m``; instants as front matter writes them."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"(\d+)\s*([wdhms])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[wdhms]\s*)+$")
_UNIT = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: object) -> int:
    """Return the duration in seconds; raise ValueError for anything else."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int):
        raise ValueError(f"duration needs a unit (30m, 2h, 1d, 1w): {text!r}")
    if not _WHOLE.match(text):
        raise ValueError(f"not a duration (use 30m, 2h, 1d, 1w, 1h30m): {text!r}")
    return sum(int(n) * _UNIT[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Short human form: ``1h30m``, ``2d4h``, ``45s``; negative values get a minus sign."""
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    if s < 60:
        return f"{sign}{s}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        n, s = divmod(s, size)
        if n:
            parts.append(f"{n}{unit}")
    return sign + "".join(parts[:2])


def parse_instant(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    """An ISO 8601 date-time (as written in front matter) as an aware datetime; None if it is not one.

    A value without an offset is read in ``tz``.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=tz)
    return moment
