"""One poll cycle: due feeds -> fetch -> parse -> new items -> match -> hits and their dates, all stored.

Fetching is concurrent (asyncio, bounded by ``FetchLimits``); parsing runs in a process pool
once more than a few bodies arrived, since feedparser is CPU-bound and machines have several
cores. Fetching runs ahead of parsing by at most ``BACKLOG_PER_CONNECTION`` feeds per connection,
so a first poll never holds every body of the cycle in memory at once. Storage and matching stay
in this process, in the order feeds finish. One feed's failure is a value in its report, never an
exception that stops the cycle; a storage failure does stop it (nothing can be recorded), and it
is raised as ``StorageError``.

A feed whose body was usable has its new items stored at once, with their hits, in a transaction
of its own, then its poll recorded, as each feed finishes. A poll that brought nothing to store
(304 Not Modified, a failure, a body that is no feed) is only bookkeeping: its record (last poll,
outcome, status, failures, next poll, validators) waits in a batch, recorded in one transaction
with one UPDATE statement (``Store.record_polls``) at the end of the cycle, or sooner once
``BATCH_SIZE`` records have gathered or the oldest is ``BATCH_SECONDS`` old; a cycle stopped by an
error records it before the error propagates. A crash loses at most that batch, and losing it is
harmless: no item, hit or alert depends on it, and those feeds keep their previous state
(validators, schedule, failure count), so they are simply due again and polled again (by the
daemon once its claim on them is freed or expires). So a re-poll of 1,000 feeds all answering 304
costs its conditional GETs and a couple of transactions, not 1,000 commits.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context

from watcher.config import Config
from watcher.errors import StorageError
from watcher.events import update_event
from watcher.faults import fault_point
from watcher.fetch import Fetcher, FetchLimits, FetchRequest
from watcher.items import FeedRef
from watcher.matcher import Matcher
from watcher.parse import ParsedFeed, parse_feed
from watcher.records import FeedReport, FeedState, FetchResult, NewHit, PollRecord, PollSummary, StoredItem
from watcher.schedule import poll_record
from watcher.store import Store
from watcher.stories import STORY_WINDOW, Fingerprint, find_story, item_fingerprint
from watcher.timeline import hit_claims

log = logging.getLogger(__name__)

INLINE_PARSES = 3  # bodies parsed in this process before a pool is started
BACKLOG_PER_CONNECTION = 2  # feeds fetched or waiting for their parse, per connection allowed
BATCH_SIZE = 500  # poll records of feeds that brought nothing to store, recorded together...
BATCH_SECONDS = 5.0  # ...or once the oldest waiting one is this old (checked as each feed is done)
_STORY_JOINS = threading.Lock()


async def poll(
    config: Config,
    store: Store,
    matcher: Matcher,
    clock: Callable[[], datetime],
    *,
    feeds: Collection[str] | None = None,
    limits: FetchLimits | None = None,
    on_report: Callable[[FeedReport, int], None] | None = None,
    sync: bool = True,
) -> PollSummary:
    """Poll the due feeds (or exactly ``feeds``, due or not) once; store items and hits.

    ``on_report(report, due)`` is called as each feed is done, with the number of feeds due.
    ``sync``: first make the stored feeds match the config (the daemon does it once per load).
    """
    cycle = _Cycle(store, matcher, config)
    if sync:
        store.sync_feeds(config.feeds, cycle.intervals, clock())
    due = store.due_feeds(clock(), feeds)
    reports = []
    limits = limits or FetchLimits()
    # Bodies fetched and not parsed yet are held in memory: at most this many feeds are fetched or
    # waiting for their parse at once. Fetching (kept-alive connections) outruns parsing by far on
    # a first poll; without a bound it would hold every body of the cycle. A 304 frees its place
    # as soon as it is answered.
    backlog = asyncio.Semaphore(BACKLOG_PER_CONNECTION * limits.max_connections)
    with _Parsers() as parsers:
        async with Fetcher(limits) as fetcher:

            async def fetch_and_parse(
                state: FeedState,
            ) -> tuple[FeedState, FetchResult, ParsedFeed | str | None]:
                async with backlog:
                    result = await fetcher.fetch(
                        FetchRequest(state.name, state.url, state.etag, state.last_modified)
                    )
                    parsed = await parsers.parse(result) if result.outcome == "ok" else None
                return state, result, parsed

            # Feeds are fetched and parsed concurrently (parsing in the pool's processes); what they
            # brought is stored here, one feed at a time, in the order they finish.
            try:
                for finished in asyncio.as_completed([fetch_and_parse(state) for state in due]):
                    state, result, parsed = await finished
                    report = cycle.record(state, result, parsed, clock())
                    reports.append(report)
                    if on_report is not None:
                        on_report(report, len(due))
            except BaseException:
                # Record the polls done so far if the database still takes them; the error that
                # stopped the cycle is the one to report.
                with contextlib.suppress(StorageError):
                    cycle.flush()
                raise
            cycle.flush()
    return PollSummary(tuple(sorted(reports, key=lambda r: r.feed)))


def _unusable(parsed: ParsedFeed | str | None) -> str | None:
    """Why a fetched body cannot be used (it failed to parse, or is no feed); None if it can."""
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, ParsedFeed) and not parsed.is_feed:
        return f"not an RSS or Atom feed ({parsed.problem})" if parsed.problem else "not an RSS or Atom feed"
    return None


def _log_outcome(record: PollRecord) -> None:
    if record.outcome in ("error", "gone"):
        log.warning(
            "feed_failed feed=%s outcome=%s error=%s failures=%d next_poll=%s",
            record.feed,
            record.outcome,
            record.error,
            record.consecutive_failures,
            record.next_poll.isoformat(timespec="seconds"),
        )
    if record.redirected_to:
        log.warning("feed_moved feed=%s url=%s", record.feed, record.redirected_to)


def join_storyless(config: Config, store: Store, matcher: Matcher, now: datetime) -> int:
    """Join the stories of items hit in the story window but in no story (the daemon was killed
    after storing their hits, before joining them); return how many. Run at start-up."""
    items = store.storyless_hit_items(now - STORY_WINDOW)
    if items:
        _Cycle(store, matcher, config)._join_stories(items, now)
        log.warning("stories_recovered items=%d", len(items))
    return len(items)


class _Parsers:
    """Parses fetched bodies: the first few in this process, the rest in a pool of processes.

    Most cycles bring few bodies (the rest answer 304) and never pay the pool's start-up; a
    first poll of many feeds parses on both cores.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._inline = INLINE_PARSES

    def __enter__(self) -> "_Parsers":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    async def parse(self, result: FetchResult) -> ParsedFeed | str:
        """The parsed document, or why it could not be parsed."""
        assert result.body is not None
        try:
            if self._pool is None and self._inline > 0:
                self._inline -= 1
                return parse_feed(result.body, result.headers, result.final_url)
            if self._pool is None:
                # forkserver: no fork of a process with running threads.
                self._pool = ProcessPoolExecutor(max_workers=2, mp_context=get_context("forkserver"))
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._pool, parse_feed, result.body, result.headers, result.final_url
            )
        except Exception as e:  # hostile input that breaks the parser is that feed's failure, not ours
            return f"the feed could not be parsed ({type(e).__name__}: {e})"


