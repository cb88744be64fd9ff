"""``stats`` (counts per local day or week, the terminal chart, the PNG), ``rules test --stored``
(backtesting edited rules against the recorded hits), ``db prune`` and ``db vacuum``: on SQLite and
on PostgreSQL."""

import json
import struct
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import RunCli, WriteFile
from polling import write_settings
from sqlalchemy import text

from watcher.config import load_config
from watcher.history import bar, can_draw_blocks, period_bounds, render_chart, zone
from watcher.items import FeedRef, Item
from watcher.matcher import Matcher
from watcher.records import NewHit
from watcher.rules import load_rules
from watcher.store import Store, make_engine

NOW = datetime.now(UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TZ=Asia/Kolkata (UTC+05:30, no DST) for the test, the process's zone restored after."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Path:
    return write_settings(
        tmp_path / "settings.yaml",
        database_url,
        feeds={
            "wire": {"url": "https://news.example/wire.xml", "tags": ["india"]},
            "other": "https://x.example/",
        },
        rules=str(tmp_path / "rules"),
    )


@pytest.fixture
def world(store: Store, settings: Path) -> Store:
    """The store with the settings file's feeds."""
    store.sync_feeds(load_config(settings).feeds, None, NOW - timedelta(days=400))
    return store


def put(
    store: Store, key: str, at: datetime, rules: tuple[str, ...] = (), *, feed: str = "wire", title: str = ""
) -> int:
    """Store an item fetched ``at`` and a hit of each of ``rules`` on it; return its id."""
    [stored] = store.add_items(feed, [Item(id=key, title=title or key)], at)
    if rules:
        store.add_hits([NewHit(rule, stored.id, 100, ("term",), ()) for rule in rules], at)
    return stored.id


def cli(run_cli: RunCli, settings: Path, *args: str | Path) -> tuple[int, str, str]:
    result = run_cli("--config", settings, *args)
    return result.exit_code, result.stdout, result.stderr


# -- stats: counting -----------------------------------------------------------------------------


def test_hit_counts_group_by_local_day_and_week(world: Store, local_zone: None) -> None:
    # 2025-12-01 is a Monday. 18:00Z is 23:30 in India, 19:00Z is 00:30 the next day.
    put(world, "a", datetime(2025, 11, 30, 19, 0, tzinfo=UTC), ("r1",))  # Mon 1 Dec in India, Sun in UTC
    put(world, "b", datetime(2025, 12, 1, 18, 0, tzinfo=UTC), ("r1", "r2"))  # Mon 1 Dec both
    put(world, "c", datetime(2025, 12, 1, 19, 0, tzinfo=UTC), ("r1",))  # Tue 2 Dec in India
    put(world, "d", datetime(2025, 12, 10, 12, 0, tzinfo=UTC))  # no hit
    since, until = datetime(2025, 11, 20, tzinfo=UTC), datetime(2025, 12, 20, tzinfo=UTC)

    local = world.hit_counts(since, until, (), "day", zone(utc=False))
    assert local == [
        (date(2025, 12, 1), "r1", 2),
        (date(2025, 12, 1), "r2", 1),
        (date(2025, 12, 2), "r1", 1),
    ]
    assert world.hit_counts(since, until, (), "day", UTC) == [
        (date(2025, 11, 30), "r1", 1),
        (date(2025, 12, 1), "r1", 2),
        (date(2025, 12, 1), "r2", 1),
    ]
    assert world.hit_counts(since, until, (), "week", zone(utc=False)) == [
        (date(2025, 12, 1), "r1", 3),
        (date(2025, 12, 1), "r2", 1),
    ]
    assert world.hit_counts(since, until, (), "week", UTC) == [
        (date(2025, 11, 24), "r1", 1),
        (date(2025, 12, 1), "r1", 2),
        (date(2025, 12, 1), "r2", 1),
    ]
    assert world.hit_counts(since, until, ("r2",), "week", UTC) == [(date(2025, 12, 1), "r2", 1)]
    assert world.hit_counts(since, since + timedelta(days=1), (), "day", UTC) == []


def test_periods_follow_daylight_saving_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        bounds = period_bounds(
            datetime(2025, 10, 25, 12, tzinfo=UTC), datetime(2025, 10, 28, tzinfo=UTC), "day", zone(utc=False)
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    days = {day: end - start for day, start, end in bounds}
    assert days[date(2025, 10, 26)] == timedelta(hours=25), "the night the clocks go back"
    assert days[date(2025, 10, 27)] == timedelta(hours=24)
    assert bounds[0][1] == datetime(2025, 10, 25, 12, tzinfo=UTC), "clipped to the window"


# -- stats: the command --------------------------------------------------------------------------


def test_stats_draws_bars_proportional_to_the_counts(
    world: Store, settings: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, local_zone: None
) -> None:
    day = NOW - timedelta(days=2)
    for n in range(8):
        put(world, f"a{n}", day, ("busy",))
    for n in range(4):
        put(world, f"b{n}", day, ("calm",))
    put(world, "old", NOW - timedelta(days=60), ("busy",))  # outside the default 30 days
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = cli(run_cli, settings, "stats", "--full")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("hits per day, ")
    assert lines[0].endswith("(IST)")
    local_day = day.astimezone(zone(utc=False)).date().isoformat()
    busy = next(line for line in lines if line.startswith(local_day))
    calm = lines[lines.index(busy) + 1]
    assert "busy" in busy
    assert "calm" in calm
    assert busy.rstrip().endswith(" 8")
    assert calm.rstrip().endswith(" 4")
    busy_bar, calm_bar = busy.count("█"), calm.count("█")
    assert busy_bar > 30, "the largest count fills the width left by the labels"
    assert abs(calm_bar - busy_bar / 2) <= 1
    assert all(len(line) <= 80 for line in lines)
    assert lines[-1] == "total: busy 8, calm 4"

    code, out, _ = cli(run_cli, settings, "stats", "--rule", "calm", "--by", "week", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {row["rule"] for row in rows} == {"calm"}
    assert sum(row["hits"] for row in rows) == 4
    assert all(date.fromisoformat(row["period"]).weekday() == 0 for row in rows), "weeks start on Monday"

    code, out, _ = cli(run_cli, settings, "stats", "--since", "90d", "--format", "json")
    assert sum(row["hits"] for row in json.loads(out)) == 13


def test_stats_summary_is_a_line_per_rule_busiest_first_within_30_lines(
    world: Store, settings: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = NOW - timedelta(days=2)
    for n in range(40):  # 40 rules, rule-00 with 1 hit ... rule-39 with 40
        for k in range(n + 1):
            put(world, f"r{n}-{k}", day, (f"rule-{n:02}",))
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = cli(run_cli, settings, "stats")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) <= 30
    assert all(len(line) <= 120 for line in lines)
    assert lines[1].split()[:2] == ["rule-39", "40"], "the busiest rule first, with its total"
    assert lines[1].endswith(f"peak 40 on {day.astimezone(zone(utc=False)).date().isoformat()}")
    assert "... 15 more rules (--full shows them all)" in lines
    full = cli(run_cli, settings, "stats", "--full")[1].splitlines()
    assert len(full) > 100, "--full: every period of every rule"


def test_stats_with_no_hits_and_invalid_windows(settings: Path, world: Store, run_cli: RunCli) -> None:
    code, out, _ = cli(run_cli, settings, "stats")
    assert code == 0
    assert out.splitlines()[1] == "no hits"
    code, _, err = cli(run_cli, settings, "stats", "--since", "yesterday")
    assert code == 2
    assert "--since" in err
    assert "neither a duration" in err
    code, _, err = cli(run_cli, settings, "stats", "--since", "2d", "--until", "5d")
    assert code == 2
    assert "is not after --since" in err


def test_chart_rendering_and_the_ascii_fallback() -> None:
    days = [date(2025, 12, 1), date(2025, 12, 2)]
    counts = {(days[0], "r"): 16, (days[1], "r"): 3}
    lines = render_chart(counts, days, ["r"], by="day", columns=40, blocks=True)
    assert lines[0].startswith("2025-12-01  ████")
    assert lines[0].endswith(" 16")
    assert len(lines[0]) == 40 - 1
    width = lines[0].count("█")
    assert lines[1].count("█") == 3 * width // 16, "3/16 of the bar, then an eighth block"
    assert lines[-1] == "total: r 19"
    ascii_lines = render_chart(counts, days, ["r"], by="day", columns=40, blocks=False)
    assert all(line.isascii() for line in ascii_lines)
    assert ascii_lines[0].count("#") == width
    assert bar(1, 8, 1, blocks=True) == "▏"
    assert bar(0, 8, 10, blocks=True) == ""
    assert not can_draw_blocks("ascii")
    assert not can_draw_blocks("latin-1")
    assert can_draw_blocks("utf-8")


def test_stats_png_is_a_valid_image(world: Store, settings: Path, run_cli: RunCli, tmp_path: Path) -> None:
    put(world, "a", NOW - timedelta(days=1), ("r1", "r2"))
    image = tmp_path / "chart.png"
    code, _, err = cli(run_cli, settings, "stats", "--png", image)
    assert code == 0, err
    data = image.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400
    assert height >= 300


def test_stats_png_without_matplotlib_is_a_clear_error(
    settings: Path, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    code, _, err = cli(run_cli, settings, "stats", "--png", tmp_path / "chart.png")
    assert code == 2
    assert "summit-watch[plot]" in err
    assert not (tmp_path / "chart.png").exists()


# -- backtest ------------------------------------------------------------------------------------


RULE_BEFORE = """
    match:
      all: [Putin, India]
"""
RULE_AFTER = """
    match:
      all: [Putin]
      any: [visit, summit]
"""


def test_backtest_shows_new_and_lost_matches_of_an_edited_rule(
    world: Store, settings: Path, run_cli: RunCli, write_rule: WriteFile, tmp_path: Path
) -> None:
    write_rule("putin.yaml", RULE_BEFORE)
    write_rule("tagged.yaml", "feeds: [india]\nmatch:\n  all: [Lavrov]\n")
    write_rule("other.yaml", "match:\n  all: [Jaishankar]\n")
    titles = {
        "stays": "Putin to visit India for the summit",
        "lost": "Putin speaks about India",  # matched before, not after
        "new": "Putin plans a summit in Beijing",  # not before, matched after
        "lavrov": "Lavrov arrives",
        "lavrov-elsewhere": "Lavrov arrives in Paris",
        "quiet": "Weather",
    }
    matcher = Matcher(load_rules(tmp_path / "rules"))
    at = NOW - timedelta(days=3)
    ids = {}
    for key, title in titles.items():
        feed = "other" if key == "lavrov-elsewhere" else "wire"
        ids[key] = put(world, key, at, feed=feed, title=title)
        stored = world.item(ids[key])
        assert stored is not None
        tags = frozenset({"india"}) if feed == "wire" else frozenset()
        found = matcher.match(stored.item, FeedRef(feed, tags))
        world.add_hits([NewHit(m.rule_id, ids[key], m.score, m.terms, m.hits) for m in found], at)
    put(world, "too-old", NOW - timedelta(days=90), ("putin",), title="Putin plans a summit")
    assert {h.rule for h in world.item_hits(ids["lavrov"])} == {"tagged"}
    assert world.item_hits(ids["lavrov-elsewhere"]) == [], "feeds: [india] leaves the untagged feed out"

    write_rule("putin.yaml", RULE_AFTER)
    code, out, err = cli(run_cli, settings, "rules", "test", "--stored", "--since", "30d", "--json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    changes = {(r["item"], r["rule"]): r.get("change") for r in records}
    assert changes == {
        (ids["stays"], "putin"): None,
        (ids["lost"], "putin"): "lost",
        (ids["new"], "putin"): "new",
        (ids["lavrov"], "tagged"): None,
    }
    for record in records:
        assert set(record) - {"change", "mark"} == {"item", "rule", "score", "matched"}

    code, out, _ = cli(run_cli, settings, "rules", "test", "--stored")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ITEM", "FEED", "RULE", "SCORE", "CHANGE", "MARK", "TITLE"]
    summary = {
        line.split()[0]: line.split()[1:5] for line in lines if line.split()[:1] in (["putin"], ["total"])
    }
    assert summary["putin"] == ["2", "2", "1", "1"]  # matches, recorded, new, lost
    assert summary["total"] == ["3", "3", "1", "1"]
    assert lines[-1].startswith("6 items fetched ")
    assert lines[-1].endswith(": 3 matches, 1 new, 1 lost")

    # Trying one file compares that file's rules only: the other rules' hits are not "lost".
    code, out, _ = cli(
        run_cli, settings, "rules", "test", "--stored", "--json", "--rules", tmp_path / "rules" / "other.yaml"
    )
    assert code == 0
    assert out == ""


def test_stored_and_input_files_do_not_mix(
    settings: Path, world: Store, run_cli: RunCli, write_input: WriteFile
) -> None:
    path = write_input("a.txt", "Putin in India\n")
    code, _, err = cli(run_cli, settings, "rules", "test", "--rules", "rules", "--stored", path)
    assert code == 2
    assert "--stored" in err
    code, _, err = cli(run_cli, settings, "rules", "test", "--since", "3d", path)
    assert code == 2
    assert "--since and --until go with --stored" in err
    code, _, err = cli(run_cli, settings, "rules", "test")
    assert code == 2
    assert "Missing argument" in err
    assert "Give INPUT files, or --stored" in err


# -- db prune and vacuum -------------------------------------------------------------------------


def table_counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("item", "hit", "alert", "delivery")
            }
    finally:
        engine.dispose()


def test_prune_items_then_hits_keeping_those_on_their_way(
    world: Store, settings: Path, run_cli: RunCli, database_url: str
) -> None:
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=2)
    put(world, "old-quiet", old)
    put(world, "recent-quiet", recent)
    sent_item = put(world, "old-sent", old, ("sent-rule",))
    sent_alert = world.create_alert("sent-rule", ["desk"], old)
    assert sent_alert is not None
    [delivery] = world.deliveries(ids=None)
    world.record_delivery(delivery.id, old)  # sent
    pending_item = put(world, "old-pending", old, ("pending-rule",))
    assert world.create_alert("pending-rule", ["desk"], old) is not None  # its delivery stays pending
    unalerted_item = put(world, "old-unalerted", old, ("quiet-rule",))
    put(world, "recent-hit", recent, ("sent-rule",))
    before = table_counts(database_url)
    assert before == {"item": 6, "hit": 4, "alert": 2, "delivery": 2}

    code, out, err = cli(run_cli, settings, "db", "prune", "--older-than", "180d")
    assert code == 0, err
    assert out.splitlines()[0].startswith("deleted 1 item fetched before ")
    assert "kept 3 hits created before" in out
    assert table_counts(database_url) == {**before, "item": 5}

    code, out, _ = cli(run_cli, settings, "db", "prune", "--older-than", "180d", "--hits", "--dry-run")
    assert code == 0
    assert "would delete 1 hit created before" in out
    assert "1 alert, 1 delivery" in out
    assert "kept 2 older hits" in out
    assert out.splitlines()[-1] == "dry run: nothing was deleted"
    assert table_counts(database_url) == {**before, "item": 5}

    code, out, _ = cli(run_cli, settings, "db", "prune", "--older-than", "180d", "--hits")
    assert code == 0
    assert out.splitlines()[0].startswith("deleted 1 item fetched before ")
    assert "deleted 1 hit created before" in out
    assert table_counts(database_url) == {"item": 4, "hit": 3, "alert": 1, "delivery": 1}
    assert world.item(sent_item) is None
    assert world.alert(sent_alert) is None
    assert world.item(pending_item) is not None
    assert world.item(unalerted_item) is not None
    assert [d.state for d in world.deliveries()] == ["pending"]

    code, _, err = cli(run_cli, settings, "db", "prune", "--older-than", "soon")
    assert code == 2
    assert "--older-than" in err


def test_vacuum(world: Store, settings: Path, run_cli: RunCli, database_url: str) -> None:
    for n in range(300):
        put(world, f"filler-{n}", NOW - timedelta(days=300), title="x" * 2000)
    assert world.prune(NOW - timedelta(days=1)).items == 300
    code, out, err = cli(run_cli, settings, "db", "vacuum")
    assert code == 0, err
    lines = out.splitlines()
    if database_url.startswith("sqlite"):
        assert lines[:2] == ["ran VACUUM", "ran PRAGMA optimize"]
        assert lines[-1].startswith("database file: ")
        before, after = (
            float(part.split()[0]) * (1024 if "KiB" in part else 1024**2 if "MiB" in part else 1)
            for part in lines[-1].removeprefix("database file: ").split(", ")
        )
        assert after < before, "the space of the deleted items is given back"
    else:
        assert lines[0].startswith("ran VACUUM (ANALYZE) ")
        assert "hit" in lines[0]
        assert lines[-1].startswith("summit-watch tables: ")
        engine = make_engine(database_url)
        query = text("SELECT last_analyze FROM pg_stat_user_tables WHERE relid = to_regclass('item')")
        try:
            for _ in range(20):  # statistics reach the view at the end of a transaction, or a little later
                with engine.connect() as connection:
                    analyzed = connection.execute(query).scalar_one()
                if analyzed is not None:
                    break
                time.sleep(0.1)
        finally:
            engine.dispose()
        assert analyzed is not None, "VACUUM (ANALYZE) ran on summit-watch's tables"
