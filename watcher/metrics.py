"""In-process metrics in the Prometheus text exposition format (version 0.0.4).

Written by hand rather than with prometheus_client: a handful of counters, gauges and one
histogram do not justify a dependency, and the format is a few lines of text. Polls run in
worker threads and deliveries in the dispatcher's, so every update and every render holds one
lock; each is a few dictionary operations, never I/O.

Counters start at zero when a feed is first polled (``poll_failures_total`` and
``items_total`` included), so ``rate()`` and ``increase()`` see the series from its first poll.
"""

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the pipeline imports the whole fetch and store stack; metrics need none of it
    from watcher.outages import DatabaseState
    from watcher.records import FeedReport

# Poll durations: a 304 on loopback takes milliseconds, a slow outlet up to the fetch timeout.
POLL_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_FAILED: Final = frozenset({"error", "gone"})

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Counters of polls, items, hits and deliveries since the daemon started, and their rendering."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall clock, for the last poll's timestamp
        self._lock = threading.Lock()
        self._polls: Counter[tuple[str, str]] = Counter()  # (feed, outcome)
        self._failures: Counter[str] = Counter()
        self._items: Counter[str] = Counter()
        self._hits = 0
        self._deliveries: Counter[str] = Counter()  # by outcome
        self._buckets = [0] * len(POLL_BUCKETS)  # not cumulative: summed when rendered
        self._duration_sum = 0.0
        self._duration_count = 0
        self._rules: int | None = None
        self._regex_timeouts: Counter[str] = Counter()  # by rule
        self._last_poll: float | None = None

    def poll_done(self, report: "FeedReport", seconds: float) -> None:
        """Count one poll of one feed that took ``seconds`` (fetch, parse, store and match)."""
        with self._lock:
            self._polls[(report.feed, report.outcome)] += 1
            self._failures[report.feed] += report.outcome in _FAILED
            self._items[report.feed] += report.new_items
            self._hits += report.hits
            for index, bound in enumerate(POLL_BUCKETS):
                if seconds <= bound:
                    self._buckets[index] += 1
                    break
            self._duration_sum += seconds
            self._duration_count += 1
            self._last_poll = self._clock()

    def delivery_done(self, outcome: str) -> None:
        """Count one delivery attempt by its outcome (sent, failed, dead, held)."""
        with self._lock:
            self._deliveries[outcome] += 1

    def regex_timeout(self, rule: str) -> None:
        """Count a regex search of ``rule`` that ran out of time (it counted as not matching)."""
        with self._lock:
            self._regex_timeouts[rule] += 1

    def rules_loaded(self, n: int) -> None:
        """Record how many rules are in use (the last good set, after a reload)."""
        with self._lock:
            self._rules = n

    def render(
        self, deliveries_by_state: Mapping[str, int] | None, database: "DatabaseState | None" = None
    ) -> str:
        """The metrics as a /metrics body; ``deliveries_by_state`` is ``Store.delivery_counts()``
        (None: the database cannot tell now), ``database`` the daemon's view of its database."""
        with self._lock:
            lines: list[str] = []
            _family(lines, "summit_watch_up", "gauge", "1 while the daemon runs.", [((), 1)])
            if database is not None:
                _family(
                    lines,
                    "summit_watch_database_up",
                    "gauge",
                    "0 while the daemon's jobs fail to use the database, else 1.",
                    [((), int(database.failing_since is None))],
                )
                _family(
                    lines,
                    "summit_watch_storage_failures_total",
                    "counter",
                    "Jobs that failed because the database could not be used.",
                    [((), database.failures_total)],
                )
            _family(
                lines,
                "summit_watch_polls_total",
                "counter",
                "Polls of each feed, by outcome (ok, not_modified, gone, error).",
                [((("feed", f), ("outcome", o)), n) for (f, o), n in sorted(self._polls.items())],
            )
            _family(
                lines,
                "summit_watch_poll_failures_total",
                "counter",
                "Polls of each feed that failed (error or gone).",
                [((("feed", f),), n) for f, n in sorted(self._failures.items())],
            )
            _family(
                lines,
                "summit_watch_items_total",
                "counter",
                "New items stored, by feed.",
                [((("feed", f),), n) for f, n in sorted(self._items.items())],
            )
            _family(lines, "summit_watch_hits_total", "counter", "Rule hits stored.", [((), self._hits)])
            _family(
                lines,
                "summit_watch_deliveries_total",
                "counter",
                "Delivery attempts, by outcome (sent, failed, dead, held).",
                [((("outcome", o),), n) for o, n in sorted(self._deliveries.items())],
            )
            if deliveries_by_state is not None:
                _family(
                    lines,
                    "summit_watch_deliveries",
                    "gauge",
                    "Deliveries in the outbox, by state.",
                    [((("state", s),), n) for s, n in deliveries_by_state.items()],
                )
            _family(
                lines,
                "summit_watch_regex_timeouts_total",
                "counter",
                "Regex searches of a rule that ran out of time (counted as not matching).",
                [((("rule", r),), n) for r, n in sorted(self._regex_timeouts.items())],
            )
            self._histogram(lines)
            if self._rules is not None:
                _family(lines, "summit_watch_rules_loaded", "gauge", "Rules in use.", [((), self._rules)])
            if self._last_poll is not None:
                _family(
                    lines,
                    "summit_watch_last_poll_timestamp_seconds",
                    "gauge",
                    "When the last poll of a feed ended (Unix time).",
                    [((), self._last_poll)],
                )
        return "\n".join(lines) + "\n"

    def _histogram(self, lines: list[str]) -> None:
        name = "summit_watch_poll_duration_seconds"
        samples: list[tuple[Labels, float]] = []
        cumulative = 0
        for bound, count in zip(POLL_BUCKETS, self._buckets, strict=True):
            cumulative += count
            samples.append(((("le", _number(bound)),), cumulative))
        samples.append(((("le", "+Inf"),), self._duration_count))
        _family(lines, name, "histogram", "Time to poll one feed.", samples, suffix="_bucket")
        lines.append(f"{name}_sum {_number(self._duration_sum)}")
        lines.append(f"{name}_count {self._duration_count}")


def _family(
    lines: list[str],
    name: str,
    kind: str,
    help: str,
    samples: Iterable[tuple[Labels, float]],
    *,
    suffix: str = "",
) -> None:
    """HELP and TYPE lines, then one line per sample (none: the family is declared, empty)."""
    lines.append(f"# HELP {name} {_escape_help(help)}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        rendered = ",".join(f'{key}="{escape_label(v)}"' for key, v in labels)
        selector = f"{{{rendered}}}" if labels else ""
        lines.append(f"{name}{suffix}{selector} {_number(value)}")


def escape_label(value: str) -> str:
    """A label value as the format requires: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)
