"""How every command prints: tables, JSON, counts, errors, and the one way times are shown.

Human output shows each time as ISO 8601 in UTC to the second (``watcher.display.when``),
whatever the command, so times from two commands can be compared at a glance and pasted into
``--since``. JSON keeps each time as it always was (ISO 8601 with its offset): scripts parse it.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from watcher.display import count, iso, when

if TYPE_CHECKING:
    from watcher.outbox import Dispatched

TITLE_WIDTH = 60  # characters of a title or headline in a table row

FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


def _json_value(value: object) -> object:
    """``json.dumps``'s ``default``: a time as ISO 8601 with its offset, to the second."""
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def echo_json(value: object, *, indent: int | None = None, ensure_ascii: bool = False) -> None:
    """``value`` as JSON on stdout: one line (JSON Lines), or indented; times as ``_json_value``."""
    import json

    click.echo(json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, default=_json_value))


def echo_error(message: str) -> None:
    """A failure the user can act on, on stderr (its exit code is the caller's)."""
    click.echo(message, err=True)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def duration(delta: timedelta) -> str:
    """A duration as settings files write it: 10m, 6h, 1d (seconds when it is no whole unit)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size(n: int | None) -> str:
    """A size in bytes, KiB, MiB or GiB; ``unknown`` when the database could not say."""
    if n is None:
        return "unknown"
    amount = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{n} bytes"


# -- tables ------------------------------------------------------------------------------------------


def column_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column as wide as its widest cell, the header's included."""
    return [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]


TABLE_WIDTH = 120  # a table's lines at most, when its flexible columns can give way
_NARROWEST = 12  # a flexible column is never cut narrower than this


def fitted_widths(
    header: Sequence[str], rows: Sequence[Sequence[str]], flexible: Sequence[int], width: int = TABLE_WIDTH
) -> list[int]:
    """Column widths whose table fits ``width``: the widest of the ``flexible`` columns (titles,
    lists of outlets) gives way first, down to a few characters; the others keep their width."""
    widths = column_widths(header, rows)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        narrowest = max(_NARROWEST, *(len(header[i]) for i in flexible))
        column = max(flexible, key=lambda i: widths[i])
        if widths[column] <= narrowest:
            break
        widths[column] -= 1
    return widths


def fitted_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """``table_row`` with each cell cut to its column's width ("…" where cut)."""
    return table_row([shorten(cell, w) for cell, w in zip(cells, widths, strict=True)], widths)


def print_fitted_table(header: Sequence[str], rows: Sequence[Sequence[str]], flexible: Sequence[int]) -> None:
    """An aligned table of at most ``TABLE_WIDTH`` columns, its ``flexible`` columns cut to fit."""
    if rows:
        widths = fitted_widths(header, rows, flexible)
        for row in [header, *rows]:
            click.echo(fitted_row(row, widths))


def table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One row, its cells padded to ``widths`` and two spaces apart."""
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header and the rows, aligned."""
    widths = column_widths(header, rows)
    return [table_row(row, widths) for row in [header, *rows]]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """An aligned table on stdout; nothing at all when there are no rows."""
    if rows:
        for line in table_lines(header, rows):
            click.echo(line)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def print_records(rows: list[dict[str, Any]], fmt: str) -> None:
    """Records as a JSON list (``fmt`` json) or a table whose header is the keys in capitals;
    times (``datetime`` values) as each format shows them."""
    if fmt == "json":
        echo_json(rows, indent=2)
        return
    if rows:
        header = [key.upper().replace("_", " ") for key in rows[0]]
        print_table(header, [[_cell(value) for value in row.values()] for row in rows])


def echo_dispatched(dispatched: Sequence["Dispatched"]) -> None:
    """One line per delivery that did not go out, after a count of those that did."""
    if not dispatched:
        return
    sent = sum(d.outcome == "sent" for d in dispatched)
    click.echo(f"{count(len(dispatched), 'delivery', 'deliveries')}: {sent} sent")
    for d in dispatched:
        if d.outcome == "held":
            click.echo(f"  held   {d.target} (rule {d.rule}): quiet hours until {when(d.retry_at)}")
        elif d.outcome != "sent":
            retry = f"; retry at {when(d.retry_at)}" if d.retry_at else "; given up"
            click.echo(f"  {d.outcome:<6} {d.target} (rule {d.rule}): {d.error}{retry}")
