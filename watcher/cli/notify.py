"""`notify test|status|retry|send`: the alert targets and the outbox of deliveries.

Apprise (slow to import) comes in with ``App.targets``, only in the commands that send.
"""

import click

from watcher.cli._context import App, Group, now, pass_app
from watcher.cli._output import FORMAT, echo_dispatched, print_records
from watcher.display import count


@click.group("notify", cls=Group)
def notify_group() -> None:
    """Alert targets and the outbox of deliveries."""


@notify_group.command("test")
@click.option(
    "--target", "target_names", multiple=True, metavar="NAME", help="Only this target (repeatable)."
)
@pass_app
def notify_test(app: App, target_names: tuple[str, ...]) -> None:
    """Send a test message to each target and report success or why it failed (exit 1 if any failed).

    A target that passes has its failed deliveries made due now instead of after their backoff.
    """
    from watcher.notify import describe, send_test
    from watcher.outbox import target_answered

    targets = app.targets
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
    for name in answered:
        woken = target_answered(app.store, name, now())
        if woken:
            click.echo(f"{name}: {count(woken, 'failed delivery', 'failed deliveries')} due now")
    if failed:
        raise SystemExit(1)


@notify_group.command("status")
@click.option("--all", "show_all", is_flag=True, help="Sent deliveries too.")
@FORMAT
@pass_app
def notify_status(app: App, show_all: bool, fmt: str) -> None:
    """Deliveries not sent yet: pending, failed (with the next retry) and dead (given up)."""
    deliveries = app.store.deliveries(None if show_all else ("pending", "failed", "dead"))
    rows = [
        {
            "id": d.id,
            "state": d.state,
            "rule": d.rule,
            "target": d.target,
            "alert": d.alert,
            "attempts": d.attempts,
            "next_attempt": d.next_attempt if d.state in ("pending", "failed") else None,
            "created": d.created_at,
            "last_error": d.last_error,
        }
        for d in deliveries
    ]
    if not rows and fmt == "table":
        click.echo("no deliveries waiting" if not show_all else "no deliveries")
        return
    print_records(rows, fmt)


@notify_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Every failed and dead delivery.")
@pass_app
def notify_retry(app: App, ids: tuple[int, ...], retry_all: bool) -> None:
    """Make failed or dead deliveries due now and send them; if they fail again, they get a fresh
    48 h of retries, the backoff starting again at 30 s (the attempts so far are kept)."""
    if bool(ids) == retry_all:
        raise click.UsageError("give delivery IDs (see `summit-watch notify status`) or --all")
    store = app.store
    if ids:
        found = {d.id: d for d in store.deliveries(ids=ids)}
        for id in ids:
            if id not in found:
                raise click.BadParameter(f"no delivery {id}", param_hint="ID")
            if found[id].state == "sent":
                raise click.BadParameter(f"delivery {id} was already sent", param_hint="ID")
    queued = store.retry_deliveries(now(), ids or None)
    click.echo(f"{count(queued, 'delivery', 'deliveries')} queued again")
    echo_dispatched(app.outbox().dispatch(wait=None))


@notify_group.command("send")
@pass_app
def notify_send(app: App) -> None:
    """Make the alerts that are due and send the deliveries that are due (what the daemon does)."""
    outbox = app.outbox()
    made = outbox.plan()
    dispatched = outbox.dispatch(wait=None)
    click.echo(f"{count(len(made), 'alert')} made")
    echo_dispatched(dispatched)
