"""The ``summit-watch`` command line. Thin: parse arguments, call the package, print results.

Exit codes: 0 success, 1 an operational failure, 2 invalid usage, rules or input files.
"""

import asyncio
import csv
import itertools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher import __version__
from watcher.config import Config, find_config, load_config
from watcher.errors import ConfigError, WatcherError
from watcher.inputs import read_items
from watcher.logs import configure as configure_logging
from watcher.logs import quiet_apprise
from watcher.matcher import Matcher
from watcher.pipeline import poll
from watcher.records import FeedReport, HitDetail, HitOrder, HitQuery, HitRecord, PollSummary
from watcher.rules import RuleSet, json_schema, load_rules
from watcher.store import Store

if TYPE_CHECKING:  # imported where used: Apprise takes a while to import, `rules check` never needs it
    from datetime import tzinfo

    from watcher.history import Period
    from watcher.notify import Target
    from watcher.outbox import Dispatched, Outbox

DEFAULT_RULES = Path("rules")
_BAR_WIDTH = 30


class _Group(click.Group):
    """Turns ``WatcherError`` into its message on stderr and its exit code: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WatcherError as e:
            click.echo(str(e), err=True)
            ctx.exit(e.exit_code)


class _Session:
    """What commands share: the settings file, loaded on first use."""

    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose

    @cached_property
    def config(self) -> Config:
        return load_config(find_config(self.config_path))

    def default_rules(self) -> Path:
        """The settings file's rules, or ./rules when there is no settings file."""
        try:
            return self.config.rules
        except ConfigError:
            if self.config_path is not None:
                raise
            return DEFAULT_RULES

    def open_store(self) -> Store:
        return Store.open(self.config.database)

    @cached_property
    def targets(self) -> dict[str, "Target"]:
        from watcher.notify import build_targets

        return build_targets(self.config)

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.config.rules)

    def outbox(self, store: Store) -> "Outbox":
        from watcher.outbox import Outbox

        return Outbox(store, self.rules, self.config, self.targets, clock=_now)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="summit-watch")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (default: $SUMMIT_WATCH_CONFIG, ./summit-watch.yaml, /etc/summit-watch/config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v: info, -vv: debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Watch news feeds for the diplomatic events you care about."""
    ctx.obj = _Session(config_path, verbose)
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_apprise(debug=verbose >= 2)


@cli.group(cls=_Group)
def rules() -> None:
    """Check, try out and describe watch rules."""


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.pass_obj
def rules_check(session: _Session, path: Path | None) -> None:
    """Validate the rule files at PATH (a file or a directory; default: the settings file's
    rules, else ./rules).

    Every error is printed on stderr as path:line: field: message; exit status 2 if any.
    """
    path = path or session.default_rules()
    ruleset = load_rules(path)
    files = len({loaded.path for loaded in ruleset.rules})
    disabled = len(ruleset) - len(ruleset.enabled)
    note = f", {disabled} disabled" if disabled else ""
    click.echo(f"{path}: {_count(len(ruleset), 'rule')} in {_count(files, 'file')}: valid{note}")


@rules.command("test")
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    help="Rule file or directory (default: the settings file's rules, else ./rules).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per (item, rule) match.")
@click.option(
    "--stored",
    is_flag=True,
    help="Backtest: run the rules over the items in the database instead of INPUT files, and "
    "compare with the hits recorded for them (new and lost matches).",
)
@click.option(
    "--since", metavar="WHEN", help="With --stored: items fetched since WHEN (30d, a date...; default 30d)."
)
@click.option("--until", metavar="WHEN", help="With --stored: items fetched before WHEN (default now).")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def rules_test(
    session: _Session,
    *,
    rules_path: Path | None,
    as_json: bool,
    stored: bool,
    since: str | None,
    until: str | None,
    inputs: Sequence[Path],
) -> None:
    """Run the rules over INPUT files, or the stored items (--stored), and show what matches.

    An INPUT is a JSON Lines file of items (.jsonl: id, title, summary, content, link,
    published, source), an RSS/Atom file, or a text file (its content is the item, its name
    the id).

    With --stored (and no INPUT) the rules run over the items fetched in the window, each
    rule's `feeds` applied, and the result is compared with the hits recorded for those items:
    "new" matches (no hit recorded) and "lost" ones (a hit recorded, no match now), per rule.
    """
    if stored and inputs:
        raise click.UsageError("--stored runs the rules over the stored items: give it no INPUT files")
    if not stored and not inputs:
        ctx = click.get_current_context()
        param = next(p for p in ctx.command.params if p.name == "inputs")
        hint = "Give INPUT files, or --stored to backtest the rules on the stored items."
        raise click.MissingParameter(hint, ctx=ctx, param=param)
    if not stored and (since or until):
        raise click.UsageError("--since and --until go with --stored")
    ruleset = load_rules(rules_path or session.default_rules())
    matcher = Matcher(ruleset)
    if stored:
        _backtest(session, ruleset, matcher, since=since or "30d", until=until, as_json=as_json)
        return
    items = read_items(list(inputs))
    rows = [(match, item) for item in items for match in matcher.match(item)]
    if as_json:
        for match, _ in rows:
            record = {
                "item": match.item_id,
                "rule": match.rule_id,
                "score": match.score,
                "matched": match.terms,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    table = [(m.item_id, m.rule_id, str(m.score), ", ".join(m.terms)) for m, _ in rows]
    _print_table(("ITEM", "RULE", "SCORE", "MATCHED"), table)
    matched_items = len({m.item_id for m, _ in rows})
    click.echo(
        f"{_count(len(items), 'item')}, {matched_items} matched, {_count(len(rows), 'match', 'matches')}"
    )


def _backtest(
    session: _Session, ruleset: RuleSet, matcher: Matcher, *, since: str, until: str | None, as_json: bool
) -> None:
    """``rules test --stored``: the rules over the stored items, against the recorded hits."""
    from watcher.backtest import backtest
    from watcher.history import zone

    start, end = _window(since, until, zone(utc=False))
    config = session.config
    tags = {feed.name: frozenset(feed.tags) for feed in config.feeds}
    store = session.open_store()
    try:
        recorded = store.recorded_hits(start, end)
        result = backtest(store.iter_items(start, end), matcher, recorded, {r.id for r in ruleset}, tags)
    finally:
        store.close()
    if as_json:
        for row in result.rows:
            record: dict[str, Any] = {"item": row.item, "rule": row.rule, "score": row.score}
            record["matched"] = list(row.terms)
            if row.change is not None:
                record["change"] = row.change
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    table = [
        (str(r.item), r.feed, r.rule, str(r.score), r.change or "", _shorten(r.title, 60))
        for r in result.rows
    ]
    _print_table(("ITEM", "FEED", "RULE", "SCORE", "CHANGE", "TITLE"), table)
    if table:
        click.echo()
    counts = [*result.rules.values(), result.total()]
    summary = [(c.rule, str(c.matches), str(c.recorded), str(c.new), str(c.lost)) for c in counts]
    _print_table(("RULE", "MATCHES", "RECORDED", "NEW", "LOST"), summary)
    total = result.total()
    click.echo(
        f"{_count(result.items, 'item')} fetched {_when(start)} .. {_when(end)}: "
        f"{_count(total.matches, 'match', 'matches')}, {total.new} new, {total.lost} lost"
    )


def _window(since: str, until: str | None, tz: "tzinfo") -> tuple[datetime, datetime]:
    """--since and --until (durations back from now, dates in ``tz``, ISO times) as UTC times."""
    from watcher.history import parse_when

    now = _now()
    try:
        start = parse_when(since, now, tz)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--since") from e
    try:
        end = now if until is None else parse_when(until, now, tz)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--until") from e
    if end <= start:
        raise click.BadParameter(f"{_when(end)} is not after --since ({_when(start)})", param_hint="--until")
    return start.astimezone(UTC), end.astimezone(UTC)


def _shorten(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor autocompletion and validation)."""
    click.echo(json.dumps(json_schema(), indent=2))


@cli.command("run")
@click.pass_obj
def run_command(session: _Session) -> None:
    """Run the daemon in the foreground (what systemd starts): poll, match, alert, until SIGTERM.

    SIGHUP reloads the settings file and the rules; rule files are also reloaded when they
    change. Logs go to stderr (info and up; -v for debug).
    """
    from watcher.service import Service

    configure_logging(logging.DEBUG if session.verbose else logging.INFO)
    quiet_apprise(debug=session.verbose >= 2)
    raise SystemExit(Service(find_config(session.config_path)).run())


@cli.command("poll")
@click.option("--once", is_flag=True, help="Poll every feed now, due or not.")
@click.option(
    "--feed",
    "feed_names",
    multiple=True,
    metavar="NAME",
    help="Poll only this feed (repeatable), due or not.",
)
@click.pass_obj
def poll_command(session: _Session, once: bool, feed_names: tuple[str, ...]) -> None:
    """Fetch the due feeds, store new items and the hits of the rules, and print a summary."""
    config = session.config
    unknown = sorted(set(feed_names) - {feed.name for feed in config.feeds})
    if unknown:
        raise click.BadParameter(
            f"no feed named {', '.join(unknown)} in the settings file", param_hint="--feed"
        )
    matcher = Matcher(session.rules)
    names = feed_names or ([feed.name for feed in config.feeds] if once else None)
    store = session.open_store()
    try:
        with _progress() as on_report:
            summary = asyncio.run(poll(config, store, matcher, _now, feeds=names, on_report=on_report))
        _echo_summary(summary, feed_names)
        outbox = session.outbox(store)  # then alert: the hits due now, and retries due now
        outbox.plan()
        _echo_dispatched(outbox.dispatch(wait=None))
    finally:
        store.close()


def _echo_summary(summary: PollSummary, feed_names: Sequence[str]) -> None:
    failed = summary.count("error") + summary.count("gone")
    click.echo(
        f"{_count(len(summary.reports), 'feed')} polled: {summary.count('ok')} ok, "
        f"{summary.count('not_modified')} not modified, {failed} failed; "
        f"{_count(summary.new_items, 'new item')}, {_count(summary.hits, 'hit')}"
    )
    polled = {report.feed for report in summary.reports}
    for name in feed_names:
        if name not in polled:
            click.echo(
                f"  gone   {name}: not polled (HTTP 410 earlier); a new URL in the settings revives it"
            )
    for report in summary.reports:
        if report.outcome in ("error", "gone"):
            click.echo(f"  {report.outcome:<6} {report.feed}: {report.error}")
        if report.redirected_to:
            moved = f"permanently redirected to {report.redirected_to} (update the settings file)"
            click.echo(f"  moved  {report.feed}: {moved}")


def _echo_dispatched(dispatched: Sequence["Dispatched"]) -> None:
    """One line per delivery that did not go out, after a count of those that did."""
    if not dispatched:
        return
    sent = sum(d.outcome == "sent" for d in dispatched)
    click.echo(f"{_count(len(dispatched), 'delivery', 'deliveries')}: {sent} sent")
    for d in dispatched:
        if d.outcome == "held":
            click.echo(f"  held   {d.target} (rule {d.rule}): quiet hours until {_when(d.retry_at)}")
        elif d.outcome != "sent":
            retry = f"; retry at {_when(d.retry_at)}" if d.retry_at else "; given up"
            click.echo(f"  {d.outcome:<6} {d.target} (rule {d.rule}): {d.error}{retry}")


@contextmanager
def _progress() -> Iterator[Callable[[FeedReport, int], None] | None]:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    done = 0

    def advance(report: FeedReport, due: int) -> None:
        nonlocal done
        done += 1
        filled = _BAR_WIDTH * done // max(due, 1)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        click.echo(f"\r\x1b[K[{bar}] {done}/{due} {report.feed} ({report.outcome})", err=True, nl=False)

    yield advance
    if done:
        click.echo("\r\x1b[K", err=True, nl=False)


def _now() -> datetime:
    return datetime.now(UTC)


@cli.group("feeds", cls=_Group, invoke_without_command=True)
@click.pass_context
def feeds_group(ctx: click.Context) -> None:
    """The configured feeds (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(feeds_list)


_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@feeds_group.command("list")
@_FORMAT
@click.pass_obj
def feeds_list(session: _Session, fmt: str = "table") -> None:
    """Each feed of the settings file: name, URL, tags, interval."""
    config = session.config
    rows = [
        {"name": f.name, "url": f.url, "tags": list(f.tags), "interval": _duration(config.interval(f))}
        for f in config.feeds
    ]
    _print_records(rows, fmt)


@feeds_group.command("status")
@_FORMAT
@click.pass_obj
def feeds_status(session: _Session, fmt: str) -> None:
    """Each feed's health: last success, last error, failures in a row, next poll."""
    store = session.open_store()
    try:
        store.sync_feeds(
            session.config.feeds, {f.name: session.config.interval(f) for f in session.config.feeds}, _now()
        )
        states = store.feeds()
    finally:
        store.close()
    rows = [
        {
            "name": s.name,
            "last_success": _when(s.last_success),
            "last_outcome": s.last_outcome,
            "failures": s.consecutive_failures,
            "next_poll": None if s.gone else _when(s.next_poll),
            "last_error": s.last_error,
            "moved_to": s.redirected_to,
        }
        for s in states
    ]
    _print_records(rows, fmt)


@cli.command("status")
@_FORMAT
@click.pass_obj
def status_command(session: _Session, fmt: str) -> None:
    """Is everything working? Last poll, feeds ok and failing (with their errors), hits,
    deliveries by state, and the rules on disk (loaded, or their errors).

    It reports what the database holds, whether or not a daemon runs, and changes nothing. Exit status 0
    when nothing needs attention; 1 when something does: a feed failing (its last poll failed,
    or it is gone), a delivery dead (given up), rule files that are invalid (a running daemon
    keeps its last good rules meanwhile), or a daemon running on the SQLite database but storing
    no poll (database failing: disk full, read-only...).
    """
    from watcher.errors import RulesError
    from watcher.health import SHOWN_RULE_ERRORS, status_report

    rules: RuleSet | RulesError
    try:
        rules = load_rules(session.config.rules)
    except RulesError as e:
        rules = e
    from watcher.service import sqlite_daemon

    config = session.config
    intervals = {feed.name: config.interval(feed) for feed in config.feeds}
    store = session.open_store()
    try:
        report = status_report(
            store, rules, _now(), intervals=intervals, daemon=sqlite_daemon(config.database)
        )
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"last poll: {_when(report.last_poll) or 'never'}")
        unpolled = f", {report.feeds_unpolled} not polled yet" if report.feeds_unpolled else ""
        click.echo(f"feeds: {report.feeds_ok} ok, {len(report.failing)} failing{unpolled}")
        for feed in report.failing:
            streak = "gone (HTTP 410)" if feed.gone else _count(feed.failures, "failure") + " in a row"
            since = f", last success {_when(feed.last_success) or 'never'}"
            click.echo(f"  {feed.name}: {feed.error or feed.outcome} ({streak}{since})")
        since = f"since {_when(report.hits_since)}" if report.hits_since else "stored"
        click.echo(f"hits: {report.hits} {since}")
        click.echo("deliveries: " + ", ".join(f"{n} {state}" for state, n in report.deliveries.items()))
        if report.rules is None:
            click.echo(f"rules invalid: {_count(len(report.rule_errors), 'error')}")
            for error in report.rule_errors[:SHOWN_RULE_ERRORS]:
                click.echo(f"  {error}")
            if len(report.rule_errors) > SHOWN_RULE_ERRORS:
                click.echo("  ... (`summit-watch rules check` lists them all)")
        else:
            click.echo(f"rules: {report.rules} loaded, {report.rules_enabled} enabled")
        click.echo(f"needs attention: {'; '.join(report.problems)}" if report.problems else "all well")
    if report.problems:
        raise SystemExit(1)


