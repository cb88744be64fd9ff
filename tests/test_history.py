"""Hit history from the command line on SQLite and PostgreSQL: `hits` (filters, sorting, time
zones, table, JSON Lines and CSV), `hits show` (highlights, story outlets, deliveries) and
`stories`, over data stored through the store API; and `Store.hits` streaming."""

import contextlib
import csv
import dataclasses
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from polling import write_settings
from sqlalchemy import event

import watcher.cli
import watcher.store._history
from watcher.cli import cli
from watcher.config import FeedConfig
from watcher.items import Item
from watcher.records import HitQuery, NewHit, TermHit
from watcher.store import Store

T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)  # 14:30 in Kolkata
NOW = T0 + timedelta(days=1)  # the CLI's clock: durations count back from it
SINCE_ERROR = (
    "Invalid value for --since: '3x' is neither a duration (30d, 12h, 2w), a date (2025-12-01) "
    "nor a time (2025-12-01T09:30)"
)


def term(word: str, field: str, text: str) -> TermHit:
    start = text.index(word)
    return TermHit(term=word, field=field, start=start, end=start + len(word), text=word, edits=0)


VISIT_TITLE = "Putin to visit New Delhi for the annual summit"
VISIT_SUMMARY = "President Putin will visit India next month, officials are 100% sure_thing."


class Desk:
    """Three items: two outlets (alpha, beta) of one story hit by rule `visit`, alerted to two
    targets (mail sent, slack failed); one older item of gamma hit by rule `lavrov`, pending."""

    def __init__(self, store: Store) -> None:
        self.store = store
        feeds = [
            FeedConfig(name=name, url=f"https://news.example/{name}.xml")
            for name in ("alpha", "beta", "gamma")
        ]
        store.sync_feeds(feeds, None, T0 - timedelta(days=5))
        self.a1 = self._item(
            "alpha",
            Item(
                id="a1",
                title=VISIT_TITLE,
                summary=VISIT_SUMMARY,
                link="https://alpha.example/a1",
                source="Alpha News",
            ),
            T0,
        )
        self.b1 = self._item(
            "beta",
            Item(
                id="b1",
                title="Kremlin confirms Putin visit dates",
                summary="The Kremlin said the visit is on.",
                link="https://beta.example/b1",
            ),
            T0 + timedelta(hours=1),
        )
        self.g1 = self._item(
            "gamma",
            Item(id="g1", title="Lavrov in New Delhi for talks", summary="1000 diplomats, surexthing."),
            T0 - timedelta(days=3),
        )
        self.hit_a1 = self._hit(
            "visit",
            self.a1,
            100,
            [
                term("Putin", "title", VISIT_TITLE),
                term("visit", "title", VISIT_TITLE),
                term("Putin", "summary", VISIT_SUMMARY),
            ],
            T0,
        )
        self.hit_b1 = self._hit("visit", self.b1, 80, [], T0 + timedelta(hours=1))
        self.hit_g1 = self._hit("lavrov", self.g1, 90, [], T0 - timedelta(days=3))
        store.join_story(self.a1, self.a1)
        store.join_story(self.b1, self.a1)
        store.join_story(self.g1, self.g1)
        alert = store.create_alert("visit", ["mail", "slack"], T0 + timedelta(hours=2))
        assert alert is not None
        self.alert = alert
        mail, slack = sorted(store.deliveries(), key=lambda d: d.target)
        store.record_delivery(mail.id, T0 + timedelta(hours=2))
        store.record_delivery(
            slack.id, T0 + timedelta(hours=2), error="boom: 500", retry_at=T0 + timedelta(hours=3)
        )

    def _item(self, feed: str, item: Item, at: datetime) -> int:
        item = dataclasses.replace(item, published=at)
        (stored,) = self.store.add_items(feed, [item], at)
        return stored.id

    def _hit(self, rule: str, item: int, score: int, hits: list[TermHit], at: datetime) -> int:
        terms = tuple(dict.fromkeys(h.term for h in hits)) or ("Putin",)
        assert self.store.add_hits([NewHit(rule, item, score, terms, tuple(hits))], at) == 1
        (found,) = [h for h in self.store.item_hits(item) if h.rule == rule]
        return found.id


