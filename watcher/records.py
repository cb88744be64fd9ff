"""Frozen value types that several layers share: what a poll did, what the store keeps and returns.

They live here, below every module that makes or reads them, so that the matcher, the pipeline,
the outbox, the health endpoint and the CLI can pass them around without importing each other or
the database: ``watcher.store`` turns its rows into these and takes these to write.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from watcher.items import Item

if TYPE_CHECKING:  # compiling the date grammar is for those that read dates, not every store user
    from watcher.dates import DateClaim, Precision

Outcome = Literal["ok", "not_modified", "gone", "error"]  # of a poll: fetch, then store
Mark = Literal["good", "bad"]  # a user's judgement of a hit: relevance feedback
MARKS: Final[tuple[Mark, ...]] = get_args(Mark)
OUTCOMES: Final = frozenset(get_args(Outcome))
# pending: not tried yet; failed: tried, to retry at next_attempt; dead: given up; sent: delivered.
DELIVERY_STATES: Final = ("pending", "failed", "dead", "sent")


@dataclass(frozen=True, slots=True)
class TermHit:
    """Where a term matched: offsets into the field's plain text (``watcher.text.plain_text``)."""

    term: str
    field: str
    start: int
    end: int
    text: str
    edits: int


@dataclass(frozen=True)
class FeedState:
    """A feed as stored: its configuration, HTTP validators and health."""

    name: str
    url: str
    tags: tuple[str, ...]
    active: bool  # False once removed from the config (its items and hits are kept)
    etag: str | None
    last_modified: str | None
    last_polled: datetime | None
    last_success: datetime | None
    last_outcome: str | None  # "ok" | "not_modified" | "gone" | "error"
    last_status: int | None  # HTTP status
    last_error: str | None
    consecutive_failures: int
    next_poll: datetime
    gone: bool
    redirected_to: str | None  # a permanent redirect seen, reported to the user


@dataclass(frozen=True)
class PollRecord:
    """What one poll of one feed changed."""

    feed: str
    polled_at: datetime
    outcome: str  # one of OUTCOMES
    status: int | None
    etag: str | None  # None: keep the stored validators
    last_modified: str | None
    error: str | None
    consecutive_failures: int
    next_poll: datetime
    redirected_to: str | None


@dataclass(frozen=True)
class StoredItem:
    """An item as stored; ``item.id`` is its per-feed key, ``id`` its database id."""

    id: int
    feed: str
    item: Item
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class FieldClaim:
    """A date a hit's item states near the rule's matched terms, and the field it is in."""

    field: str  # title, summary or content
    claim: "DateClaim"


@dataclass(frozen=True)
class NewHit:
    """A rule matching a stored item, to store (with the dates it states, stored with it)."""

    rule: str
    item: int  # database id of the item
    score: int
    terms: tuple[str, ...]
    hits: tuple[TermHit, ...]
    dates: tuple[FieldClaim, ...] = ()


@dataclass(frozen=True)
class StoredHit:
    """A hit as stored."""

    id: int
    rule: str
    item: int
    score: int
    terms: tuple[str, ...]
    hits: tuple[TermHit, ...]
    created_at: datetime
    mark: Mark | None = None  # the user's judgement (``hits mark``)


@dataclass(frozen=True)
class DateReport:
    """A stored hit as the event timeline reads it: who reported what about when, and at what time."""

    rule: str
    hit: int
    item: int
    feed: str
    outlet: str  # the feed's own title, else the feed's name
    title: str
    link: str | None
    published: datetime
    fetched_at: datetime
    claims: tuple[FieldClaim, ...]  # title first, then summary, then content; each in text order


@dataclass(frozen=True, slots=True)
class EventDate:
    """When an event is: the dates of a claim (inclusive) and how precisely they were stated."""

    start: date
    end: date
    precision: "Precision"


@dataclass(frozen=True)
class EventState:
    """A rule's event estimate as last stored: what the timeline compares a new estimate with."""

    rule: str
    date: EventDate
    text: str  # as its first reporter wrote it
    changed_at: datetime  # when it was stored


@dataclass(frozen=True)
class StoredAlert:
    """An alert as stored: its rule, when it was made, whether a digest, and for a date-change
    alert what the change says (``alerts.DateChange.to_json``); None for an alert of hits."""

    rule: str
    created_at: datetime
    digest: bool
    change: dict[str, Any] | None


@dataclass(frozen=True)
class PendingRule:
    """A rule with hits not alerted yet: what grouping needs to decide when they are sent."""

    rule: str
    first_pending: datetime  # when the oldest pending hit was stored
    last_alert: datetime | None  # when the rule's last alert was made (cooldown)
    hits: int


@dataclass(frozen=True)
class AlertHit:
    """A hit of an alert with its item and the item's story (its first item's id)."""

    hit: StoredHit
    item: StoredItem
    story: int