class _Cycle:
    """Stores what each fetched feed brought, and its new schedule."""

    def __init__(self, store: Store, matcher: Matcher, config: Config) -> None:
        self.store = store
        self.matcher = matcher
        self.intervals: dict[str, timedelta] = {feed.name: config.interval(feed) for feed in config.feeds}
        self.tags = {feed.name: frozenset(feed.tags) for feed in config.feeds}
        self.fingerprints: dict[int, Fingerprint] = {}  # by item id, for story grouping
        self.batch: list[PollRecord] = []  # records of polls that stored nothing, not recorded yet
        self._batch_started = 0.0  # time.monotonic() of the batch's first record

    def record(
        self, state: FeedState, result: FetchResult, parsed: ParsedFeed | str | None, now: datetime
    ) -> FeedReport:
        """Store what one fetch brought, in order: new items with their hits and the dates these
        state (one transaction), their stories, the events of rules whose new hits state dates,
        then the poll's outcome and the feed's next poll.

        A poll that brought nothing to store (304, failure, unusable body) is not recorded here
        but added to the batch (see the module's docstring), recorded by ``flush``.
        """
        error = _unusable(parsed)
        new_items = hits = 0
        usable = isinstance(parsed, ParsedFeed) and error is None
        if isinstance(parsed, ParsedFeed) and error is None:
            if parsed.problem:
                log.warning(
                    "feed_malformed feed=%s problem=%s items=%d",
                    state.name,
                    parsed.problem,
                    len(parsed.items),
                )
            stored, found, hits = self._store_new_items(state.name, parsed, now)
            new_items = len(stored)
            hit_items = {hit.item for hit in found}
            self._join_stories([entry for entry in stored if entry.id in hit_items], now)
            for rule in sorted({hit.rule for hit in found if hit.dates}):
                update_event(self.store, rule, now)
        record = poll_record(state, result, self.intervals[state.name], now, error)
        if usable:
            self.store.record_poll(record)
        else:
            self._add_to_batch(record)
        _log_outcome(record)
        return FeedReport(state.name, record.outcome, new_items, hits, record.error, record.redirected_to)

    def _add_to_batch(self, record: PollRecord) -> None:
        if not self.batch:
            self._batch_started = time.monotonic()
        self.batch.append(record)
        if len(self.batch) >= BATCH_SIZE or time.monotonic() - self._batch_started >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Record the batched polls, in one transaction."""
        batch, self.batch = self.batch, []
        if batch:
            self.store.record_polls(batch)

    def _store_new_items(
        self, feed: str, parsed: ParsedFeed, now: datetime
    ) -> tuple[list[StoredItem], list[NewHit], int]:
        """Store the feed's new items and their hits together, so that a crash cannot leave items
        "seen" whose hits were never stored; the store calls ``match`` with the new items only,
        inside its transaction. Returns the new items, their hits, and how many hits were new."""
        ref = FeedRef(feed, self.tags.get(feed, frozenset()))
        found: list[NewHit] = []

        def match(new: Sequence[StoredItem]) -> list[NewHit]:
            found.extend(self._match(new, ref))
            fault_point("poll_matched")
            return found

        stored, hits = self.store.add_matched_items(feed, parsed.items, now, match)
        fault_point("poll_stored")
        return stored, found, hits

    def _match(self, items: Sequence[StoredItem], feed: FeedRef) -> list[NewHit]:
        """The hits of newly stored items, each with the dates its item states near its terms."""
        return [
            NewHit(
                match.rule_id,
                entry.id,
                match.score,
                match.terms,
                match.hits,
                hit_claims(entry.item, match.hits, entry.fetched_at),
            )
            for entry in items
            for match in self.matcher.match(entry.item, feed)
        ]

    def _join_stories(self, items: list[StoredItem], now: datetime) -> None:
        """Put each newly hit item in the story of a near-duplicate from another outlet, else a new one.

        One join at a time in a process: two outlets' reports polled at once by the daemon's
        threads would otherwise each look for the other before either had a story.
        """
        with _STORY_JOINS:
            self._join_each(items, now)

    def _join_each(self, items: list[StoredItem], now: datetime) -> None:
        for entry in items:
            candidates = [
                (story, self._fingerprint(other))
                for story, other in self.store.story_candidates(entry.id, now - STORY_WINDOW)
            ]
            story = find_story(self._fingerprint(entry), candidates)
            joined = self.store.join_story(entry.id, entry.id if story is None else story)
            if story is not None:
                log.info(
                    "story_joined feed=%s item=%d story=%d alerted_before=%d",
                    entry.feed,
                    entry.id,
                    story,
                    joined,
                )

    def _fingerprint(self, entry: StoredItem) -> Fingerprint:
        found = self.fingerprints.get(entry.id)
        if found is None:
            found = self.fingerprints[entry.id] = item_fingerprint(entry.item)
        return found
