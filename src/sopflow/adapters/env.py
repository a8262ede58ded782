"""Identity and time from the environment (``--as``, ``SOPFLOW_USER``, git config; ``SOPFLOW_NOW``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from sopflow.errors import SopflowError


def parse_tz(name: str | None) -> tzinfo:
    if not name:
        return datetime.now().astimezone().tzinfo or UTC
    text = name.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    if text[:1] in "+-" and ":" in text:
        try:
            sign = -1 if text[0] == "-" else 1
            hh, mm = text[1:].split(":")
            return timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
        except ValueError:
            pass
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(text)
    except Exception:
        raise SopflowError(f"unknown time zone {name!r}", where="sopflow.yaml") from None


def now(tz: tzinfo) -> datetime:
    raw = os.environ.get("SOPFLOW_NOW")
    if raw:
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise SopflowError(f"SOPFLOW_NOW={raw!r} is not an ISO 8601 date-time") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(tz)
    return datetime.now(tz).replace(microsecond=0)


def fmt_time(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()
