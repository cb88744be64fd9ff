"""The engine and the migrations: database URLs, SQLite's pragmas, Alembic's configuration.

Alembic is imported only to migrate or to explain an outdated schema: opening a database that is
up to date reads its revision with one query and compares it with ``SCHEMA_REVISION``, so the
commands that only read (``hits``, ``status``...) do not pay for Alembic's import.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from watcher.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

# The migration scripts stay in ``watcher/migrations``, next to this package.
MIGRATIONS: Final = Path(__file__).parent.parent / "migrations"
# The head of the migrations: the schema this version needs. A new migration changes it
# (tests/test_store.py fails until it names Alembic's head).
SCHEMA_REVISION: Final = "d5a8c31e0f47"
VERSION_TABLE: Final = "alembic_version"


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


def migrations_config(connection: Connection | None = None) -> "Config":
    """Alembic's configuration for the package's migrations, to run on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))  # ini interpolation
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def schema_state(connection: Connection) -> tuple[str | None, set[str]]:
    """The database's schema revision (None: none recorded) and its other tables."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables:
        return None, tables
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(revisions) > 1:  # summit-watch's migrations are one line: never more than one head
        raise StorageError(f"{VERSION_TABLE} holds several revisions: {', '.join(sorted(revisions))}")
    return (revisions[0] if revisions else None), tables - {VERSION_TABLE}
