"""Feeds: the configured feeds with their HTTP validators, health, schedule and poll claims.

The feed table is read and written with Core statements, not ORM rows: a poll cycle reads every
feed once (``due_feeds``) and records every poll (``record_polls``), and a cycle of 1,000 feeds
answering 304 must cost little more than its conditional GETs.
"""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, bindparam, case, func, select, update
from sqlalchemy.sql.elements import BindParameter

from watcher.config import FeedConfig
from watcher.records import OUTCOMES, FeedState, PollRecord
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import _FEED

_SUCCESS: Final = frozenset({"ok", "not_modified"})


def _param(name: str, column: str) -> BindParameter[Any]:
    return bindparam(name, type_=_FEED.c[column].type)


# One statement, compiled once, for every poll recorded (executed once per batch of polls, with
# one set of parameters per poll): None validators keep the stored ones.
_RECORD_POLL = (
    update(_FEED)
    .where(_FEED.c.name == bindparam("feed"))
    .values(
        last_polled=_param("polled_at", "last_polled"),
        last_outcome=_param("outcome", "last_outcome"),
        last_status=_param("status", "last_status"),
        last_error=_param("error", "last_error"),
        consecutive_failures=_param("failures", "consecutive_failures"),
        next_poll=_param("next_poll", "next_poll"),
        gone=_param("gone", "gone"),
        etag=func.coalesce(_param("etag", "etag"), _FEED.c.etag),
        last_modified=func.coalesce(_param("last_modified", "last_modified"), _FEED.c.last_modified),
        last_success=func.coalesce(_param("success_at", "last_success"), _FEED.c.last_success),
        redirected_to=case(
            (_param("replace_redirect", "gone"), _param("redirected_to", "redirected_to")),
            else_=func.coalesce(_param("redirected_to", "redirected_to"), _FEED.c.redirected_to),
        ),
        claimed_by=None,
    )
)


class FeedsMixin(StoreBase):
    """``sync_feeds`` from the config, ``due_feeds`` and ``claim_feed`` to poll, ``record_poll``."""

    def sync_feeds(
        self, feeds: Sequence[FeedConfig], intervals: Mapping[str, timedelta] | None, now: datetime
    ) -> None:
        """Make the stored feeds match the config; feeds removed from it become inactive, never deleted.

        A new feed is due ``now``. A changed URL forgets the old one's validators, failures,
        redirect and "gone", and is polled ``now``. ``intervals`` (by feed name) bring a healthy
        feed's next poll forward to its last poll plus its interval if that is sooner (an
        interval made shorter takes effect at once); a failing feed keeps its back-off.

        One transaction: the feeds are read once, and only the columns that change are written
        (one executemany per set of changed columns), so that a poll recorded meanwhile by
        another daemon keeps its validators and schedule unless this sync changes them.
        """
        _check_aware(now, "now")
        wanted = {feed.name: feed for feed in feeds}
        read = ("name", "url", "tags", "active", "last_polled", "consecutive_failures", "next_poll")
        columns = [_FEED.c[name] for name in read]
        with self._errors(), self._engine.begin() as connection:
            changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in connection.execute(select(*columns)):
                change = _sync_change(row, wanted.pop(row.name, None), (intervals or {}).get(row.name), now)
                if change:
                    changes.setdefault(tuple(sorted(change)), []).append({"feed": row.name, **change})
            for changed, parameters in changes.items():
                _update_feeds(connection, changed, parameters)
            if wanted:  # DO NOTHING: another daemon starting at the same time may add them first
                new = [
                    {"name": f.name, "url": f.url, "tags": list(f.tags), "active": True, "next_poll": now}
                    for f in wanted.values()
                ]
                connection.execute(self._insert_new(_FEED), new)

    def feeds(self, *, include_inactive: bool = False) -> list[FeedState]:
        """The feeds by name; those removed from the config only with ``include_inactive``."""
        query = select(_FEED).order_by(_FEED.c.name)
        if not include_inactive:
            query = query.where(_FEED.c.active)
        with self._errors(), self._engine.connect() as connection:
            return [_feed_state(row) for row in connection.execute(query)]

    def due_feeds(self, now: datetime, names: Collection[str] | None = None) -> list[FeedState]:
        """Active feeds not gone whose next poll is due, most overdue first.

        With ``names`` (``poll --once``, ``poll --feed``): those feeds whatever their next poll;
        a gone feed is polled again only after its URL changes in the config.
        """
        _check_aware(now, "now")
        query = select(_FEED).where(_FEED.c.active, ~_FEED.c.gone)
        if names is None:
            query = query.where(_FEED.c.next_poll <= now)
        else:
            query = query.where(_FEED.c.name.in_(list(names)))
        query = query.order_by(_FEED.c.next_poll, _FEED.c.name)
        with self._errors(), self._engine.connect() as connection:
            return [_feed_state(row) for row in connection.execute(query)]

    def claim_feed(self, name: str, now: datetime, lease: timedelta, owner: str | None = None) -> bool:
        """Take the poll of feed ``name`` for ``owner`` if it is due at ``now``: its next poll moves
        to ``now + lease`` until the poll is recorded. False: not due (backing off) or another
        daemon took it."""
        _check_aware(now, "now")
        query = (
            update(_FEED)
            .where(
                _FEED.c.name == name,
                _FEED.c.active,
                ~_FEED.c.gone,
                _FEED.c.next_poll <= now,
            )
            .values(next_poll=now + lease, claimed_by=owner)
        )
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount == 1

    def next_poll(self, name: str) -> datetime | None:
        """When feed ``name`` is due (None: no such active feed, or gone)."""
        query = select(_FEED.c.next_poll).where(_FEED.c.name == name, _FEED.c.active, ~_FEED.c.gone)
        with self._errors(), self._engine.connect() as connection:
            found: datetime | None = connection.execute(query).scalar_one_or_none()
        return found

    def feed_claimants(self, now: datetime) -> set[str]:
        """The daemons holding a feed's poll at ``now``."""
        query = (
            select(_FEED.c.claimed_by)
            .where(_FEED.c.claimed_by.is_not(None), _FEED.c.next_poll > now)
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
            update(_FEED)
            .where(_FEED.c.claimed_by.in_(list(owners)), _FEED.c.next_poll > now)
            .values(next_poll=now, claimed_by=None)
        )
        if feed is not None:
            query = query.where(_FEED.c.name == feed)
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(query).rowcount

    def record_poll(self, record: PollRecord) -> None:
        """Store the outcome of a poll.

        Validators given as None keep the stored ones. A successful poll (ok, not modified)
        replaces the redirect seen with this poll's (None: the redirect is gone); a failed one
        keeps it unless it saw a new one. "gone" marks the feed gone, any other outcome clears it.
        """
        self._record_polls([record])

    def record_polls(self, records: Sequence[PollRecord]) -> None:
        """Store the outcomes of several polls (as ``record_poll`` each) in one transaction: one
        UPDATE statement executed with one set of parameters per poll (executemany), so a cycle's
        1,000 polls answered 304 cost one commit, not 1,000.

        All or nothing: a record naming no stored feed raises ``KeyError`` and stores none of them.
        """
        self._record_polls(records)

    def _record_polls(self, records: Sequence[PollRecord]) -> None:
        parameters = [_poll_parameters(record) for record in records]
        if not parameters:
            return
        with self._errors(), self._engine.begin() as connection:
            if connection.execute(_RECORD_POLL, parameters).rowcount != len(parameters):
                names = {record.feed for record in records}
                query = select(_FEED.c.name).where(_FEED.c.name.in_(names))
                missing = sorted(names - set(connection.execute(query).scalars()))
                # Duplicates in the batch only: no feed is missing, but the count differs.
                if missing:
                    raise KeyError(f"no feed named {missing[0]!r} in {self.name}")


