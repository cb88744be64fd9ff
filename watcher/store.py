"""The database: feeds with their HTTP validators and health, items, hits. SQLite or PostgreSQL.

The tables are SQLModel classes private to this module; callers get and give frozen dataclasses,
so no ORM row (with its session, lazy loading and mutability) leaks into the rest of the program.
The schema is managed by Alembic: the migration scripts live in ``watcher/migrations`` (inside
the package, so an installed copy can upgrade its own database). ``Store.open`` upgrades an empty
database itself and refuses an outdated one.

Deduplication: ``seen`` records every (feed, key) ever stored and is never pruned. Inserting
into it with ON CONFLICT DO NOTHING is the one test of "new", atomic even when several daemons
share a PostgreSQL database; ``item`` holds the text of the items not pruned yet.
"""

import dataclasses
import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Index,
    MetaData,
    Row,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exists,
    func,
    inspect,
    literal_column,
    or_,
    text,
    update,
)
from sqlalchemy import (
    select as core_select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import registry
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Field, Session, SQLModel, col, select

from watcher.config import FeedConfig
from watcher.errors import SchemaOutdatedError, StorageError
from watcher.history import period_bounds
from watcher.items import FeedRef, Item
from watcher.records import (
    DELIVERY_STATES,
    OUTCOMES,
    AlertHit,
    Delivery,
    FeedState,
    HitDetail,
    HitQuery,
    HitRecord,
    NewHit,
    PendingRule,
    PollRecord,
    PruneReport,
    RecordedHit,
    StoredHit,
    StoredItem,
    StorySummary,
    TermHit,
    VacuumReport,
)

MIGRATIONS: Final = Path(__file__).parent / "migrations"
_DUE_STATES: Final = ("pending", "failed")

# Named constraints let Alembic's batch mode (SQLite's ALTER TABLE by copy) drop and recreate them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_KEY_BYTES: Final = 250  # longer item ids are stored as a hash: PostgreSQL cannot index ~2.7 kB keys
_MIGRATION_LOCK: Final = 0x5357_0001  # pg_advisory_xact_lock id: one daemon migrates at a time
_SUCCESS: Final = frozenset({"ok", "not_modified"})


_BATCH: Final = 1000  # rows fetched at a time by a streamed backtest

# -- tables --------------------------------------------------------------------------------------


class _Row(SQLModel, registry=registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))):
    """Base of the tables: metadata of their own, so no other SQLModel table joins the migrations."""


METADATA: Final = _Row.metadata


class _FeedRow(_Row, table=True):
    __tablename__ = "feed"

    name: str = Field(primary_key=True)
    url: str
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = None
    last_success: datetime | None = None
    last_outcome: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime
    gone: bool = False
    redirected_to: str | None = None
    claimed_by: str | None = None  # the daemon ("host:pid") polling it now, until next_poll


def _param(name: str, column: str) -> BindParameter[Any]:
    return bindparam(name, type_=_FEED_TABLE.c[column].type)


_FEED_TABLE: Table = _FeedRow.__table__  # type: ignore[attr-defined]
# One statement, compiled once, for every poll recorded: None validators keep the stored ones.
_RECORD_POLL = (
    update(_FEED_TABLE)
    .where(_FEED_TABLE.c.name == bindparam("feed"))
    .values(
        last_polled=_param("polled_at", "last_polled"),
        last_outcome=_param("outcome", "last_outcome"),
        last_status=_param("status", "last_status"),
        last_error=_param("error", "last_error"),
        consecutive_failures=_param("failures", "consecutive_failures"),
        next_poll=_param("next_poll", "next_poll"),
        gone=_param("gone", "gone"),
        etag=func.coalesce(_param("etag", "etag"), _FEED_TABLE.c.etag),
        last_modified=func.coalesce(_param("last_modified", "last_modified"), _FEED_TABLE.c.last_modified),
        last_success=func.coalesce(_param("success_at", "last_success"), _FEED_TABLE.c.last_success),
        redirected_to=case(
            (_param("replace_redirect", "gone"), _param("redirected_to", "redirected_to")),
            else_=func.coalesce(_param("redirected_to", "redirected_to"), _FEED_TABLE.c.redirected_to),
        ),
        claimed_by=None,
    )
)


class _ItemRow(_Row, table=True):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("feed", "key"),
        {"sqlite_autoincrement": True},  # ids of pruned items are never reused
    )

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(foreign_key="feed.name")
    key: str  # ``entry_id``, or its hash when too long to index
    entry_id: str  # Item.id: the entry's guid, else its link, else a content hash
    link: str | None = None
    title: str
    summary: str
    content: str
    source: str | None = None  # the feed's own title
    published: datetime = Field(index=True)
    fetched_at: datetime = Field(index=True)
    story_id: int | None = Field(default=None, index=True)  # the id of the story's first item


class _SeenRow(_Row, table=True):
    __tablename__ = "seen"

    feed: str = Field(primary_key=True, foreign_key="feed.name")
    key: str = Field(primary_key=True)


class _HitRow(_Row, table=True):
    __tablename__ = "hit"
    __table_args__ = (
        # item_id first: the same index serves "the hits of an item" (pruning, `hits show`).
        UniqueConstraint("item_id", "rule_id"),
        Index(None, "rule_id", "created_at"),
        Index(None, "score", "created_at"),  # `hits --sort score`: best first without sorting every hit
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str
    item_id: int = Field(foreign_key="item.id")  # no cascade: items with hits are never pruned
    score: int
    terms: list[str] = Field(default_factory=list, sa_type=JSON)
    hits: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(index=True)
    # The alert carrying the hit; None while pending. A hit on a story that already alerted for
    # its rule joins that alert (history only: nothing is sent again).
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)