@pytest.fixture
def kolkata() -> Iterator[None]:
    """Local time is Asia/Kolkata (UTC+05:30, no DST) for the test."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def desk(store: Store, kolkata: None, monkeypatch: pytest.MonkeyPatch) -> Desk:
    monkeypatch.setattr(watcher.cli, "_now", lambda: NOW)
    return Desk(store)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Path:
    return write_settings(
        tmp_path / "summit-watch.yaml", database_url, {"alpha": "https://news.example/a.xml"}
    )


def run(settings: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(settings), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(result.output) from result.exception
    return result


def table_ids(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "TIME", "RULE"]
    return [int(line.split()[0]) for line in lines[1:] if line[:1].isdigit()]


# -- hits ------------------------------------------------------------------------------------------


def test_hits_lists_newest_first_in_local_time_or_utc(desk: Desk, settings: Path) -> None:
    result = run(settings, "hits")
    assert table_ids(result) == [desk.hit_b1, desk.hit_a1, desk.hit_g1]
    lines = result.stdout.splitlines()
    assert f"{desk.hit_a1}  2025-12-01T09:00:00Z  visit" in lines[2].replace("   ", "  ")
    assert "alpha" in lines[2]
    assert VISIT_TITLE in lines[2]

    utc = run(settings, "hits", "--utc").stdout.splitlines()
    assert "2025-12-01T09:00:00Z" in utc[2]
    assert "14:30" not in "".join(utc)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rule", "visit"], ["hit_b1", "hit_a1"]),
        (["--rule", "lavrov", "--rule", "visit"], ["hit_b1", "hit_a1", "hit_g1"]),
        (["--feed", "beta"], ["hit_b1"]),
        (["--feed", "alpha", "--feed", "gamma"], ["hit_a1", "hit_g1"]),
        (["--since", "2d"], ["hit_b1", "hit_a1"]),  # NOW - 2 days = T0 - 1 day
        (["--until", "2d"], ["hit_g1"]),
        (["--since", "2025-12-01"], ["hit_b1", "hit_a1"]),  # midnight in Kolkata
        (["--since", "2025-12-01T14:30"], ["hit_b1", "hit_a1"]),  # local time, inclusive
        (["--since", "2025-12-01T14:31"], ["hit_b1"]),
        (["--until", "2025-12-01T14:30"], ["hit_g1"]),  # exclusive
        (["--since", "2025-12-01T09:00+00:00", "--until", "2025-12-01T09:30Z"], ["hit_a1"]),
        (["--search", "KREMLIN"], ["hit_b1"]),  # title or summary, any case
        (["--search", "officials"], ["hit_a1"]),  # summary only
        (["--search", "100%"], ["hit_a1"]),  # not "100" then anything: g1 says "1000"
        (["--search", "sure_thing"], ["hit_a1"]),  # not "sure" any letter "thing": g1 says "surexthing"
        (["--search", "kR"], ["hit_b1"]),  # under 3 characters: no trigram, the hits are read in order
        (["--search", "0%"], ["hit_a1"]),  # g1's "1000" is no match there either
        (["--search", 'the "kremlin'], []),  # a double quote is a character like any other
        (["--rule", "visit", "--feed", "alpha"], ["hit_a1"]),
        (["--rule", "visit", "--since", "2025-12-01T14:31", "--search", "putin"], ["hit_b1"]),
        (["--feed", "gamma", "--since", "2d"], []),
        (["--sort", "oldest"], ["hit_g1", "hit_a1", "hit_b1"]),
        (["--sort", "score"], ["hit_a1", "hit_g1", "hit_b1"]),
        (["--sort", "score", "--rule", "visit"], ["hit_a1", "hit_b1"]),
    ],
)
def test_hits_filters(desk: Desk, settings: Path, args: list[str], expected: list[str]) -> None:
    result = run(settings, "hits", *args)
    if not expected:
        assert result.exit_code == 0
        assert result.stdout == "no hits match these filters\n"
        return
    assert table_ids(result) == [getattr(desk, name) for name in expected]


def test_a_time_means_local_time_unless_utc(desk: Desk, settings: Path) -> None:
    """14:45 in Kolkata is 09:15 UTC (between the two visit hits); 14:45 UTC is after both."""
    assert table_ids(run(settings, "hits", "--since", "2025-12-01T14:45")) == [desk.hit_b1]
    os.environ["TZ"] = "UTC"  # not monkeypatch: the autouse one is undone after `kolkata` restores TZ
    time.tzset()
    assert run(settings, "hits", "--since", "2025-12-01T14:45").stdout == "no hits match these filters\n"
    assert table_ids(run(settings, "hits", "--since", "2025-12-01T09:15")) == [desk.hit_b1]


def test_limit_shows_that_there_are_more(desk: Desk, settings: Path) -> None:
    result = run(settings, "hits", "--limit", "1")
    assert table_ids(result) == [desk.hit_b1]
    assert result.stdout.splitlines()[-1] == "(1 hit shown; there are more: --limit N shows N, --limit 0 all)"
    everything = run(settings, "hits", "--limit", "0")
    assert len(table_ids(everything)) == 3
    assert "there are more" not in everything.stdout
    assert "there are more" not in run(settings, "hits", "--limit", "3").stdout


def test_no_hits_is_a_friendly_line(store: Store, settings: Path) -> None:
    result = run(settings, "hits")
    assert (result.exit_code, result.stdout) == (0, "no hits stored yet\n")
    assert run(settings, "hits", "--format", "json").stdout == ""
    assert run(settings, "hits", "--format", "csv").stdout.splitlines() == [
        "id,created_at,rule,score,terms,item,feed,source,title,link,published,story,alert"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "3x"], SINCE_ERROR),
        (
            ["--until", "yesterday"],
            "Invalid value for --until: 'yesterday' is neither a duration (30d, 12h, 2w), "
            "a date (2025-12-01) nor a time (2025-12-01T09:30)",
        ),
        (
            ["--since", "2025-12-02", "--until", "2025-12-01"],
            "Invalid value for --until: 2025-11-30T18:30:00Z is not after --since (2025-12-01T18:30:00Z)",
        ),
        (["--search", " "], "Invalid value for --search: give some text to search for"),
        (["--limit", "-1"], "Invalid value for '--limit': -1 is not in the range x>=0."),
        (["--sort", "best"], "Invalid value for '--sort': 'best' is not one of 'newest', 'oldest', 'score'."),
    ],
)
def test_invalid_filters_exit_2_with_a_clear_message(
    desk: Desk, settings: Path, args: list[str], message: str
) -> None:
    result = run(settings, "hits", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


def test_json_lines_read_back(desk: Desk, settings: Path) -> None:
    lines = run(settings, "hits", "--format", "json").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [desk.hit_b1, desk.hit_a1, desk.hit_g1]
    a1 = records[1]
    assert a1 == {
        "id": desk.hit_a1,
        "created_at": "2025-12-01T14:30:00+05:30",
        "rule": "visit",
        "score": 100,
        "terms": ["Putin", "visit"],
        "item": desk.a1,
        "feed": "alpha",
        "source": "Alpha News",
        "title": VISIT_TITLE,
        "link": "https://alpha.example/a1",
        "published": "2025-12-01T14:30:00+05:30",
        "story": desk.a1,
        "alert": desk.alert,
    }
    assert records[0]["story"] == desk.a1  # beta's item is in alpha's story
    assert records[2]["alert"] is None  # pending
    utc = json.loads(run(settings, "hits", "--format", "json", "--utc", "--feed", "alpha").stdout)
    assert utc["created_at"] == "2025-12-01T09:00:00+00:00"


def test_csv_reads_back(desk: Desk, settings: Path) -> None:
    text = run(settings, "hits", "--format", "csv", "--sort", "oldest").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == [desk.hit_g1, desk.hit_a1, desk.hit_b1]
    a1 = rows[1]
    assert (a1["rule"], a1["score"], a1["terms"], a1["feed"], a1["title"]) == (
        "visit",
        "100",
        "Putin; visit",
        "alpha",
        VISIT_TITLE,
    )
    assert a1["created_at"] == "2025-12-01T14:30:00+05:30"
    assert rows[0]["alert"] == ""
    assert rows[2]["source"] == ""  # beta has no title of its own


# -- hits show --------------------------------------------------------------------------------------


def test_hits_show_the_item_highlights_story_and_deliveries(desk: Desk, settings: Path) -> None:
    result = run(settings, "hits", "show", str(desk.hit_a1))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"hit {desk.hit_a1} · rule visit · score 100 · 2025-12-01T09:00:00Z"
    assert lines[1] == "*Putin* to *visit* New Delhi for the annual summit"
    assert lines[2] == "Alpha News (alpha) · published 2025-12-01T09:00:00Z"
    assert lines[3] == "https://alpha.example/a1"
    assert lines[4] == "matched: Putin (title, summary), visit (title)"  # as alerts say it
    assert lines[5] == "President *Putin* will visit India next month, officials are 100% sure_thing."
    assert "\x1b[" not in result.stdout  # not a terminal: no escape codes
    assert f"story {desk.a1}, also reported by:" in lines
    assert "  beta · 2025-12-01T10:00:00Z · https://beta.example/b1" in lines
    assert f"alert {desk.alert}: 2 deliveries" in lines
    deliveries = [line.split() for line in lines[lines.index(f"alert {desk.alert}: 2 deliveries") + 2 :]]
    assert deliveries[0][:4] == ["mail", "sent", "1", "attempt"]
    assert "2025-12-01T11:00:00Z" in " ".join(deliveries[0])  # sent at T0 + 2 h
    assert deliveries[1][:4] == ["slack", "failed", "1", "attempt"]
    assert " ".join(deliveries[1][-2:]) == "boom: 500"

    utc = run(settings, "hits", "show", "--utc", str(desk.hit_b1)).stdout.splitlines()
    assert utc[0] == f"hit {desk.hit_b1} · rule visit · score 80 · 2025-12-01T10:00:00Z"
    assert utc[2] == "beta · published 2025-12-01T10:00:00Z"
    assert "  Alpha News (alpha) · 2025-12-01T09:00:00Z · https://alpha.example/a1" in utc


def test_hits_show_on_a_terminal_highlights_in_bold(
    desk: Desk, settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    runner = CliRunner()
    original = runner.isolation

    @contextlib.contextmanager
    def isolation(*args: Any, **kwargs: Any) -> Iterator[Any]:
        """CliRunner's streams, its stdout a terminal."""
        with original(*args, **kwargs) as streams:
            sys.stdout.isatty = lambda: True  # type: ignore[method-assign]
            yield streams

    monkeypatch.setattr(runner, "isolation", isolation)
    result = runner.invoke(cli, ["--config", str(settings), "hits", "show", str(desk.hit_a1)], color=True)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[1]
        == "\x1b[1mPutin\x1b[0m to \x1b[1mvisit\x1b[0m New Delhi for the annual summit"
    )


