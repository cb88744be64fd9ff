"""`hits` and `hits show`: the stored hits as a table, JSON Lines or CSV, and one hit in full.

Listings stream: the table's column widths are those of its first rows, JSON Lines and CSV go
out row by row, so `--limit 0` exports any number of hits in constant memory.
"""

import csv
import itertools
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from watcher.cli._context import App, Group, now, pass_app
from watcher.cli._output import TITLE_WIDTH, echo_json, fitted_row, fitted_widths, shorten, table_lines
from watcher.cli._window import optional_window
from watcher.display import count, when

if TYPE_CHECKING:
    from datetime import tzinfo

    from watcher.records import HitDetail, HitOrder, HitRecord

_HIT_FIELDS = (
    "id",
    "created_at",
    "rule",
    "score",
    "terms",
    "item",
    "feed",
    "source",
    "title",
    "link",
    "published",
    "story",
    "alert",
)
_TABLE_CHUNK = 1000  # a table's column widths are those of its first rows: the rest streams
_BOLD = ("\x1b[1m", "\x1b[0m")


@click.group("hits", cls=Group, invoke_without_command=True)
@click.option(
    "--rule", "rule_ids", multiple=True, metavar="RULE", help="Only hits of this rule (repeatable)."
)
@click.option(
    "--feed", "feed_names", multiple=True, metavar="FEED", help="Only items of this feed (repeatable)."
)
@click.option(
    "--since", metavar="WHEN", help="Hits stored since WHEN: a duration back (7d, 12h), a date or a time."
)
@click.option("--until", metavar="WHEN", help="Hits stored before WHEN (the same forms).")
@click.option("--search", metavar="TEXT", help="Only items whose title or summary contains TEXT (any case).")
@click.option(
    "--sort",
    "order",
    type=click.Choice(["newest", "oldest", "score"]),
    default="newest",
    show_default=True,
    help="By time stored, or best score first.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="At most N hits (0: all)."
)
@click.option(
    "--utc",
    is_flag=True,
    help="Dates of --since/--until and times of json/csv in UTC (default: local time, from TZ); "
    "the table is always in UTC.",
)
@click.pass_context
def hits_group(
    ctx: click.Context,
    *,
    rule_ids: tuple[str, ...],
    feed_names: tuple[str, ...],
    since: str | None,
    until: str | None,
    search: str | None,
    order: "HitOrder",
    fmt: str,
    limit: int,
    utc: bool,
) -> None:
    """The stored hits, newest first, with their items (`hits show ID`: one hit in full).

    --format json prints one JSON object per line (JSON Lines), csv a header row then one row
    per hit; both stream, so --limit 0 exports any number of hits.
    """
    if ctx.invoked_subcommand is not None:
        return
    from watcher.history import zone
    from watcher.records import HitQuery

    if search is not None and not search.strip():
        raise click.BadParameter("give some text to search for", param_hint="--search")
    tz = zone(utc)
    start, end = optional_window(since, until, tz)
    query = HitQuery(
        rules=rule_ids,
        feeds=feed_names,
        since=start,
        until=end,
        search=search,
        order=order,
        limit=None if limit == 0 else limit + 1,  # one more: is there more than shown?
    )
    app = ctx.find_object(App)
    assert app is not None
    app.check_rule_ids(rule_ids)
    found = app.store.hits(query)
    shown = itertools.islice(found, limit or None)
    shown_count = _echo_hit_table(shown) if fmt == "table" else _echo_hit_records(shown, tz, fmt)
    more = next(found, None) is not None  # also lets the query finish: its connection is returned
    filtered = rule_ids or feed_names or since or until or search
    if shown_count == 0:
        click.echo("no hits match these filters" if filtered else "no hits stored yet", err=fmt != "table")
    elif more and fmt == "table":
        click.echo(f"({count(shown_count, 'hit')} shown; there are more: --limit N shows N, --limit 0 all)")


def _echo_hit_table(hits: Iterator["HitRecord"]) -> int:
    header = ("ID", "TIME", "RULE", "SCORE", "FEED", "TITLE")
    widths: list[int] | None = None
    shown = 0
    while chunk := list(itertools.islice(hits, _TABLE_CHUNK)):
        rows = [
            (str(h.id), when(h.created_at), h.rule, str(h.score), h.feed, shorten(h.title, TITLE_WIDTH))
            for h in chunk
        ]
        if widths is None:  # the first chunk sets the widths: rule, feed and title give way
            widths = fitted_widths(header, rows, flexible=(2, 4, 5))
            rows.insert(0, header)
        for row in rows:
            click.echo(fitted_row(row, widths))
        shown += len(chunk)
    return shown


def _hit_row(hit: "HitRecord", tz: "tzinfo") -> dict[str, Any]:
    """A hit as a JSON Lines object or CSV row (times ISO 8601 with their offset, in ``tz``)."""
    return {
        "id": hit.id,
        "created_at": hit.created_at.astimezone(tz).isoformat(timespec="seconds"),
        "rule": hit.rule,
        "score": hit.score,
        "terms": list(hit.terms),
        "item": hit.item_id,
        "feed": hit.feed,
        "source": hit.source,
        "title": hit.title,
        "link": hit.link,
        "published": hit.published.astimezone(tz).isoformat(timespec="seconds"),
        "story": hit.story_id if hit.story_id is not None else hit.item_id,
        "alert": hit.alert_id,
    }


