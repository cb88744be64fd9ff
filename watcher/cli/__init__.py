"""The ``summit-watch`` command line. Thin: parse arguments, call the package, print results.

Exit codes: 0 success, 1 an operational failure, 2 invalid usage, rules or input files.

One module per command group; each imports what its commands need inside them, so ``--help``
and ``rules check`` start without SQLAlchemy, Apprise, httpx or APScheduler. What commands share
is in ``_context`` (the settings and store of a run), how they print in ``_output``.
"""

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from watcher.cli._context import App, Group
from watcher.cli.config import config_group
from watcher.cli.db import db_group
from watcher.cli.event import event_group
from watcher.cli.feeds import feeds_group
from watcher.cli.hits import hits_group
from watcher.cli.notify import notify_group
from watcher.cli.rules import rules_group
from watcher.cli.run import poll_command, run_command, status_command
from watcher.cli.stats import stats_command
from watcher.cli.stories import stories_command

__all__ = ["cli", "main"]


def _now() -> datetime:
    """The CLI's clock. Commands read it through ``_context.now``, so a test can replace it here."""
    return datetime.now(UTC)


def _print_version(ctx: click.Context, _param: click.Parameter, asked: bool) -> None:
    """``--version``: the version is read only when asked (see ``watcher.__getattr__``)."""
    if not asked or ctx.resilient_parsing:
        return
    from watcher import __version__

    click.echo(f"summit-watch, version {__version__}")
    ctx.exit()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (default: $SUMMIT_WATCH_CONFIG, ./summit-watch.yaml, "
    "$XDG_CONFIG_HOME/summit-watch/config.yaml, /etc/summit-watch/config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v: info, -vv: debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Watch news feeds for the diplomatic events you care about."""
    import logging

    from watcher.logs import quiet_apprise

    app = App(config_path, verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_apprise(debug=verbose >= 2)


for _command in (
    rules_group,
    run_command,
    poll_command,
    feeds_group,
    status_command,
    notify_group,
    hits_group,
    stories_command,
    event_group,
    stats_command,
    db_group,
    config_group,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="summit-watch")