def _poll_parameters(record: PollRecord) -> dict[str, Any]:
    """The parameters of ``_RECORD_POLL`` for one poll, checked."""
    if record.outcome not in OUTCOMES:
        raise ValueError(f"unknown poll outcome {record.outcome!r} (expected one of {sorted(OUTCOMES)})")
    _check_aware(record.polled_at, "polled_at")
    _check_aware(record.next_poll, "next_poll")
    success = record.outcome in _SUCCESS
    return {
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


def _sync_change(
    row: Any, feed: FeedConfig | None, interval: timedelta | None, now: datetime
) -> dict[str, Any]:
    """The columns of stored feed ``row`` to change so that it matches ``feed`` (None: removed
    from the config), by name; empty when it matches already."""
    if feed is None:
        return {"active": False} if row.active else {}
    change: dict[str, Any] = {} if row.active else {"active": True}
    if list(feed.tags) != row.tags:
        change["tags"] = list(feed.tags)
    failures, next_poll = row.consecutive_failures, row.next_poll
    if feed.url != row.url:
        change.update(url=feed.url, etag=None, last_modified=None, redirected_to=None)
        change.update(consecutive_failures=0, gone=False, next_poll=now)
        failures, next_poll = 0, now
    if interval is not None and row.last_polled is not None and failures == 0:
        sooner = row.last_polled + interval
        if sooner < next_poll:
            change["next_poll"] = sooner
    return change


def _update_feeds(connection: Connection, columns: tuple[str, ...], parameters: list[dict[str, Any]]) -> None:
    """Set ``columns`` of the feeds named in ``parameters`` (``feed`` and one value per column)."""
    values = {column: _param(column, column) for column in columns}
    statement = update(_FEED).where(_FEED.c.name == bindparam("feed")).values(values)
    connection.execute(statement, parameters)


def _feed_state(row: Any) -> FeedState:
    """A feed as stored, from a row of ``select(_FEED)``."""
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
