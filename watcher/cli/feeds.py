"""`feeds list` and `feeds status`: the feeds as configured, and as the database last saw them."""

import click

from watcher.cli._context import App, Group, now, pass_app
from watcher.cli._output import FORMAT, duration, print_records


@click.group("feeds", cls=Group, invoke_without_command=True)
@click.pass_context
def feeds_group(ctx: click.Context) -> None:
    """The configured feeds (default: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(feeds_list)


@feeds_group.command("list")
@FORMAT
@pass_app
def feeds_list(app: App, fmt: str = "table") -> None:
    """Each feed of the settings file: name, URL, tags, interval."""
    config = app.config
    rows = [
        {"name": f.name, "url": f.url, "tags": list(f.tags), "interval": duration(config.interval(f))}
        for f in config.feeds
    ]
    print_records(rows, fmt)


@feeds_group.command("status")
@FORMAT
@pass_app
def feeds_status(app: App, fmt: str) -> None:
    """Each feed's health: last success, last error, failures in a row, next poll."""
    store = app.store
    config = app.config
    store.sync_feeds(config.feeds, {f.name: config.interval(f) for f in config.feeds}, now())
    rows = [
        {
            "name": s.name,
            "last_success": s.last_success,
            "last_outcome": s.last_outcome,
            "failures": s.consecutive_failures,
            "next_poll": None if s.gone else s.next_poll,
            "last_error": s.last_error,
            "moved_to": s.redirected_to,
        }
        for s in store.feeds()
    ]
    print_records(rows, fmt)
