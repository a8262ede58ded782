"""Jinja2 templates rendered in the sandbox: a template from a pull request must not run code."""

from __future__ import annotations

from typing import Any

from sopflow.errors import SopflowError


def environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        autoescape=False, keep_trailing_newline=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


def render_string(text: str, context: dict[str, Any], name: str) -> str:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    env = environment()
    try:
        return str(env.from_string(text).render(**context))
    except SecurityError as exc:
        raise SopflowError(f"template refused by the sandbox: {exc}", where=name) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{name}:{line}" if line else name
        raise SopflowError(f"template error: {exc.message or exc}", where=where) from None
    except Exception as exc:  # a template can raise anything through filters; never a traceback
        raise SopflowError(f"template failed: {type(exc).__name__}: {exc}", where=name) from None