@dataclass(frozen=True)
class Delivery:
    """One (alert, target) delivery in the outbox."""

    id: int
    alert: int
    rule: str
    target: str
    state: str  # one of DELIVERY_STATES
    attempts: int
    created_at: datetime
    next_attempt: datetime
    first_attempt: datetime | None
    last_error: str | None
    sent_at: datetime | None


HitOrder = Literal["newest", "oldest", "score"]


@dataclass(frozen=True)
class HitQuery:
    """Which stored hits ``Store.hits`` returns, in which order."""

    rules: tuple[str, ...] = ()  # any of these rule ids (empty: all)
    feeds: tuple[str, ...] = ()  # any of these feed names (empty: all)
    since: datetime | None = None  # hit created_at >= since (aware)
    until: datetime | None = None  # hit created_at < until (aware)
    search: str | None = None  # case-insensitive substring of item title or summary
    order: HitOrder = "newest"
    limit: int | None = 100  # None: all (exports stream them)


@dataclass(frozen=True)
class HitRecord:
    """A stored hit with what a listing shows of its item."""

    id: int
    rule: str
    score: int
    terms: tuple[str, ...]
    created_at: datetime
    item_id: int
    feed: str
    title: str
    link: str | None
    source: str | None
    published: datetime
    story_id: int | None
    alert_id: int | None


@dataclass(frozen=True)
class HitDetail:
    """One hit in full: its item with its text, the other items of its story, its alert's deliveries."""

    hit: StoredHit
    item: StoredItem
    story_id: int  # the story's first item's id (the item's own id when it was never grouped)
    story: tuple[StoredItem, ...]  # the story's other items, first published first
    alert_id: int | None  # None while the hit is pending
    deliveries: tuple[Delivery, ...]  # of its alert, oldest first


@dataclass(frozen=True)
class StorySummary:
    """One story (items of several outlets about one event) with hits in a period."""

    id: int  # the story's first item's id
    headline: str  # the title of its first item
    outlets: tuple[str, ...]  # each item's source (the feed's own title, else the feed name), in order seen
    feeds: tuple[str, ...]  # the feeds of its items, in order seen
    first_seen: datetime  # when its first item was fetched
    last_seen: datetime  # when its last item was fetched
    hits: int  # hits of the period (and rules) asked for
    rules: tuple[str, ...]  # the rules of those hits, by id


@dataclass(frozen=True)
class RecordedHit:
    """A stored hit as a backtest compares it: which rule hit which item, with what, and the
    user's judgement of it."""

    item: int
    rule: str
    score: int
    terms: tuple[str, ...]
    mark: Mark | None = None


@dataclass(frozen=True)
class PruneReport:
    """What ``Store.prune`` deleted (or, on a dry run, would delete) and what it kept."""

    older_than: datetime
    items: int  # items deleted: fetched before the cutoff, no hit (left)
    hits: int  # hits deleted (only when asked)
    alerts: int  # alerts deleted once all their hits were gone
    deliveries: int  # sent or dead deliveries of those alerts
    kept_hits: int  # hits older than the cutoff kept: all without ``hits``, else the pending ones
    dry_run: bool


@dataclass(frozen=True)
class VacuumReport:
    """What ``Store.vacuum`` ran, and the size of the database (SQLite) or of summit-watch's
    tables (PostgreSQL) before and after, in bytes."""

    backend: str  # "sqlite" | "postgresql"
    statements: tuple[str, ...]
    size_before: int | None
    size_after: int | None


@dataclass(frozen=True)
class FeedReport:
    """What polling one feed did."""

    feed: str
    outcome: str  # ok, not_modified, gone, error
    new_items: int
    hits: int
    error: str | None
    redirected_to: str | None


@dataclass(frozen=True)
class PollSummary:
    """What a poll cycle did, feed by feed."""

    reports: tuple[FeedReport, ...]

    def count(self, outcome: str) -> int:
        """How many feeds ended with ``outcome``."""
        return sum(report.outcome == outcome for report in self.reports)

    @property
    def new_items(self) -> int:
        return sum(report.new_items for report in self.reports)

    @property
    def hits(self) -> int:
        return sum(report.hits for report in self.reports)


@dataclass(frozen=True)
class FetchResult:
    """What a fetch found, ready to store and report.

    ``etag`` and ``last_modified`` are always the ones to store for next time: the new ones after
    "ok" (or a 304 that sends some), else the request's own. ``permanent_redirect`` is set when a
    final (non-redirect) response was reached through 301/308 redirects only. ``elapsed`` counts
    from the call, so it includes any wait for a free connection.
    """

    feed: str
    url: str
    outcome: Outcome
    status: int | None
    body: bytes | None
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    final_url: str
    permanent_redirect: str | None
    retry_after: timedelta | None
    error: str | None
    elapsed: float
