"""``sopflow release-notes``: release notes from commit history (SPEC 5)."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import check_format, echo_json, project, say


def register(app: typer.Typer) -> None:
    @app.command("release-notes")
    def release_notes_cmd(
        ctx: typer.Context,
        rng: Annotated[str | None, typer.Argument(metavar="[RANGE]",
                                                  help="A..B (default: newest tag reachable from HEAD..HEAD).")]
        = None,
        template: Annotated[str | None, typer.Option("--template", help="A Jinja2 template for this run.",
                                                     metavar="PATH")] = None,
        fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
        since_tag: Annotated[str | None, typer.Option("--since-tag", help="From this tag to HEAD.",
                                                      metavar="TAG")] = None,
        since: Annotated[str | None, typer.Option("--since", help="Commits on or after DATE.", metavar="DATE")]
        = None,
        until: Annotated[str | None, typer.Option("--until", help="Commits on or before DATE.", metavar="DATE")]
        = None,
        all_touched: Annotated[bool, typer.Option("--all-touched",
                                                  help="List every ticket touched, not only those resolved.")]
        = False,
        group_by: Annotated[str | None, typer.Option("--group-by", help="Group tickets by this field too.",
                                                     metavar="FIELD")] = None,
        output: Annotated[str | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.",
                                                   metavar="FILE")] = None,
        prepend: Annotated[str | None, typer.Option("--prepend", help="Add the notes on top of this changelog.",
                                                    metavar="FILE")] = None,
    ) -> None:
        """Release notes from what was resolved between two versions, rendered in Jinja2's sandbox.

        Example: sopflow release-notes v1.2..HEAD --group-by class_1 --prepend CHANGELOG.md
        """
        check_format(fmt, ("markdown", "json"))
        from sopflow.adapters.files import confine
        from sopflow.gcpause import paused
        from sopflow.release_notes import (
            Compiled,
            compile_template,
            load_template,
            prepend_changelog,
            release_notes,
            render_release_notes,
            write_atomic,
        )

        # hundreds of thousands of records without cycles (50,000 commits, the notes, the rendered pieces):
        # each collection would only walk them again (0.03 s), so the collector rests while the command runs
        with paused():
            p = project(ctx)
            compiled: list[Compiled] = []

            def prepare() -> None:  # release_notes calls it while git walks the history
                if fmt != "json":
                    tpl_text, tpl_name = load_template(p.root, template,
                                                       templates_dir=p.config.paths["templates"])
                    compiled.append(compile_template(tpl_text, tpl_name))

            notes = release_notes(p.root, rng, since_tag=since_tag, since=since, until=until,
                                  all_touched=all_touched, tickets_dir=p.config.paths["tickets"],
                                  workflows_dir=p.config.paths["workflows"], timezone=p.tz, meanwhile=prepare)
            if fmt == "json":
                if output or prepend:
                    import json

                    text = json.dumps(notes, ensure_ascii=False, indent=2) + "\n"
                else:
                    echo_json(notes)
                    return
            else:
                text = render_release_notes(notes, group_by=group_by, compiled=compiled[0])
            if prepend:
                target = confine(p.root, prepend, what="--prepend file")
                prepend_changelog(target, text)
                say(f"added {len(notes.get('tickets', []))} tickets to {p.relpath(target)}")
            elif output:
                target = confine(p.root, output, what="--output file")
                write_atomic(target, text.encode("utf-8"))
                say(f"wrote {p.relpath(target)}")
            else:
                print(text, end="" if text.endswith("\n") else "\n")
