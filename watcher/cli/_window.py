"""--since and --until: durations back from now, dates in a time zone, ISO times; as UTC times.

One parser for every command that takes a window, so that they accept the same values and say
the same thing about a bad one.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from watcher.cli._context import now
from watcher.display import when

if TYPE_CHECKING:
    from datetime import tzinfo


def window(since: str, until: str | None, tz: "tzinfo") -> tuple[datetime, datetime]:
    """The window of `rules test --stored` and `stats`: --since, and --until (default now)."""
    current = now()
    start = _parse(since, "--since", current, tz)
    end = current.astimezone(UTC) if until is None else _parse(until, "--until", current, tz)
    _check_order(start, end)
    return start, end


def optional_window(
    since: str | None, until: str | None, tz: "tzinfo"
) -> tuple[datetime | None, datetime | None]:
    """The window of `hits` and `stories`: either end may be left open (None)."""
    current = now()
    start = None if since is None else _parse(since, "--since", current, tz)
    end = None if until is None else _parse(until, "--until", current, tz)
    if start is not None and end is not None:
        _check_order(start, end)
    return start, end


def _parse(value: str, hint: str, current: datetime, tz: "tzinfo") -> datetime:
    from watcher.history import parse_when

    try:
        return parse_when(value, current, tz).astimezone(UTC)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=hint) from e


def _check_order(start: datetime, end: datetime) -> None:
    if end <= start:
        raise click.BadParameter(f"{when(end)} is not after --since ({when(start)})", param_hint="--until")
