"""Alerts and the outbox: pending hits made into alerts, one delivery per target, each attempt
recorded; claims with leases so that several dispatchers never send a delivery twice."""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, exists, func, or_, update
from sqlalchemy import select as core_select
from sqlmodel import select

from watcher.records import DELIVERY_STATES, AlertHit, Delivery, PendingRule, StoredAlert
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import (
    _ALERT,
    _DELIVERY,
    _DUE_STATES,
    _HIT,
    _ITEM,
    _deliveries,
    _fold_into_earlier_alerts,
    _stored_hit,
    _stored_item,
)


class OutboxMixin(StoreBase):
    """``pending_rules`` and ``create_alert`` (the plan), ``claim_delivery``, ``claim_companions`` and
    ``record_delivery`` (the dispatch), and the outbox's upkeep: claims released, deliveries held,
    retried, counted."""

    def pending_rules(self) -> list[PendingRule]:
        """The rules with hits not in any alert yet, by rule id."""
        pending = (
            select(_HIT.c.rule_id, func.min(_HIT.c.created_at), func.count())
            .where(_HIT.c.alert_id.is_(None))
            .group_by(_HIT.c.rule_id)
            .order_by(_HIT.c.rule_id)
        )
        last = (  # a date-change alert is no alert of hits: it starts no cooldown
            select(_ALERT.c.rule_id, func.max(_ALERT.c.created_at))
            .where(_ALERT.c.kind == "hits")
            .group_by(_ALERT.c.rule_id)
        )
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
            _insert_deliveries(connection, alert, targets, now)
            return int(alert)

    def unplanned_alerts(self) -> list[tuple[int, str]]:
        """The date-change alerts not given their deliveries yet, as (alert id, rule id), oldest first."""
        query = select(_ALERT.c.id, _ALERT.c.rule_id).where(_ALERT.c.unplanned).order_by(_ALERT.c.id)
        with self._errors(), self._engine.connect() as connection:
            return [(id, rule) for id, rule in connection.execute(query).all()]

    def plan_alert(self, alert: int, targets: Sequence[str], now: datetime) -> bool:
        """Give an unplanned alert a delivery per target (none: it stays as history); False when
        another dispatcher planned it first. One transaction."""
        _check_aware(now, "now")
        with self._errors(), self._engine.begin() as connection:
            taken = update(_ALERT).where(_ALERT.c.id == alert, _ALERT.c.unplanned).values(unplanned=False)
            if connection.execute(taken).rowcount != 1:
                return False
            _insert_deliveries(connection, alert, targets, now)
            return True

    def alert(self, id: int) -> StoredAlert | None:
        """An alert's rule, time, kind and what a date change says (None: no such alert)."""
        query = select(_ALERT.c.rule_id, _ALERT.c.created_at, _ALERT.c.digest, _ALERT.c.change).where(
            _ALERT.c.id == id
        )
        with self._errors(), self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else StoredAlert(row[0], row[1], row[2], row[3])

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
                    return _deliveries(connection, _DELIVERY.c.id == id)[0]
        return None

    def claim_companions(
        self,
        lead: Delivery,
        stories: Collection[int],
        now: datetime,
        lease: timedelta,
        owner: str,
        *,
        skip_rules: Collection[str] = (),
    ) -> list[Delivery]:
        """Also take the other deliveries due at ``now`` to ``lead``'s target whose alerts (not
        digests, nor of ``skip_rules``) hold a hit on one of ``stories``: several rules that fired on
        one story are sent to a target as one message. Each is claimed as ``claim_delivery`` claims
        one, so no other dispatcher sends it meanwhile."""
        _check_aware(now, "now")
        if not stories:
            return []
        due = (*self._due(now), _DELIVERY.c.target == lead.target)
        story = func.coalesce(_ITEM.c.story_id, _ITEM.c.id)
        sharing = (
            select(_DELIVERY.c.id)
            .join(_ALERT, _ALERT.c.id == _DELIVERY.c.alert_id)
            .join(_HIT, _HIT.c.alert_id == _DELIVERY.c.alert_id)
            .join(_ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(
                *due,
                _DELIVERY.c.id != lead.id,
                _ALERT.c.digest.is_(False),
                _ALERT.c.rule_id.not_in(list(skip_rules)),
                story.in_(list(stories)),
            )
            .distinct()
            .order_by(_DELIVERY.c.id)
        )
        claimed = []
        with self._errors(), self._engine.begin() as connection:
            for id in connection.execute(sharing).scalars().all():
                claim = (
                    update(_DELIVERY)
                    .where(_DELIVERY.c.id == id, *due)
                    .values(claimed_until=now + lease, claimed_by=owner)
                )
                if connection.execute(claim).rowcount == 1:
                    claimed.append(id)
            return _deliveries(connection, _DELIVERY.c.id.in_(claimed)) if claimed else []

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
            return _deliveries(connection, *conditions)

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

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each state (every state listed, zeros included)."""
        query = select(_DELIVERY.c.state, func.count()).group_by(_DELIVERY.c.state)
        with self._errors(), self._engine.connect() as connection:
            found: dict[str, int] = dict(connection.execute(query).all())
        return {state: found.get(state, 0) for state in DELIVERY_STATES}

    def waiting_by_target(self) -> dict[str, int]:
        """Deliveries not sent yet (pending or failed, to be tried again), by target name."""
        query = (
            select(_DELIVERY.c.target, func.count())
            .where(_DELIVERY.c.state.in_(_DUE_STATES))
            .group_by(_DELIVERY.c.target)
        )
        with self._errors(), self._engine.connect() as connection:
            return dict(connection.execute(query).all())

    @staticmethod
    def _due(now: datetime) -> tuple[Any, ...]:
        """Conditions of a delivery due at ``now`` that no dispatcher holds."""
        return (
            _DELIVERY.c.state.in_(_DUE_STATES),
            _DELIVERY.c.next_attempt <= now,
            or_(_DELIVERY.c.claimed_until.is_(None), _DELIVERY.c.claimed_until <= now),
        )


def _insert_deliveries(connection: Connection, alert: int, targets: Sequence[str], now: datetime) -> None:
    """A pending delivery of ``alert`` per distinct target, due at ``now``."""
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
