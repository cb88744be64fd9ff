"""Alembic's environment for summit-watch's tables.

``Store.upgrade`` (``summit-watch db upgrade``) runs it with its own open connection in
``config.attributes["connection"]``. The alembic command line (``alembic.ini`` at the repository
root) needs the database: ``alembic -x url=sqlite:///path/to/watch.db upgrade head``.
"""

from logging.config import fileConfig
from typing import Final

from alembic import context
from sqlalchemy import Connection

from watcher.store import METADATA, database_url, make_engine

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: name the database: alembic -x url=sqlite:///path/to/watch.db ...")
    return url


# What the migrations made by hand and autogenerate cannot compare with the tables: the search index
# (SQLite's FTS5 table ``item_search`` and its shadow tables, PostgreSQL's trigram index).
_UNMODELLED: Final = ("item_search", "ix_item_search")


def _include_object(
    _object: object, name: str | None, type_: str, reflected: bool, compare_to: object | None
) -> bool:
    """Autogenerate compares every object but the unmodelled ones found in the database."""
    unmodelled = name is not None and name.startswith(_UNMODELLED)
    return not (reflected and compare_to is None and type_ in ("table", "index") and unmodelled)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    url = database_url(_url())
    context.configure(
        url=url,
        target_metadata=METADATA,
        include_object=_include_object,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _migrate(shared)
else:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()
