"""Jinja2 templates rendered in the sandbox: a template from a pull request must not run code.

The immutable sandbox stops code execution (no private attributes, no mutation of passed-in objects,
``range`` capped). A hostile template can still try to exhaust the machine, so rendering is also bounded:
``*`` and ``**`` refuse results that would be huge (big-number arithmetic cannot be interrupted), the render
gets a time limit and (on Linux) a memory allowance (:func:`bounded`, for every renderer of templates that
come from the repository), and the output a size limit. ``lipsum`` is removed.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from sopflow.errors import SopflowError

TIME_LIMIT = 5.0  # seconds a render may take
MEMORY_ALLOWANCE = 512 * 1024 * 1024  # bytes of address space a render may add
MAX_OUTPUT = 1_000_000  # characters
MAX_REPEAT = 1_000_000  # length of a string or list made with '*'
MAX_INT_BITS = 100_000  # size of a number made with '*' or '**'


def environment(*, strict: bool = False) -> Any:
    """The sandbox every template from a repository renders in: Jinja2's immutable sandbox, strict about
    undefined names, ``*`` and ``**`` bounded, no ``lipsum``. With ``strict``, touching an unsafe attribute
    (``''.__class__``) fails at once instead of giving an undefined value that prints as nothing."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    dict_attributes = frozenset(dir(dict))

    class Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def getattr(self, obj: Any, attribute: str) -> Any:
            # ``t.id`` on a plain dict: the stock method first tries the attribute, which fails (raising costs a
            # microsecond; long release notes have 100,000s of these), then the key. Same answer, straight to
            # the key, when dict has no attribute of that name.
            if type(obj) is dict and attribute not in dict_attributes:
                try:
                    return obj[attribute]
                except KeyError:
                    return self.undefined(obj=obj, name=attribute)
            return super().getattr(obj, attribute)

        if strict:

            def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
                raise SecurityError(f"sandbox: access to attribute {attribute!r} of a {type(obj).__name__!r} "
                                    "object is not allowed")

    env = Sandbox(autoescape=False, keep_trailing_newline=True, undefined=StrictUndefined, trim_blocks=True,
                  lstrip_blocks=True)
    env.globals.pop("lipsum", None)
    return env


def _check_binop(operator: str, left: Any, right: Any) -> None:
    from jinja2.exceptions import SecurityError

    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                raise SecurityError(f"'*' would make something of {len(seq) * n} items (at most {MAX_REPEAT})")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError("'*' would make a number too large")
    elif (operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float))
          and abs(left) > 1 and right > 0 and float(right) * math.log2(abs(float(left))) > MAX_INT_BITS):
        raise SecurityError("'**' would make a number too large")


def _limit(message: str) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(message)


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Around a render: a time limit (SIGALRM timer) and a memory allowance (RLIMIT_AS), where available.

    Going past either raises Jinja2's ``SecurityError`` ("rendering took longer than …", "rendering needs
    more memory than …"), which every renderer already reports as a refusal of the sandbox.
    """
    restore: list[Any] = []
    try:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer") \
                and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0):

            def on_alarm(signum: int, frame: Any) -> None:
                raise _limit(f"rendering took longer than {TIME_LIMIT:g} s")

            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
            restore.append(lambda: (signal.setitimer(signal.ITIMER_REAL, 0), signal.signal(signal.SIGALRM, old)))
        if sys.platform.startswith("linux"):
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/statm", encoding="ascii") as fh:
                used = int(fh.read().split()[0]) * resource.getpagesize()
            limit = used + MEMORY_ALLOWANCE
            if (soft == resource.RLIM_INFINITY or limit < soft) and (hard == resource.RLIM_INFINITY or limit <= hard):
                resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
                restore.append(lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard)))
    except (OSError, ValueError):
        pass
    try:
        yield
    except MemoryError:
        raise _limit(f"rendering needs more than {MEMORY_ALLOWANCE >> 20} MB of memory") from None
    finally:
        for undo in reversed(restore):
            undo()


def render_string(text: str, context: dict[str, Any], name: str) -> str:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    env = environment()
    try:
        with bounded():
            out = str(env.from_string(text).render(**context))
    except SecurityError as exc:
        raise SopflowError(f"template refused by the sandbox: {exc}", where=name) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{name}:{line}" if line else name
        raise SopflowError(f"template error: {exc.message or exc}", where=where) from None
    except RecursionError:
        raise SopflowError("template recursion too deep", where=name) from None
    except Exception as exc:  # a template can raise anything through filters; never a traceback
        raise SopflowError(f"template failed: {type(exc).__name__}: {exc}", where=name) from None
    if len(out) > MAX_OUTPUT:
        raise SopflowError(f"template output too large ({len(out)} characters, at most {MAX_OUTPUT})", where=name)
    return out
