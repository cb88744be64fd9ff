"""Cheap re-polls: the bookkeeping of polls that stored nothing (304, failures) is batched.

``Store.record_polls`` records a batch of polls with one UPDATE statement (executemany) in one
transaction; a poll cycle sends it the records of every feed that brought nothing to store, once
at its end (or per ``BATCH_SIZE`` / ``BATCH_SECONDS``), while a feed's new items are still stored,
and its poll recorded, as soon as it is fetched. On SQLite and PostgreSQL, against a real loopback
HTTP server answering 304. Also: the bodies a cycle holds while they wait for their parse are
bounded (``BACKLOG_PER_CONNECTION``), since kept-alive connections fetch much faster than feeds
are parsed.
"""

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpserver import Exchange, LoopbackServer, Reply
from polling import T0, Clock, Entry, Poller, rss, write_settings
from sqlalchemy import event

import watcher.pipeline
from watcher.config import FeedConfig
from watcher.errors import StorageError
from watcher.fetch import FetchLimits
from watcher.matcher import Matcher
from watcher.records import FeedReport, FeedState, FetchResult, PollRecord, PollSummary
from watcher.rules import load_rules
from watcher.store import Store

INTERVAL = timedelta(minutes=10)  # the default interval of a feed
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
FEEDS = 6


# -- helpers -----------------------------------------------------------------------------------------


@dataclass
class Statements:
    """The statements run on a store's engine (executemany counted once) and its commits."""

    updates_of_feed: list[tuple[str, bool, int]] = field(default_factory=list)  # (SQL, many, rows)
    commits: int = 0

    def executed(self, *args: Any) -> None:  # (conn, cursor, statement, parameters, context, executemany)
        statement, parameters, executemany = args[2], args[3], args[5]
        if statement.lstrip().upper().startswith("UPDATE FEED"):
            rows = len(parameters) if executemany else 1
            self.updates_of_feed.append((statement, executemany, rows))

    def committed(self, _conn: Any) -> None:
        self.commits += 1


@pytest.fixture
def statements(store: Store) -> Iterator[Statements]:
    """Counts what the store sends to its database from here on."""
    seen = Statements()
    event.listen(store._engine, "before_cursor_execute", seen.executed)
    event.listen(store._engine, "commit", seen.committed)
    try:
        yield seen
    finally:
        event.remove(store._engine, "before_cursor_execute", seen.executed)
        event.remove(store._engine, "commit", seen.committed)


def feed_config(name: str) -> FeedConfig:
    return FeedConfig(name=name, url=f"https://news.example/{name}.xml")


def not_modified(state: FeedState, now: datetime, etag: str | None = None) -> PollRecord:
    return PollRecord(
        feed=state.name,
        polled_at=now,
        outcome="not_modified",
        status=304,
        etag=etag,
        last_modified=None,
        error=None,
        consecutive_failures=0,
        next_poll=now + INTERVAL,
        redirected_to=None,
    )


def failed(name: str, now: datetime, failures: int) -> PollRecord:
    return PollRecord(
        feed=name,
        polled_at=now,
        outcome="error",
        status=503,
        etag='"old"',
        last_modified=None,
        error="HTTP 503 Service Unavailable",
        consecutive_failures=failures,
        next_poll=now + timedelta(hours=1),
        redirected_to=None,
    )


def states(store: Store) -> dict[str, FeedState]:
    return {state.name: state for state in store.feeds()}


# -- Store.record_polls --------------------------------------------------------------------------------


def test_record_polls_stores_every_feed_of_a_batch_with_one_statement_in_one_transaction(
    store: Store, statements: Statements
) -> None:
    names = [f"feed-{k}" for k in range(FEEDS)]
    store.sync_feeds([feed_config(name) for name in names], None, T0)
    store.record_poll(failed("feed-0", T0, failures=3))
    store.record_poll(failed("feed-1", T0, failures=1))
    before = states(store)
    now = T0 + timedelta(hours=1)
    batch = [not_modified(before[name], now, etag='"new"' if name == "feed-2" else None) for name in names]
    statements.updates_of_feed.clear()
    statements.commits = 0

    store.record_polls(batch)

    assert len(statements.updates_of_feed) == 1, "one UPDATE for the whole batch, not one per feed"
    (_, many, rows) = statements.updates_of_feed[0]
    assert (many, rows) == (True, FEEDS)
    assert statements.commits == 1
    after = states(store)
    for name in names:
        state = after[name]
        assert (state.last_polled, state.last_success, state.next_poll) == (now, now, now + INTERVAL)
        assert (state.last_outcome, state.last_status, state.last_error) == ("not_modified", 304, None)
        assert state.consecutive_failures == 0, "a 304 resets the failure count"
    assert after["feed-0"].etag == '"old"', "None validators keep the stored ones"
    assert after["feed-2"].etag == '"new"'
    assert after["feed-3"].etag is None