def test_hits_show_a_pending_hit_and_an_unknown_one(desk: Desk, settings: Path) -> None:
    lines = run(settings, "hits", "show", str(desk.hit_g1)).stdout.splitlines()
    assert f"story {desk.g1}: no other outlet" in lines
    assert lines[3] == "matched: Putin"  # stored without positions: the terms alone
    assert lines[-1] == "alert: none yet (the hit is pending)"
    assert lines[2] == "gamma · published 2025-11-28T09:00:00Z"

    missing = run(settings, "hits", "show", "999")
    assert missing.exit_code == 2
    assert (
        missing.stderr.splitlines()[-1]
        == "Error: Invalid value for ID: no hit 999 (`summit-watch hits` lists them)"
    )


# -- stories ---------------------------------------------------------------------------------------


def test_stories_one_line_each_with_outlets_and_first_and_last_seen(desk: Desk, settings: Path) -> None:
    result = run(settings, "stories")
    assert result.exit_code == 0, result.output
    header, visit, lavrov = result.stdout.splitlines()
    assert header.split()[:3] == ["STORY", "FIRST", "SEEN"]
    assert visit.split()[0] == str(desk.a1)
    assert "2025-12-01T09:00:00Z  2025-12-01T10:00:00Z  2     visit" in visit
    assert "Alpha News, beta" in visit
    headline = visit.rsplit("  ", 1)[-1]
    assert VISIT_TITLE.startswith(headline.removesuffix("…")), "the headline, cut to fit"
    assert all(len(line) <= 120 for line in result.stdout.splitlines()), "a table fits 120 columns"
    assert lavrov.split()[0] == str(desk.g1)
    assert "gamma" in lavrov

    records = json.loads(run(settings, "stories", "--format", "json", "--utc").stdout)
    assert records[0] == {
        "story": desk.a1,
        "headline": VISIT_TITLE,
        "outlets": ["Alpha News", "beta"],
        "feeds": ["alpha", "beta"],
        "first_seen": "2025-12-01T09:00:00+00:00",
        "last_seen": "2025-12-01T10:00:00+00:00",
        "hits": 2,
        "rules": ["visit"],
    }
    assert [r["story"] for r in records] == [desk.a1, desk.g1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rule", "lavrov"], ["g1"]),
        (["--since", "2d"], ["a1"]),
        (["--until", "2025-12-01"], ["g1"]),
        (["--since", "2025-12-01T15:00"], ["a1"]),  # only beta's hit: still the whole story
        (["--limit", "1"], ["a1"]),
    ],
)
def test_stories_filters(desk: Desk, settings: Path, args: list[str], expected: list[str]) -> None:
    records = json.loads(run(settings, "stories", "--format", "json", *args).stdout)
    assert [r["story"] for r in records] == [getattr(desk, name) for name in expected]
    if args[0] == "--since" and args[1].endswith("15:00"):
        assert records[0]["hits"] == 1
        assert records[0]["outlets"] == ["Alpha News", "beta"]


