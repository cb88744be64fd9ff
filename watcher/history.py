"""Hit history, pure parts: time windows from the command line, periods in a time zone, the
terminal chart of ``summit-watch stats`` and its PNG (matplotlib, an optional extra).

No database here: ``Store.hit_counts`` counts hits between the period boundaries computed by
``period_bounds``, so a "day" is a local day whatever the database (SQLite has no time zones,
PostgreSQL's date_trunc would use the session's), and a DST change makes a 23- or 25-hour day.
"""

import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Final, Literal

from watcher.errors import PlotUnavailableError, WatcherError
from watcher.schema import parse_duration

Period = Literal["day", "week"]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Eighths of a block, from one eighth to a whole: the bars' partial ends.
_EIGHTHS: Final = " ▏▎▍▌▋▊▉█"
_FULL: Final = "█"
_MIN_BAR: Final = 10  # columns a bar gets at least, however narrow the terminal


class LocalTime(tzinfo):
    """The system's local time zone (``TZ``, else /etc/localtime) as the C library applies it,
    daylight saving time included. ``datetime.astimezone()`` without a zone gives fixed offsets,
    which are wrong for a window spanning a DST change; this one is right on both sides.
    """

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(seconds=self._local(dt).tm_gmtoff)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1) if self._local(dt).tm_isdst > 0 else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return self._local(dt).tm_zone

    def fromutc(self, dt: datetime) -> datetime:
        stamp = (dt.replace(tzinfo=UTC) - _EPOCH).total_seconds()
        return dt + timedelta(seconds=time.localtime(stamp).tm_gmtoff)

    def _local(self, dt: datetime | None) -> time.struct_time:
        if dt is None:
            return time.localtime()
        wall = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.weekday(), 0, -1)
        return time.localtime(time.mktime(wall))

    def __repr__(self) -> str:
        return "LocalTime()"


def zone(utc: bool) -> tzinfo:
    """UTC with ``--utc``, else the local time zone."""
    return UTC if utc else LocalTime()


def zone_name(tz: tzinfo, now: datetime) -> str:
    """A short name for headers: UTC, or the local zone's abbreviation at ``now`` (CET, IST...)."""
    return "UTC" if tz is UTC else (now.astimezone(tz).tzname() or "local time")


def parse_when(value: str, now: datetime, tz: tzinfo) -> datetime:
    """A ``--since``/``--until`` value: a duration back from ``now`` (``30d``, ``12h``, ``2w``), a
    date (its midnight in ``tz``) or an ISO 8601 time (in ``tz`` unless it has an offset).
    Raises ``ValueError`` with a message fit for the user."""
    text = value.strip()
    try:
        delta = parse_duration(text)
    except ValueError:
        pass
    else:
        assert isinstance(delta, timedelta)
        return now - delta
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(
            f"{value!r} is neither a duration (30d, 12h, 2w), a date (2025-12-01) "
            "nor a time (2025-12-01T09:30)"
        )
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=tz)


def period_start(day: date, by: Period) -> date:
    """The first day of the period holding ``day``: itself, or the Monday of its ISO week."""
    return day if by == "day" else day - timedelta(days=day.weekday())


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The start of ``day`` in ``tz``, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def period_bounds(
    since: datetime, until: datetime, by: Period, tz: tzinfo
) -> list[tuple[date, datetime, datetime]]:
    """The periods (day or ISO week, in ``tz``) overlapping [since, until), each as (first day,
    start, end) with start and end in UTC and clipped to the window."""
    if until <= since:
        return []
    step = timedelta(days=1 if by == "day" else 7)
    first = period_start(since.astimezone(tz).date(), by)
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    bounds = []
    day = first
    while day <= last:
        start, end = local_midnight(day, tz), local_midnight(day + step, tz)
        bounds.append((day, max(start, since.astimezone(UTC)), min(end, until.astimezone(UTC))))
        day += step
    return bounds


def bucket(moment: datetime, by: Period, tz: tzinfo) -> date:
    """The period of one moment (the naive grouping the benchmark compares with)."""
    return period_start(moment.astimezone(tz).date(), by)


# -- the terminal chart ------------------------------------------------------------------------


def can_draw_blocks(encoding: str | None) -> bool:
    """Whether text in ``encoding`` can hold the block characters of the bars."""
    try:
        (_EIGHTHS + _FULL).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def bar(value: int, largest: int, width: int, blocks: bool) -> str:
    """A bar of ``value`` out of ``largest`` in ``width`` columns: eighths of a block, or ``#``."""
    if value <= 0 or largest <= 0:
        return ""
    if not blocks:
        return "#" * max(1, round(width * value / largest))
    eighths = max(1, round(8 * width * value / largest))
    whole, part = divmod(eighths, 8)
    return _FULL * whole + (_EIGHTHS[part] if part else "")


