"""`rules test --stored`: the rules over the stored items, compared with the recorded hits.

Apart from `rules test` because it is the one rule command that needs the database.
"""

from typing import TYPE_CHECKING, Any

import click

from watcher.cli._context import App
from watcher.cli._output import TITLE_WIDTH, echo_json, print_table, shorten
from watcher.cli._window import window
from watcher.display import count, when

if TYPE_CHECKING:
    from watcher.matcher import Matcher
    from watcher.rules import RuleSet


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def backtest_stored(
    app: App, ruleset: "RuleSet", matcher: "Matcher", *, since: str, until: str | None, as_json: bool
) -> None:
    """Each match and lost hit (JSON Lines with ``as_json``), then a table of counts per rule."""
    from watcher.backtest import backtest
    from watcher.history import zone

    start, end = window(since, until, zone(utc=False))
    tags = {feed.name: frozenset(feed.tags) for feed in app.config.feeds}
    store = app.store
    recorded = store.recorded_hits(start, end)
    result = backtest(store.iter_items(start, end), matcher, recorded, {r.id for r in ruleset}, tags)
    if as_json:
        for row in result.rows:
            record: dict[str, Any] = {"item": row.item, "rule": row.rule, "score": row.score}
            record["matched"] = list(row.terms)
            if row.change is not None:
                record["change"] = row.change
            if row.mark is not None:
                record["mark"] = row.mark
            echo_json(record)
        return
    table = [
        (
            str(r.item),
            r.feed,
            r.rule,
            str(r.score),
            r.change or "",
            r.mark or "",
            shorten(r.title, TITLE_WIDTH),
        )
        for r in result.rows
    ]
    print_table(("ITEM", "FEED", "RULE", "SCORE", "CHANGE", "MARK", "TITLE"), table)
    if table:
        click.echo()
    counts = [*result.rules.values(), result.total()]
    summary = [
        (
            c.rule,
            str(c.matches),
            str(c.recorded),
            str(c.new),
            str(c.lost),
            f"{c.good}/{c.bad}",
            f"{_share(c.precision)} -> {_share(c.precision_now)}",
        )
        for c in counts
    ]
    print_table(("RULE", "MATCHES", "RECORDED", "NEW", "LOST", "GOOD/BAD", "PRECISION (marked)"), summary)
    total = result.total()
    click.echo(
        f"{count(result.items, 'item')} fetched {when(start)} .. {when(end)}: "
        f"{count(total.matches, 'match', 'matches')}, {total.new} new, {total.lost} lost"
    )
