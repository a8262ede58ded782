"""The command line: the Typer app, global options, and one error handler.

Each command parses its options, makes one call into the project façade, and renders the result.
Command modules import nothing heavy at module level, so ``sopflow --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from sopflow import __version__
from sopflow.cli.context import Options
from sopflow.cli.plainparams import install as _install_plain_params

_install_plain_params()


def _new_app() -> typer.Typer:
    app = typer.Typer(
        name="sopflow",
        help="Standard operating procedures as executable, reviewable workflows kept in git.\n\n"
        "Example: sopflow demo  ·  sopflow new issue_track --title '【20261121】XX局点XX设备故障'  ·  "
        "sopflow do ISS-1 提交审核 --note '背景… 进展… 下一步…'",
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global)
    return app


def _version(value: bool) -> None:
    if value:
        print(f"sopflow {__version__}")
        raise typer.Exit()


def _global(
    ctx: typer.Context,
    directory: Annotated[str | None, typer.Option("-C", help="Run as if started in this directory.",
                                                  metavar="PATH")] = None,
    as_: Annotated[str | None, typer.Option("--as", help="Act as this person (a key of people).",
                                            metavar="PERSON")] = None,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Write files but do not commit.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version.")] = False,
) -> None:
    """Global options come before the command: sopflow -C PATH --as PERSON --no-commit do ISS-3 提交审核"""
    ctx.obj = Options(directory=directory, actor=as_, no_commit=no_commit)


#: The command modules, in the order their commands are registered (and listed by --help).
MODULES = ("tickets", "repo", "service", "views", "gate", "knowledge", "site", "release", "recover")
#: The module that registers each top-level command or group, so that a run registers (and imports) only
#: the module of the command it runs: building every command costs about 25 ms. A test checks this table.
COMMANDS = {
    **dict.fromkeys(("new", "show", "list", "do", "assign", "set", "tick", "comment", "link"), "tickets"),
    **dict.fromkeys(("init", "demo", "check", "workflow"), "repo"),
    **dict.fromkeys(("sla", "escalate", "stats"), "service"),
    **dict.fromkeys(("board", "inbox", "log"), "views"),
    **dict.fromkeys(("install-merge-driver", "merge-driver"), "gate"),
    **dict.fromkeys(("wiki", "sop"), "knowledge"),
    "site": "site",
    "release-notes": "release",
    "recover": "recover",
}
_GLOBAL_WITH_VALUE = ("-C", "--as")


def build_app(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """The Typer app with the commands of ``modules`` (all of them by default)."""
    import importlib

    app = _new_app()
    for name in modules:
        importlib.import_module(f"sopflow.cli.{name}").register(app)
    return app


def command_of(args: list[str]) -> str | None:
    """The command named in ``args`` (the first word after the global options), or None."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def __getattr__(name: str) -> typer.Typer:
    """``sopflow.cli.app``: the app with every command (built on first use)."""
    if name == "app":
        app = globals().get("_app")
        if app is None:
            app = globals()["_app"] = build_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns every user error into one line on stderr."""
    from sopflow.errors import SopflowError

    args = sys.argv[1:] if argv is None else argv
    module = COMMANDS.get(command_of(args) or "")
    command = typer.main.get_command(build_app((module,)) if module else build_app())
    try:
        rv = command.main(args=args, prog_name="sopflow", standalone_mode=False)
    except SopflowError as exc:
        _fail(exc.line(), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        os._exit(0)
    except Exception as exc:
        fmt = getattr(exc, "format_message", None)
        code = getattr(exc, "exit_code", None)
        if callable(fmt) and isinstance(code, int):  # click usage errors: exit 2
            usage = getattr(exc, "ctx", None)
            hint = f" (see '{usage.command_path} --help')" if usage is not None else ""
            _fail(" ".join(str(fmt()).split()) + hint, code)
        if type(exc).__name__ == "Abort":
            _fail("aborted", 1)
        if os.environ.get("SOPFLOW_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(please report it; SOPFLOW_DEBUG=1 shows the traceback)", 1)
    code = rv if isinstance(rv, int) else 0
    sys.exit(code)


def _fail(message: str, code: int) -> None:
    from sopflow.render.text import clean

    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(f"sopflow: {clean(message)}", file=sys.stderr)
    sys.exit(code)
