"""Scheduling decisions: backoff, Retry-After, gone feeds, validators; pure, with a fixed clock."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watcher.records import FeedState, FetchResult
from watcher.schedule import MAX_BACKOFF, backoff, poll_record

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=10)


def state(failures: int = 0) -> FeedState:
    return FeedState(
        name="f",
        url="https://example.org/feed",
        tags=(),
        active=True,
        etag='"old"',
        last_modified=None,
        last_polled=None,
        last_success=None,
        last_outcome=None,
        last_status=None,
        last_error=None,
        consecutive_failures=failures,
        next_poll=NOW,
        gone=False,
        redirected_to=None,
    )


def result(outcome: str = "ok", **fields: Any) -> FetchResult:
    values: dict[str, Any] = {
        "feed": "f",
        "url": "https://example.org/feed",
        "outcome": outcome,
        "status": 200,
        "body": b"<rss/>" if outcome == "ok" else None,
        "headers": {},
        "etag": '"new"',
        "last_modified": None,
        "final_url": "https://example.org/feed",
        "permanent_redirect": None,
        "retry_after": None,
        "error": None if outcome in ("ok", "not_modified") else "HTTP 500 Internal Server Error",
        "elapsed": 0.1,
    }
    values.update(fields)
    return FetchResult(**values)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (0, INTERVAL),
        (1, INTERVAL),
        (2, 2 * INTERVAL),
        (3, 4 * INTERVAL),
        (8, 128 * INTERVAL),
        (50, MAX_BACKOFF),
    ],
)
def test_backoff_doubles_and_is_capped_at_a_day(failures: int, expected: timedelta) -> None:
    assert backoff(INTERVAL, failures) == min(expected, MAX_BACKOFF)


def test_success_resets_failures_and_polls_after_the_interval() -> None:
    record = poll_record(state(failures=5), result("ok"), INTERVAL, NOW)
    assert (record.outcome, record.consecutive_failures, record.next_poll) == ("ok", 0, NOW + INTERVAL)
    assert record.etag == '"new"'


def test_each_failure_in_a_row_waits_twice_as_long() -> None:
    waits = []
    failures = 0
    for _ in range(4):
        record = poll_record(state(failures), result("error", status=500), INTERVAL, NOW)
        failures = record.consecutive_failures
        waits.append(record.next_poll - NOW)
    assert waits == [INTERVAL, 2 * INTERVAL, 4 * INTERVAL, 8 * INTERVAL]


def test_retry_after_is_honoured_within_the_cap() -> None:
    asked = poll_record(state(), result("error", status=429, retry_after=timedelta(hours=2)), INTERVAL, NOW)
    assert asked.next_poll == NOW + timedelta(hours=2)
    greedy = poll_record(state(), result("error", status=503, retry_after=timedelta(days=9)), INTERVAL, NOW)
    assert greedy.next_poll == NOW + MAX_BACKOFF


def test_gone_is_a_failure_and_is_recorded() -> None:
    record = poll_record(state(), result("gone", status=410, error="HTTP 410 Gone"), INTERVAL, NOW)
    assert (record.outcome, record.consecutive_failures, record.error) == ("gone", 1, "HTTP 410 Gone")


def test_an_unusable_body_is_an_error_and_its_validators_are_not_kept() -> None:
    record = poll_record(state(), result("ok"), INTERVAL, NOW, error="not an RSS or Atom feed")
    assert (record.outcome, record.error, record.consecutive_failures) == (
        "error",
        "not an RSS or Atom feed",
        1,
    )
    assert record.etag is None  # None keeps the stored validators: the broken body is fetched again in full


def test_a_permanent_redirect_is_reported() -> None:
    moved = poll_record(
        state(), result("ok", permanent_redirect="https://new.example.org/feed"), INTERVAL, NOW
    )
    assert moved.redirected_to == "https://new.example.org/feed"