def test_record_polls_is_all_or_nothing(store: Store, statements: Statements) -> None:
    store.sync_feeds([feed_config("a"), feed_config("b")], None, T0)
    before = states(store)
    now = T0 + timedelta(minutes=10)
    batch = [not_modified(before["a"], now), failed("nowhere", now, 1), not_modified(before["b"], now)]
    with pytest.raises(KeyError, match="nowhere"):
        store.record_polls(batch)
    assert states(store) == before

    with pytest.raises(ValueError, match="outcome"):
        store.record_polls(
            [not_modified(before["a"], now), dataclasses.replace(failed("b", now, 1), outcome="?")]
        )
    assert states(store) == before
    statements.updates_of_feed.clear()
    statements.commits = 0
    store.record_polls([])
    assert (statements.updates_of_feed, statements.commits) == ([], 0), "an empty batch costs nothing"


def test_sync_feeds_writes_only_what_changed(store: Store, statements: Statements) -> None:
    """Each cycle of ``poll --once`` syncs the feeds first: unchanged feeds cost no write, and a
    change writes only its own columns (a validator recorded meanwhile is kept)."""
    configs = [feed_config(name) for name in ("a", "b", "c", "d")]
    store.sync_feeds(configs, None, T0)
    store.record_polls([not_modified(state, T0, etag=f'"{state.name}"') for state in store.feeds()])
    statements.updates_of_feed.clear()
    intervals = dict.fromkeys(("a", "b", "c", "d"), INTERVAL)
    store.sync_feeds(configs, intervals, T0 + timedelta(minutes=1))
    assert statements.updates_of_feed == [], "nothing changed: nothing written"

    before = states(store)
    changed = [
        FeedConfig(name="a", url=configs[0].url, tags=("india",)),
        FeedConfig(name="b", url="https://moved.example/b.xml"),
        configs[2],
    ]
    store.sync_feeds(changed, intervals, T0 + timedelta(minutes=2))
    assert len(statements.updates_of_feed) == 3, "one statement per set of changed columns"
    after = states(store)
    assert (after["a"].tags, after["a"].etag) == (("india",), '"a"')
    assert (after["b"].url, after["b"].etag, after["b"].next_poll) == (
        "https://moved.example/b.xml",
        None,
        T0 + timedelta(minutes=2),
    )
    assert after["c"] == before["c"]
    assert [state.name for state in store.feeds(include_inactive=True) if not state.active] == ["d"]


# -- whole cycles against a loopback server answering 304 --------------------------------------------


@dataclass
class Publisher:
    """One feed's route: its body with an ETag of its own; 304 on a matching If-None-Match;
    ``failing`` answers 503 instead."""

    body: bytes
    etag: str
    served: int = 0  # full (200) responses
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, exchange: Exchange) -> Reply:
        with self.lock:
            if self.failing:
                return Reply(503, b"busy\n")
            if exchange.headers.get("If-None-Match") == self.etag:
                return Reply(304, headers={"ETag": self.etag})
            self.served += 1
            return Reply(200, self.body, {**RSS_TYPE, "ETag": self.etag})


@dataclass
class Newsroom:
    """``FEEDS`` feeds on the loopback server, a store, and a poller of all of them."""

    publishers: dict[str, Publisher]
    poll: Poller
    store: Store