def test_stories_empty_and_invalid(desk: Desk, settings: Path) -> None:
    result = run(settings, "stories", "--until", "2000-01-01")
    assert (result.exit_code, result.stdout) == (0, "no stories match these filters\n")
    assert run(settings, "stories", "--until", "2000-01-01", "--format", "json").stdout == "[]\n"
    unknown = run(settings, "stories", "--rule", "nope")
    assert unknown.exit_code == 2, "an unknown rule is a mistake, not an empty result"
    assert "no rule 'nope'" in unknown.stderr
    bad = run(settings, "stories", "--since", "3x")
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[-1] == f"Error: {SINCE_ERROR}"


# -- the store -------------------------------------------------------------------------------------


def test_store_hits_streams_with_a_server_side_cursor(desk: Desk, store: Store) -> None:
    cursors: list[str] = []
    options: list[dict[str, object]] = []

    def seen(*args: Any) -> None:  # (conn, cursor, statement, parameters, context, executemany)
        cursors.append(type(args[1]).__name__)
        options.append(dict(args[4].execution_options))

    event.listen(store._engine, "before_cursor_execute", seen)
    try:
        found = store.hits(HitQuery(limit=None, order="oldest"))
        first = next(found)
        assert first.id == desk.hit_g1
        assert [h.id for h in found] == [desk.hit_a1, desk.hit_b1]
    finally:
        event.remove(store._engine, "before_cursor_execute", seen)
    assert options[-1]["stream_results"] is True
    assert options[-1]["yield_per"] == watcher.store._history._YIELD_PER
    if store._engine.dialect.name == "postgresql":
        assert cursors[-1] == "ServerCursor"


