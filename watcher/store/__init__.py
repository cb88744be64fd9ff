"""The database: feeds with their HTTP validators and health, items, hits, the dates they state. SQLite
or PostgreSQL.

The tables are SQLModel classes private to this package (``_tables``); callers get and give frozen
dataclasses, so no ORM row (with its session, lazy loading and mutability) leaks into the rest of
the program. The schema is managed by Alembic: the migration scripts live in ``watcher/migrations``
(inside the package, so an installed copy can upgrade its own database). ``Store.open`` upgrades an
empty database itself and refuses an outdated one.

Deduplication: ``seen`` records every (feed, key) ever stored and is never pruned. Inserting
into it with ON CONFLICT DO NOTHING is the one test of "new", atomic even when several daemons
share a PostgreSQL database; ``item`` holds the text of the items not pruned yet.
"""

from watcher.store._base import StoreBase
from watcher.store._engine import MIGRATIONS, database_url, make_engine, mask, migrations_config
from watcher.store._events import EventsMixin
from watcher.store._feeds import FeedsMixin
from watcher.store._history import HistoryMixin
from watcher.store._items import ItemsMixin
from watcher.store._maintenance import MaintenanceMixin
from watcher.store._outbox import OutboxMixin
from watcher.store._stories import StoriesMixin
from watcher.store._tables import METADATA

__all__ = ["METADATA", "MIGRATIONS", "Store", "database_url", "make_engine", "mask", "migrations_config"]


class Store(
    FeedsMixin, ItemsMixin, StoriesMixin, OutboxMixin, HistoryMixin, EventsMixin, MaintenanceMixin, StoreBase
):
    """The database of one summit-watch installation. Each method is one transaction.

    One part per job, each in its own module:

    - ``StoreBase`` (``_base``): the engine; ``open`` checks the schema, ``upgrade`` migrates it;
      database failures become ``StorageError``.
    - ``FeedsMixin`` (``_feeds``): the configured feeds, their schedule, poll claims and outcomes.
    - ``ItemsMixin`` (``_items``): new items (once per feed, ever) and their hits; counts.
    - ``StoriesMixin`` (``_stories``): items grouped into stories.
    - ``OutboxMixin`` (``_outbox``): alerts of pending hits, their deliveries, claims and attempts.
    - ``HistoryMixin`` (``_history``): the hit and story listings, statistics, the backtest's reads.
    - ``EventsMixin`` (``_events``): the dates hits state, for the event timeline, and each rule's
      last estimate.
    - ``MaintenanceMixin`` (``_maintenance``): pruning and vacuuming.
    """
