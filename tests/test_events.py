"""Events from end to end, on SQLite and PostgreSQL: the dates of hits stored with them, the
migration, the poll cycle keeping each rule's estimate, `event rebuild`, and `summit-watch event`
on the demo feeds and on the seed articles."""

# Ranges of dates are printed with an en dash.
# ruff: noqa: RUF001

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from conftest import REPO, RunCli
from polling import Clock, Poller, rss, seed_entries, write_settings
from sqlalchemy import text

import watcher.cli
from watcher.config import FeedConfig
from watcher.dates import DateClaim
from watcher.events import rebuild
from watcher.items import Item
from watcher.records import EventDate, EventState, FieldClaim, NewHit, TermHit
from watcher.store import Store, make_engine, migrations_config

RULE = "putin-visit-india"
NOW = datetime(2025, 11, 28, 9, 0, tzinfo=UTC)
BEFORE = "3c1e8f5a7b20"  # the revision before the event tables
HEAD = ScriptDirectory.from_config(migrations_config()).get_current_head()
DEMO_FEEDS = REPO / "examples" / "feeds"

DAYS = DateClaim(date(2025, 12, 4), date(2025, 12, 5), "days", "future", "on 4-5 December", 27, False)
TITLE_DAYS = DateClaim(date(2025, 12, 4), date(2025, 12, 5), "days", "unstated", "on December 4-5", 46, False)
MONTH = DateClaim(date(2025, 12, 1), date(2025, 12, 31), "month", "future", "in December", 40, True)


def execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def wire(store: Store) -> Store:
    """A store with one feed, ``wire``."""
    store.sync_feeds([FeedConfig(name="wire", url="https://wire.example/rss")], None, NOW)
    return store


def stored_item(store: Store, key: str, source: str | None = "Eurasia Wire") -> int:
    [stored] = store.add_items("wire", [Item(id=key, title=f"item {key}", source=source)], NOW)
    return stored.id


# -- the store -----------------------------------------------------------------------------------------


def test_the_dates_of_a_hit_are_stored_with_it_and_read_back_title_first(wire: Store) -> None:
    item, quiet = stored_item(wire, "a"), stored_item(wire, "b", source=None)
    dates = (FieldClaim("summary", DAYS), FieldClaim("title", TITLE_DAYS))
    hits = [NewHit(RULE, item, 100, ("Putin",), (), dates), NewHit(RULE, quiet, 90, (), ())]
    assert wire.add_hits([*hits, NewHit("other", item, 80, (), (), (FieldClaim("title", MONTH),))], NOW) == 3
    assert wire.add_hits([NewHit(RULE, item, 100, (), (), dates)], NOW) == 0  # stored once

    [report] = wire.rule_date_reports(RULE)  # the hit without dates is no report
    assert report.claims == (FieldClaim("title", TITLE_DAYS), FieldClaim("summary", DAYS))
    assert (report.rule, report.item, report.feed, report.outlet, report.title) == (
        RULE,
        item,
        "wire",
        "Eurasia Wire",
        "item a",
    )
    assert report.published == report.fetched_at == NOW
    [other] = wire.rule_date_reports("other")
    assert other.claims == (FieldClaim("title", MONTH),)
    assert wire.rule_date_reports("nobody") == []


def test_a_hits_dates_go_with_it(wire: Store, database_url: str) -> None:
    item = stored_item(wire, "a")
    wire.add_hits([NewHit(RULE, item, 100, (), (), (FieldClaim("title", TITLE_DAYS),))], NOW)
    execute(database_url, "DELETE FROM hit")  # pruning deletes hits the same way
    assert wire.rule_date_reports(RULE) == []


def test_the_dates_of_stored_hits_are_replaced_a_batch_at_a_time(wire: Store) -> None:
    items = [stored_item(wire, key) for key in "abc"]
    wire.add_hits([NewHit(RULE, item, 100, (), (), (FieldClaim("title", MONTH),)) for item in items], NOW)
    wire.add_hits([NewHit("other", items[0], 100, (), ())], NOW)
    first = wire.hits_with_items((RULE,), 0, 2)
    rest = wire.hits_with_items((RULE,), first[-1][0].id, 2)
    assert [hit.id for hit, _ in first + rest] == sorted(hit.id for hit, _ in first + rest)
    assert sorted(stored.id for _, stored in first + rest) == items
    assert {hit.rule for hit, _ in first + rest} == {RULE}
    assert len(rest) == 1
    assert len(wire.hits_with_items((), 0, 10)) == 4

    replaced = {
        first[0][0].id: [FieldClaim("summary", DAYS), FieldClaim("title", TITLE_DAYS)],
        first[1][0].id: [],
    }
    assert wire.replace_date_claims(replaced) == 2
    assert [r.claims for r in wire.rule_date_reports(RULE)] == [
        (FieldClaim("title", TITLE_DAYS), FieldClaim("summary", DAYS)),
        (FieldClaim("title", MONTH),),
    ]


