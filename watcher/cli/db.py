"""`db upgrade|prune|vacuum`: the schema and the housekeeping of the database."""

from datetime import timedelta

import click

from watcher.cli._context import App, Group, now, pass_app
from watcher.cli._output import size
from watcher.display import count, when


@click.group("db", cls=Group)
def db_group() -> None:
    """The database."""


@db_group.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or upgrade the database schema to this version's."""
    before, after = app.unchecked_store().upgrade()
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
@pass_app
def db_prune(app: App, age: str, with_hits: bool, dry_run: bool) -> None:
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
    report = app.store.prune(now() - delta, hits=with_hits, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    cutoff = when(report.older_than)
    click.echo(f"{verb} {count(report.items, 'item')} fetched before {cutoff} that no rule hit")
    if with_hits:
        click.echo(
            f"{verb} {count(report.hits, 'hit')} created before {cutoff}, "
            f"{count(report.alerts, 'alert')}, {count(report.deliveries, 'delivery', 'deliveries')}"
        )
        if report.kept_hits:
            click.echo(
                f"kept {count(report.kept_hits, 'older hit')}: not alerted yet, "
                "or with a pending or failed delivery"
            )
    elif report.kept_hits:
        click.echo(f"kept {count(report.kept_hits, 'hit')} created before {cutoff} (--hits deletes them)")
    if dry_run:
        click.echo("dry run: nothing was deleted")


@db_group.command("vacuum")
@pass_app
def db_vacuum(app: App) -> None:
    """Give the space of deleted rows back to the system and refresh the query planner's
    statistics (SQLite: VACUUM, PRAGMA optimize; PostgreSQL: VACUUM (ANALYZE))."""
    report = app.store.vacuum()
    for statement in report.statements:
        click.echo(f"ran {statement}")
    what = "database file" if report.backend == "sqlite" else "summit-watch tables"
    click.echo(f"{what}: {size(report.size_before)} before, {size(report.size_after)} after")
