"""Database fixtures (a pytest plugin): every storage test runs on SQLite and on PostgreSQL.

``database_url`` is an empty database: a SQLite file under tmp_path, or, on PostgreSQL, a schema
of its own inside a throwaway database ``sw_test_<random>`` created once per session on the
server named by $SUMMIT_WATCH_TEST_POSTGRES (default: postgres on 127.0.0.1:5432, trust
authentication) and dropped WITH (FORCE) at the end. An unreachable server fails the PostgreSQL
tests rather than skipping them: CI starts it, and half of the storage tests silently skipped
would go unnoticed.
"""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from watcher.store import Store

POSTGRES_ENV = "SUMMIT_WATCH_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """A libpq URL of a PostgreSQL role allowed to create databases; checked once per session."""
    url = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)
    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as e:
        problem = " ".join(str(e).split())
    else:
        return url
    shown = make_url(url).render_as_string(hide_password=True)
    pytest.fail(
        f"PostgreSQL at {shown} is unreachable ({problem}). The storage tests run on PostgreSQL as well "
        f"as SQLite: start the server (.ci/run does) or name another one in ${POSTGRES_ENV}.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_database(postgres_admin: str) -> Iterator[str]:
    """A throwaway database for the session, ``sw_test_<random>``, dropped at the end."""
    name = f"sw_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(postgres_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database. SQLite: a file in a directory that does not exist yet. PostgreSQL: a
    schema of its own in the session's database, first on the search path, so every table,
    alembic_version included, goes there (CREATE DATABASE costs ~0.1 s a test, a schema ~1 ms).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'watch.db'}"
        return
    database = request.getfixturevalue("postgres_database")
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        url = make_url(database).set(
            drivername="postgresql+psycopg", query={"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store opened on an empty database (so at the current schema revision)."""
    with Store.open(database_url) as opened:
        yield opened