@cli.group("notify", cls=_Group)
def notify_group() -> None:
    """Alert targets and the outbox of deliveries."""


@notify_group.command("test")
@click.option(
    "--target", "target_names", multiple=True, metavar="NAME", help="Only this target (repeatable)."
)
@click.pass_obj
def notify_test(session: _Session, target_names: tuple[str, ...]) -> None:
    """Send a test message to each target and report success or why it failed (exit 1 if any failed).

    A target that passes has its failed deliveries made due now instead of after their backoff.
    """
    from watcher.notify import describe, send_test
    from watcher.outbox import target_answered

    targets = session.targets
    unknown = sorted(set(target_names) - set(targets))
    if unknown:
        raise click.BadParameter(
            f"no target named {', '.join(unknown)} in the settings file", param_hint="--target"
        )
    answered, failed = [], 0
    for name, target in targets.items():
        if target_names and name not in target_names:
            continue
        result = send_test(target)
        if result.ok:
            answered.append(name)
        failed += not result.ok
        outcome = "ok" if result.ok else f"FAILED: {result.reason}"
        click.echo(f"{name} ({describe(target)}): {outcome}")
    if answered:
        store = session.open_store()
        try:
            for name in answered:
                woken = target_answered(store, name, _now())
                if woken:
                    click.echo(f"{name}: {_count(woken, 'failed delivery', 'failed deliveries')} due now")
        finally:
            store.close()
    if failed:
        raise SystemExit(1)


