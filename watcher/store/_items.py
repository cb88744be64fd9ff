"""Items and hits: new items stored once per feed (the ``seen`` ledger), their hits, counts."""

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, delete, exists, func
from sqlmodel import select

from watcher.items import Item
from watcher.records import NewHit, StoredHit, StoredItem
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import (
    _DATE_CLAIM,
    _FEED,
    _HIT,
    _ITEM,
    _SEEN,
    _date_claim_values,
    _stored_hit,
    _stored_item,
)

_KEY_BYTES: Final = 250  # longer item ids are stored as a hash: PostgreSQL cannot index ~2.7 kB keys


class ItemsMixin(StoreBase):
    """``add_matched_items``: new items and their hits in one transaction; ``prune_items``;
    ``counts`` and ``hits_since`` for summaries."""

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
        """Insert the new ones of ``hits`` with their date claims; return how many were new."""
        _check_aware(now, "now")
        first = {(hit.rule, hit.item): hit for hit in reversed(list(hits))}  # the first of duplicates wins
        if not first:
            return 0
        rows = [
            {
                "rule_id": hit.rule,
                "item_id": hit.item,
                "score": hit.score,
                "terms": list(hit.terms),
                "hits": [dataclasses.asdict(term_hit) for term_hit in hit.hits],
                "created_at": now,
            }
            for hit in first.values()
        ]
        insert = self._insert_new(_HIT).returning(_HIT.c.id, _HIT.c.rule_id, _HIT.c.item_id)
        inserted = connection.execute(insert, rows).all()
        claims = [
            row for id, rule, item in inserted for row in _date_claim_values(id, first[(rule, item)].dates)
        ]
        if claims:
            connection.execute(_DATE_CLAIM.insert(), claims)
        return len(inserted)

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

    def hits_since(self, since: datetime) -> int:
        """How many hits were stored at or after ``since``."""
        _check_aware(since, "since")
        query = select(func.count()).select_from(_HIT).where(_HIT.c.created_at >= since)
        with self._errors(), self._engine.connect() as connection:
            found: int = connection.execute(query).scalar_one()
        return found


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