def test_an_estimate_is_stored_by_compare_and_set(wire: Store) -> None:
    december = EventDate(date(2025, 12, 1), date(2025, 12, 31), "month")
    dated = EventDate(date(2025, 12, 4), date(2025, 12, 5), "days")
    assert wire.event_state(RULE) is None
    assert not wire.set_event_state(RULE, None, None)
    assert wire.set_event_state(RULE, None, EventState(RULE, december, "in December", NOW))
    assert not wire.set_event_state(RULE, None, EventState(RULE, dated, "on December 4-5", NOW))  # lost
    assert wire.event_state(RULE) == EventState(RULE, december, "in December", NOW)

    later = NOW + timedelta(days=50)
    assert not wire.set_event_state(RULE, dated, EventState(RULE, dated, "x", later))  # not what is stored
    assert wire.set_event_state(RULE, december, EventState(RULE, dated, "on December 4-5", later))
    assert wire.event_state(RULE) == EventState(RULE, dated, "on December 4-5", later)
    assert not wire.set_event_state(RULE, december, None)
    assert wire.set_event_state(RULE, dated, None)
    assert wire.event_state(RULE) is None


# -- the migration -------------------------------------------------------------------------------------


def test_the_migration_adds_the_event_tables_to_a_database_with_hits(database_url: str) -> None:
    """Hits stored before the migration have no dates until `event rebuild`; the migration goes
    down and up again."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrations_config(connection), BEFORE)
    finally:
        engine.dispose()
    title = "Kremlin confirms Putin's state visit to India on December 4-5"
    with Store(database_url) as old:  # the tables it writes are all there before the migration
        old.sync_feeds([FeedConfig(name="wire", url="https://wire.example/rss")], None, NOW)
        [stored] = old.add_items("wire", [Item(id="a", title=title, published=NOW)], NOW)
        putin = TermHit("Putin", "title", 17, 22, "Putin", 0)
        assert old.add_hits([NewHit(RULE, stored.id, 100, ("Putin",), (putin,))], NOW) == 1
        assert old.upgrade() == (BEFORE, HEAD)

    with Store.open(database_url) as store:
        assert store.rule_date_reports(RULE) == []
        done = rebuild(store, (), NOW)
        assert (done.hits, done.claims, done.changed) == (1, 1, (RULE,))
        [report] = store.rule_date_reports(RULE)
        assert [c.claim.text for c in report.claims] == ["on December 4-5"]

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.downgrade(migrations_config(connection), BEFORE)
            command.upgrade(migrations_config(connection), "head")
    finally:
        engine.dispose()
    with Store.open(database_url) as store:
        assert store.revision() == HEAD
        assert store.rule_date_reports(RULE) == []  # the claims went with the tables


# -- the poll cycle ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    guid: str
    title: str
    published: datetime


def write_feed(path: Path, title: str, *reports: Report) -> None:
    items = "".join(
        f"<item><guid>{escape(r.guid)}</guid><title>{escape(r.title)}</title>"
        f"<pubDate>{format_datetime(r.published, usegmt=True)}</pubDate></item>\n"
        for r in reports
    )
    path.write_text(f"<rss version='2.0'><channel><title>{escape(title)}</title>\n{items}</channel></rss>\n")


@pytest.fixture
def newsroom(tmp_path: Path, store: Store, database_url: str) -> tuple[Poller, dict[str, Path]]:
    """Two local feeds, ``hindu`` and ``tass``, written by the test, polled with a test clock."""
    feeds = {"hindu": tmp_path / "hindu.xml", "tass": tmp_path / "tass.xml"}
    write_feed(feeds["hindu"], "The Hindu")
    write_feed(feeds["tass"], "TASS")
    settings = write_settings(
        tmp_path / "settings.yaml", database_url, {name: path.as_uri() for name, path in feeds.items()}
    )
    return Poller(settings, store, Clock(datetime(2025, 10, 7, 12, tzinfo=UTC))), feeds


def test_the_cycle_stores_the_dates_of_new_hits_and_each_change_of_the_estimate(
    newsroom: tuple[Poller, dict[str, Path]], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Reports that move a date: "in December", then "December 4-5", then "moved to December 10"."""
    poll, feeds = newsroom
    december = Report("1", "Putin to visit India in December for the annual summit", poll.clock())
    write_feed(feeds["hindu"], "The Hindu", december)
    poll()
    state = store.event_state(RULE)
    assert state is not None
    assert (state.date, state.text, state.changed_at) == (
        EventDate(date(2025, 12, 1), date(2025, 12, 31), "month"),
        "in December",
        poll.clock(),
    )

    dated = Report(
        "2", "Kremlin: Putin to visit India on December 4-5", poll.clock.advance(timedelta(days=34))
    )
    write_feed(feeds["tass"], "TASS", dated)
    write_feed(
        feeds["hindu"],
        "The Hindu",
        december,
        Report("3", "Putin visit to India on December 4-5", dated.published),
    )
    caplog.set_level("INFO", logger="watcher.events")
    poll()
    state = store.event_state(RULE)
    assert state is not None
    assert (state.date, state.text) == (
        EventDate(date(2025, 12, 4), date(2025, 12, 5), "days"),
        "on December 4-5",
    )
    assert [r.getMessage() for r in caplog.records].count(
        "event_date_changed rule=putin-visit-india date=2025-12-04..2025-12-05/days "
        "was=2025-12-01..2025-12-31/month"
    ) == 1, "the second outlet's report of the same dates is no change"

    moved = Report("4", "Putin's India visit moved to December 10", poll.clock.advance(timedelta(days=10)))
    write_feed(feeds["tass"], "TASS", dated, moved)
    poll(["tass"])
    state = store.event_state(RULE)
    assert state is not None
    assert (state.date, state.changed_at) == (
        EventDate(date(2025, 12, 10), date(2025, 12, 10), "day"),
        poll.clock(),
    )
    assert len(store.rule_date_reports(RULE)) == 4