@notify_group.command("status")
@click.option("--all", "show_all", is_flag=True, help="Sent deliveries too.")
@_FORMAT
@click.pass_obj
def notify_status(session: _Session, show_all: bool, fmt: str) -> None:
    """Deliveries not sent yet: pending, failed (with the next retry) and dead (given up)."""
    store = session.open_store()
    try:
        deliveries = store.deliveries(None if show_all else ("pending", "failed", "dead"))
    finally:
        store.close()
    rows = [
        {
            "id": d.id,
            "state": d.state,
            "rule": d.rule,
            "target": d.target,
            "alert": d.alert,
            "attempts": d.attempts,
            "next_attempt": _when(d.next_attempt) if d.state in ("pending", "failed") else None,
            "created": _when(d.created_at),
            "last_error": d.last_error,
        }
        for d in deliveries
    ]
    if not rows and fmt == "table":
        click.echo("no deliveries waiting" if not show_all else "no deliveries")
        return
    _print_records(rows, fmt)


@notify_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Every failed and dead delivery.")
@click.pass_obj
def notify_retry(session: _Session, ids: tuple[int, ...], retry_all: bool) -> None:
    """Make failed or dead deliveries due now and send them; if they fail again, they get a fresh
    48 h of retries, the backoff starting again at 30 s (the attempts so far are kept)."""
    if bool(ids) == retry_all:
        raise click.UsageError("give delivery IDs (see `summit-watch notify status`) or --all")
    store = session.open_store()
    try:
        if ids:
            found = {d.id: d for d in store.deliveries(ids=ids)}
            for id in ids:
                if id not in found:
                    raise click.BadParameter(f"no delivery {id}", param_hint="ID")
                if found[id].state == "sent":
                    raise click.BadParameter(f"delivery {id} was already sent", param_hint="ID")
        count = store.retry_deliveries(_now(), ids or None)
        click.echo(f"{_count(count, 'delivery', 'deliveries')} queued again")
        dispatched = session.outbox(store).dispatch(wait=None)
    finally:
        store.close()
    _echo_dispatched(dispatched)


