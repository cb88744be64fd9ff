"""`stats`: hits per rule per day or week, as a terminal bar chart, JSON or a PNG (matplotlib)."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.cli._context import App, pass_app
from watcher.cli._output import FORMAT, echo_json
from watcher.cli._window import window

if TYPE_CHECKING:
    from watcher.history import Period


@click.command("stats")
@click.option("--rule", "rule_ids", multiple=True, metavar="RULE", help="Only this rule (repeatable).")
@click.option("--by", type=click.Choice(["day", "week"]), default="day", show_default=True, help="Period.")
@click.option(
    "--since", default="30d", show_default=True, metavar="WHEN", help="A duration back, a date, a time."
)
@click.option("--until", metavar="WHEN", help="End of the window (default now).")
@click.option("--utc", is_flag=True, help="Periods in UTC (default: local time).")
@click.option(
    "--png", "png_path", type=click.Path(path_type=Path, dir_okay=False), help="Also save the chart as a PNG."
)
@click.option("--full", is_flag=True, help="Every period of every rule as a bar chart (default: a summary).")
@FORMAT
@pass_app
def stats_command(
    app: App,
    *,
    rule_ids: tuple[str, ...],
    by: "Period",
    since: str,
    until: str | None,
    utc: bool,
    png_path: Path | None,
    full: bool,
    fmt: str,
) -> None:
    """Hits per rule per day or week: a summary, a line per rule (--full: a bar chart of every
    period; --format json: the counts).

    Periods are local days or ISO weeks (Monday first) in the local time zone (TZ), or UTC with
    --utc; the first period starts at the start of the day or week holding --since.
    """
    import shutil

    from watcher.history import (
        can_draw_blocks,
        chart_rules,
        local_midnight,
        period_bounds,
        period_start,
        render_chart,
        render_summary,
        require_plot,
        write_png,
        zone,
        zone_name,
    )

    if png_path is not None:
        require_plot()  # before any work: a missing extra is a usage error
    tz = zone(utc)
    start, end = window(since, until, tz)
    start = local_midnight(period_start(start.astimezone(tz).date(), by), tz)
    app.check_rule_ids(rule_ids)
    found = app.store.hit_counts(start, end, rule_ids, by, tz)
    periods = [day for day, _, _ in period_bounds(start, end, by, tz)]
    shown = chart_rules(found, rule_ids)
    counts = {(day, rule): count for day, rule, count in found}
    if fmt == "json":
        rows = [
            {"period": day.isoformat(), "rule": rule, "hits": counts.get((day, rule), 0)}
            for day in periods
            for rule in shown
        ]
        echo_json(rows, indent=2, ensure_ascii=True)
    else:
        where = zone_name(tz, end)
        first, last = periods[0], end.astimezone(tz).date()
        click.echo(f"hits per {by}, {first} .. {last} ({where})")
        if not shown:
            click.echo("no hits")
        columns = shutil.get_terminal_size().columns
        blocks = can_draw_blocks(getattr(sys.stdout, "encoding", None))
        render = render_chart if full else render_summary
        for line in render(counts, periods, shown, by=by, columns=columns, blocks=blocks):
            click.echo(line)
    if png_path is not None:
        title = f"summit-watch: hits per {by}, {periods[0]} .. {end.astimezone(tz).date()}"
        write_png(png_path, counts, periods, shown, title=title)
        click.echo(f"chart saved to {png_path}", err=True)