# -- summit-watch event ----------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's demo feeds (two outlets: the Modi-Putin call, Putin's December 4-5 visit),
    polled into the store; the CLI's clock on 30 November 2025. Returns the settings file."""
    feeds = {f"demo-{path.stem}": path.as_uri() for path in sorted(DEMO_FEEDS.glob("*.xml"))}
    settings = write_settings(tmp_path / "settings.yaml", database_url, feeds)
    summary = Poller(settings, store, Clock(datetime(2025, 12, 4, 15, tzinfo=UTC)))()
    assert summary.new_items == 4
    monkeypatch.setattr(watcher.cli, "_now", lambda: datetime(2025, 11, 30, 12, tzinfo=UTC))
    return settings


def test_event_shows_the_date_the_demo_outlets_state_with_both_of_them(demo: Path, run_cli: RunCli) -> None:
    result = run_cli("--config", demo, "event", RULE)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"event {RULE}",
        "dated: 4–5 December 2025 (1 outlet: Eurasia Wire (demo)); "
        "first reported by Eurasia Wire (demo) 2025-11-28T09:00:00Z",
        "consistent with it: Delhi Dispatch (demo)",
    ]
    table = lines[4:]
    assert table[0].split() == ["TIME", "OUTLET", "CLAIM", "DATE", "PRECISION", "TENSE", "NOTE"]
    assert all(len(line) <= 120 for line in lines)
    narrowed = next(row for row in table if "on December 4-5" in row)
    assert narrowed.split("  ")[:2] == ["2025-11-28T09:00:00Z", "Eurasia Wire (demo)"]
    assert "4–5 December 2025  days" in narrowed
    assert narrowed.endswith("narrowed")
    arrival = next(row for row in table if "on Thursday evening" in row)
    assert arrival.split("  ")[:2] == ["2025-12-04T14:00:00Z", "Delhi Dispatch (demo)"]
    assert arrival.endswith("done, first")
    assert run_cli("--config", demo, "event", "show", RULE).stdout == result.stdout