@notify_group.command("send")
@click.pass_obj
def notify_send(session: _Session) -> None:
    """Make the alerts that are due and send the deliveries that are due (what the daemon does)."""
    store = session.open_store()
    try:
        outbox = session.outbox(store)
        made = outbox.plan()
        dispatched = outbox.dispatch(wait=None)
    finally:
        store.close()
    click.echo(f"{_count(len(made), 'alert')} made")
    _echo_dispatched(dispatched)


# -- hit history: hits, hits show, stories -----------------------------------------------------------

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
_TITLE_WIDTH = 60
_BOLD = ("\x1b[1m", "\x1b[0m")


def _history_window(
    since: str | None, until: str | None, tz: "tzinfo"
) -> tuple[datetime | None, datetime | None]:
    """--since and --until of `hits` and `stories` (both optional) as UTC times."""
    from watcher.history import parse_when

    now = _now()
    bounds: list[datetime | None] = []
    for value, hint in ((since, "--since"), (until, "--until")):
        try:
            bounds.append(None if value is None else parse_when(value, now, tz).astimezone(UTC))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint=hint) from e
    start, end = bounds
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(
            f"{_local(end, tz, 'seconds')} is not after --since ({_local(start, tz, 'seconds')})",
            param_hint="--until",
        )
    return start, end


