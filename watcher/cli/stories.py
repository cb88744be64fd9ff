"""`stories`: the hits grouped by story, one line per event however many outlets reported it."""

import click

from watcher.cli._context import App, pass_app
from watcher.cli._output import FORMAT, TITLE_WIDTH, print_fitted_table, print_records, shorten
from watcher.cli._window import optional_window
from watcher.display import when


@click.command("stories")
@click.option(
    "--rule", "rule_ids", multiple=True, metavar="RULE", help="Only hits of this rule (repeatable)."
)
@click.option(
    "--since", metavar="WHEN", help="Stories with hits since WHEN: a duration back (7d), a date, a time."
)
@click.option("--until", metavar="WHEN", help="Stories with hits before WHEN (the same forms).")
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="At most N stories (0: all)."
)
@FORMAT
@click.option(
    "--utc",
    is_flag=True,
    help="Dates of --since/--until and times of json in UTC (default: local time, from TZ); "
    "the table is always in UTC.",
)
@pass_app
def stories_command(
    app: App,
    *,
    rule_ids: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
    utc: bool,
) -> None:
    """The stories with hits, one line each (the same event reported by several outlets is one
    story): outlets, first and last seen, hits and rules; the latest hit first."""
    from watcher.history import zone

    tz = zone(utc)
    start, end = optional_window(since, until, tz)
    app.check_rule_ids(rule_ids)
    found = app.store.stories(since=start, until=end, rules=rule_ids, limit=limit or None)
    if fmt == "json":
        rows = [
            {
                "story": s.id,
                "headline": s.headline,
                "outlets": list(s.outlets),
                "feeds": list(s.feeds),
                "first_seen": s.first_seen.astimezone(tz),
                "last_seen": s.last_seen.astimezone(tz),
                "hits": s.hits,
                "rules": list(s.rules),
            }
            for s in found
        ]
        print_records(rows, fmt)
        return
    if not found:
        filtered = rule_ids or since or until
        click.echo("no stories match these filters" if filtered else "no stories stored yet")
        return
    table = [
        (
            str(s.id),
            when(s.first_seen),
            when(s.last_seen),
            str(s.hits),
            ", ".join(s.rules),
            ", ".join(s.outlets),
            shorten(s.headline, TITLE_WIDTH),
        )
        for s in found
    ]
    header = ("STORY", "FIRST SEEN", "LAST SEEN", "HITS", "RULES", "OUTLETS", "HEADLINE")
    print_fitted_table(header, table, flexible=(4, 5, 6))  # rules, outlets and headline give way