def test_event_json_is_one_object_with_the_estimate_status_and_history(demo: Path, run_cli: RunCli) -> None:
    result = run_cli("--config", demo, "event", RULE, "--json", "--utc")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["status"] == "dated"
    assert found["estimate"] == {
        "start": "2025-12-04",
        "end": "2025-12-05",
        "precision": "days",
        "reads": "4–5 December 2025",
        "text": "on December 4-5",
        "outlets": ["Eurasia Wire (demo)"],
        "consistent": ["Delhi Dispatch (demo)"],
        "first_reported_by": "Eurasia Wire (demo)",
        "first_reported_at": "2025-11-28T09:00:00+00:00",
        "first_link": "https://eurasia-wire.example/news/putin-india-visit-dates",
    }
    assert {entry["outlet"] for entry in found["history"]} == {"Delhi Dispatch (demo)", "Eurasia Wire (demo)"}
    narrowed = next(entry for entry in found["history"] if entry["change"] == "narrowed")
    assert (narrowed["field"], narrowed["text"], narrowed["tense"], narrowed["done"]) == (
        "title",
        "on December 4-5",
        "unstated",
        False,
    )


def test_event_knows_rules_without_dates_and_suggests_a_rule_for_a_typo(
    demo: Path, run_cli: RunCli, store: Store
) -> None:
    unknown = run_cli("--config", demo, "event", "putin-vist-india")
    assert unknown.exit_code == 2
    assert "no rule 'putin-vist-india'; did you mean putin-visit-india?" in unknown.stderr
    lavrov = "lavrov-visit-india"
    assert run_cli("--config", demo, "event", lavrov).stdout.splitlines() == [
        f"event {lavrov}",
        "no hits yet",
    ]
    [item] = store.add_items("demo-delhi-dispatch", [Item(id="x", title="Lavrov lands in New Delhi")], NOW)
    store.add_hits([NewHit(lavrov, item.id, 100, ("Lavrov",), ())], NOW)
    assert run_cli("--config", demo, "event", lavrov).stdout.splitlines() == [
        f"event {lavrov}",
        "rumoured: no date stated yet",
    ]
    assert json.loads(run_cli("--config", demo, "event", lavrov, "--json").stdout) == {
        "rule": lavrov,
        "status": "rumoured",
        "estimate": None,
        "history": [],
    }


def test_event_rebuild_reads_the_dates_of_stored_hits_again(
    demo: Path, run_cli: RunCli, database_url: str, store: Store
) -> None:
    again = run_cli("--config", demo, "event", "rebuild")
    assert again.stdout.splitlines() == ["6 hits read again: 10 date claims stored"]  # nothing changed

    execute(database_url, "DELETE FROM date_claim")
    execute(database_url, "DELETE FROM event_state")
    one = run_cli("--config", demo, "event", "rebuild", RULE)
    assert one.stdout.splitlines() == [
        "4 hits read again: 7 date claims stored",
        f"estimate of {RULE} changed: 4–5 December 2025",
    ]
    assert store.event_state("modi-putin-call") is None  # another rule: not rebuilt
    assert run_cli("--config", demo, "event", "rebuild", "putin-vist").exit_code == 2


@pytest.fixture
def seed_settings(real_seeds: list[Path], tmp_path: Path, store: Store, database_url: str) -> Path:
    """The real seed articles (../shared) from two feeds, The Hindu's and the Hindustan Times',
    polled into the store: what they state, as they state it."""
    hindu, hindustan = seed_entries(real_seeds)
    feeds = {}
    for name, entry, outlet in (("hindu", hindu, "The Hindu"), ("ht", hindustan, "Hindustan Times")):
        path = tmp_path / f"{name}.xml"
        path.write_text(rss(entry, title=outlet), encoding="utf-8")
        feeds[name] = path.as_uri()
    settings = write_settings(tmp_path / "settings.yaml", database_url, feeds)
    Poller(settings, store, Clock(datetime(2025, 10, 7, 11, tzinfo=UTC)))()
    return settings


def test_event_on_the_seed_articles_shows_the_date_they_state_with_both_outlets(
    seed_settings: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Hindu: "Putin's scheduled visit to India in December"; the Hindustan Times: "the 23rd
    India-Russia Annual Summit later this year"."""
    monkeypatch.setattr(watcher.cli, "_now", lambda: datetime(2025, 10, 8, tzinfo=UTC))
    lines = run_cli("--config", seed_settings, "event", RULE).stdout.splitlines()
    assert lines[1:3] == [
        "announced: December 2025 (1 outlet: The Hindu); first reported by The Hindu 2025-10-07T10:00:00Z",
        "consistent with it: Hindustan Times",
    ]