def _local(moment: datetime, tz: "tzinfo", timespec: str = "minutes") -> str:
    """A time in ``tz`` (local time, or UTC with --utc), its offset shown: 2025-12-01 14:30+05:30."""
    return moment.astimezone(tz).isoformat(sep=" ", timespec=timespec)


def _hit_row(hit: HitRecord, tz: "tzinfo") -> dict[str, Any]:
    """A hit as a JSON Lines object or CSV row (times ISO 8601 with their offset)."""
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


@cli.group("hits", cls=_Group, invoke_without_command=True)
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
@click.option("--utc", is_flag=True, help="Times in UTC (default: local time, from TZ).")
@click.pass_context
def hits_group(
    ctx: click.Context,
    *,
    rule_ids: tuple[str, ...],
    feed_names: tuple[str, ...],
    since: str | None,
    until: str | None,
    search: str | None,
    order: HitOrder,
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

    if search is not None and not search.strip():
        raise click.BadParameter("give some text to search for", param_hint="--search")
    tz = zone(utc)
    start, end = _history_window(since, until, tz)
    query = HitQuery(
        rules=rule_ids,
        feeds=feed_names,
        since=start,
        until=end,
        search=search,
        order=order,
        limit=None if limit == 0 else limit + 1,  # one more: is there more than shown?
    )
    session: _Session = ctx.obj
    store = session.open_store()
    try:
        found = store.hits(query)
        shown = itertools.islice(found, limit or None)
        count = _echo_hit_table(shown, tz) if fmt == "table" else _echo_hit_records(shown, tz, fmt)
        more = next(found, None) is not None  # also lets the query finish: its connection is returned
    finally:
        store.close()
    filtered = rule_ids or feed_names or since or until or search
    if count == 0:
        click.echo("no hits match these filters" if filtered else "no hits stored yet", err=fmt != "table")
    elif more and fmt == "table":
        click.echo(f"({_count(count, 'hit')} shown; there are more: --limit N shows N, --limit 0 all)")


def _echo_hit_table(hits: Iterator[HitRecord], tz: "tzinfo") -> int:
    header = ("ID", "TIME", "RULE", "SCORE", "FEED", "TITLE")
    widths: list[int] | None = None
    count = 0
    while chunk := list(itertools.islice(hits, _TABLE_CHUNK)):
        rows = [
            (
                str(h.id),
                _local(h.created_at, tz),
                h.rule,
                str(h.score),
                h.feed,
                _shorten(h.title, _TITLE_WIDTH),
            )
            for h in chunk
        ]
        if widths is None:
            widths = _column_widths(header, rows)
            rows.insert(0, header)
        for row in rows:
            click.echo(_table_row(row, widths))
        count += len(chunk)
    return count


def _echo_hit_records(hits: Iterator[HitRecord], tz: "tzinfo", fmt: str) -> int:
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(_Echo(), fieldnames=_HIT_FIELDS)
        writer.writeheader()
    count = 0
    for hit in hits:
        row = _hit_row(hit, tz)
        if writer is None:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            writer.writerow({**row, "terms": "; ".join(row["terms"])})
        count += 1
    return count


@hits_group.command("show")
@click.argument("hit_id", metavar="ID", type=int)
@click.option("--utc", is_flag=True, help="Times in UTC (default: local time, from TZ).")
@click.pass_obj
def hits_show(session: _Session, hit_id: int, utc: bool) -> None:
    """One hit in full: its item, the matched terms highlighted, the other outlets of its story,
    and each delivery of its alert with its state."""
    from watcher.history import zone

    store = session.open_store()
    try:
        detail = store.hit(hit_id)
    finally:
        store.close()
    if detail is None:
        raise click.BadParameter(f"no hit {hit_id} (`summit-watch hits` lists them)", param_hint="ID")
    tz = zone(utc)
    hit, stored = detail.hit, detail.item
    item = stored.item
    title, snippet = _highlighted(detail)
    click.echo(f"hit {hit.id} · rule {hit.rule} · score {hit.score} · {_local(hit.created_at, tz)}")
    click.echo(title)
    outlet = f"{item.source} ({stored.feed})" if item.source else stored.feed
    published = f"published {_local(item.published, tz)}" if item.published else "no date"
    click.echo(f"{outlet} · {published}")
    if item.link:
        click.echo(item.link)
    click.echo(f"matched: {', '.join(hit.terms)}")
    if snippet:
        click.echo(snippet)
    click.echo()
    if detail.story:
        click.echo(f"story {detail.story_id}, also reported by:")
        for other in detail.story:
            name = f"{other.item.source} ({other.feed})" if other.item.source else other.feed
            when = _local(other.item.published, tz) if other.item.published else "no date"
            link = f" · {other.item.link}" if other.item.link else ""
            click.echo(f"  {name} · {when}{link}")
    else:
        click.echo(f"story {detail.story_id}: no other outlet")
    if detail.alert_id is None:
        click.echo("alert: none yet (the hit is pending)")
        return
    click.echo(f"alert {detail.alert_id}: {_count(len(detail.deliveries), 'delivery', 'deliveries')}")
    rows = []
    for d in detail.deliveries:
        if d.state == "sent" and d.sent_at is not None:
            when = f"sent {_local(d.sent_at, tz)}"
        elif d.state in ("pending", "failed"):
            when = f"next try {_local(d.next_attempt, tz)}"
        else:
            when = "given up"
        rows.append((d.target, d.state, _count(d.attempts, "attempt"), when, d.last_error or ""))
    for line in _table_lines(("TARGET", "STATE", "ATTEMPTS", "WHEN", "LAST ERROR"), rows):
        click.echo(f"  {line}")


def _highlighted(detail: HitDetail) -> tuple[str, str | None]:
    """The hit's title and a snippet around its first hit in the text, the matched words bold on a
    terminal (``*word*`` otherwise, or with NO_COLOR set), as alert messages show them."""
    import os

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


def _table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = _column_widths(header, rows)
    return [_table_row(row, widths) for row in [header, *rows]]


def _column_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]


