"""Database outages as the daemon lives through them: noticed once, retried with backoff, ended.

Every job that uses the database reports how it went. The first failure logs
``database_unavailable`` (once, not once per job: a daemon polling 200 feeds would otherwise
write 200 lines a minute), later ones only count; while the database fails, jobs that need it
wait out a backoff (2 s doubling to 30 s) instead of piling up connection attempts; the first
success logs ``database_available`` with how long the outage lasted. ``/healthz`` and
``/metrics`` read the same state. Pure but for the lock: the clock is passed in.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

log = logging.getLogger(__name__)

FIRST_RETRY: Final = timedelta(seconds=2)
LONGEST_RETRY: Final = timedelta(seconds=30)
UNHEALTHY_AFTER: Final = 3  # consecutive failed jobs before /healthz answers 503


@dataclass(frozen=True)
class DatabaseState:
    """What the daemon knows of its database now."""

    failing_since: datetime | None  # None: the last job that used it succeeded
    consecutive_failures: int
    failures_total: int  # since the daemon started
    last_error: str | None

    @property
    def unhealthy(self) -> bool:
        return self.consecutive_failures >= UNHEALTHY_AFTER


class DatabaseWatch:
    """The database's state across the daemon's jobs (thread-safe: jobs run in a pool)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failing_since: datetime | None = None
        self._consecutive = 0
        self._total = 0
        self._last_error: str | None = None
        self._retry_at: datetime | None = None

    def may_try(self) -> bool:
        """Whether a job may use the database now (False while a failure's backoff runs)."""
        with self._lock:
            return self._retry_at is None or self._clock() >= self._retry_at

    def retry_in(self) -> float:
        """Seconds until the database may be tried again (0: now)."""
        with self._lock:
            if self._retry_at is None:
                return 0.0
            return max(0.0, (self._retry_at - self._clock()).total_seconds())

    def failed(self, job: str, error: str) -> None:
        """A job could not use the database."""
        now = self._clock()
        with self._lock:
            self._consecutive += 1
            self._total += 1
            self._last_error = error
            delay = min(FIRST_RETRY * 2 ** min(self._consecutive - 1, 16), LONGEST_RETRY)
            self._retry_at = now + delay
            first = self._failing_since is None
            if first:
                self._failing_since = now
        if first:
            log.error("database_unavailable job=%s error=%s (retrying with backoff)", job, error)
        else:
            log.debug("database_still_unavailable job=%s error=%s retry_in=%ss", job, error, delay.seconds)

    def succeeded(self) -> None:
        """A job used the database."""
        now = self._clock()
        with self._lock:
            since, failures = self._failing_since, self._consecutive
            self._failing_since = self._retry_at = None
            self._consecutive = 0
        if since is not None:
            log.warning(
                "database_available after=%ds failed_jobs=%d", (now - since).total_seconds(), failures
            )

    def state(self) -> DatabaseState:
        with self._lock:
            return DatabaseState(self._failing_since, self._consecutive, self._total, self._last_error)
