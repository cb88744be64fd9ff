"""`run`, `poll` and `status`: the daemon, one poll cycle by hand, and whether all is well.

The daemon's and the pipeline's libraries (APScheduler, httpx, feedparser, Apprise) are imported
inside these commands only: every other command starts without them.
"""

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from watcher.cli._context import App, now, pass_app
from watcher.cli._output import FORMAT, echo_dispatched, echo_json
from watcher.display import count, when

if TYPE_CHECKING:
    from watcher.records import FeedReport, PollSummary
    from watcher.rules import RuleSet

_BAR_WIDTH = 30


@click.command("run")
@pass_app
def run_command(app: App) -> None:
    """Run the daemon in the foreground (what systemd starts): poll, match, alert, until SIGTERM.

    SIGHUP reloads the settings file and the rules; rule files are also reloaded when they
    change. Logs go to stderr (info and up; -v for debug).
    """
    import logging

    from watcher.config import find_config
    from watcher.logs import configure as configure_logging
    from watcher.logs import quiet_apprise
    from watcher.service import Service

    configure_logging(logging.DEBUG if app.verbose else logging.INFO)
    quiet_apprise(debug=app.verbose >= 2)
    raise SystemExit(Service(find_config(app.config_path)).run())


@click.command("poll")
@click.option("--once", is_flag=True, help="Poll every feed now, due or not.")
@click.option(
    "--feed",
    "feed_names",
    multiple=True,
    metavar="NAME",
    help="Poll only this feed (repeatable), due or not.",
)
@pass_app
def poll_command(app: App, once: bool, feed_names: tuple[str, ...]) -> None:
    """Fetch the due feeds, store new items and the hits of the rules, and print a summary."""
    import asyncio

    from watcher.matcher import Matcher
    from watcher.pipeline import poll

    config = app.config
    unknown = sorted(set(feed_names) - {feed.name for feed in config.feeds})
    if unknown:
        raise click.BadParameter(
            f"no feed named {', '.join(unknown)} in the settings file", param_hint="--feed"
        )
    matcher = Matcher(app.rules)
    names = feed_names or ([feed.name for feed in config.feeds] if once else None)
    store = app.store
    with _progress() as on_report:
        summary = asyncio.run(poll(config, store, matcher, now, feeds=names, on_report=on_report))
    _echo_summary(summary, feed_names)
    outbox = app.outbox()  # then alert: the hits due now, and retries due now
    outbox.plan()
    echo_dispatched(outbox.dispatch(wait=None))


def _echo_summary(summary: "PollSummary", feed_names: Sequence[str]) -> None:
    failed = summary.count("error") + summary.count("gone")
    click.echo(
        f"{count(len(summary.reports), 'feed')} polled: {summary.count('ok')} ok, "
        f"{summary.count('not_modified')} not modified, {failed} failed; "
        f"{count(summary.new_items, 'new item')}, {count(summary.hits, 'hit')}"
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


@contextmanager
def _progress() -> Iterator[Callable[["FeedReport", int], None] | None]:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    done = 0

    def advance(report: "FeedReport", due: int) -> None:
        nonlocal done
        done += 1
        filled = _BAR_WIDTH * done // max(due, 1)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        click.echo(f"\r\x1b[K[{bar}] {done}/{due} {report.feed} ({report.outcome})", err=True, nl=False)

    yield advance
    if done:
        click.echo("\r\x1b[K", err=True, nl=False)


@click.command("status")
@FORMAT
@pass_app
def status_command(app: App, fmt: str) -> None:
    """Is everything working? Last poll, feeds ok and failing (with their errors), hits,
    deliveries by state, and the rules on disk (loaded, or their errors).

    It reports what the database holds, whether or not a daemon runs, and changes nothing. Exit status 0
    when nothing needs attention; 1 when something does: a feed failing (its last poll failed,
    or it is gone), a delivery dead (given up), rule files that are invalid (a running daemon
    keeps its last good rules meanwhile), or a daemon running on the SQLite database but storing
    no poll (database failing: disk full, read-only...).
    """
    from watcher.dblock import sqlite_daemon
    from watcher.errors import RulesError
    from watcher.health import SHOWN_RULE_ERRORS, status_report
    from watcher.rules import load_rules

    rules: RuleSet | RulesError
    try:
        rules = load_rules(app.config.rules)
    except RulesError as e:
        rules = e
    config = app.config
    intervals = {feed.name: config.interval(feed) for feed in config.feeds}
    targets = [target.name for target in config.targets] or ["stdout"]  # none configured: stdout
    report = status_report(
        app.store, rules, now(), intervals=intervals, daemon=sqlite_daemon(config.database), targets=targets
    )
    if fmt == "json":
        echo_json(report.to_json(), indent=2)
    else:
        click.echo(f"last poll: {when(report.last_poll) or 'never'}")
        unpolled = f", {report.feeds_unpolled} not polled yet" if report.feeds_unpolled else ""
        click.echo(f"feeds: {report.feeds_ok} ok, {len(report.failing)} failing{unpolled}")
        for feed in report.failing:
            streak = "gone (HTTP 410)" if feed.gone else count(feed.failures, "failure") + " in a row"
            since = f", last success {when(feed.last_success) or 'never'}"
            click.echo(f"  {feed.name}: {feed.error or feed.outcome} ({streak}{since})")
        since = f"since {when(report.hits_since)}" if report.hits_since else "stored"
        click.echo(f"hits: {report.hits} {since}")
        click.echo("deliveries: " + ", ".join(f"{n} {state}" for state, n in report.deliveries.items()))
        if report.rules is None:
            click.echo(f"rules invalid: {count(len(report.rule_errors), 'error')}")
            for error in report.rule_errors[:SHOWN_RULE_ERRORS]:
                click.echo(f"  {error}")
            if len(report.rule_errors) > SHOWN_RULE_ERRORS:
                click.echo("  ... (`summit-watch rules check` lists them all)")
        else:
            click.echo(f"rules: {report.rules} loaded, {report.rules_enabled} enabled")
        click.echo(f"needs attention: {'; '.join(report.problems)}" if report.problems else "all well")
    if report.problems:
        raise SystemExit(1)