class _AlertRow(_Row, table=True):
    __tablename__ = "alert"
    __table_args__ = (Index(None, "rule_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str
    created_at: datetime
    digest: bool = False


class _DeliveryRow(_Row, table=True):
    """One (alert, target) delivery: stored before it is sent, so nothing pending is ever lost."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("alert_id", "target"), Index(None, "state", "next_attempt"))

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    target: str
    state: str  # one of DELIVERY_STATES
    attempts: int = 0
    created_at: datetime
    next_attempt: datetime
    first_attempt: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    claimed_until: datetime | None = None  # a dispatcher is sending it until then
    claimed_by: str | None = None  # which dispatcher ("host:pid"), so a restart can free its claims


_FEED: Final[Table] = METADATA.tables["feed"]
_ITEM: Final[Table] = METADATA.tables["item"]
_SEEN: Final[Table] = METADATA.tables["seen"]
_HIT: Final[Table] = METADATA.tables["hit"]
_ALERT: Final[Table] = METADATA.tables["alert"]
_DELIVERY: Final[Table] = METADATA.tables["delivery"]


# -- engine and migrations -------------------------------------------------------------------


def database_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` means psycopg 3 (the driver summit-watch installs)."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(f"{url!r} is not a database URL (sqlite:///PATH or postgresql://...)") from e
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"database {mask(parsed)}: only SQLite (sqlite:///PATH) and PostgreSQL (postgresql://...) "
            "are supported"
        )
    return parsed


def mask(url: URL) -> str:
    """The URL with its password hidden, fit for messages and logs."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, a busy timeout and foreign keys."""
    parsed = database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            _make_parent_directory(parsed)
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True)  # survives a PostgreSQL restart
    except NoSuchModuleError as e:
        raise StorageError(f"database {mask(parsed)}: no driver for {parsed.drivername}") from e
    except ImportError as e:
        raise StorageError(
            f"database {mask(parsed)}: {e} (install summit-watch[postgres] for PostgreSQL)"
        ) from e


def _make_parent_directory(url: URL) -> None:
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"database {mask(url)}: cannot create its directory: {e}") from e


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Readers never block the writer (WAL); a locked database is retried for 5 s, not failed."""
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout=5000", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def migrations_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the package's migrations, to run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))  # ini interpolation
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# -- the store ------------------------------------------------------------------------------


class Store:
    """The database of one summit-watch installation. Each method is one transaction."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self.name = mask(self._engine.url)  # for messages: the password masked

    @classmethod
    def open(cls, url: str) -> Self:
        """The store, its schema checked: an empty database is created, an outdated one refused."""
        store = cls(url)
        try:
            with store._errors(), store._engine.connect() as connection:
                current = _current_revision(connection)
                tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
            head = store._script().get_current_head()
            if current != head:
                if current is not None or tables:
                    raise store._outdated(current)
                store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to this version's; return the revisions before and after."""
        with self._errors(), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            before = _current_revision(connection)
            script = self._script()
            if before is not None and before not in {s.revision for s in script.walk_revisions()}:
                raise self._outdated(before)
            command.upgrade(migrations_config(connection), "head")
            after = _current_revision(connection)
        assert after is not None
        return before, after

    def revision(self) -> str | None:
        """The database's schema revision (None: no summit-watch schema)."""
        with self._errors(), self._engine.connect() as connection:
            return _current_revision(connection)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- feeds -------------------------------------------------------------------------------

    def sync_feeds(
        self, feeds: Sequence[FeedConfig], intervals: Mapping[str, timedelta] | None, now: datetime
    ) -> None:
        """Make the stored feeds match the config; feeds removed from it become inactive, never deleted.

        A new feed is due ``now``. A changed URL forgets the old one's validators, failures,
        redirect and "gone", and is polled ``now``. ``intervals`` (by feed name) bring a healthy
        feed's next poll forward to its last poll plus its interval if that is sooner (an
        interval made shorter takes effect at once); a failing feed keeps its back-off.
        """
        _check_aware(now, "now")
        wanted = {feed.name: feed for feed in feeds}
        with self._errors(), Session(self._engine) as session, session.begin():
            for row in session.exec(select(_FeedRow)):
                feed = wanted.pop(row.name, None)
                if feed is None:
                    row.active = False
                    continue
                row.active = True
                if list(feed.tags) != row.tags:
                    row.tags = list(feed.tags)
                if feed.url != row.url:
                    row.url = feed.url
                    row.etag = row.last_modified = row.redirected_to = None
                    row.consecutive_failures = 0
                    row.gone = False
                    row.next_poll = now
                interval = (intervals or {}).get(row.name)
                if interval is not None and row.last_polled is not None and row.consecutive_failures == 0:
                    row.next_poll = min(row.next_poll, row.last_polled + interval)
            if wanted:  # DO NOTHING: another daemon starting at the same time may add them first
                new = [
                    {"name": f.name, "url": f.url, "tags": list(f.tags), "active": True, "next_poll": now}
                    for f in wanted.values()
                ]
                session.exec(self._insert_new(_FEED), params=new)

    def feeds(self, *, include_inactive: bool = False) -> list[FeedState]:
        """The feeds by name; those removed from the config only with ``include_inactive``."""
        query = select(_FeedRow).order_by(col(_FeedRow.name))
        if not include_inactive:
            query = query.where(col(_FeedRow.active))
        with self._errors(), Session(self._engine) as session:
            return [_feed_state(row) for row in session.exec(query)]

    def due_feeds(self, now: datetime, names: Collection[str] | None = None) -> list[FeedState]:
        """Active feeds not gone whose next poll is due, most overdue first.

        With ``names`` (``poll --once``, ``poll --feed``): those feeds whatever their next poll;
        a gone feed is polled again only after its URL changes in the config.
        """
        _check_aware(now, "now")
        query = select(_FeedRow).where(col(_FeedRow.active), ~col(_FeedRow.gone))
        if names is None:
            query = query.where(col(_FeedRow.next_poll) <= now)
        else:
            query = query.where(col(_FeedRow.name).in_(list(names)))
        query = query.order_by(col(_FeedRow.next_poll), col(_FeedRow.name))
        with self._errors(), Session(self._engine) as session:
            return [_feed_state(row) for row in session.exec(query)]

    def claim_feed(self, name: str, now: datetime, lease: timedelta, owner: str | None = None) -> bool:
        """Take the poll of feed ``name`` for ``owner`` if it is due at ``now``: its next poll moves
        to ``now + lease`` until the poll is recorded. False: not due (backing off) or another
        daemon took it."""
        _check_aware(now, "now")
        query = (
            update(_FEED_TABLE)
            .where(
                _FEED_TABLE.c.name == name,
                _FEED_TABLE.c.active,
                ~_FEED_TABLE.c.gone,
                _FEED_TABLE.c.next_poll <= now,
            )
            .values(next_poll=now + lease, claimed_by=owner)
        )
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount == 1

    def next_poll(self, name: str) -> datetime | None:
        """When feed ``name`` is due (None: no such active feed, or gone)."""
        query = select(_FEED_TABLE.c.next_poll).where(
            _FEED_TABLE.c.name == name, _FEED_TABLE.c.active, ~_FEED_TABLE.c.gone
        )
        with self._errors(), self._engine.connect() as connection:
            found: datetime | None = connection.execute(query).scalar_one_or_none()
        return found

    def feed_claimants(self, now: datetime) -> set[str]:
        """The daemons holding a feed's poll at ``now``."""
        query = (
            select(_FEED_TABLE.c.claimed_by)
            .where(_FEED_TABLE.c.claimed_by.is_not(None), _FEED_TABLE.c.next_poll > now)
            .distinct()
        )
        with self._errors(), self._engine.connect() as connection:
            return {owner for owner in connection.execute(query).scalars() if owner is not None}

    def release_feed_claims(self, owners: Collection[str], now: datetime, *, feed: str | None = None) -> int:
        """Make the polls claimed by ``owners`` (daemons killed mid-poll, or this one after a poll
        it could not store), or only that of ``feed``, due at ``now``; return how many. Their
        items were not stored (items and hits commit together): the next poll fetches them again."""
        _check_aware(now, "now")
        query = (
            update(_FEED_TABLE)
            .where(_FEED_TABLE.c.claimed_by.in_(list(owners)), _FEED_TABLE.c.next_poll > now)
            .values(next_poll=now, claimed_by=None)
        )
        if feed is not None:
            query = query.where(_FEED_TABLE.c.name == feed)
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def record_poll(self, record: PollRecord) -> None:
        """Store the outcome of a poll.

        Validators given as None keep the stored ones. A successful poll (ok, not modified)
        replaces the redirect seen with this poll's (None: the redirect is gone); a failed one
        keeps it unless it saw a new one. "gone" marks the feed gone, any other outcome clears it.
        """
        if record.outcome not in OUTCOMES:
            raise ValueError(f"unknown poll outcome {record.outcome!r} (expected one of {sorted(OUTCOMES)})")
        _check_aware(record.polled_at, "polled_at")
        _check_aware(record.next_poll, "next_poll")
        success = record.outcome in _SUCCESS
        parameters = {
            "feed": record.feed,
            "polled_at": record.polled_at,
            "outcome": record.outcome,
            "status": record.status,
            "error": record.error,
            "failures": record.consecutive_failures,
            "next_poll": record.next_poll,
            "gone": record.outcome == "gone",
            "etag": record.etag,
            "last_modified": record.last_modified,
            "success_at": record.polled_at if success else None,
            # A success replaces the redirect seen (None: gone); a failure keeps the old one.
            "replace_redirect": success,
            "redirected_to": record.redirected_to,
        }
        with self._errors(), self._engine.begin() as connection:
            if connection.execute(_RECORD_POLL, parameters).rowcount != 1:
                raise KeyError(f"no feed named {record.feed!r} in {self.name}")

    # -- items and hits ----------------------------------------------------------------------

    def add_items(self, feed: str, items: Sequence[Item], fetched_at: datetime) -> list[StoredItem]:
        """Store the items of ``feed`` never seen before and return them, in the given order.

        An item is new once per feed, by ``Item.id`` (guid, else link, else content hash): an
        item seen before, even one pruned since, is never new again, and of entries sharing an
        id in one batch only the first is stored. An edited item (same id, new title or text)
        is not new: it is not stored again nor matched again, and the stored text stays that
        of its first version, so an outlet retouching a headline never repeats an alert.

        A missing published time becomes ``fetched_at``; times are stored and returned in UTC.
        NUL characters, which PostgreSQL text cannot hold, are dropped.
        """
        stored, _ = self.add_matched_items(feed, items, fetched_at, lambda new: ())
        return stored

    def add_matched_items(
        self,
        feed: str,
        items: Sequence[Item],
        fetched_at: datetime,
        match: Callable[[Sequence[StoredItem]], Iterable[NewHit]],
    ) -> tuple[list[StoredItem], int]:
        """Store the new items of ``feed`` (as ``add_items``) and their hits in one transaction;
        return the new items and how many hits were stored.

        ``match`` is called inside the transaction with the new items and returns their hits.
        Marking an item seen and storing its hits are one step: a crash or a storage error in
        between rolls both back, so the items are new again at the next poll and their alerts
        are never lost.
        """
        _check_aware(fetched_at, "fetched_at")
        batch: dict[str, Item] = {}
        for item in items:
            clean = _clean_item(item, fetched_at)
            batch.setdefault(_key(clean.id), clean)
        if not batch:
            return [], 0
        with self._errors(), self._engine.begin() as connection:
            claim = self._insert_new(_SEEN).returning(_SEEN.c.key)
            new = set(connection.execute(claim, [{"feed": feed, "key": key} for key in batch]).scalars())
            if not new:
                return [], 0
            rows = [_item_values(feed, key, item, fetched_at) for key, item in batch.items() if key in new]
            inserted = connection.execute(_ITEM.insert().returning(*_ITEM.c), rows).mappings().all()
            by_key = {row["key"]: _stored_item(row) for row in inserted}
            stored = [by_key[key] for key in batch if key in by_key]
            hits = self._insert_hits(connection, match(stored), fetched_at)
        return stored, hits

    def item(self, id: int) -> StoredItem | None:
        """The stored item with database id ``id`` (None: no such item, or pruned)."""
        with self._errors(), self._engine.connect() as connection:
            row = connection.execute(_ITEM.select().where(_ITEM.c.id == id)).mappings().one_or_none()
        return None if row is None else _stored_item(row)

    def add_hits(self, hits: Iterable[NewHit], now: datetime) -> int:
        """Store hits, each (rule, item) once: a repeated one is skipped. Return how many were new."""
        with self._errors(), self._engine.begin() as connection:
            return self._insert_hits(connection, hits, now)

    def _insert_hits(self, connection: Connection, hits: Iterable[NewHit], now: datetime) -> int:
        _check_aware(now, "now")
        rows = {
            (hit.rule, hit.item): {
                "rule_id": hit.rule,
                "item_id": hit.item,
                "score": hit.score,
                "terms": list(hit.terms),
                "hits": [dataclasses.asdict(term_hit) for term_hit in hit.hits],
                "created_at": now,
            }
            for hit in reversed(list(hits))  # the first of duplicates wins
        }
        if not rows:
            return 0
        insert = self._insert_new(_HIT).returning(_HIT.c.id)
        return len(connection.execute(insert, list(rows.values())).all())

    def item_hits(self, item: int) -> list[StoredHit]:
        """The hits of one item, oldest first."""
        query = _HIT.select().where(_HIT.c.item_id == item).order_by(_HIT.c.created_at, _HIT.c.id)
        with self._errors(), self._engine.connect() as connection:
            return [_stored_hit(row) for row in connection.execute(query).mappings()]

    def prune_items(self, older_than: datetime) -> int:
        """Delete items fetched before ``older_than`` that no rule hit; return how many.

        Their keys stay in ``seen``, so a pruned item still in its feed is not new again.
        """
        _check_aware(older_than, "older_than")
        query = delete(_ITEM).where(
            _ITEM.c.fetched_at < older_than, ~exists().where(_HIT.c.item_id == _ITEM.c.id)
        )
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def counts(self) -> dict[str, int]:
        """How many active feeds, stored items and hits there are, for summaries."""
        queries = {
            "feeds": select(func.count()).select_from(_FEED).where(_FEED.c.active),
            "items": select(func.count()).select_from(_ITEM),
            "hits": select(func.count()).select_from(_HIT),
        }
        with self._errors(), self._engine.connect() as connection:
            return {name: connection.execute(query).scalar_one() for name, query in queries.items()}

    # -- stories -----------------------------------------------------------------------------

    def story_candidates(self, item: int, since: datetime) -> list[tuple[int, StoredItem]]:
        """(story, item) of the items that may report the same story as ``item``: fetched since
        ``since``, from other feeds, already in a story, and hit by a rule that hit ``item``."""
        _check_aware(since, "since")
        rules_of_item = select(_HIT.c.rule_id).where(_HIT.c.item_id == item)
        feed_of_item = select(_ITEM.c.feed).where(_ITEM.c.id == item).scalar_subquery()
        query = (
            _ITEM.select()
            .where(
                _ITEM.c.story_id.is_not(None),
                _ITEM.c.fetched_at >= since,
                _ITEM.c.feed != feed_of_item,
                exists().where(_HIT.c.item_id == _ITEM.c.id, _HIT.c.rule_id.in_(rules_of_item)),
            )
            .order_by(_ITEM.c.id)
        )
        with self._errors(), self._engine.connect() as connection:
            return [(row["story_id"], _stored_item(row)) for row in connection.execute(query).mappings()]

    def storyless_hit_items(self, since: datetime) -> list[StoredItem]:
        """Items hit since ``since`` that are in no story: a daemon died between storing their
        hits and joining their stories. Oldest first."""
        _check_aware(since, "since")
        hit_items = select(_HIT.c.item_id).where(_HIT.c.created_at >= since)
        query = (
            _ITEM.select().where(_ITEM.c.id.in_(hit_items), _ITEM.c.story_id.is_(None)).order_by(_ITEM.c.id)
        )
        with self._errors(), self._engine.connect() as connection:
            return [_stored_item(row) for row in connection.execute(query).mappings()]

    def join_story(self, item: int, story: int) -> int:
        """Put ``item`` in ``story`` (its own id: a new story); return how many of its hits joined
        an alert already made for the story, which are history and never sent again."""
        with self._errors(), self._engine.begin() as connection:
            connection.execute(update(_ITEM).where(_ITEM.c.id == item).values(story_id=story))
            return connection.execute(_fold_into_earlier_alerts(_HIT.c.item_id == item, None)).rowcount

    # -- alerts and the outbox ---------------------------------------------------------------

    def pending_rules(self) -> list[PendingRule]:
        """The rules with hits not in any alert yet, by rule id."""
        pending = (
            select(_HIT.c.rule_id, func.min(_HIT.c.created_at), func.count())
            .where(_HIT.c.alert_id.is_(None))
            .group_by(_HIT.c.rule_id)
            .order_by(_HIT.c.rule_id)
        )
        last = select(_ALERT.c.rule_id, func.max(_ALERT.c.created_at)).group_by(_ALERT.c.rule_id)
        with self._errors(), self._engine.connect() as connection:
            rows = connection.execute(pending).all()
            last_alerts: dict[str, datetime] = dict(connection.execute(last).all())
        return [PendingRule(rule, first, last_alerts.get(rule), count) for rule, first, count in rows]

    def create_alert(
        self, rule: str, targets: Sequence[str], now: datetime, *, digest: bool = False
    ) -> int | None:
        """Make one alert of the pending hits of ``rule`` and queue a delivery per target.

        Hits on a story the rule already alerted join that earlier alert instead (history only).
        Returns the new alert's id, or None when no hit was left to send (another daemon took
        them, or they all joined earlier alerts). One transaction: the hits, the alert and its
        deliveries are stored together or not at all.
        """
        _check_aware(now, "now")
        with self._errors(), self._engine.connect() as connection, connection.begin() as transaction:
            alert = connection.execute(
                _ALERT.insert().values(rule_id=rule, created_at=now, digest=digest).returning(_ALERT.c.id)
            ).scalar_one()
            claim = (
                update(_HIT)
                .where(_HIT.c.rule_id == rule, _HIT.c.alert_id.is_(None), _HIT.c.created_at <= now)
                .values(alert_id=alert)
            )
            if connection.execute(claim).rowcount == 0:
                transaction.rollback()
                return None
            connection.execute(_fold_into_earlier_alerts(_HIT.c.alert_id == alert, alert))
            left = select(func.count()).select_from(_HIT).where(_HIT.c.alert_id == alert)
            if connection.execute(left).scalar_one() == 0:
                connection.execute(delete(_ALERT).where(_ALERT.c.id == alert))
                return None
            if targets:
                connection.execute(
                    _DELIVERY.insert(),
                    [
                        {
                            "alert_id": alert,
                            "target": target,
                            "state": "pending",
                            "attempts": 0,
                            "created_at": now,
                            "next_attempt": now,
                        }
                        for target in dict.fromkeys(targets)
                    ],
                )
            return int(alert)

    def alert(self, id: int) -> tuple[str, datetime, bool] | None:
        """An alert's rule id, creation time and whether it is a digest (None: no such alert)."""
        query = select(_ALERT.c.rule_id, _ALERT.c.created_at, _ALERT.c.digest).where(_ALERT.c.id == id)
        with self._errors(), self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    def alert_hits(self, alert: int) -> list[AlertHit]:
        """The hits of an alert with their items, oldest hit first."""
        query = (
            core_select(_HIT, _ITEM)
            .join(_ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(_HIT.c.alert_id == alert)
            .order_by(_HIT.c.created_at, _HIT.c.id)
        )
        with self._errors(), self._engine.connect() as connection:
            rows = connection.execute(query).all()
        hit_columns = len(_HIT.c)
        found = []
        for row in rows:
            hit = _stored_hit(dict(zip(_HIT.c.keys(), row[:hit_columns], strict=True)))
            item_row = dict(zip(_ITEM.c.keys(), row[hit_columns:], strict=True))
            story = item_row["story_id"] if item_row["story_id"] is not None else item_row["id"]
            found.append(AlertHit(hit, _stored_item(item_row), story))
        return found

    def story_items(self, stories: Collection[int]) -> dict[int, list[StoredItem]]:
        """The items of each story, first published first."""
        query = (
            _ITEM.select().where(_ITEM.c.story_id.in_(list(stories))).order_by(_ITEM.c.published, _ITEM.c.id)
        )
        found: dict[int, list[StoredItem]] = {story: [] for story in stories}
        with self._errors(), self._engine.connect() as connection:
            for row in connection.execute(query).mappings():
                found[row["story_id"]].append(_stored_item(row))
        return found

    def claim_delivery(
        self, now: datetime, lease: timedelta, owner: str, *, target: str | None = None
    ) -> Delivery | None:
        """Take the most overdue delivery due at ``now`` (of ``target`` only, if given: each
        target has its own sender) for ``lease`` on behalf of ``owner`` (no other dispatcher
        sends it meanwhile; after a crash it is due again when the lease ends, or when
        ``release_claims`` frees it). None: nothing is due."""
        _check_aware(now, "now")
        due = self._due(now)
        if target is not None:
            due += (_DELIVERY.c.target == target,)
        oldest = select(_DELIVERY.c.id).where(*due).order_by(_DELIVERY.c.next_attempt, _DELIVERY.c.id)
        with self._errors(), self._engine.begin() as connection:
            for id in connection.execute(oldest.limit(5)).scalars().all():
                claim = (
                    update(_DELIVERY)
                    .where(_DELIVERY.c.id == id, *due)
                    .values(claimed_until=now + lease, claimed_by=owner)
                )
                if connection.execute(claim).rowcount == 1:
                    return self._deliveries(connection, _DELIVERY.c.id == id)[0]
        return None

    def due_targets(self, now: datetime) -> list[str]:
        """The targets with a delivery due at ``now`` that no dispatcher holds, by name."""
        _check_aware(now, "now")
        query = select(_DELIVERY.c.target).where(*self._due(now)).distinct().order_by(_DELIVERY.c.target)
        with self._errors(), self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def wake_target(self, target: str, now: datetime) -> int:
        """Make ``target``'s failed deliveries waiting out a backoff due at ``now``, because it
        answers again; return how many. Attempts and the first attempt's time are kept, so the
        48 h deadline still holds; dead ones stay dead (``retry_deliveries`` revives them)."""
        _check_aware(now, "now")
        query = (
            update(_DELIVERY)
            .where(
                _DELIVERY.c.target == target,
                _DELIVERY.c.state == "failed",
                _DELIVERY.c.next_attempt > now,
            )
            .values(next_attempt=now)
        )
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def claimants(self, now: datetime) -> set[str]:
        """The dispatchers holding a claim at ``now``."""
        query = select(_DELIVERY.c.claimed_by).where(_DELIVERY.c.claimed_until > now).distinct()
        with self._errors(), self._engine.connect() as connection:
            return {owner for owner in connection.execute(query).scalars() if owner is not None}

    def release_claims(self, owners: Collection[str]) -> int:
        """Free the claims of dispatchers known to be gone (killed mid-send); return how many."""
        query = (
            update(_DELIVERY)
            .where(_DELIVERY.c.claimed_by.in_(list(owners)), _DELIVERY.c.claimed_until.is_not(None))
            .values(claimed_until=None, claimed_by=None)
        )
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def record_delivery(
        self, id: int, now: datetime, *, error: str | None = None, retry_at: datetime | None = None
    ) -> None:
        """Record an attempt: sent when ``error`` is None, else failed until ``retry_at`` (None: dead)."""
        _check_aware(now, "now")
        values: dict[str, Any] = {
            "attempts": _DELIVERY.c.attempts + 1,
            "last_attempt": now,
            "first_attempt": func.coalesce(_DELIVERY.c.first_attempt, now),
            "claimed_until": None,
            "claimed_by": None,
            "last_error": error,
        }
        if error is None:
            values |= {"state": "sent", "sent_at": now}
        else:
            values |= {"state": "dead" if retry_at is None else "failed", "next_attempt": retry_at or now}
        with self._errors(), self._engine.begin() as connection:
            connection.execute(update(_DELIVERY).where(_DELIVERY.c.id == id).values(**values))

    def drop_delivery(self, id: int) -> None:
        """Delete a delivery with nothing left to send, and its alert once no hit and no other
        delivery refers to it."""
        with self._errors(), self._engine.begin() as connection:
            alert = connection.execute(
                select(_DELIVERY.c.alert_id).where(_DELIVERY.c.id == id)
            ).scalar_one_or_none()
            connection.execute(delete(_DELIVERY).where(_DELIVERY.c.id == id))
            if alert is not None:
                connection.execute(
                    delete(_ALERT).where(
                        _ALERT.c.id == alert,
                        ~exists().where(_HIT.c.alert_id == _ALERT.c.id),
                        ~exists().where(_DELIVERY.c.alert_id == _ALERT.c.id),
                    )
                )

    def hold_delivery(self, id: int, until: datetime) -> None:
        """Put a claimed delivery back, due at ``until`` (quiet hours), without counting an attempt."""
        _check_aware(until, "until")
        query = (
            update(_DELIVERY)
            .where(_DELIVERY.c.id == id)
            .values(next_attempt=until, claimed_until=None, claimed_by=None)
        )
        with self._errors(), self._engine.begin() as connection:
            connection.execute(query)

    def deliveries(
        self, states: Collection[str] | None = None, ids: Collection[int] | None = None
    ) -> list[Delivery]:
        """Deliveries in ``states`` (default all) or with ``ids``, oldest first."""
        conditions = []
        if states is not None:
            conditions.append(_DELIVERY.c.state.in_(list(states)))
        if ids is not None:
            conditions.append(_DELIVERY.c.id.in_(list(ids)))
        with self._errors(), self._engine.connect() as connection:
            return self._deliveries(connection, *conditions)

    def retry_deliveries(self, now: datetime, ids: Collection[int] | None = None) -> int:
        """Make failed and dead deliveries (those with ``ids``, or all) due now with a fresh 48 h of
        retries and the backoff from its first delay (both count from ``first_attempt``, cleared
        here); return how many. Attempts are kept as a record. Sent deliveries are never sent again."""
        _check_aware(now, "now")
        query = (
            update(_DELIVERY)
            .where(_DELIVERY.c.state.in_(("failed", "dead")))
            .values(
                state="pending",
                next_attempt=now,
                first_attempt=None,
                claimed_until=None,
                claimed_by=None,
            )
        )
        if ids is not None:
            query = query.where(_DELIVERY.c.id.in_(list(ids)))
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def hits_since(self, since: datetime) -> int:
        """How many hits were stored at or after ``since``."""
        _check_aware(since, "since")
        query = select(func.count()).select_from(_HIT).where(_HIT.c.created_at >= since)
        with self._errors(), self._engine.connect() as connection:
            found: int = connection.execute(query).scalar_one()
        return found

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each state (every state listed, zeros included)."""
        query = select(_DELIVERY.c.state, func.count()).group_by(_DELIVERY.c.state)
        with self._errors(), self._engine.connect() as connection:
            found: dict[str, int] = dict(connection.execute(query).all())
        return {state: found.get(state, 0) for state in DELIVERY_STATES}

    @staticmethod
    def _due(now: datetime) -> tuple[Any, ...]:
        """Conditions of a delivery due at ``now`` that no dispatcher holds."""
        return (
            _DELIVERY.c.state.in_(_DUE_STATES),
            _DELIVERY.c.next_attempt <= now,
            or_(_DELIVERY.c.claimed_until.is_(None), _DELIVERY.c.claimed_until <= now),
        )

    def _deliveries(self, connection: Connection, *conditions: Any) -> list[Delivery]:
        query = (
            core_select(_DELIVERY, _ALERT.c.rule_id)
            .join(_ALERT, _ALERT.c.id == _DELIVERY.c.alert_id)
            .where(*conditions)
            .order_by(_DELIVERY.c.created_at, _DELIVERY.c.id)
        )
        return [
            Delivery(
                id=row.id,
                alert=row.alert_id,
                rule=row.rule_id,
                target=row.target,
                state=row.state,
                attempts=row.attempts,
                created_at=row.created_at,
                next_attempt=row.next_attempt,
                first_attempt=row.first_attempt,
                last_error=row.last_error,
                sent_at=row.sent_at,
            )
            for row in connection.execute(query)
        ]

    # -- history -----------------------------------------------------------------------------
    # What ``summit-watch hits`` and ``stories`` ask: listings streamed in constant memory.

    def hits(self, query: HitQuery) -> Iterator[HitRecord]:
        """The hits ``query`` selects with their items, streamed in constant memory (a server-side
        cursor on PostgreSQL, SQLite's own row-by-row cursor), ``yield_per`` rows at a time.

        The connection stays open until the iterator is exhausted or closed: close it (or use
        ``contextlib.closing``) when stopping early.
        """
        for name in ("since", "until"):
            moment = getattr(query, name)
            if moment is not None:
                _check_aware(moment, name)
        if query.limit is not None and query.limit < 0:
            raise ValueError(f"limit must be None or >= 0, got {query.limit}")
        dense_feeds = False
        if query.feeds and query.limit is not None and self._engine.dialect.name == "sqlite":
            dense_feeds = self._feed_items(query.feeds) > _DENSE_FEED_ITEMS
        return self._stream_hits(query, dense_feeds)

    def _feed_items(self, feeds: Sequence[str]) -> int:
        query = select(func.count()).select_from(_ITEM).where(_ITEM.c.feed.in_(list(feeds)))
        with self._errors(), self._engine.connect() as connection:
            found: int = connection.execute(query).scalar_one()
        return found

    def hit(self, id: int) -> HitDetail | None:
        """The hit ``id`` with its item, its story's other items and its alert's deliveries
        (None: no such hit)."""
        query = core_select(_HIT, _ITEM).join(_ITEM, _ITEM.c.id == _HIT.c.item_id).where(_HIT.c.id == id)
        with self._errors(), self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
            if row is None:
                return None
            hit_columns = len(_HIT.c)
            hit_row = dict(zip(_HIT.c.keys(), row[:hit_columns], strict=True))
            item_row = dict(zip(_ITEM.c.keys(), row[hit_columns:], strict=True))
            story = item_row["story_id"] if item_row["story_id"] is not None else item_row["id"]
            others = (
                _ITEM.select()
                .where(or_(_ITEM.c.story_id == story, _ITEM.c.id == story), _ITEM.c.id != item_row["id"])
                .order_by(_ITEM.c.published, _ITEM.c.id)
            )
            story_items = tuple(_stored_item(other) for other in connection.execute(others).mappings())
            alert = hit_row["alert_id"]
            deliveries = (
                () if alert is None else tuple(self._deliveries(connection, _DELIVERY.c.alert_id == alert))
            )
        return HitDetail(
            hit=_stored_hit(hit_row),
            item=_stored_item(item_row),
            story_id=story,
            story=story_items,
            alert_id=alert,
            deliveries=deliveries,
        )

    def stories(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        rules: Collection[str] = (),
        limit: int | None = 50,
    ) -> list[StorySummary]:
        """The stories with hits created in [since, until) (of ``rules``, if any), the one with the
        latest such hit first; at most ``limit`` (None: all). An item never grouped is a story
        of its own."""
        conditions = _hit_conditions(rules=tuple(rules), since=since, until=until)
        story = func.coalesce(_ITEM.c.story_id, _ITEM.c.id)
        latest = func.max(_HIT.c.created_at)
        grouped = (
            core_select(story, func.count(), latest)
            .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(*conditions)
            .group_by(story)
            .order_by(latest.desc(), story.desc())
        )
        if limit is not None:
            grouped = grouped.limit(limit)
        with self._errors(), self._engine.connect() as connection:
            counts: dict[int, int] = {key: count for key, count, _ in connection.execute(grouped)}
            rules_of: dict[int, set[str]] = {key: set() for key in counts}
            items_of: dict[int, list[Mapping[Any, Any]]] = {key: [] for key in counts}
            keys = list(counts)
            for start in range(0, len(keys), _STORY_BATCH):
                batch = keys[start : start + _STORY_BATCH]
                rule_query = (
                    core_select(story, _HIT.c.rule_id)
                    .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
                    .where(*conditions, or_(_ITEM.c.story_id.in_(batch), _ITEM.c.id.in_(batch)))
                    .distinct()
                )
                for key, rule in connection.execute(rule_query):
                    if key in rules_of:
                        rules_of[key].add(rule)
                item_query = (
                    _ITEM.select()
                    .where(or_(_ITEM.c.story_id.in_(batch), _ITEM.c.id.in_(batch)))
                    .order_by(_ITEM.c.fetched_at, _ITEM.c.id)
                )
                for row in connection.execute(item_query).mappings():
                    key = row["story_id"] if row["story_id"] is not None else row["id"]
                    if key in items_of:
                        items_of[key].append(row)
        return [_story_summary(key, items_of[key], count, rules_of[key]) for key, count in counts.items()]

    def _stream_hits(self, query: HitQuery, dense_feeds: bool) -> Iterator[HitRecord]:
        with self._errors(), self._engine.connect() as connection:
            items = None if not query.search else _search_candidates(connection, query.search)
            statement = _hits_statement(
                query,
                dense_feeds=dense_feeds,
                items=items,
                search_per_hit=connection.dialect.name == "sqlite",
            )
            streaming = connection.execution_options(stream_results=True, yield_per=_YIELD_PER)
            for row in streaming.execute(statement):
                yield _hit_record(row)

    # -- backtest and housekeeping ---------------------------------------------------------------
    # ``stats``, ``rules test --stored``, ``db prune`` and ``db vacuum``.

    def hit_counts(
        self,
        since: datetime,
        until: datetime,
        rules: Collection[str] = (),
        by: Literal["day", "week"] = "day",
        tz: tzinfo = UTC,
    ) -> list[tuple[date, str, int]]:
        """How many hits each rule (of ``rules``; empty: every rule) had in each period (a day or an
        ISO week in ``tz``) overlapping [since, until): (first day of the period, rule, count),
        by period then rule, periods without hits left out.

        The period boundaries are computed in Python (so a day is a local day, DST included, on
        either database) and each period is counted by the database with the created_at index.
        """

        _check_aware(since, "since")
        _check_aware(until, "until")
        conditions = [_HIT.c.rule_id.in_(list(rules))] if rules else []
        start, end = (
            bindparam("start", type_=_HIT.c.created_at.type),
            bindparam("end", type_=_HIT.c.created_at.type),
        )
        query = (
            select(_HIT.c.rule_id, func.count())
            .where(_HIT.c.created_at >= start, _HIT.c.created_at < end, *conditions)
            .group_by(_HIT.c.rule_id)
            .order_by(_HIT.c.rule_id)
        )
        found: list[tuple[date, str, int]] = []
        with self._errors(), self._engine.connect() as connection:
            for day, lower, upper in period_bounds(since, until, by, tz):
                rows = connection.execute(query, {"start": lower, "end": upper})
                found.extend((day, rule, count) for rule, count in rows)
        return found

    def iter_items(self, since: datetime, until: datetime) -> Iterator[tuple[StoredItem, FeedRef]]:
        """The items fetched in [since, until), oldest id first, each with its feed's name and
        stored tags; streamed in constant memory (close the iterator when stopping early)."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        query = (
            core_select(_ITEM, _FEED.c.tags.label("feed_tags"))
            .join(_FEED, _FEED.c.name == _ITEM.c.feed)
            .where(_ITEM.c.fetched_at >= since, _ITEM.c.fetched_at < until)
            .order_by(_ITEM.c.id)
        )
        return self._stream_items(query)

    def _stream_items(self, query: Any) -> Iterator[tuple[StoredItem, FeedRef]]:
        with self._errors(), self._engine.connect() as connection:
            streaming = connection.execution_options(stream_results=True, yield_per=_BATCH)
            for row in streaming.execute(query).mappings():
                yield _stored_item(row), FeedRef(row["feed"], frozenset(row["feed_tags"] or ()))

    def recorded_hits(self, since: datetime, until: datetime) -> dict[tuple[int, str], RecordedHit]:
        """The hits on the items fetched in [since, until) (those ``iter_items`` gives), by
        (item id, rule id): what a backtest of that window compares with."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        query = (
            select(_HIT.c.item_id, _HIT.c.rule_id, _HIT.c.score, _HIT.c.terms)
            .join(_ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(_ITEM.c.fetched_at >= since, _ITEM.c.fetched_at < until)
        )
        with self._errors(), self._engine.connect() as connection:
            streaming = connection.execution_options(stream_results=True, yield_per=_BATCH)
            return {
                (item, rule): RecordedHit(item, rule, score, tuple(terms))
                for item, rule, score, terms in streaming.execute(query)
            }

    def prune(self, older_than: datetime, *, hits: bool = False, dry_run: bool = False) -> PruneReport:
        """Delete the items fetched before ``older_than`` that no rule hit; with ``hits``, first the
        hits created before it, then the alerts left without hits (and their sent or dead
        deliveries), so their items go too. One transaction, rolled back on a ``dry_run``.

        Hits still on their way are never deleted, and counted in ``kept_hits``: hits not in an
        alert yet, and hits of an alert with a pending or failed delivery. Item keys stay in
        ``seen``: a pruned item still in its feed is not new again.
        """
        _check_aware(older_than, "older_than")
        old = _HIT.c.created_at < older_than
        on_their_way = or_(
            _HIT.c.alert_id.is_(None),
            _HIT.c.alert_id.in_(select(_DELIVERY.c.alert_id).where(_DELIVERY.c.state.in_(_DUE_STATES))),
        )
        hit_count = select(func.count()).select_from(_HIT)
        deleted_hits = alerts = deliveries = 0
        with self._errors(), self._engine.connect() as connection, connection.begin() as transaction:
            if hits:
                kept = connection.execute(hit_count.where(old, on_their_way)).scalar_one()
                deleted_hits = connection.execute(delete(_HIT).where(old, ~on_their_way)).rowcount
                no_hit = ~exists().where(_HIT.c.alert_id == _DELIVERY.c.alert_id)
                done = _DELIVERY.c.state.in_(("sent", "dead"))
                deliveries = connection.execute(delete(_DELIVERY).where(done, no_hit)).rowcount
                alerts = connection.execute(
                    delete(_ALERT).where(
                        ~exists().where(_HIT.c.alert_id == _ALERT.c.id),
                        ~exists().where(_DELIVERY.c.alert_id == _ALERT.c.id),
                    )
                ).rowcount
            else:
                kept = connection.execute(hit_count.where(old)).scalar_one()
            items = connection.execute(
                delete(_ITEM).where(
                    _ITEM.c.fetched_at < older_than, ~exists().where(_HIT.c.item_id == _ITEM.c.id)
                )
            ).rowcount
            if dry_run:
                transaction.rollback()
        return PruneReport(older_than, items, deleted_hits, alerts, deliveries, kept, dry_run)

    def vacuum(self) -> VacuumReport:
        """Give the space of deleted rows back and refresh the planner's statistics: SQLite
        ``VACUUM`` and ``PRAGMA optimize`` (then a WAL checkpoint, so the file shrinks);
        PostgreSQL ``VACUUM (ANALYZE)`` of summit-watch's tables (outside a transaction)."""
        with self._errors(), self._engine.connect() as plain:
            connection = plain.execution_options(isolation_level="AUTOCOMMIT")
            if connection.dialect.name == "sqlite":
                statements: tuple[str, ...] = ("VACUUM", "PRAGMA optimize", "PRAGMA wal_checkpoint(TRUNCATE)")
                size = self._sqlite_size
            else:
                tables = ", ".join(connection.dialect.identifier_preparer.quote(t) for t in METADATA.tables)
                statements = (f"VACUUM (ANALYZE) {tables}",)
                size = self._postgresql_size
            before = size(connection)
            for statement in statements:
                connection.exec_driver_sql(statement).close()
            after = size(connection)
        return VacuumReport(connection.dialect.name, statements, before, after)

    def _sqlite_size(self, connection: Connection) -> int:
        """The database file and its write-ahead log on disk (pages in use for an in-memory one)."""
        path = self._engine.url.database
        if path and path != ":memory:" and not path.startswith("file:") and Path(path).exists():
            return sum(p.stat().st_size for p in (Path(path), Path(path + "-wal")) if p.exists())
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
        return int(pages) * int(page_size)

    def _postgresql_size(self, connection: Connection) -> int:
        """summit-watch's tables with their indexes and TOAST (found on the search path)."""
        sizes = " + ".join(
            f"coalesce(pg_total_relation_size(to_regclass('{t}')), 0)" for t in METADATA.tables
        )
        return int(connection.exec_driver_sql(f"SELECT {sizes}").scalar_one())

    # -- end of backtest and housekeeping ------------------------------------------------------

    # -- helpers -----------------------------------------------------------------------------

    def _insert_new(self, table: Table) -> Insert:
        """INSERT skipping rows that would violate a unique constraint (ON CONFLICT DO NOTHING)."""
        if self._engine.dialect.name == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return postgresql.insert(table).on_conflict_do_nothing()

    def _script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(migrations_config())

    def _outdated(self, current: str | None) -> SchemaOutdatedError:
        script = self._script()
        head = script.get_current_head()
        if current is None:
            where = "has tables but no summit-watch revision"
        elif current in {s.revision for s in script.walk_revisions()}:
            where = f"is at revision {current}"
        else:
            return SchemaOutdatedError(
                f"database {self.name} is at revision {current}, which this version of summit-watch "
                f"does not know (was the database upgraded by a newer version?); this version needs {head}"
            )
        return SchemaOutdatedError(
            f"database {self.name} {where}; this version needs {head}: run `summit-watch db upgrade`"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Failures reported by the database become ``StorageError``; constraint violations are bugs."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as e:
            raise StorageError(f"database {self.name}: {self._reason(e.orig or e)}") from e
        except PoolTimeoutError as e:
            raise StorageError(f"database {self.name}: {self._reason(e)}") from e

    def _reason(self, error: BaseException) -> str:
        reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        password = self._engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        return reason or type(error).__name__


def _check_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _key(entry_id: str) -> str:
    """The dedup key of an item id: the id itself, or a hash of one too long to index."""
    if len(entry_id.encode()) <= _KEY_BYTES:
        return entry_id
    return "sha256:" + hashlib.sha256(entry_id.encode()).hexdigest()


def _clean_item(item: Item, fetched_at: datetime) -> Item:
    published = item.published or fetched_at
    _check_aware(published, f"published time of item {item.id!r}")
    return dataclasses.replace(
        item,
        id=_no_nul(item.id),
        title=_no_nul(item.title),
        summary=_no_nul(item.summary),
        content=_no_nul(item.content),
        link=None if item.link is None else _no_nul(item.link),
        source=None if item.source is None else _no_nul(item.source),
        published=published.astimezone(UTC),
    )


def _no_nul(value: str) -> str:
    return value.replace("\x00", "")


def _item_values(feed: str, key: str, item: Item, fetched_at: datetime) -> dict[str, Any]:
    return {
        "feed": feed,
        "key": key,
        "entry_id": item.id,
        "link": item.link,
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "source": item.source,
        "published": item.published,
        "fetched_at": fetched_at,
    }


def _stored_item(row: Mapping[Any, Any]) -> StoredItem:
    item = Item(
        id=row["entry_id"],
        title=row["title"],
        summary=row["summary"],
        content=row["content"],
        link=row["link"],
        published=row["published"],
        source=row["source"],
    )
    return StoredItem(id=row["id"], feed=row["feed"], item=item, fetched_at=row["fetched_at"])


def _stored_hit(row: Mapping[Any, Any]) -> StoredHit:
    return StoredHit(
        id=row["id"],
        rule=row["rule_id"],
        item=row["item_id"],
        score=row["score"],
        terms=tuple(row["terms"]),
        hits=tuple(TermHit(**term_hit) for term_hit in row["hits"]),
        created_at=row["created_at"],
    )


def _fold_into_earlier_alerts(which: Any, new_alert: int | None) -> Update:
    """UPDATE moving the ``which`` hits whose story already has an alert of their rule (other than
    ``new_alert``) into that alert: a story alerts once per rule, later outlets are history."""
    earlier_hit, earlier_item, this_item = (
        _HIT.alias("earlier_hit"),
        _ITEM.alias("earlier_item"),
        _ITEM.alias(),
    )
    story_of_hit = (
        select(this_item.c.story_id).where(this_item.c.id == _HIT.c.item_id).correlate(_HIT).scalar_subquery()
    )
    conditions = [
        earlier_hit.c.rule_id == _HIT.c.rule_id,
        earlier_hit.c.alert_id.is_not(None),
        earlier_hit.c.item_id == earlier_item.c.id,
        earlier_item.c.story_id == story_of_hit,
    ]
    if new_alert is not None:
        conditions.append(earlier_hit.c.alert_id != new_alert)
    earlier_alert = (
        select(func.min(earlier_hit.c.alert_id)).where(*conditions).correlate(_HIT).scalar_subquery()
    )
    return update(_HIT).where(which, exists().where(*conditions)).values(alert_id=earlier_alert)


# -- history: queries ------------------------------------------------------------------------------

_YIELD_PER: Final = 1000  # rows fetched at a time by a streamed listing
_STORY_BATCH: Final = 500  # stories whose items and rules are read by one query
# From how many items the feeds of `hits --feed` are worth finding by walking hits in time order
# (the rows read before ``limit`` are found shrink as the feeds' share grows) rather than by sorting
# all their hits: below it, sorting is quick.
_DENSE_FEED_ITEMS: Final = 2000
_HIT_COLUMNS: Final = (
    _HIT.c.id,
    _HIT.c.rule_id,
    _HIT.c.score,
    _HIT.c.terms,
    _HIT.c.created_at,
    _HIT.c.item_id,
    _ITEM.c.feed,
    _ITEM.c.title,
    _ITEM.c.link,
    _ITEM.c.source,
    _ITEM.c.published,
    _ITEM.c.story_id,
    _HIT.c.alert_id,
)


def _hit_conditions(
    *,
    rules: Sequence[str] = (),
    feeds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
) -> list[Any]:
    conditions: list[Any] = []
    if rules:
        conditions.append(_HIT.c.rule_id.in_(list(rules)))
    if feeds:
        conditions.append(_ITEM.c.feed.in_(list(feeds)))
    if since is not None:
        _check_aware(since, "since")
        conditions.append(_HIT.c.created_at >= since)
    if until is not None:
        _check_aware(until, "until")
        conditions.append(_HIT.c.created_at < until)
    if search:
        conditions.append(_search_condition(_ITEM, search))
    return conditions


def _search_condition(item: Any, search: str) -> Any:
    """``search`` is in ``item``'s title or summary. ILIKE on PostgreSQL, lower() LIKE lower() on
    SQLite (which folds ASCII letters only); % and _ in the text are escaped, so they match
    themselves."""
    return or_(
        item.c.title.icontains(search, autoescape=True),
        item.c.summary.icontains(search, autoescape=True),
    )


# `hits --search`: the search index (migration 4f9c2d7e1a03) gives the items whose text may hold
# the search text; up to this many, their hits are read by item id (a few milliseconds). A text
# in more items than that is common: walking the hits newest first finds ``limit`` of them soon.
_SEARCH_CANDIDATES: Final = 5000
_SEARCH_TEXT: Final = _ITEM.c.title.op("||")(literal_column("' '")).op("||")(_ITEM.c.summary)
_LIKE_SPECIALS: Final = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})
_TRIGRAM_WORD: Final = re.compile(r"[^\W_]{3}")  # three letters or digits in a row


