"""Plain converters for the few parameter types sopflow's commands use.

Typer 0.2x converts every parameter value through a pydantic ``TypeAdapter``. Building those adapters
imports pydantic and its schema machinery, which costs about 70 ms and 14 MiB on every command, more than
the work of most commands on a 10,000-ticket repository. sopflow's parameters are only ``str``, ``int``,
``bool`` and lists of ``str``, so a plain converter gives the same values without that cost.

:func:`install` wraps Typer's ``build_runtime_param``: an annotation this module recognises, with no
custom parser and no range, gets a plain converter; anything else (and any Typer without this hook) goes
to Typer unchanged. The wrapper is an optimisation only: the values a command receives are the same.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode(sys.getfilesystemencoding(), "surrogateescape")
    return str(value)


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def install() -> bool:
    """Route sopflow's simple parameter types past pydantic. Returns False when Typer has no such hook."""
    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
        from typer._typing import get_args, get_origin

        base: Any = _coercion.RuntimeParam
        typer_build = getattr(core, "build_runtime_param")  # noqa: B009 (not exported: mypy)
    except (ImportError, AttributeError):
        return False
    if getattr(typer_build, "_sopflow_plain", False):
        return True

    @dataclass(frozen=True)
    class PlainRuntimeParam(base):  # type: ignore[misc]
        """Coerces str / int / bool values (or lists of them) without pydantic."""

        kind: type = str
        many: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                items = value if isinstance(value, (list, tuple)) else [value]
                return [self._one(item, param, ctx) for item in items]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.kind is str:
                return _as_str(value)
            if self.kind is bool:
                if isinstance(value, bool):
                    return value
                word = _as_str(value).strip().lower()
                if word in _TRUE or word in _FALSE:
                    return word in _TRUE
                raise BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            try:
                return int(_as_str(value).strip())
            except ValueError:
                raise BadParameter(f"{value!r} is not a valid integer.", ctx=ctx, param=param) from None

    def plain_kind(annotation: Any) -> tuple[type, bool] | None:
        many = False
        if get_origin(annotation) is list:
            args = get_args(annotation)
            if len(args) != 1:
                return None
            annotation, many = args[0], True
        if annotation is str or (annotation in (int, bool) and not many):
            return annotation, many
        return None

    def build_runtime_param(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        plain = None
        if (descriptor.file_annotation is None and getattr(info, "parser", None) is None
                and getattr(info, "click_type", None) is None
                and getattr(info, "min", None) is None and getattr(info, "max", None) is None):
            plain = plain_kind(descriptor.annotation)
        if plain is None:
            return typer_build(descriptor)
        kind, many = plain
        return PlainRuntimeParam(parameter_info=info, annotation=descriptor.annotation, kind=kind,
                                 many=many)

    build_runtime_param._sopflow_plain = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build_runtime_param)  # noqa: B010
    return True
