"""Stories: the items reporting the same story, grouped by the id of its first item."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, update
from sqlmodel import select

from watcher.records import StoredItem
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import _HIT, _ITEM, _fold_into_earlier_alerts, _stored_item


class StoriesMixin(StoreBase):
    """``story_candidates`` for a newly hit item, ``join_story``, ``story_items`` of an alert."""

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