def test_store_hits_in_many_batches(desk: Desk, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher.store._history, "_YIELD_PER", 1)
    assert [h.id for h in store.hits(HitQuery(limit=None))] == [desk.hit_b1, desk.hit_a1, desk.hit_g1]


@pytest.mark.parametrize("dense", [False, True])
def test_feed_filter_gives_the_same_hits_whichever_way_sqlite_walks(
    desk: Desk, store: Store, monkeypatch: pytest.MonkeyPatch, dense: bool
) -> None:
    monkeypatch.setattr(watcher.store._history, "_DENSE_FEED_ITEMS", 0 if dense else 10**9)
    query = HitQuery(feeds=("alpha", "beta"), limit=10)
    assert [h.id for h in store.hits(query)] == [desk.hit_b1, desk.hit_a1]
    assert [h.id for h in store.hits(HitQuery(feeds=("beta",), limit=1, order="oldest"))] == [desk.hit_b1]


# -- hits --search and its index -------------------------------------------------------------------


def search_index(store: Store, text: str) -> list[int] | None:
    """The candidate items of the search index for ``text`` (None: it cannot say)."""
    with store._engine.connect() as connection:
        return watcher.store._history._search_candidates(connection, text)


def test_the_search_index_finds_candidate_items_of_three_characters_or_more(desk: Desk, store: Store) -> None:
    """Both databases here have it (SQLite's FTS5 trigram tokenizer, PostgreSQL's pg_trgm)."""
    assert search_index(store, "KREMLIN") == [desk.b1]
    assert sorted(search_index(store, "new delhi") or []) == sorted([desk.a1, desk.g1])
    assert search_index(store, "zelensky") == []
    assert search_index(store, "kr") is None  # too short: the query walks the hits instead


