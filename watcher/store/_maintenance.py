"""Housekeeping: ``db prune`` and ``db vacuum``."""

from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, delete, exists, func, or_
from sqlmodel import select

from watcher.records import PruneReport, VacuumReport
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import _ALERT, _DELIVERY, _DUE_STATES, _HIT, _ITEM, METADATA


class MaintenanceMixin(StoreBase):
    """``prune`` old items and hits, ``vacuum`` the database."""

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
