"""How the dates of an event read (watcher.dates.period): as said, at the precision stated."""

# Ranges of dates are printed with an en dash.
# ruff: noqa: RUF001

from datetime import date

import pytest

from watcher.dates import period


@pytest.mark.parametrize(
    ("start", "end", "precision", "reads"),
    [
        (date(2025, 12, 4), date(2025, 12, 4), "day", "4 December 2025"),
        (date(2025, 12, 4), date(2025, 12, 5), "days", "4–5 December 2025"),
        (date(2025, 11, 30), date(2025, 12, 2), "days", "30 November – 2 December 2025"),
        (date(2025, 12, 30), date(2026, 1, 2), "days", "30 December 2025 – 2 January 2026"),
        (date(2025, 12, 1), date(2025, 12, 7), "week", "the week of 1 December 2025"),
        (date(2025, 12, 1), date(2025, 12, 10), "month_part", "early December 2025"),
        (date(2025, 12, 11), date(2025, 12, 20), "month_part", "mid-December 2025"),
        (date(2026, 2, 21), date(2026, 2, 28), "month_part", "late February 2026"),
        (date(2025, 12, 7), date(2025, 12, 31), "month_part", "7–31 December 2025"),  # later this month
        (date(2025, 12, 1), date(2025, 12, 31), "month", "December 2025"),
        (date(2025, 12, 1), date(2026, 2, 28), "season", "winter 2026"),
        (date(2026, 3, 1), date(2026, 5, 31), "season", "spring 2026"),
        (date(2026, 7, 1), date(2026, 9, 30), "quarter", "Q3 2026"),
        (date(2026, 1, 1), date(2026, 4, 30), "year_part", "early 2026"),
        (date(2026, 5, 1), date(2026, 8, 31), "year_part", "mid-2026"),
        (date(2026, 7, 1), date(2026, 12, 31), "year_part", "the second half of 2026"),
        (
            date(2025, 10, 7),
            date(2025, 12, 31),
            "year_part",
            "7 October – 31 December 2025",
        ),  # later this year
        (date(2026, 1, 1), date(2026, 12, 31), "year", "2026"),
    ],
)
def test_dates_read_as_stated(start: date, end: date, precision: str, reads: str) -> None:
    assert period(start, end, precision) == reads