def _table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


@cli.command("stories")
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
@_FORMAT
@click.option("--utc", is_flag=True, help="Times in UTC (default: local time, from TZ).")
@click.pass_obj
def stories_command(
    session: _Session,
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
    start, end = _history_window(since, until, tz)
    store = session.open_store()
    try:
        found = store.stories(since=start, until=end, rules=rule_ids, limit=limit or None)
    finally:
        store.close()
    if fmt == "json":
        rows = [
            {
                "story": s.id,
                "headline": s.headline,
                "outlets": list(s.outlets),
                "feeds": list(s.feeds),
                "first_seen": s.first_seen.astimezone(tz).isoformat(timespec="seconds"),
                "last_seen": s.last_seen.astimezone(tz).isoformat(timespec="seconds"),
                "hits": s.hits,
                "rules": list(s.rules),
            }
            for s in found
        ]
        _print_records(rows, fmt)
        return
    if not found:
        filtered = rule_ids or since or until
        click.echo("no stories match these filters" if filtered else "no stories stored yet")
        return
    table = [
        (
            str(s.id),
            _local(s.first_seen, tz),
            _local(s.last_seen, tz),
            str(s.hits),
            ", ".join(s.rules),
            ", ".join(s.outlets),
            _shorten(s.headline, _TITLE_WIDTH),
        )
        for s in found
    ]
    _print_table(("STORY", "FIRST SEEN", "LAST SEEN", "HITS", "RULES", "OUTLETS", "HEADLINE"), table)


@cli.command("stats")
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
@_FORMAT
@click.pass_obj
def stats_command(
    session: _Session,
    *,
    rule_ids: tuple[str, ...],
    by: "Period",
    since: str,
    until: str | None,
    utc: bool,
    png_path: Path | None,
    fmt: str,
) -> None:
    """Hits per rule per day or week, drawn as a bar chart (--format json: the counts).

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
        require_plot,
        write_png,
        zone,
        zone_name,
    )

    if png_path is not None:
        require_plot()  # before any work: a missing extra is a usage error
    tz = zone(utc)
    start, end = _window(since, until, tz)
    start = local_midnight(period_start(start.astimezone(tz).date(), by), tz)
    store = session.open_store()
    try:
        found = store.hit_counts(start, end, rule_ids, by, tz)
    finally:
        store.close()
    periods = [day for day, _, _ in period_bounds(start, end, by, tz)]
    shown = chart_rules(found, rule_ids)
    counts = {(day, rule): count for day, rule, count in found}
    if fmt == "json":
        rows = [
            {"period": day.isoformat(), "rule": rule, "hits": counts.get((day, rule), 0)}
            for day in periods
            for rule in shown
        ]
        click.echo(json.dumps(rows, indent=2))
    else:
        where = zone_name(tz, end)
        first, last = periods[0], end.astimezone(tz).date()
        click.echo(f"hits per {by}, {first} .. {last} ({where})")
        if not shown:
            click.echo("no hits")
        columns = shutil.get_terminal_size().columns
        blocks = can_draw_blocks(getattr(sys.stdout, "encoding", None))
        for line in render_chart(counts, periods, shown, by=by, columns=columns, blocks=blocks):
            click.echo(line)
    if png_path is not None:
        title = f"summit-watch: hits per {by}, {periods[0]} .. {end.astimezone(tz).date()}"
        write_png(png_path, counts, periods, shown, title=title)
        click.echo(f"chart saved to {png_path}", err=True)


@cli.group("db", cls=_Group)
def db_group() -> None:
    """The database."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(session: _Session) -> None:
    """Create or upgrade the database schema to this version's."""
    store = Store(session.config.database)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    if before == after:
        click.echo(f"database at revision {after} (up to date)")
    else:
        click.echo(f"database upgraded from revision {before or '(empty)'} to {after}")


@db_group.command("prune")
@click.option(
    "--older-than",
    "age",
    required=True,
    metavar="AGE",
    help="Cutoff as a duration back from now (180d, 26w).",
)
@click.option(
    "--hits", "with_hits", is_flag=True, help="Also delete the hits older than AGE (and their alerts)."
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.pass_obj
def db_prune(session: _Session, age: str, with_hits: bool, dry_run: bool) -> None:
    """Delete the items fetched more than AGE ago that no rule hit; with --hits, also the hits
    older than AGE, then their alerts and items. Hits not alerted yet, or whose alert has a
    pending or failed delivery, are kept.
    """
    from watcher.schema import parse_duration

    try:
        delta = parse_duration(age)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--older-than") from e
    assert isinstance(delta, timedelta)
    store = session.open_store()
    try:
        report = store.prune(_now() - delta, hits=with_hits, dry_run=dry_run)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    cutoff = _when(report.older_than)
    click.echo(f"{verb} {_count(report.items, 'item')} fetched before {cutoff} that no rule hit")
    if with_hits:
        click.echo(
            f"{verb} {_count(report.hits, 'hit')} created before {cutoff}, "
            f"{_count(report.alerts, 'alert')}, {_count(report.deliveries, 'delivery', 'deliveries')}"
        )
        if report.kept_hits:
            click.echo(
                f"kept {_count(report.kept_hits, 'older hit')}: not alerted yet, "
                "or with a pending or failed delivery"
            )
    elif report.kept_hits:
        click.echo(f"kept {_count(report.kept_hits, 'hit')} created before {cutoff} (--hits deletes them)")
    if dry_run:
        click.echo("dry run: nothing was deleted")


@db_group.command("vacuum")
@click.pass_obj
def db_vacuum(session: _Session) -> None:
    """Give the space of deleted rows back to the system and refresh the query planner's
    statistics (SQLite: VACUUM, PRAGMA optimize; PostgreSQL: VACUUM (ANALYZE))."""
    store = session.open_store()
    try:
        report = store.vacuum()
    finally:
        store.close()
    for statement in report.statements:
        click.echo(f"ran {statement}")
    what = "database file" if report.backend == "sqlite" else "summit-watch tables"
    click.echo(f"{what}: {_size(report.size_before)} before, {_size(report.size_after)} after")


def _size(size: int | None) -> str:
    if size is None:
        return "unknown"
    amount = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} bytes"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _print_records(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if rows:
        header = [key.upper().replace("_", " ") for key in rows[0]]
        _print_table(header, [[_cell(value) for value in row.values()] for row in rows])


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if rows:
        for line in _table_lines(header, rows):
            click.echo(line)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="summit-watch")