@pytest.fixture
def newsroom(http_server: LoopbackServer, store: Store, database_url: str, tmp_path: Path) -> Newsroom:
    publishers, urls = {}, {}
    for k in range(FEEDS):
        name = f"wire-{k}"
        entries = [Entry(f"{name}-{n}", f"Weather in Oslo, bulletin {k}.{n}") for n in range(3)]
        publishers[name] = Publisher(rss(*entries).encode(), f'"{name}-v1"')
        urls[name] = http_server.route(f"/{name}.xml", publishers[name])
    settings = write_settings(tmp_path / "settings.yaml", database_url, urls)
    return Newsroom(publishers, Poller(settings, store, Clock()), store)


def outcomes(summary: PollSummary) -> dict[str, str]:
    return {report.feed: report.outcome for report in summary.reports}


def record_calls(monkeypatch: pytest.MonkeyPatch, store: Store) -> tuple[list[str], list[list[str]]]:
    """Spy on the store: the feeds of each ``record_poll`` and each ``record_polls`` call."""
    singles: list[str] = []
    batches: list[list[str]] = []
    record_poll, record_polls = store.record_poll, store.record_polls

    def one(record: PollRecord) -> None:
        singles.append(record.feed)
        record_poll(record)

    def many(records: list[PollRecord]) -> None:
        batches.append(sorted(record.feed for record in records))
        record_polls(records)

    monkeypatch.setattr(store, "record_poll", one)
    monkeypatch.setattr(store, "record_polls", many)
    return singles, batches


