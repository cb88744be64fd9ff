"""`config path`: which settings file the commands use, and how it was found."""

import os

import click

from watcher.cli._context import App, Group, pass_app


@click.group("config", cls=Group)
def config_group() -> None:
    """The settings file."""


@config_group.command("path")
@pass_app
def config_path(app: App) -> None:
    """Print the settings file the commands use (after --config, $SUMMIT_WATCH_CONFIG,
    ./summit-watch.yaml, $XDG_CONFIG_HOME/summit-watch/config.yaml, /etc/summit-watch/config.yaml)
    and how it was found; exit status 2 when there is none."""
    from watcher.config import CONFIG_ENV, find_config

    found = find_config(app.config_path)
    if app.config_path is not None:
        how = "given with --config"
    elif os.environ.get(CONFIG_ENV):
        how = f"from ${CONFIG_ENV}"
    else:
        how = "found in the search path"
    missing = "" if found.is_file() else " (no such file)"
    click.echo(f"{found.resolve()}{missing}  ({how})")
    if missing:
        raise SystemExit(2)
