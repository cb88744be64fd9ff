"""`event RULE` and `event rebuild`: when a rule's event is, who said so first, and the claims behind it."""

from typing import TYPE_CHECKING, Any

import click

from watcher.cli._context import App, Group, now, pass_app
from watcher.cli._output import echo_json, print_fitted_table
from watcher.display import count, when

if TYPE_CHECKING:
    from datetime import tzinfo

    from watcher.records import EventDate
    from watcher.timeline import Event, Statement


class _EventGroup(Group):
    """``event RULE`` is ``event show RULE``: a first argument that names no command is a rule."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("event", cls=_EventGroup)
def event_group() -> None:
    """When a rule's event is: `event RULE` shows it, `event rebuild` reads the dates of stored hits again."""


@event_group.command("show")
@click.argument("rule_id", metavar="RULE")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: rule, status, estimate, history.")
@click.option(
    "--utc",
    is_flag=True,
    help="Times of --json in UTC (default: local time, from TZ); the table is always in UTC.",
)
@pass_app
def event_show(app: App, rule_id: str, as_json: bool, utc: bool) -> None:
    """The event of RULE (`event RULE` for short): its status, the best estimate of its date with the
    outlets stating it and the first to, then every date its hits state, oldest first."""
    from watcher.history import zone
    from watcher.timeline import event

    app.check_rule_ids([rule_id], param="RULE")
    found = event(rule_id, app.store.rule_date_reports(rule_id), now())
    if as_json:
        echo_json(_event_json(found, zone(utc)), indent=2)
        return
    click.echo(f"event {rule_id}")
    status = found.status.replace("_", " ")
    if found.estimate is None:
        has_hits = rule_id in app.store.hit_rules()
        click.echo(f"{status}: no date stated yet" if has_hits else "no hits yet")
        return
    estimate = found.estimate
    first = estimate.first.report
    click.echo(
        f"{status}: {_period(estimate.date)} "
        f"({count(len(estimate.outlets), 'outlet')}: {', '.join(estimate.outlets)}); "
        f"first reported by {first.outlet} {when(first.published)}"
    )
    if estimate.consistent:
        click.echo(f"consistent with it: {', '.join(estimate.consistent)}")
    click.echo()
    header = ("TIME", "OUTLET", "CLAIM", "DATE", "PRECISION", "TENSE", "NOTE")
    rows = [
        (
            when(s.report.published),
            s.report.outlet,
            s.claim.text,
            _period(s.date),
            s.claim.precision,
            s.claim.tense,
            _note(s),
        )
        for s in found.history
    ]
    print_fitted_table(header, rows, flexible=(1, 2, 3))  # outlet, claim and date give way


@event_group.command("rebuild")
@click.argument("rule_id", metavar="[RULE]", required=False)
@pass_app
def event_rebuild(app: App, rule_id: str | None) -> None:
    """Read the dates the stored hits of RULE (of every rule without it) state again, from their
    items, and update the events: after an upgrade, or when the dates read have improved."""
    from watcher.events import rebuild

    rules = () if rule_id is None else (rule_id,)
    app.check_rule_ids(rules, param="RULE")
    done = rebuild(app.store, rules, now())
    click.echo(f"{count(done.hits, 'hit')} read again: {count(done.claims, 'date claim')} stored")
    for rule in done.changed:
        state = app.store.event_state(rule)
        click.echo(f"estimate of {rule} changed: {'none' if state is None else _period(state.date)}")


def _period(date: "EventDate") -> str:
    from watcher.dates import period  # the date grammar: compiled by this command only

    return period(date.start, date.end, date.precision)


def _note(statement: "Statement") -> str:
    """What the history's NOTE says of a claim: reported as done, hedged, and what it did to the
    estimate, else whether it is the first of its dates."""
    notes = (
        "done" if statement.done else "",
        "hedged" if statement.claim.hedged else "",
        statement.change or ("first" if statement.first else ""),
    )
    return ", ".join(note for note in notes if note)


def _event_json(found: "Event", tz: "tzinfo") -> dict[str, Any]:
    estimate = found.estimate
    return {
        "rule": found.rule,
        "status": found.status,
        "estimate": None
        if estimate is None
        else {
            **_dates(estimate.date),
            "text": estimate.text,
            "outlets": list(estimate.outlets),
            "consistent": list(estimate.consistent),
            "first_reported_by": estimate.first.report.outlet,
            "first_reported_at": estimate.first.report.published.astimezone(tz),
            "first_link": estimate.first.report.link,
        },
        "history": [
            {
                "published": s.report.published.astimezone(tz),
                "outlet": s.report.outlet,
                "feed": s.report.feed,
                "title": s.report.title,
                "link": s.report.link,
                "hit": s.report.hit,
                "field": s.field,
                "text": s.claim.text,
                **_dates(s.date),
                "tense": s.claim.tense,
                "hedged": s.claim.hedged,
                "done": s.done,
                "first": s.first,
                "change": s.change,
            }
            for s in found.history
        ],
    }


def _dates(date: "EventDate") -> dict[str, str]:
    return {
        "start": date.start.isoformat(),
        "end": date.end.isoformat(),
        "precision": date.precision,
        "reads": _period(date),
    }
