"""Relevance feedback: ``hits mark ID good|bad``, and ``rules backtest``'s precision from the marks."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import RunCli, WriteFile
from polling import write_settings

from watcher.config import load_config
from watcher.items import Item
from watcher.records import NewHit
from watcher.store import Store

NOW = datetime.now(UTC)
AT = NOW - timedelta(days=2)
RULE = "match:\n  all: [Putin, India]\n"
NARROWER = "match:\n  all: [Putin, India, visit]\n"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Path:
    return write_settings(
        tmp_path / "settings.yaml",
        database_url,
        feeds={"wire": "https://news.example/wire.xml"},
        rules=str(tmp_path / "rules"),
    )


@pytest.fixture
def hits(store: Store, settings: Path, write_rule: WriteFile) -> dict[str, int]:
    """Three hits of rule ``putin`` on stored items, by title key: visit, speech, oil."""
    write_rule("putin.yaml", RULE)
    store.sync_feeds(load_config(settings).feeds, None, AT)
    titles = {
        "visit": "Putin to visit India for the annual summit",
        "speech": "Putin speaks of India in a speech on oil",
        "oil": "India buys Russian oil as Putin looks east",
    }
    found = {}
    for key, title in titles.items():
        [stored] = store.add_items("wire", [Item(id=key, title=title)], AT)
        store.add_hits([NewHit("putin", stored.id, 100, ("Putin",), ())], AT)
        [hit] = store.item_hits(stored.id)
        found[key] = hit.id
    return found


def cli(run_cli: RunCli, settings: Path, *args: str | Path) -> tuple[int, str, str]:
    result = run_cli("--config", settings, *args)
    return result.exit_code, result.stdout, result.stderr


def test_a_mark_is_stored_shown_and_cleared(
    store: Store, hits: dict[str, int], settings: Path, run_cli: RunCli
) -> None:
    code, out, _ = cli(run_cli, settings, "hits", "mark", str(hits["visit"]), "good")
    assert (code, out.strip()) == (0, f"hit {hits['visit']}: marked good")
    detail = store.hit(hits["visit"])
    assert detail is not None
    assert detail.hit.mark == "good"
    code, out, _ = cli(run_cli, settings, "hits", "show", str(hits["visit"]))
    assert "marked: good" in out.splitlines()

    code, out, _ = cli(run_cli, settings, "hits", "mark", str(hits["visit"]), "clear")
    assert (code, out.strip()) == (0, f"hit {hits['visit']}: mark cleared")
    detail = store.hit(hits["visit"])
    assert detail is not None
    assert detail.hit.mark is None


def test_marking_a_hit_that_does_not_exist_is_a_usage_error(
    hits: dict[str, int], settings: Path, run_cli: RunCli
) -> None:
    code, _, err = cli(run_cli, settings, "hits", "mark", "999999", "bad")
    assert code == 2
    assert "no hit 999999" in err
    code, _, err = cli(run_cli, settings, "hits", "mark", str(hits["oil"]), "meh")
    assert code == 2
    assert "'meh' is not one of 'good', 'bad', 'clear'" in err


def test_backtest_reports_precision_from_the_marks_and_lists_marked_changes_first(
    hits: dict[str, int], settings: Path, run_cli: RunCli, write_rule: WriteFile
) -> None:
    for key, mark in (("visit", "good"), ("speech", "bad"), ("oil", "bad")):
        assert cli(run_cli, settings, "hits", "mark", str(hits[key]), mark)[0] == 0
    code, out, err = cli(run_cli, settings, "rules", "backtest")
    assert code == 0, err
    putin = next(line.split() for line in out.splitlines() if line.startswith("putin "))
    assert putin[5:] == ["1/2", "33%", "->", "33%"]  # as recorded, and unchanged by the same rule

    write_rule("putin.yaml", NARROWER)  # the edit drops the two bad hits
    code, out, err = cli(run_cli, settings, "rules", "backtest", "--json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["item"] > 0, r.get("change"), r.get("mark")) for r in records] == [
        (True, None, "good"),
        (True, "lost", "bad"),
        (True, "lost", "bad"),
    ]
    code, out, _ = cli(run_cli, settings, "rules", "backtest")
    putin = next(line.split() for line in out.splitlines() if line.startswith("putin "))
    assert putin[1:5] == ["1", "3", "0", "2"]  # matches, recorded, new, lost
    assert putin[5:] == ["1/2", "33%", "->", "100%"]
    # `rules test --stored` is the same backtest (the last line names the window: now, to the second)
    assert cli(run_cli, settings, "rules", "test", "--stored")[1].splitlines()[:-1] == out.splitlines()[:-1]
