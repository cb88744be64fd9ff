"""How values read in what people and scripts are shown: the one time format, counts of things, dates.

Shared by the command line and the daemon's ``status`` report, so a time or a count reads the
same in ``summit-watch status``, in systemd's status line and in every table.
"""

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import overload

# Not calendar.month_name, which follows the locale: what summit-watch prints is English.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_TO = "\u2013"  # an en dash: 4\u20135 December
_SEASONS = {3: "spring", 6: "summer", 9: "autumn", 12: "winter"}  # by their first month
_MONTH_THIRDS = {1: "early", 11: "mid-", 21: "late"}  # by their first day
_YEAR_PARTS = {(1, 4): "early", (5, 8): "mid-", (9, 12): "late", (1, 6): "the first half of",
               (7, 12): "the second half of"}  # fmt: skip


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


def period(start: date, end: date, precision: str) -> str:
    """Dates an event is said to be on, as said (``watcher.dates`` precisions): 4 December 2025, 4-5
    December 2025 (an en dash), the week of 1 December 2025, early December 2025, December 2025,
    winter 2026, Q3 2026, late 2026, 2026; a span no name fits ("later this year") as its days."""
    whole_months = start.day == 1 and end == _month_end(end)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if precision == "week" and start.weekday() == 0 and end == start + timedelta(days=6):
        return f"the week of {_day(start)}"
    if precision == "month_part" and months == 1 and start.day in _MONTH_THIRDS:
        ends = {1: 10, 11: 20, 21: _month_end(start).day}
        if end.day == ends[start.day]:
            return _spaced(_MONTH_THIRDS[start.day], f"{_MONTHS[start.month - 1]} {start.year}")
    if whole_months:
        if precision == "month" and months == 1:
            return f"{_MONTHS[start.month - 1]} {start.year}"
        if precision == "season" and months == 3 and start.month in _SEASONS:
            return f"{_SEASONS[start.month]} {end.year}"
        if precision == "quarter" and months == 3 and start.month % 3 == 1:
            return f"Q{start.month // 3 + 1} {start.year}"
        if precision == "year_part" and (start.month, end.month) in _YEAR_PARTS:
            return _spaced(_YEAR_PARTS[(start.month, end.month)], str(start.year))
        if precision == "year" and months == 12 and start.month == 1:
            return str(start.year)
    return _days(start, end)


def _days(start: date, end: date) -> str:
    """4 December 2025; 4-5 December 2025, 30 November - 2 December 2025 (en dashes)."""
    if start == end:
        return _day(start)
    if start.year != end.year:
        return f"{_day(start)} {_TO} {_day(end)}"
    if start.month != end.month:
        return f"{start.day} {_MONTHS[start.month - 1]} {_TO} {_day(end)}"
    return f"{start.day}{_TO}{_day(end)}"


def _day(when: date) -> str:
    return f"{when.day} {_MONTHS[when.month - 1]} {when.year}"


def _month_end(when: date) -> date:
    return when.replace(day=calendar.monthrange(when.year, when.month)[1])


def _spaced(part: str, rest: str) -> str:
    """ "early December 2025", "mid-December 2025": a part ending in a hyphen takes no space."""
    return f"{part}{rest}" if part.endswith("-") else f"{part} {rest}"