def _search_candidates(connection: Connection, search: str) -> list[int] | None:
    """The ids of the items whose title or summary may contain ``search`` (a superset: the query
    still tests each), found by the search index; None when it cannot say: no index (an SQLite
    without FTS5 trigrams, a PostgreSQL without pg_trgm), a text too short for trigrams (SQLite:
    under 3 characters; PostgreSQL: without 3 letters or digits in a row) or more than
    ``_SEARCH_CANDIDATES`` items. SQLite: FTS5 folds case in all of Unicode, a superset of the
    query's ASCII folding. PostgreSQL: an ILIKE on title, space and summary, a superset of an
    ILIKE on either."""
    candidates: Any
    if connection.dialect.name == "sqlite":
        index = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_search'")
        if len(search) < 3 or connection.execute(index).first() is None:
            return None
        phrase = '"' + search.replace('"', '""') + '"'  # an FTS5 string: every character as it is
        candidates = text("SELECT rowid FROM item_search WHERE item_search MATCH :phrase LIMIT :n")
        candidates = candidates.bindparams(phrase=phrase, n=_SEARCH_CANDIDATES + 1)
    else:
        index = text("SELECT to_regclass('ix_item_search')")  # on the search path, like the tables
        if not _TRIGRAM_WORD.search(search) or connection.execute(index).scalar() is None:
            return None
        pattern = f"%{search.translate(_LIKE_SPECIALS)}%"  # backslash: LIKE's default escape
        candidates = core_select(_ITEM.c.id).where(_SEARCH_TEXT.ilike(pattern)).limit(_SEARCH_CANDIDATES + 1)
    found = list(connection.execute(candidates).scalars())
    return None if len(found) > _SEARCH_CANDIDATES else found


