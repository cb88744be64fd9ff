"""A new user's first mistakes, caught where they are made: a `notify:` target the settings do not
define, a `--rule` that names no rule."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import RunCli, WriteFile
from polling import write_settings

from watcher.config import load_config
from watcher.errors import RulesError
from watcher.items import Item
from watcher.records import NewHit
from watcher.rules import load_rules
from watcher.store import Store

_NOW = datetime.now(UTC)
MAIL = [{"name": "newsroom-mail", "url": "json://127.0.0.1:8/alerts"}]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return tmp_path / "rules"


def test_rules_check_names_an_unknown_notify_target_with_the_closest_one(
    run_cli: RunCli, write_rule: WriteFile, rules: Path, tmp_path: Path
) -> None:
    settings = write_settings(tmp_path / "s.yaml", "sqlite:///unused.db", rules=str(rules), targets=MAIL)
    rule = write_rule("visit.yaml", "match: {all: [Putin]}\nnotify: [newsroom-mial]\n")
    result = run_cli("--config", settings, "rules", "check")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{rule}:2: notify: unknown target 'newsroom-mial'; did you mean 'newsroom-mail'?"
    ]
    write_rule("visit.yaml", "match: {all: [Putin]}\nnotify: [newsroom-mail]\n")
    assert run_cli("--config", settings, "rules", "check").exit_code == 0


def test_a_notify_target_without_any_targets_is_an_error_saying_so(
    write_rule: WriteFile, rules: Path, tmp_path: Path
) -> None:
    settings = write_settings(tmp_path / "s.yaml", "sqlite:///unused.db", rules=str(rules))
    write_rule("visit.yaml", "match: {all: [Putin]}\nnotify: mail\n")
    with pytest.raises(RulesError, match="defines no targets: alerts go to standard output"):
        load_rules(rules, [t.name for t in load_config(settings).targets])
    assert len(load_rules(rules)) == 1, "without settings to check against, notify is not checked"


@pytest.fixture
def settings(write_rule: WriteFile, rules: Path, tmp_path: Path, store: Store, database_url: str) -> Path:
    """Settings with one rule file (putin-visit), and a stored hit of a rule since removed."""
    write_rule("putin-visit.yaml", "match: {all: [Putin]}\n")
    path = write_settings(
        tmp_path / "s.yaml", database_url, feeds={"wire": "https://x.example/"}, rules=str(rules)
    )
    store.sync_feeds(load_config(path).feeds, None, _NOW)
    [stored] = store.add_items("wire", [Item(id="1", title="Lavrov lands")], _NOW)
    store.add_hits([NewHit("old-lavrov-rule", stored.id, 100, ("Lavrov",), ())], _NOW)
    return path


@pytest.mark.parametrize("command", ["hits", "stories", "stats"])
def test_an_unknown_rule_given_to_a_history_command_is_an_error_with_a_suggestion(
    run_cli: RunCli, settings: Path, command: str
) -> None:
    result = run_cli("--config", settings, command, "--rule", "putin-vist")
    assert result.exit_code == 2
    assert "no rule 'putin-vist'; did you mean putin-visit?" in result.stderr


def test_a_rule_since_removed_still_names_its_stored_hits(run_cli: RunCli, settings: Path) -> None:
    result = run_cli("--config", settings, "hits", "--rule", "old-lavrov-rule", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"rule": "old-lavrov-rule"' in result.stdout


def test_the_hits_table_fits_120_columns_cutting_long_titles(
    run_cli: RunCli, settings: Path, store: Store
) -> None:
    title = "Putin and Modi agree " + "on a very long list of things " * 8
    [stored] = store.add_items("wire", [Item(id="long", title=title)], _NOW)
    store.add_hits([NewHit("putin-visit", stored.id, 100, ("Putin",), ())], _NOW)
    lines = run_cli("--config", settings, "hits").stdout.splitlines()
    row = next(line for line in lines if "putin-visit" in line)
    assert len(row) <= 120
    assert row.endswith("…")
    assert title.startswith(row.rsplit("  ", 1)[-1].removesuffix("…"))
