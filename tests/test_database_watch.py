"""DatabaseWatch: an outage said once, retried with backoff, its end said with its length."""

import logging
from datetime import timedelta

import pytest
from polling import Clock

from watcher.outages import LONGEST_RETRY, UNHEALTHY_AFTER, DatabaseWatch


def test_an_outage_is_logged_once_backs_off_and_its_end_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    watch = DatabaseWatch(clock)
    caplog.set_level(logging.INFO, logger="watcher.outages")
    started = clock()
    waits = []
    for _ in range(8):
        assert watch.may_try()
        watch.failed("dispatch", "database x: disk is full")
        assert not watch.may_try()
        waits.append(watch.retry_in())
        clock.advance(timedelta(seconds=watch.retry_in()))
    assert waits == [2, 4, 8, 16, 30, 30, 30, 30]
    assert max(waits) == LONGEST_RETRY.total_seconds()
    assert caplog.text.count("database_unavailable job=dispatch error=database x: disk is full") == 1
    state = watch.state()
    assert state.failing_since == started
    assert state.failures_total == 8
    assert state.unhealthy

    watch.succeeded()
    assert "database_available after=150s failed_jobs=8" in caplog.text
    assert watch.may_try()
    assert watch.state().failing_since is None
    assert watch.state().failures_total == 8  # a counter: it never goes back


def test_health_fails_only_after_several_jobs_in_a_row() -> None:
    watch = DatabaseWatch(Clock())
    for _ in range(UNHEALTHY_AFTER - 1):
        watch.failed("poll_feed", "timeout")
    assert not watch.state().unhealthy  # one slow moment is not an outage
    watch.failed("poll_feed", "timeout")
    assert watch.state().unhealthy
