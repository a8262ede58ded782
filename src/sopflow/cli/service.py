"""Service-level commands: sla, escalate, stats."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import check_format, echo_json, project, say


def register(app: typer.Typer) -> None:
    @app.command("sla")
    def sla_cmd(
        ctx: typer.Context,
        breached: Annotated[bool, typer.Option("--breached", help="Only tickets that missed a goal.")] = False,
        all_: Annotated[bool, typer.Option("--all", help="Closed tickets too (status met or breached).")] = False,
        type_: Annotated[list[str] | None, typer.Option("--type", help="Only this type (repeatable).",
                                                        metavar="TYPE")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output format: table, json or csv.")] = "table",
    ) -> None:
        """SLA clocks of open tickets: due times and status ok / at_risk / breached, worst first.

        Goals come from each workflow's sla: block (respond = first move out of the initial state,
        resolve = entering a final state); time in pause states does not count.
        Example: sopflow sla --breached --type support --format json
        """
        check_format(fmt, ("table", "json", "csv"))
        from sopflow.service import due_escalation_count, sla_rows

        p = project(ctx)
        rows = sla_rows(p, types=type_ or (), breached=breached, include_closed=all_)
        if fmt == "json":
            echo_json([r.as_json(p.tz) for r in rows])
        elif fmt == "csv":
            from sopflow.render.service import sla_csv

            print(sla_csv(rows, p.tz), end="")
        else:
            from sopflow.render.service import sla_table

            what = "breached tickets" if breached else "tickets with an SLA" + ("" if all_ else " open")
            print(sla_table(rows, p.now, p.tz, empty=f"(no {what})"))
        due = due_escalation_count(p)
        if due:
            say(f"{due} escalation{'s' if due > 1 else ''} due: run 'sopflow escalate' "
                "('sopflow escalate --dry-run' shows them)")

    @app.command("escalate")
    def escalate_cmd(
        ctx: typer.Context,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
        fmt: Annotated[str, typer.Option("--format", help="Output: text or json.")] = "text",
    ) -> None:
        """Apply every due escalation rule of every open ticket: reassign to the rule's role, record an
        escalate history entry, one commit for the run.

        Idempotent (a rule is applied once per ticket), so it is safe to run from cron or CI on a schedule;
        --format json lists what was done, e.g. to notify a chat channel.
        Example: sopflow escalate --dry-run ; sopflow escalate --format json
        """
        check_format(fmt, ("text", "json"))
        from sopflow.service import escalate

        p = project(ctx)
        with p.locked():
            run = escalate(p, dry_run=dry_run)
            if run.change is not None:
                p.apply(run.change)
        for m in run.messages:
            say(m)
        if fmt == "json":
            echo_json(run.as_json(p.tz))
        else:
            from sopflow.render.service import escalation_text

            print(escalation_text(run, p.tz))

    @app.command("stats")
    def stats_cmd(
        ctx: typer.Context,
        type_: Annotated[list[str] | None, typer.Option("--type", help="Only this type (repeatable).",
                                                        metavar="TYPE")] = None,
        since: Annotated[str | None, typer.Option("--since", help="Only tickets created on or after DATE.",
                                                  metavar="DATE")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Top 10 values of this field (default labels).",
                                               metavar="FIELD")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """Counts by state and type, created/closed per week, time to respond and resolve (median, p90),
        time in each state, SLA compliance per priority, and the top 10 values of a field.

        Example: sopflow stats --type support --since 2026-11-01 --by problem_type
        """
        check_format(fmt, ("table", "json"))
        import datetime as dt

        from sopflow.service import stats_report

        day = None
        if since is not None:
            try:
                day = dt.date.fromisoformat(since.strip())
            except ValueError:
                from sopflow.errors import UsageError

                raise UsageError(f"--since expects a date YYYY-MM-DD (got {since!r})") from None
        p = project(ctx)
        report = stats_report(p, types=type_ or (), since=day, by=by)
        if fmt == "json":
            echo_json(report)
        else:
            from sopflow.render.service import stats_text

            print(stats_text(report))
