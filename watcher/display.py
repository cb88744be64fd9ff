"""How values read in what people and scripts are shown: the one time format, counts of things.

Shared by the command line and the daemon's ``status`` report, so a time or a count reads the
same in ``summit-watch status``, in systemd's status line and in every table.
"""

from datetime import UTC, datetime
from typing import overload


@overload
def when(moment: datetime) -> str: ...


@overload
def when(moment: None) -> None: ...


def when(moment: datetime | None) -> str | None:
    """A time as every command shows it to people: 2026-12-05T16:20:03Z (None stays None).

    ISO 8601 in UTC to the second, whatever the command, so times from two commands can be
    compared at a glance and pasted into ``--since``.
    """
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """A time as JSON output gives it to scripts: ISO 8601 with its offset, to the second."""
    return moment.isoformat(timespec="seconds") if moment is not None else None


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 item``, ``2 items``; ``plural`` for the irregular ones."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