def _hits_statement(
    query: HitQuery,
    *,
    dense_feeds: bool = False,
    items: Sequence[int] | None = None,
    search_per_hit: bool = False,
) -> Any:
    """The SELECT of ``Store.hits``. ``dense_feeds``: the feeds asked for have many items, so
    SQLite had better walk the hits in the order asked and keep those of the feeds until it has
    ``limit`` of them than read every hit of the feeds and sort them (what its planner does
    without the hint: ``feed || ''`` is no indexed column). PostgreSQL's planner weighs both.
    ``items``: the only items that may match ``query.search`` (``_search_candidates``), whose
    hits are read by item id then sorted, rather than all hits walked in order.
    ``search_per_hit`` (SQLite, walking the hits): ``query.search`` is tested on each hit's item
    in a correlated EXISTS, so the walk stops at ``limit`` hits found. As a condition on the
    joined item, SQLite (3.38+) would first build a Bloom filter of the items it holds for, which
    reads the text of every item: 0.3 s for 225,000 items, whatever the limit."""
    conditions = _hit_conditions(
        rules=query.rules,
        feeds=() if dense_feeds else query.feeds,
        since=query.since,
        until=query.until,
    )
    if dense_feeds:
        conditions.append((_ITEM.c.feed + "").in_(list(query.feeds)))
    if query.search:
        if items is not None:
            conditions.append(_HIT.c.item_id.in_(list(items)))
        if search_per_hit and items is None:
            searched = _ITEM.alias("searched")
            conditions.append(
                exists().where(searched.c.id == _HIT.c.item_id, _search_condition(searched, query.search))
            )
        else:
            conditions.append(_search_condition(_ITEM, query.search))
    order: tuple[Any, ...]
    if query.order == "newest":
        order = (_HIT.c.created_at.desc(), _HIT.c.id.desc())
    elif query.order == "oldest":
        order = (_HIT.c.created_at.asc(), _HIT.c.id.asc())
    else:
        order = (_HIT.c.score.desc(), _HIT.c.created_at.desc(), _HIT.c.id.desc())
    statement = (
        core_select(*_HIT_COLUMNS)
        .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
        .where(*conditions)
        .order_by(*order)
    )
    return statement if query.limit is None else statement.limit(query.limit)


