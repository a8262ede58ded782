"""The console-script entry point, kept tiny so ``sopflow --help`` answers before Typer is imported.

The top-level help text is cached in ``_help.txt`` (regenerated with ``python -m sopflow.entry --regen``,
and a test fails when it no longer matches what Typer prints). Everything else goes to ``sopflow.cli``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HELP_FILE = Path(__file__).with_name("_help.txt")


def main() -> None:
    args = sys.argv[1:]
    if args in ([], ["--help"], ["-h"]) and _wide_enough():
        try:
            text = HELP_FILE.read_text("utf-8")
        except OSError:
            text = ""
        if text:
            sys.stdout.write(text)
            sys.exit(0)
    from sopflow.cli import main as cli_main

    try:
        cli_main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # Every write is already atomic and fsynced and every git call has returned: skip the interpreter's
    # teardown of the heap (up to 0.1 s on a large repository) and leave at once.
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


def _wide_enough() -> bool:
    import os

    cols = os.environ.get("COLUMNS")
    if cols:
        return cols.isdigit() and int(cols) >= 80
    if not sys.stdout.isatty():
        return True
    try:
        return os.get_terminal_size().columns >= 80
    except OSError:
        return True


def render_help() -> str:
    """What Typer prints for ``sopflow --help`` at 80 columns."""
    import contextlib
    import io
    import os

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    buf = io.StringIO()
    try:
        import typer

        from sopflow.cli import app

        cmd = typer.main.get_command(app)
        with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
            cmd.main(args=["--help"], prog_name="sopflow", standalone_mode=True)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return buf.getvalue()


if __name__ == "__main__":
    if sys.argv[1:] == ["--regen"]:
        HELP_FILE.write_text(render_help(), "utf-8")
        print(f"wrote {HELP_FILE}")
    else:
        main()
