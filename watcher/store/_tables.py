"""The tables, private to the store, with the row readers and statements its parts share.

The SQLModel row classes define the schema (Alembic compares the migrations with them); the
``Table`` aliases are what the queries use. Rows leave the store only as the frozen dataclasses of
``watcher.records``: ``_stored_item``, ``_stored_hit`` and ``_deliveries`` read them;
``_date_claim_values`` writes a hit's date claims (with the hit, or again by ``event rebuild``).
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import JSON, Connection, Index, MetaData, Table, UniqueConstraint, exists, false, func, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import registry
from sqlalchemy.sql.dml import Update
from sqlmodel import Field, SQLModel, select

from watcher.items import Item
from watcher.records import Delivery, FieldClaim, StoredHit, StoredItem, TermHit

# Named constraints let Alembic's batch mode (SQLite's ALTER TABLE by copy) drop and recreate them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_DUE_STATES: Final = ("pending", "failed")  # a delivery in these states is still to be sent


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
    # The user's judgement (``hits mark``): good or bad, None when not marked.
    mark: str | None = Field(default=None, max_length=4)
    marked_at: datetime | None = None


class _AlertRow(_Row, table=True):
    __tablename__ = "alert"
    __table_args__ = (Index(None, "rule_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str
    created_at: datetime
    digest: bool = False
    kind: str = Field(default="hits", sa_column_kwargs={"server_default": "hits"})  # or "date_change"
    change: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # a date change: what it says
    # A date-change alert is stored with the change that makes it (one transaction); the plan then
    # gives it its deliveries, by the rule's targets as the outbox knows them.
    unplanned: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


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


class _DateClaimRow(_Row, table=True):
    """A date a hit's item states near the rule's terms (``watcher.dates.DateClaim``), stored with the
    hit and deleted with it; ``event rebuild`` computes them again."""

    __tablename__ = "date_claim"

    id: int | None = Field(default=None, primary_key=True)
    hit_id: int = Field(foreign_key="hit.id", ondelete="CASCADE", index=True)
    field: str  # title, summary or content
    start_date: date
    end_date: date
    precision: str  # one of watcher.dates.PRECISIONS
    tense: str  # future, past or unstated
    hedged: bool
    text: str  # the expression as written
    offset: int  # where it starts in the field's plain text


class _EventStateRow(_Row, table=True):
    """A rule's event estimate as last stored, so that a change of it is seen once."""

    __tablename__ = "event_state"

    rule_id: str = Field(primary_key=True)
    start_date: date
    end_date: date
    precision: str
    text: str  # as its first reporter wrote it
    changed_at: datetime


_FEED: Final[Table] = METADATA.tables["feed"]
_ITEM: Final[Table] = METADATA.tables["item"]
_SEEN: Final[Table] = METADATA.tables["seen"]
_HIT: Final[Table] = METADATA.tables["hit"]
_ALERT: Final[Table] = METADATA.tables["alert"]
_DELIVERY: Final[Table] = METADATA.tables["delivery"]
_DATE_CLAIM: Final[Table] = METADATA.tables["date_claim"]
_EVENT_STATE: Final[Table] = METADATA.tables["event_state"]


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
        mark=row.get("mark"),
    )


def _date_claim_values(hit: int, claims: Iterable[FieldClaim]) -> list[dict[str, Any]]:
    """The ``date_claim`` rows of a hit's claims."""
    return [
        {
            "hit_id": hit,
            "field": stated.field,
            "start_date": stated.claim.start,
            "end_date": stated.claim.end,
            "precision": stated.claim.precision,
            "tense": stated.claim.tense,
            "hedged": stated.claim.hedged,
            "text": stated.claim.text,
            "offset": stated.claim.offset,
        }
        for stated in claims
    ]


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


def _deliveries(connection: Connection, *conditions: Any) -> list[Delivery]:
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
