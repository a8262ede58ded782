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


def _version(value: bool) -> None:
    if value:
        print(f"sopflow {__version__}")
        raise typer.Exit()


@app.callback()
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


from sopflow.cli import gate as _gate  # noqa: E402
from sopflow.cli import knowledge as _knowledge  # noqa: E402
from sopflow.cli import recover as _recover  # noqa: E402
from sopflow.cli import release as _release  # noqa: E402
from sopflow.cli import repo as _repo  # noqa: E402
from sopflow.cli import service as _service  # noqa: E402
from sopflow.cli import site as _site  # noqa: E402
from sopflow.cli import tickets as _tickets  # noqa: E402
from sopflow.cli import views as _views  # noqa: E402

_tickets.register(app)
_repo.register(app)
_service.register(app)
_views.register(app)
_gate.register(app)
_knowledge.register(app)
_site.register(app)
_release.register(app)
_recover.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns every user error into one line on stderr."""
    from sopflow.errors import SopflowError

    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(app)
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