def test_a_re_poll_answered_304_records_every_feed_in_one_batch_and_stores_nothing(
    newsroom: Newsroom, statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll, store = newsroom.poll, newsroom.store
    names = sorted(newsroom.publishers)
    assert set(outcomes(poll()).values()) == {"ok"}
    counts = store.counts()
    assert counts["items"] == 3 * FEEDS
    # One feed fails once, so the re-poll has a failure count to reset.
    newsroom.publishers["wire-1"].failing = True
    poll.clock.advance(INTERVAL)
    assert outcomes(poll())["wire-1"] == "error"
    assert states(store)["wire-1"].consecutive_failures == 1
    newsroom.publishers["wire-1"].failing = False

    singles, batches = record_calls(monkeypatch, store)
    statements.updates_of_feed.clear()
    statements.commits = 0
    now = poll.clock.advance(timedelta(hours=2))  # every feed due, the failing one's back-off over
    summary = poll()

    assert outcomes(summary) == dict.fromkeys(names, "not_modified")
    assert (summary.new_items, summary.hits) == (0, 0)
    assert (singles, batches) == ([], [names]), "one store call for the whole cycle"
    assert len(statements.updates_of_feed) == 1, "one UPDATE statement, whatever the number of feeds"
    assert statements.commits == 2, "the feeds' sync and the batch: no commit per feed"
    assert store.counts() == counts, "a 304 stores nothing"
    assert all(publisher.served == 1 for publisher in newsroom.publishers.values()), "no body fetched"
    for name, state in states(store).items():
        assert (state.last_polled, state.last_success, state.next_poll) == (now, now, now + INTERVAL), name
        assert (state.last_outcome, state.last_status, state.last_error) == ("not_modified", 304, None)
        assert state.consecutive_failures == 0
        assert state.etag == f'"{name}-v1"'


def test_feeds_with_new_items_are_stored_at_once_and_only_the_rest_is_batched(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll, store = newsroom.poll, newsroom.store
    poll()
    changed = newsroom.publishers["wire-2"]
    changed.body, changed.etag = rss(Entry("wire-2-new", "Snow expected in Bergen")).encode(), '"wire-2-v2"'
    singles, batches = record_calls(monkeypatch, store)
    poll.clock.advance(INTERVAL)
    summary = poll()
    assert outcomes(summary)["wire-2"] == "ok"
    assert summary.new_items == 1
    assert singles == ["wire-2"]
    assert batches == [sorted(set(newsroom.publishers) - {"wire-2"})]


def test_a_cycle_that_cannot_record_its_batch_keeps_the_new_items_and_polls_the_rest_again(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash (here: the database failing) before the batch is recorded loses only bookkeeping:
    the items of the feed that changed are stored, the other feeds keep their previous state and
    are due again, so the next cycle polls them again."""
    poll, store = newsroom.poll, newsroom.store
    poll()
    before = states(store)
    changed = newsroom.publishers["wire-4"]
    changed.body, changed.etag = rss(Entry("wire-4-new", "Rain in Bergen")).encode(), '"wire-4-v2"'

    def down(records: list[PollRecord]) -> None:
        raise StorageError("database down")

    monkeypatch.setattr(store, "record_polls", down)
    poll.clock.advance(INTERVAL)
    with pytest.raises(StorageError, match="down"):
        poll()
    monkeypatch.undo()

    after = states(store)
    assert store.counts()["items"] == 3 * FEEDS + 1, "the new item is stored"
    assert (after["wire-4"].etag, after["wire-4"].last_polled) == ('"wire-4-v2"', poll.clock())
    for name in set(before) - {"wire-4"}:
        assert after[name] == before[name], "the batch was lost: nothing else changed"
    assert {state.name for state in store.due_feeds(poll.clock())} == set(before) - {"wire-4"}
    assert set(outcomes(poll()).values()) == {"not_modified"}, "polled again, harmlessly"


def test_the_batch_is_recorded_when_the_cycle_stops_on_an_error(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever stops a cycle part-way (here a progress callback raising), the polls done so far
    are recorded before the error propagates."""
    poll, store = newsroom.poll, newsroom.store
    poll()
    singles, batches = record_calls(monkeypatch, store)
    done: list[str] = []

    def progress(report: FeedReport, due: int) -> None:
        done.append(report.feed)
        if len(done) == 3:
            raise RuntimeError("stop")

    config = poll.config
    matcher = Matcher(load_rules(config.rules))
    now = poll.clock.advance(INTERVAL)
    with pytest.raises(RuntimeError, match="stop"):
        asyncio.run(watcher.pipeline.poll(config, store, matcher, poll.clock, on_report=progress))
    assert (singles, batches) == ([], [sorted(done)])
    recorded = {name for name, state in states(store).items() if state.last_polled == now}
    assert recorded == set(done)


@pytest.mark.parametrize(("size", "seconds", "expected"), [(2, 60.0, [2, 2, 2]), (500, 0.0, [1] * FEEDS)])
def test_a_batch_is_recorded_once_full_or_old_enough(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch, size: int, seconds: float, expected: list[int]
) -> None:
    poll, store = newsroom.poll, newsroom.store
    poll()
    monkeypatch.setattr(watcher.pipeline, "BATCH_SIZE", size)
    monkeypatch.setattr(watcher.pipeline, "BATCH_SECONDS", seconds)
    _, batches = record_calls(monkeypatch, store)
    poll.clock.advance(INTERVAL)
    assert set(outcomes(poll()).values()) == {"not_modified"}
    assert [len(batch) for batch in batches] == expected
    assert sorted(name for batch in batches for name in batch) == sorted(newsroom.publishers)


def test_bodies_waiting_for_their_parse_are_bounded(
    newsroom: Newsroom, http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept-alive connections fetch far faster than feeds are parsed: a first poll holds at most
    ``BACKLOG_PER_CONNECTION`` bodies per connection, not every body of the cycle."""
    poll, store = newsroom.poll, newsroom.store
    config = poll.config
    matcher = Matcher(load_rules(config.rules))
    limits = FetchLimits(max_connections=1, max_per_host=1)
    real = watcher.pipeline._Parsers.parse

    async def run() -> tuple[int, PollSummary]:
        gate = asyncio.Event()

        async def held_back(self: watcher.pipeline._Parsers, result: FetchResult) -> object:
            await gate.wait()
            return await real(self, result)

        monkeypatch.setattr(watcher.pipeline._Parsers, "parse", held_back)
        cycle = asyncio.create_task(watcher.pipeline.poll(config, store, matcher, poll.clock, limits=limits))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(http_server.requests) >= watcher.pipeline.BACKLOG_PER_CONNECTION:
                break
        await asyncio.sleep(0.3)  # time enough to fetch every feed, were there no bound
        fetched = len(http_server.requests)
        gate.set()
        return fetched, await cycle

    fetched, summary = asyncio.run(run())
    assert fetched == watcher.pipeline.BACKLOG_PER_CONNECTION
    assert set(outcomes(summary).values()) == {"ok"}
    assert summary.new_items == 3 * FEEDS
