"""When to poll a feed next, and what a poll changed: pure decisions on values and a clock time."""

from datetime import datetime, timedelta

from watcher.records import FeedState, FetchResult, PollRecord

MAX_BACKOFF = timedelta(hours=24)
_FAILED = ("error", "gone")


def backoff(interval: timedelta, failures: int) -> timedelta:
    """Delay before the next poll after ``failures`` failures in a row: the interval, doubling, <= 24 h."""
    if failures <= 0:
        return interval
    doubled: timedelta = interval * 2 ** min(failures - 1, 20)
    return min(doubled, MAX_BACKOFF)


def poll_record(
    state: FeedState,
    result: FetchResult,
    interval: timedelta,
    now: datetime,
    error: str | None = None,
) -> PollRecord:
    """What a poll of ``state`` changed. ``error`` marks a fetched body that could not be used.

    A failing feed backs off exponentially (never past 24 h) and is never dropped; a server's
    Retry-After is honoured within the same cap; a 410 marks the feed gone (not polled again
    until its URL changes in the config).
    """
    outcome = "error" if error is not None else result.outcome
    failed = outcome in _FAILED
    failures = state.consecutive_failures + 1 if failed else 0
    delay = backoff(interval, failures)
    if result.retry_after is not None:
        delay = min(max(delay, result.retry_after), MAX_BACKOFF)
    return PollRecord(
        feed=state.name,
        polled_at=now,
        outcome=outcome,
        status=result.status,
        # A body that could not be used must be fetched again in full, not answered with a 304.
        etag=None if error else result.etag,
        last_modified=None if error else result.last_modified,
        error=error or result.error,
        consecutive_failures=failures,
        next_poll=now + delay,
        redirected_to=result.permanent_redirect,
    )
