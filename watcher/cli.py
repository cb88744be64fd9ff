"""The ``summit-watch`` command line. Thin: parse arguments, call the package, print results.

Exit codes: 0 success, 1 an operational failure, 2 invalid usage, rules or input files.
"""

import asyncio
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
from watcher.config import Config, ConfigError, find_config, load_config
from watcher.errors import WatcherError
from watcher.inputs import read_items
from watcher.logs import configure as configure_logging
from watcher.logs import quiet_apprise
from watcher.matcher import Matcher
from watcher.pipeline import FeedReport, PollSummary, poll
from watcher.rules import RuleSet, json_schema, load_rules
from watcher.store import Store

if TYPE_CHECKING:  # imported where used: Apprise takes a while to import, `rules check` never needs it
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
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def rules_test(session: _Session, rules_path: Path | None, as_json: bool, inputs: Sequence[Path]) -> None:
    """Run the rules over INPUT files and show what matches.

    An INPUT is a JSON Lines file of items (.jsonl: id, title, summary, content, link,
    published, source), an RSS/Atom file, or a text file (its content is the item, its name
    the id).
    """
    matcher = Matcher(load_rules(rules_path or session.default_rules()))
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
        _echo_dispatched(outbox.dispatch())
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
    or it is gone), a delivery dead (given up), or rule files that are invalid (a running daemon
    keeps its last good rules meanwhile).
    """
    from watcher.errors import RulesError
    from watcher.health import SHOWN_RULE_ERRORS, status_report

    rules: RuleSet | RulesError
    try:
        rules = load_rules(session.config.rules)
    except RulesError as e:
        rules = e
    store = session.open_store()
    try:
        report = status_report(store, rules, _now())
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
    """Send a test message to each target and report success or why it failed (exit 1 if any failed)."""
    from watcher.notify import describe, send_test

    targets = session.targets
    unknown = sorted(set(target_names) - set(targets))
    if unknown:
        raise click.BadParameter(
            f"no target named {', '.join(unknown)} in the settings file", param_hint="--target"
        )
    failed = 0
    for name, target in targets.items():
        if target_names and name not in target_names:
            continue
        result = send_test(target)
        failed += not result.ok
        outcome = "ok" if result.ok else f"FAILED: {result.reason}"
        click.echo(f"{name} ({describe(target)}): {outcome}")
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
    """Make failed or dead deliveries due now, with a fresh 48 h of retries, and send them."""
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
        dispatched = session.outbox(store).dispatch()
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
        dispatched = outbox.dispatch()
    finally:
        store.close()
    click.echo(f"{_count(len(made), 'alert')} made")
    _echo_dispatched(dispatched)


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
    if not rows:
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="summit-watch")
