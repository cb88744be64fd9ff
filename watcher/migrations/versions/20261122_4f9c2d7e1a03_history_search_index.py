"""history: a trigram index of item titles and summaries, for `summit-watch hits --search`

Revision ID: 4f9c2d7e1a03
Revises: 167500a1e635
Create Date: 2026-11-22 03:05:00.000000

Written by hand: autogenerate sees neither virtual tables, triggers nor operator classes
(``watcher/migrations/env.py`` tells it to leave these objects alone).

SQLite: ``item_search``, an FTS5 table with the ``trigram`` tokenizer (SQLite >= 3.34) over
``item(title, summary)`` as external content (the text is not stored twice), kept in step with
``item`` by three triggers (insert, delete -- pruning included --, and an update of the title or
summary). A SQLite without FTS5 or the trigram tokenizer gets no index: ``--search`` then reads
the hits newest first, as before (a warning says so). A later migration that rebuilds ``item``
(batch mode: copy, drop, rename) drops the triggers and must create them again.

PostgreSQL: a pg_trgm GIN index ``ix_item_search`` on ``title || ' ' || summary``. The extension
is created if it is missing, can be installed and the role may (pg_trgm is trusted since
PostgreSQL 13: CREATE on the database is enough); otherwise the index is left out, with a warning,
and ``--search`` reads the hits newest first. The downgrade drops the index, not the extension
(other objects may use it).
"""

import logging
import sqlite3
from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

# revision identifiers, used by Alembic.
revision: str = "4f9c2d7e1a03"
down_revision: str | Sequence[str] | None = "167500a1e635"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE item_search USING fts5("
    "title, summary, content='item', content_rowid='id', tokenize='trigram')"
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER item_search_insert AFTER INSERT ON item BEGIN "
    "INSERT INTO item_search (rowid, title, summary) VALUES (new.id, new.title, new.summary); END",
    "CREATE TRIGGER item_search_delete AFTER DELETE ON item BEGIN "
    "INSERT INTO item_search (item_search, rowid, title, summary) "
    "VALUES ('delete', old.id, old.title, old.summary); END",
    "CREATE TRIGGER item_search_update AFTER UPDATE OF title, summary ON item BEGIN "
    "INSERT INTO item_search (item_search, rowid, title, summary) "
    "VALUES ('delete', old.id, old.title, old.summary); "
    "INSERT INTO item_search (rowid, title, summary) VALUES (new.id, new.title, new.summary); END",
)
POSTGRESQL_INDEX = "CREATE INDEX ix_item_search ON item USING gin ((title || ' ' || summary) {opclass})"


def upgrade() -> None:
    if context.is_offline_mode():  # an SQL script: assume the features are there
        if op.get_context().dialect.name == "sqlite":
            for statement in (SQLITE_TABLE, *SQLITE_TRIGGERS):
                op.execute(statement)
            op.execute("INSERT INTO item_search (item_search) VALUES ('rebuild')")
        else:
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            op.execute(POSTGRESQL_INDEX.format(opclass="gin_trgm_ops"))
        return
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql(bind)


def _upgrade_sqlite() -> None:
    try:  # the same library as the migrating connection's (this process's sqlite3 module)
        probe = sqlite3.connect(":memory:")
        try:
            probe.execute("CREATE VIRTUAL TABLE probe USING fts5(text, tokenize='trigram')")
        finally:
            probe.close()
    except sqlite3.Error as e:
        log.warning(
            "SQLite %s has no FTS5 trigram tokenizer (%s): no search index, `hits --search` reads the "
            "hits newest first",
            sqlite3.sqlite_version,
            e,
        )
        return
    op.execute(SQLITE_TABLE)
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO item_search (item_search) VALUES ('rebuild')")  # the items already stored


def _trigram_schema(bind: Connection) -> str | None:
    found = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    ).scalar()
    return None if found is None else str(found)


def _upgrade_postgresql(bind: Connection) -> None:
    schema = _trigram_schema(bind)
    if schema is None:
        reason = "CREATE EXTENSION pg_trgm did not create it"
        available = bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if available.first() is None:
            reason = "the extension is not installed on the server (the PostgreSQL contrib package)"
        else:
            try:
                with bind.begin_nested():  # a savepoint: a refusal must not abort the migration
                    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except DBAPIError as e:
                reason = " ".join(str(e.orig).split())
            schema = _trigram_schema(bind)
        if schema is None:
            log.warning(
                "pg_trgm unavailable (%s): no search index, `hits --search` reads the hits newest first",
                reason,
            )
            return
    # Qualified: the extension may live in a schema off the search path.
    opclass = f"{bind.dialect.identifier_preparer.quote_identifier(schema)}.gin_trgm_ops"
    op.execute(POSTGRESQL_INDEX.format(opclass=opclass))


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for trigger in ("item_search_insert", "item_search_delete", "item_search_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS item_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_item_search")
