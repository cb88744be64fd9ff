"""Events: the dates the hits' items state (``date_claim``), and each rule's last estimate (``event_state``).

The claims of a hit are stored with it (``ItemsMixin._insert_hits``) and deleted with it (ON
DELETE CASCADE); ``replace_date_claims`` computes them again (``event rebuild``). The estimate is
stored by compare-and-set, so that of several daemons storing one change only one sees it.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, delete, select, update

from watcher.records import DateReport, EventDate, EventState, FieldClaim, StoredHit, StoredItem
from watcher.rules import FIELDS
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import (
    _ALERT,
    _DATE_CLAIM,
    _EVENT_STATE,
    _HIT,
    _ITEM,
    _date_claim_values,
    _stored_hit,
    _stored_item,
)

_FIELD_ORDER: dict[str, int] = {field: index for index, field in enumerate(FIELDS)}


class EventsMixin(StoreBase):
    """``rule_date_reports`` for the timeline; ``hits_with_items`` and ``replace_date_claims`` to
    rebuild the claims; ``event_state`` and ``set_event_state``."""

    def rule_date_reports(self, rule: str) -> list[DateReport]:
        """The hits of ``rule`` whose items state dates, each with its claims, oldest hit first."""
        from watcher.dates import DateClaim  # the date grammar, compiled only by those reading dates

        query = (
            select(_DATE_CLAIM, _ITEM)
            .join(_HIT, _HIT.c.id == _DATE_CLAIM.c.hit_id)
            .join(_ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(_HIT.c.rule_id == rule)
            .order_by(_HIT.c.id)
        )
        with self._errors(), self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        claims: dict[int, list[FieldClaim]] = {}
        items: dict[int, StoredItem] = {}
        for row in rows:
            stated = _columns(_DATE_CLAIM, row)
            claim = DateClaim(
                stated["start_date"],
                stated["end_date"],
                stated["precision"],
                stated["tense"],
                stated["text"],
                stated["offset"],
                stated["hedged"],
            )
            claims.setdefault(stated["hit_id"], []).append(FieldClaim(stated["field"], claim))
            items.setdefault(stated["hit_id"], _stored_item(_columns(_ITEM, row)))
        return [
            _report(rule, hit, items[hit], sorted(found, key=_text_order)) for hit, found in claims.items()
        ]

    def hits_with_items(
        self, rules: Sequence[str], after: int, limit: int
    ) -> list[tuple[StoredHit, StoredItem]]:
        """The next ``limit`` hits (of ``rules``, or all when empty) with an id above ``after``, and
        their items, by id: what ``event rebuild`` reads, a batch at a time."""
        query = select(_HIT, _ITEM).join(_ITEM, _ITEM.c.id == _HIT.c.item_id).where(_HIT.c.id > after)
        if rules:
            query = query.where(_HIT.c.rule_id.in_(rules))
        with self._errors(), self._engine.connect() as connection:
            rows = connection.execute(query.order_by(_HIT.c.id).limit(limit)).mappings().all()
        return [(_stored_hit(_columns(_HIT, row)), _stored_item(_columns(_ITEM, row))) for row in rows]

    def replace_date_claims(self, claims: Mapping[int, Sequence[FieldClaim]]) -> int:
        """Make ``claims`` (by hit id) the date claims of those hits; return how many were stored."""
        rows = [row for hit, found in claims.items() for row in _date_claim_values(hit, found)]
        with self._errors(), self._engine.begin() as connection:
            connection.execute(delete(_DATE_CLAIM).where(_DATE_CLAIM.c.hit_id.in_(list(claims))))
            if rows:
                connection.execute(_DATE_CLAIM.insert(), rows)
        return len(rows)

    def event_state(self, rule: str) -> EventState | None:
        """The estimate last stored for ``rule`` (None: none)."""
        with self._errors(), self._engine.connect() as connection:
            row = (
                connection.execute(_EVENT_STATE.select().where(_EVENT_STATE.c.rule_id == rule))
                .mappings()
                .one_or_none()
            )
        if row is None:
            return None
        when = EventDate(row["start_date"], row["end_date"], row["precision"])
        return EventState(rule, when, row["text"], row["changed_at"])

    def set_event_state(
        self,
        rule: str,
        expected: EventDate | None,
        state: EventState | None,
        change: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store ``state`` as the estimate of ``rule`` (None: it has none) if the stored one is still
        ``expected`` (None: none stored); return whether it was stored. Of several daemons storing
        one change, one does. With ``change``, the same transaction stores a date-change alert
        saying it, which the outbox's plan gives its deliveries: a change is never stored without
        its alert, nor alerted twice."""
        if expected is None and state is None:
            return False
        stored = [_EVENT_STATE.c.rule_id == rule]
        if expected is not None:
            stored += [
                _EVENT_STATE.c.start_date == expected.start,
                _EVENT_STATE.c.end_date == expected.end,
                _EVENT_STATE.c.precision == expected.precision,
            ]
        with self._errors(), self._engine.begin() as connection:
            if state is None:
                return connection.execute(delete(_EVENT_STATE).where(*stored)).rowcount == 1
            _check_aware(state.changed_at, "changed_at")
            values = {
                "start_date": state.date.start,
                "end_date": state.date.end,
                "precision": state.date.precision,
                "text": state.text,
                "changed_at": state.changed_at,
            }
            if expected is None:
                insert = self._insert_new(_EVENT_STATE).returning(_EVENT_STATE.c.rule_id)
                done = connection.execute(insert, {"rule_id": rule, **values}).first() is not None
            else:
                done = connection.execute(update(_EVENT_STATE).where(*stored).values(**values)).rowcount == 1
            if done and change is not None:
                connection.execute(
                    _ALERT.insert().values(
                        rule_id=rule,
                        created_at=state.changed_at,
                        kind="date_change",
                        change=dict(change),
                        unplanned=True,
                    )
                )
            return done


def _text_order(stated: FieldClaim) -> tuple[int, int]:
    return _FIELD_ORDER[stated.field], stated.claim.offset


def _columns(table: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    """The columns of ``table`` in a row of a join, by name (the joined tables' names clash: ``id``)."""
    return {column.name: row[column] for column in table.c}


def _report(rule: str, hit: int, stored: StoredItem, claims: list[FieldClaim]) -> DateReport:
    item = stored.item
    assert item.published is not None  # the store gives every item a published time
    return DateReport(
        rule=rule,
        hit=hit,
        item=stored.id,
        feed=stored.feed,
        outlet=item.source or stored.feed,
        title=item.title,
        link=item.link,
        published=item.published,
        fetched_at=stored.fetched_at,
        claims=tuple(claims),
    )