class _Echo:
    """A file-like ``write`` on click's stdout, for ``csv.writer``."""

    def write(self, text: str) -> int:
        click.echo(text, nl=False)
        return len(text)


def _echo_hit_records(hits: Iterator["HitRecord"], tz: "tzinfo", fmt: str) -> int:
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(_Echo(), fieldnames=_HIT_FIELDS)
        writer.writeheader()
    shown = 0
    for hit in hits:
        row = _hit_row(hit, tz)
        if writer is None:
            echo_json(row)
        else:
            writer.writerow({**row, "terms": "; ".join(row["terms"])})
        shown += 1
    return shown


@hits_group.command("show")
@click.argument("hit_id", metavar="ID", type=int)
# --utc has no effect: the times shown are in UTC; it is still accepted, for the scripts that pass it
@click.option("--utc", is_flag=True, hidden=True, expose_value=False)
@pass_app
def hits_show(app: App, hit_id: int) -> None:
    """One hit in full: its item, the matched terms highlighted, the other outlets of its story,
    and each delivery of its alert with its state."""
    from watcher.messages import matched_terms

    detail = app.store.hit(hit_id)
    if detail is None:
        raise click.BadParameter(f"no hit {hit_id} (`summit-watch hits` lists them)", param_hint="ID")
    hit, stored = detail.hit, detail.item
    item = stored.item
    title, snippet = _highlighted(detail)
    click.echo(f"hit {hit.id} · rule {hit.rule} · score {hit.score} · {when(hit.created_at)}")
    click.echo(title)
    outlet = f"{item.source} ({stored.feed})" if item.source else stored.feed
    published = f"published {when(item.published)}" if item.published else "no date"
    click.echo(f"{outlet} · {published}")
    if item.link:
        click.echo(item.link)
    # as alerts say it; a hit stored without positions has its terms only
    click.echo(f"matched: {matched_terms(hit.hits) or ', '.join(hit.terms)}")
    if hit.mark is not None:
        click.echo(f"marked: {hit.mark}")
    if snippet:
        click.echo(snippet)
    click.echo()
    if detail.story:
        click.echo(f"story {detail.story_id}, also reported by:")
        for other in detail.story:
            name = f"{other.item.source} ({other.feed})" if other.item.source else other.feed
            published = when(other.item.published) if other.item.published else "no date"
            link = f" · {other.item.link}" if other.item.link else ""
            click.echo(f"  {name} · {published}{link}")
    else:
        click.echo(f"story {detail.story_id}: no other outlet")
    if detail.alert_id is None:
        click.echo("alert: none yet (the hit is pending)")
        return
    click.echo(f"alert {detail.alert_id}: {count(len(detail.deliveries), 'delivery', 'deliveries')}")
    rows = []
    for d in detail.deliveries:
        if d.state == "sent" and d.sent_at is not None:
            at = f"sent {when(d.sent_at)}"
        elif d.state in ("pending", "failed"):
            at = f"next try {when(d.next_attempt)}"
        else:
            at = "given up"
        rows.append((d.target, d.state, count(d.attempts, "attempt"), at, d.last_error or ""))
    for line in table_lines(("TARGET", "STATE", "ATTEMPTS", "WHEN", "LAST ERROR"), rows):
        click.echo(f"  {line}")


def _highlighted(detail: "HitDetail") -> tuple[str, str | None]:
    """The hit's title and a snippet around the densest cluster of matches in the text, the matched
    words bold on a terminal (``*word*`` otherwise, or with NO_COLOR set), as alert messages show them."""
    from watcher.alerts import Report, StoryEntry
    from watcher.messages import highlighted_text
    from watcher.text import plain_text

    item = detail.item.item
    entry = StoryEntry(
        story_id=detail.story_id,
        lead=Report(
            item_id=detail.item.id,
            feed=detail.item.feed,
            source=item.source or detail.item.feed,
            title=item.title,
            link=item.link,
            published=item.published,
        ),
        text={field: plain_text(getattr(item, field)) for field in ("title", "summary", "content")},
        hits=detail.hit.hits,
    )
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return highlighted_text(entry, _BOLD) if bold else highlighted_text(entry)


@hits_group.command("mark")
@click.argument("hit_id", metavar="ID", type=int)
@click.argument("judgement", type=click.Choice(["good", "bad", "clear"]))
@pass_app
def hits_mark(app: App, hit_id: int, judgement: str) -> None:
    """Mark hit ID good (you wanted it) or bad (you did not), or clear the mark: `rules backtest`
    reports each rule's precision from the marks, and the marked hits an edit would add or lose."""
    from watcher.records import MARKS

    mark = next((m for m in MARKS if m == judgement), None)  # "clear": None
    if not app.store.mark_hit(hit_id, mark, now()):
        raise click.BadParameter(f"no hit {hit_id} (`summit-watch hits` lists them)", param_hint="ID")
    click.echo(f"hit {hit_id}: {'mark cleared' if mark is None else f'marked {mark}'}")