@pytest.mark.parametrize("candidates", [5000, 0])
def test_search_gives_the_same_hits_through_the_index_or_not(
    desk: Desk, store: Store, monkeypatch: pytest.MonkeyPatch, candidates: int
) -> None:
    """0: every text has more candidates than allowed, so the hits are walked newest first."""
    monkeypatch.setattr(watcher.store._history, "_SEARCH_CANDIDATES", candidates)
    for text, expected in [
        ("kremlin", [desk.hit_b1]),
        ("New Delhi", [desk.hit_a1, desk.hit_g1]),
        ("delhi for", [desk.hit_a1, desk.hit_g1]),
        ("summit President", []),  # the end of a1's title, the start of its summary: not one field
        ("100%", [desk.hit_a1]),
        ("absent", []),
    ]:
        assert [h.id for h in store.hits(HitQuery(search=text))] == expected, text
        oldest = HitQuery(search=text, order="oldest", limit=None)
        assert [h.id for h in store.hits(oldest)] == expected[::-1], text


def test_a_pruned_item_leaves_the_search_index(desk: Desk, store: Store, settings: Path) -> None:
    """`db prune --hits` deletes an old hit that was sent, then its item: search finds neither."""
    old = NOW - timedelta(days=200)
    item = desk._item("gamma", Item(id="g0", title="Zephyrine ferry sails", summary="An old one."), old)
    hit = desk._hit("ferry", item, 70, [], old)
    alert = store.create_alert("ferry", ["mail"], old)
    assert alert is not None
    [delivery] = [d for d in store.deliveries() if d.alert == alert]
    store.record_delivery(delivery.id, old)
    assert search_index(store, "zephyrine") == [item]
    assert table_ids(run(settings, "hits", "--search", "zephyrine")) == [hit]

    result = run(settings, "db", "prune", "--older-than", "180d", "--hits")
    assert result.exit_code == 0, result.output
    assert store.item(item) is None
    assert search_index(store, "zephyrine") == []
    assert run(settings, "hits", "--search", "zephyrine").stdout == "no hits match these filters\n"
    assert table_ids(run(settings, "hits", "--search", "kremlin")) == [desk.hit_b1]
    if store._engine.dialect.name == "sqlite":  # the FTS5 index agrees with the item table
        with store._engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO item_search (item_search) VALUES ('integrity-check')")


def test_store_hit_detail(desk: Desk, store: Store) -> None:
    detail = store.hit(desk.hit_b1)
    assert detail is not None
    assert (detail.hit.rule, detail.item.feed, detail.story_id, detail.alert_id) == (
        "visit",
        "beta",
        desk.a1,
        desk.alert,
    )
    assert [item.id for item in detail.story] == [desk.a1]
    assert sorted((d.target, d.state) for d in detail.deliveries) == [("mail", "sent"), ("slack", "failed")]
    assert store.hit(12345) is None
    with pytest.raises(ValueError, match="since must be a timezone-aware datetime"):
        store.hits(HitQuery(since=datetime(2025, 12, 1)))
