"""``sopflow recover``: finish or undo a mutating command that was killed half-way (see adapters/journal.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import project, say


def register(app: typer.Typer) -> None:
    @app.command("recover")
    def recover_cmd(
        ctx: typer.Context,
        finish: Annotated[bool, typer.Option("--finish", help="Write what is missing and commit it.")] = False,
        undo: Annotated[bool, typer.Option("--undo", help="Restore the files as they were before it.")] = False,
        forget: Annotated[bool, typer.Option("--forget", help="Drop the record; leave the files as they are.")]
        = False,
    ) -> None:
        """Finish or undo a sopflow command that was interrupted (killed, out of power) half-way.

        Without an option: say what was interrupted and what state its files are in.
        Example: sopflow recover ; sopflow recover --finish ; sopflow recover --undo
        """
        from sopflow.adapters import journal
        from sopflow.adapters.lock import locked
        from sopflow.errors import UsageError

        if finish + undo + forget > 1:
            raise UsageError("give at most one of --finish, --undo and --forget")
        p = project(ctx, warn_interrupted=False)
        if not journal.exists(p.root):
            say("nothing to recover: no sopflow command was interrupted")
            return
        if not (finish or undo or forget):
            for line in journal.status(p.root):
                print(line)
            return
        with locked(p.root):
            if not journal.exists(p.root):
                say("nothing to recover: no sopflow command was interrupted")
                return
            action = journal.finish if finish else journal.undo if undo else journal.forget
            say(action(p.root))