def render_chart(
    counts: Mapping[tuple[date, str], int],
    periods: Sequence[date],
    rules: Sequence[str],
    *,
    by: Period,
    columns: int,
    blocks: bool,
) -> list[str]:
    """The chart's lines: per period, a bar per rule (the rule named once when there is one),
    all scaled to the largest count, fitted to ``columns``; then each rule's total."""
    if not periods or not rules:
        return []
    largest = max(counts.values(), default=0)
    label = max(len(p.isoformat()) for p in periods) + (len("(week) ") if by == "week" else 0)
    rule_width = max(len(r) for r in rules) if len(rules) > 1 else 0
    number = len(str(largest))
    fixed = label + 2 + (rule_width + 2 if rule_width else 0) + 1 + number
    width = max(_MIN_BAR, columns - fixed - 1)
    lines = []
    for period in periods:
        shown = period.isoformat() + (" (week)" if by == "week" else "")
        for index, rule in enumerate(rules):
            value = counts.get((period, rule), 0)
            head = (shown if index == 0 else "").ljust(label)
            name = f"  {rule.ljust(rule_width)}" if rule_width else ""
            drawn = bar(value, largest, width, blocks).ljust(width)
            lines.append(f"{head}{name}  {drawn} {str(value).rjust(number)}".rstrip())
    totals = {rule: sum(counts.get((p, rule), 0) for p in periods) for rule in rules}
    lines.append("total: " + ", ".join(f"{rule} {total}" for rule, total in totals.items()))
    return lines


SUMMARY_RULES: Final = 25  # rules in `stats`'s summary; --full shows every rule and period
_SPARKS: Final = " ▁▂▃▄▅▆▇█"
_ASCII_SPARKS: Final = " .:-=+*#%@"


def render_summary(
    counts: Mapping[tuple[date, str], int],
    periods: Sequence[date],
    rules: Sequence[str],
    *,
    by: Period,
    columns: int,
    blocks: bool,
) -> list[str]:
    """One line per rule, the busiest first: its total, a sparkline of its periods (the latest
    that fit ``columns``), its busiest period. At most ``SUMMARY_RULES`` lines, then how many
    more there are: the whole chart is ``render_chart``'s."""
    if not periods or not rules:
        return []
    totals = {rule: sum(counts.get((p, rule), 0) for p in periods) for rule in rules}
    ranked = sorted(rules, key=lambda rule: (-totals[rule], rule))
    name = min(max(len(rule) for rule in rules), 40)
    number = max(len(str(total)) for total in totals.values())
    peak_width = len(f"  peak {max(counts.values(), default=0)} on {periods[-1].isoformat()}")
    width = max(_MIN_BAR, min(len(periods), columns - name - number - 4 - peak_width))
    shown_periods = periods[-width:]
    sparks = _SPARKS if blocks else _ASCII_SPARKS
    largest = max((counts.get((p, r), 0) for p in shown_periods for r in rules), default=0)
    lines = []
    for rule in ranked[:SUMMARY_RULES]:
        values = [counts.get((p, rule), 0) for p in shown_periods]
        line = "".join(
            sparks[0] if v == 0 else sparks[max(1, round((len(sparks) - 1) * v / largest))] for v in values
        )
        peak, peak_period = max((counts.get((p, rule), 0), p) for p in periods)
        label = rule if len(rule) <= name else rule[: name - 1] + "…"
        tail = f"  peak {peak} on {peak_period.isoformat()}" if peak else ""
        lines.append(f"{label.ljust(name)}  {str(totals[rule]).rjust(number)}  {line}{tail}".rstrip())
    if len(ranked) > SUMMARY_RULES:
        lines.append(f"... {len(ranked) - SUMMARY_RULES} more rules (--full shows them all)")
    first = shown_periods[0].isoformat()
    lines.append(f"(one mark per {by} from {first}; `--full` draws each {by} with its count)")
    return lines


def chart_rules(counts: Iterable[tuple[date, str, int]], wanted: Sequence[str]) -> list[str]:
    """The rules to show: those asked for (in that order), else every rule with a hit, by id."""
    return list(wanted) if wanted else sorted({rule for _, rule, _ in counts})


# -- the PNG -------------------------------------------------------------------------------------


def require_plot() -> None:
    """Raise ``PlotUnavailableError`` (exit status 2, how to install it) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise PlotUnavailableError(
            f"--png needs matplotlib, which is not installed ({e}): pip install 'summit-watch[plot]'"
        ) from e


def write_png(
    path: Path,
    counts: Mapping[tuple[date, str], int],
    periods: Sequence[date],
    rules: Sequence[str],
    *,
    title: str,
) -> None:
    """A stacked bar chart of the counts (a bar per period, a colour per rule) as a PNG file."""
    require_plot()
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, axes = pyplot.subplots(figsize=(max(6.0, min(24.0, 2 + 0.25 * len(periods))), 4.5), dpi=100)
    try:
        positions = list(range(len(periods)))
        bottom = [0] * len(periods)
        for rule in rules:
            heights = [counts.get((period, rule), 0) for period in periods]
            axes.bar(positions, heights, bottom=bottom, label=rule, width=0.8)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        step = max(1, math.ceil(len(periods) / 20))  # at most ~20 date labels
        axes.set_xticks(positions[::step], [p.isoformat() for p in periods[::step]], rotation=45, ha="right")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 of a hit
        axes.set_ylabel("hits")
        axes.set_title(title)
        if rules:
            axes.legend(fontsize="small", loc="upper left", ncols=1 + len(rules) // 12)
        figure.tight_layout()
        try:
            figure.savefig(path, format="png")
        except OSError as e:
            raise WatcherError(f"{path}: cannot write the image: {e.strerror or e}") from e
    finally:
        pyplot.close(figure)
