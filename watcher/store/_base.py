"""The base of the store: its engine, schema checks and upgrades, and database errors."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.dml import Insert

from watcher.errors import SchemaOutdatedError, StorageError
from watcher.store._engine import SCHEMA_REVISION, make_engine, mask, migrations_config, schema_state

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

_MIGRATION_LOCK: Final = 0x5357_0001  # pg_advisory_xact_lock id: one daemon migrates at a time


class StoreBase:
    """The engine of one database and what every part of the store shares: the schema checked
    or upgraded, database failures turned into ``StorageError``, insert-if-absent."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self.name = mask(self._engine.url)  # for messages: the password masked

    @classmethod
    def open(cls, url: str) -> Self:
        """The store, its schema checked: an empty database is created, an outdated one refused."""
        store = cls(url)
        try:
            with store._errors(), store._engine.connect() as connection:
                current, tables = schema_state(connection)
            if current != SCHEMA_REVISION:
                if current is not None or tables:
                    raise store._outdated(current)
                store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to this version's; return the revisions before and after."""
        from alembic import command

        with self._errors(), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            before, _ = schema_state(connection)
            script = self._script()
            if before is not None and before not in {s.revision for s in script.walk_revisions()}:
                raise self._outdated(before)
            command.upgrade(migrations_config(connection), "head")
            after, _ = schema_state(connection)
        assert after is not None
        return before, after

    def revision(self) -> str | None:
        """The database's schema revision (None: no summit-watch schema)."""
        with self._errors(), self._engine.connect() as connection:
            return schema_state(connection)[0]

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _insert_new(self, table: Table) -> Insert:
        """INSERT skipping rows that would violate a unique constraint (ON CONFLICT DO NOTHING)."""
        if self._engine.dialect.name == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()

    def _script(self) -> "ScriptDirectory":
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(migrations_config())

    def _outdated(self, current: str | None) -> SchemaOutdatedError:
        script = self._script()
        head = SCHEMA_REVISION
        if current is None:
            where = "has tables but no summit-watch revision"
        elif current in {s.revision for s in script.walk_revisions()}:
            where = f"is at revision {current}"
        else:
            return SchemaOutdatedError(
                f"database {self.name} is at revision {current}, which this version of summit-watch "
                f"does not know (was the database upgraded by a newer version?); this version needs {head}"
            )
        return SchemaOutdatedError(
            f"database {self.name} {where}; this version needs {head}: run `summit-watch db upgrade`"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Failures reported by the database become ``StorageError``; constraint violations are bugs."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as e:
            raise StorageError(f"database {self.name}: {self._reason(e.orig or e)}") from e
        except PoolTimeoutError as e:
            raise StorageError(f"database {self.name}: {self._reason(e)}") from e

    def _reason(self, error: BaseException) -> str:
        reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        password = self._engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        return reason or type(error).__name__


def _check_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