def _hit_record(row: Row[Any]) -> HitRecord:
    return HitRecord(
        id=row.id,
        rule=row.rule_id,
        score=row.score,
        terms=tuple(row.terms),
        created_at=row.created_at,
        item_id=row.item_id,
        feed=row.feed,
        title=row.title,
        link=row.link,
        source=row.source,
        published=row.published,
        story_id=row.story_id,
        alert_id=row.alert_id,
    )


def _story_summary(
    key: int, items: Sequence[Mapping[Any, Any]], hits: int, rules: Collection[str]
) -> StorySummary:
    """A story from its items (first fetched first), its hit count and rules."""
    first = next((row for row in items if row["id"] == key), items[0] if items else None)
    return StorySummary(
        id=key,
        headline=first["title"] if first is not None else "",
        outlets=tuple(dict.fromkeys(row["source"] or row["feed"] for row in items)),
        feeds=tuple(dict.fromkeys(row["feed"] for row in items)),
        first_seen=min(row["fetched_at"] for row in items),
        last_seen=max(row["fetched_at"] for row in items),
        hits=hits,
        rules=tuple(sorted(rules)),
    )


# -- end of history --------------------------------------------------------------------------------


def _feed_state(row: _FeedRow) -> FeedState:
    return FeedState(
        name=row.name,
        url=row.url,
        tags=tuple(row.tags),
        active=row.active,
        etag=row.etag,
        last_modified=row.last_modified,
        last_polled=row.last_polled,
        last_success=row.last_success,
        last_outcome=row.last_outcome,
        last_status=row.last_status,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        next_poll=row.next_poll,
        gone=row.gone,
        redirected_to=row.redirected_to,
    )
