"""Field values: converting command-line text to typed values, and validating stored values."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sopflow.core.workflow import Field

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def coerce(f: Field, text: str) -> Any:
    """Turn command-line text into the field's value; raise ValueError with a short reason."""
    t = f.type
    if text == "":
        return None
    if t == "int":
        try:
            value: Any = int(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    elif t == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            value = True
        elif low in _FALSE:
            value = False
        else:
            raise ValueError(f"{text!r} is not true/false/yes/no/1/0")
    elif t == "multi":
        value = [x.strip() for x in text.split(",") if x.strip()]
    else:
        value = text
    msg = validate_value(f, value)
    if msg:
        raise ValueError(msg)
    return value


def validate_value(f: Field, value: Any, people: Collection[str] | None = None,
                   ticket_ids: Collection[str] | None = None) -> str | None:
    """A reason the stored value is invalid for the field, or None. Empty values are valid here."""
    if is_empty(value):
        return None
    t = f.type
    if t in ("string", "text", "link", "person"):
        if not isinstance(value, str):
            return f"must be text, not {_kind(value)}"
        if t == "string" and ("\n" in value or "\r" in value):
            return "must be one line"
        if f.max_length is not None and len(value) > f.max_length:
            return f"is {len(value)} characters long (at most {f.max_length})"
        if t == "person" and people is not None and value not in people:
            return f"{value!r} is not a person in sopflow.yaml"
        return None
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, not {value!r}"
        if f.min is not None and value < f.min:
            return f"{value} is below the minimum {f.min}"
        if f.max is not None and value > f.max:
            return f"{value} is above the maximum {f.max}"
        return None
    if t == "bool":
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if t == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return f"{value!r} is not a date YYYY-MM-DD"
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a valid date"
        return None
    if t == "datetime":
        if not isinstance(value, str):
            return f"{value!r} is not an ISO 8601 date-time"
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not an ISO 8601 date-time"
        return None
    if t == "choice":
        if value not in f.choices:
            return f"{value!r} is not one of: {', '.join(map(str, f.choices))}"
        return None
    if t == "multi":
        if not isinstance(value, list):
            return "must be a list"
        bad = [v for v in value if v not in f.choices]
        if bad:
            return f"{', '.join(map(repr, bad))} not among: {', '.join(map(str, f.choices))}"
        return None
    return None


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )
