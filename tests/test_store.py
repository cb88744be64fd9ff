"""The store on SQLite and PostgreSQL: migrations, feeds and their health, item dedup, hits, pruning."""

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

import watcher.store
import watcher.store._base
import watcher.store._engine
from watcher.config import FeedConfig
from watcher.errors import SchemaOutdatedError, StorageError
from watcher.items import Item
from watcher.records import NewHit, PollRecord, TermHit
from watcher.store import Store, make_engine, migrations_config
from watcher.store._engine import SCHEMA_REVISION

NOW = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
HEAD = ScriptDirectory.from_config(migrations_config()).get_current_head()


def feed(name: str, url: str | None = None, tags: tuple[str, ...] = ()) -> FeedConfig:
    return FeedConfig(name=name, url=url or f"https://news.example/{name}.xml", tags=tags)


def poll(name: str, **changes: object) -> PollRecord:
    values: dict[str, object] = {
        "feed": name,
        "polled_at": NOW,
        "outcome": "ok",
        "status": 200,
        "etag": None,
        "last_modified": None,
        "error": None,
        "consecutive_failures": 0,
        "next_poll": NOW + timedelta(minutes=10),
        "redirected_to": None,
    }
    values.update(changes)
    return PollRecord(**values)  # type: ignore[arg-type]


def execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def india(store: Store) -> Store:
    """A store with one feed, ``india``."""
    store.sync_feeds([feed("india", tags=("india",))], None, NOW)
    return store


# -- schema and migrations -----------------------------------------------------------------------


def test_an_empty_database_is_upgraded_on_open(database_url: str) -> None:
    with Store.open(database_url) as store:
        assert store.revision() == HEAD
        assert store.counts() == {"feeds": 0, "items": 0, "hits": 0}
        assert store.upgrade() == (HEAD, HEAD)


def test_the_schema_this_version_needs_is_the_head_of_its_migrations() -> None:
    """Opening a database compares its revision with SCHEMA_REVISION, without importing Alembic:
    a new migration must update it."""
    assert SCHEMA_REVISION == HEAD


def test_upgrade_reports_the_revisions(database_url: str) -> None:
    with Store(database_url) as store:
        assert store.revision() is None
        assert store.upgrade() == (None, HEAD)


def test_the_migrations_match_the_tables(store: Store, database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to change after an upgrade (no drift)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            command.check(migrations_config(connection))
    finally:
        engine.dispose()


def test_an_older_revision_is_refused_until_upgraded(
    store: Store, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at the current head looks outdated to a version with one more revision."""
    newer = tmp_path / "migrations"
    shutil.copytree(watcher.store.MIGRATIONS, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "next_revision.py").write_text(
        f'revision = "next"\ndown_revision = "{HEAD}"\n\n\n'
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    store.close()
    monkeypatch.setattr(watcher.store._engine, "MIGRATIONS", newer)
    monkeypatch.setattr(watcher.store._base, "SCHEMA_REVISION", "next")
    with pytest.raises(SchemaOutdatedError) as refused:
        Store.open(database_url)
    assert f"is at revision {HEAD}; this version needs next: run `summit-watch db upgrade`" in str(
        refused.value
    )
    assert refused.value.exit_code == 2
    with Store(database_url) as upgrading:
        assert upgrading.upgrade() == (HEAD, "next")
    with Store.open(database_url) as upgraded:
        assert upgraded.revision() == "next"


def test_a_revision_from_a_newer_version_is_refused(store: Store, database_url: str) -> None:
    execute(database_url, "UPDATE alembic_version SET version_num = 'f00dcafe1234'")
    for attempt in (lambda: Store.open(database_url), store.upgrade):
        with pytest.raises(SchemaOutdatedError, match="f00dcafe1234, which this version of summit-watch"):
            attempt()


def test_a_database_with_other_tables_is_not_taken_over(database_url: str) -> None:
    with Store(database_url):
        pass  # creates the SQLite file's directory
    execute(database_url, "CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaOutdatedError, match=r"has tables but no summit-watch revision.*db upgrade"):
        Store.open(database_url)
    with Store(database_url) as store:
        assert store.upgrade() == (None, HEAD)
    with Store.open(database_url) as store:
        assert store.counts()["items"] == 0


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'watch.db'}"
    with Store.open(url):
        assert (tmp_path / "deep" / "er" / "watch.db").is_file()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}


def test_an_unreachable_postgresql_server_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as failed:
        Store.open("postgresql://watcher:s3cret-pw@127.0.0.1:1/watch")
    message = str(failed.value)
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg://watcher:***@127.0.0.1:1/watch" in message
    assert failed.value.exit_code == 1


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "watch.db").write_bytes(b"not a database, just some bytes" * 100)
    with pytest.raises(StorageError, match=r"watch\.db: file is not a database"):
        Store.open(f"sqlite:///{tmp_path / 'watch.db'}")


@pytest.mark.parametrize("url", ["mysql://localhost/watch", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageError, match="sqlite:///"):
        Store(url)


# -- feeds ---------------------------------------------------------------------------------------


def test_sync_feeds_inserts_updates_and_deactivates(store: Store) -> None:
    store.sync_feeds([feed("india", tags=("india",)), feed("russia")], None, NOW)
    india, russia = store.feeds()
    assert (india.name, india.tags, india.active, india.next_poll) == ("india", ("india",), True, NOW)
    assert india.next_poll.tzinfo is not None
    assert (russia.name, russia.consecutive_failures, russia.gone, russia.last_polled) == (
        "russia",
        0,
        False,
        None,
    )

    later = NOW + timedelta(hours=1)
    store.sync_feeds([feed("india", tags=("india", "asia"))], None, later)
    assert [(f.name, f.tags, f.next_poll) for f in store.feeds()] == [("india", ("india", "asia"), NOW)]
    assert [(f.name, f.active) for f in store.feeds(include_inactive=True)] == [
        ("india", True),
        ("russia", False),
    ]

    store.sync_feeds([feed("india"), feed("russia")], None, later)
    assert [f.name for f in store.feeds()] == ["india", "russia"]
    assert store.counts()["feeds"] == 2


def test_a_changed_url_forgets_validators_failures_and_gone(india: Store) -> None:
    india.record_poll(poll("india", etag='"v1"', last_modified="Mon, 01 Dec 2025 08:00:00 GMT"))
    india.record_poll(
        poll(
            "india",
            outcome="gone",
            status=410,
            error="410 Gone",
            consecutive_failures=1,
            redirected_to="https://new.example/feed",
        )
    )
    later = NOW + timedelta(days=1)
    india.sync_feeds([feed("india", url="https://new.example/feed")], None, later)
    (state,) = india.feeds()
    assert state.url == "https://new.example/feed"
    assert (state.etag, state.last_modified, state.redirected_to) == (None, None, None)
    assert (state.consecutive_failures, state.gone, state.next_poll) == (0, False, later)
    assert state.last_error == "410 Gone"  # history: the last poll's outcome is still shown


def test_a_shorter_interval_brings_a_healthy_feeds_next_poll_forward(store: Store) -> None:
    store.sync_feeds([feed("healthy"), feed("failing")], None, NOW)
    store.record_poll(poll("healthy", next_poll=NOW + timedelta(hours=1)))
    store.record_poll(
        poll("failing", outcome="error", consecutive_failures=3, next_poll=NOW + timedelta(hours=8))
    )
    intervals = {"healthy": timedelta(minutes=10), "failing": timedelta(minutes=10)}
    store.sync_feeds([feed("healthy"), feed("failing")], intervals, NOW + timedelta(minutes=1))
    next_polls = {f.name: f.next_poll for f in store.feeds()}
    assert next_polls == {"healthy": NOW + timedelta(minutes=10), "failing": NOW + timedelta(hours=8)}


def test_due_feeds_by_time_and_by_name(store: Store) -> None:
    store.sync_feeds([feed(name) for name in ("a", "b", "c", "gone", "removed")], None, NOW)
    store.record_poll(poll("a", next_poll=NOW + timedelta(minutes=5)))
    store.record_poll(poll("b", next_poll=NOW + timedelta(minutes=1)))
    store.record_poll(poll("gone", outcome="gone", status=410, next_poll=NOW))
    store.sync_feeds([feed(name) for name in ("a", "b", "c", "gone")], None, NOW)

    assert [f.name for f in store.due_feeds(NOW)] == ["c"]
    assert [f.name for f in store.due_feeds(NOW + timedelta(minutes=5))] == ["c", "b", "a"]
    assert [f.name for f in store.due_feeds(NOW, names=["a", "b", "gone", "removed", "unknown"])] == [
        "b",
        "a",
    ]
    assert store.due_feeds(NOW, names=[]) == []


def test_record_poll_round_trip(india: Store) -> None:
    polled = datetime(2025, 12, 1, 14, 30, tzinfo=IST)
    india.record_poll(
        poll(
            "india",
            polled_at=polled,
            etag='"v1"',
            last_modified="Mon, 01 Dec 2025 08:00:00 GMT",
            redirected_to="https://moved.example/feed",
        )
    )
    (state,) = india.feeds()
    assert state.last_polled == state.last_success == polled
    assert state.last_polled is not None
    assert state.last_polled.tzinfo == UTC
    assert (state.etag, state.last_modified) == ('"v1"', "Mon, 01 Dec 2025 08:00:00 GMT")
    assert (state.last_outcome, state.last_status, state.redirected_to) == (
        "ok",
        200,
        "https://moved.example/feed",
    )

    failed_at = NOW + timedelta(minutes=10)
    india.record_poll(
        poll(
            "india",
            polled_at=failed_at,
            outcome="error",
            status=503,
            error="503 Service Unavailable",
            consecutive_failures=2,
            next_poll=NOW + timedelta(hours=1),
        )
    )
    (state,) = india.feeds()
    assert (state.etag, state.last_modified) == ('"v1"', "Mon, 01 Dec 2025 08:00:00 GMT")  # None: kept
    assert (state.last_polled, state.last_success) == (failed_at, polled)
    assert (state.last_outcome, state.last_status, state.last_error) == (
        "error",
        503,
        "503 Service Unavailable",
    )
    assert (state.consecutive_failures, state.next_poll) == (2, NOW + timedelta(hours=1))
    assert state.redirected_to == "https://moved.example/feed"  # a failure proves nothing

    india.record_poll(poll("india", outcome="not_modified", status=304, etag='"v2"'))
    (state,) = india.feeds()
    assert (state.etag, state.last_error, state.consecutive_failures, state.redirected_to) == (
        '"v2"',
        None,
        0,
        None,
    )
    india.record_poll(poll("india", outcome="gone", status=410))
    assert india.feeds()[0].gone


def test_record_poll_rejects_mistakes(india: Store) -> None:
    with pytest.raises(ValueError, match="outcome"):
        india.record_poll(poll("india", outcome="fine"))
    with pytest.raises(KeyError, match="nowhere"):
        india.record_poll(poll("nowhere"))
    with pytest.raises(ValueError, match="timezone-aware"):
        india.record_poll(poll("india", polled_at=datetime(2025, 12, 1, 9, 0)))


# -- items ---------------------------------------------------------------------------------------


def test_add_items_stores_only_new_items(india: Store) -> None:
    first = [Item(id="a", title="Modi and Putin speak"), Item(id="b", title="Lavrov to visit New Delhi")]
    stored = india.add_items("india", first, NOW)
    assert [(s.feed, s.item.id, s.item.title) for s in stored] == [
        ("india", "a", "Modi and Putin speak"),
        ("india", "b", "Lavrov to visit New Delhi"),
    ]
    assert len({s.id for s in stored}) == 2
    assert india.add_items("india", first, NOW + timedelta(minutes=10)) == []
    again = india.add_items("india", [*first, Item(id="c", title="Summit dates")], NOW)
    assert [s.item.id for s in again] == ["c"]
    assert india.counts()["items"] == 3


def test_the_same_key_twice_in_one_batch_is_stored_once(india: Store) -> None:
    stored = india.add_items(
        "india", [Item(id="a", title="first"), Item(id="b"), Item(id="a", title="second")], NOW
    )
    assert [(s.item.id, s.item.title) for s in stored] == [("a", "first"), ("b", "")]
    assert india.counts()["items"] == 2


def test_an_edited_item_is_not_new_and_keeps_its_first_text(india: Store) -> None:
    (original,) = india.add_items("india", [Item(id="a", title="Putin to visit India")], NOW)
    assert india.add_items("india", [Item(id="a", title="Putin arrives in India")], NOW) == []
    stored = india.item(original.id)
    assert stored is not None
    assert stored.item.title == "Putin to visit India"


def test_the_same_key_in_two_feeds_is_new_in_each(store: Store) -> None:
    store.sync_feeds([feed("one"), feed("two")], None, NOW)
    assert len(store.add_items("one", [Item(id="https://x.example/a")], NOW)) == 1
    assert len(store.add_items("two", [Item(id="https://x.example/a")], NOW)) == 1


def test_items_round_trip_in_utc(india: Store) -> None:
    fetched = datetime(2025, 12, 1, 14, 30, tzinfo=IST)
    published = datetime(2025, 11, 30, 23, 0, tzinfo=IST)
    item = Item(
        id="x" * 1000,  # longer than an index can hold: stored under a hash, returned whole
        title="Putin\x00 visit",
        summary="Summit in New Delhi",
        content="Full text",
        link="https://news.example/a",
        published=published,
        source="The Hindu",
    )
    stored, undated = india.add_items("india", [item, Item(id="no-date")], fetched)
    assert india.item(stored.id) == stored
    assert stored.item.title == "Putin visit"  # PostgreSQL text cannot hold NUL
    assert (stored.item.summary, stored.item.content, stored.item.link, stored.item.source) == (
        "Summit in New Delhi",
        "Full text",
        "https://news.example/a",
        "The Hindu",
    )
    assert stored.item.id == "x" * 1000
    assert stored.item.published == published
    assert stored.fetched_at == fetched
    assert stored.item.published is not None
    assert stored.item.published.tzinfo == UTC
    assert stored.fetched_at.tzinfo == UTC
    assert india.item(undated.id) == undated
    assert undated.item.published == fetched  # no published time: the fetch time
    assert india.item(10_000) is None


def test_naive_times_are_refused(india: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        india.add_items("india", [Item(id="a", published=datetime(2025, 12, 1))], NOW)
    assert india.counts()["items"] == 0


def test_concurrent_pollers_store_an_item_once(india: Store, database_url: str) -> None:
    """Several daemons may share a database: the same item from both is new for only one."""
    items = [Item(id=str(n)) for n in range(200)]
    stores = [Store.open(database_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(lambda s: s.add_items("india", items, NOW), stores))
    finally:
        for opened in stores:
            opened.close()
    assert sorted(stored.item.id for result in results for stored in result) == sorted(i.id for i in items)


# -- hits and pruning ----------------------------------------------------------------------------

TERM_HITS = (
    TermHit("Putin", "title", 0, 5, "Putin", 0),
    TermHit("New Delhi", "summary", 10, 19, "New Dehli", 1),
)


def test_hits_are_unique_per_rule_and_item(india: Store) -> None:
    a, b = india.add_items("india", [Item(id="a"), Item(id="b")], NOW)
    hit = NewHit("putin-visit-india", a.id, 96, ("Putin", "New Delhi"), TERM_HITS)
    assert india.add_hits([hit, hit], NOW) == 1
    assert india.add_hits([hit], NOW + timedelta(minutes=10)) == 0
    others = [NewHit("lavrov-visit-india", a.id, 80, (), ()), NewHit("putin-visit-india", b.id, 90, (), ())]
    assert india.add_hits([hit, *others], NOW) == 2
    assert india.add_hits([], NOW) == 0
    assert india.counts()["hits"] == 3

    stored = india.item_hits(a.id)
    assert [(h.rule, h.item, h.score) for h in stored] == [
        ("putin-visit-india", a.id, 96),
        ("lavrov-visit-india", a.id, 80),
    ]
    assert stored[0].terms == ("Putin", "New Delhi")
    assert stored[0].hits == TERM_HITS
    assert stored[0].created_at == NOW
    assert stored[0].created_at.tzinfo == UTC


def test_pruning_keeps_hit_items_and_never_brings_items_back(india: Store) -> None:
    old = [Item(id="old"), Item(id="old-with-hit")]
    stored_old = india.add_items("india", old, NOW - timedelta(days=40))
    (recent,) = india.add_items("india", [Item(id="recent")], NOW)
    india.add_hits([NewHit("putin-visit-india", stored_old[1].id, 100, (), ())], NOW)

    assert india.prune_items(NOW - timedelta(days=30)) == 1
    assert india.item(stored_old[0].id) is None
    assert india.item(stored_old[1].id) is not None
    assert india.item(recent.id) is not None
    assert india.counts() == {"feeds": 1, "items": 2, "hits": 1}

    back = india.add_items("india", [*old, Item(id="recent"), Item(id="new")], NOW + timedelta(days=1))
    assert [s.item.id for s in back] == ["new"]  # "old" was pruned, yet it is not new again
    assert india.prune_items(NOW + timedelta(days=2)) == 2  # everything without a hit
    assert india.counts()["items"] == 1
