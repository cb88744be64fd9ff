"""The settings file: validation located as path:line: field: message, ${ENV}, lookup order, paths."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import RunCli, write_file

from watcher.config import find_config, load_config
from watcher.errors import ConfigError

GOOD = """\
database: sqlite:///state/watch.db
rules: my-rules
feeds:
  - {name: hindu, url: "https://www.thehindu.com/news/feeder/default.rss", tags: [india], interval: 5m}
  - {name: local, url: "file:///tmp/feed.xml", tags: local}
targets:
  - {name: ops, url: "json://127.0.0.1:9/${OPS_TOKEN}", format: markdown}
defaults: {interval: 15m}
"""


def test_a_valid_file_loads_with_defaults_and_paths_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_TOKEN", "s3cret")
    config = load_config(write_file(tmp_path, "summit-watch.yaml", GOOD))
    assert config.database == f"sqlite:///{tmp_path / 'state' / 'watch.db'}"
    assert config.rules == tmp_path / "my-rules"
    assert [feed.name for feed in config.feeds] == ["hindu", "local"]
    assert config.feeds[1].tags == ("local",)
    assert config.interval(config.feeds[0]) == timedelta(minutes=5)
    assert config.interval(config.feeds[1]) == timedelta(minutes=15)
    assert config.targets[0].url == "json://127.0.0.1:9/s3cret"
    assert config.defaults.group_wait == timedelta(minutes=1)


def test_an_empty_file_is_all_defaults(tmp_path: Path) -> None:
    config = load_config(write_file(tmp_path, "c.yaml", ""))
    assert config.feeds == ()
    assert config.rules.resolve() == (tmp_path / "rules").resolve()
    assert config.database == f"sqlite:///{tmp_path / 'summit-watch.db'}"


def test_env_default_is_used_when_the_variable_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SW_DB", raising=False)
    config = load_config(
        write_file(tmp_path, "c.yaml", "database: ${SW_DB:-postgresql+psycopg://db/watch}\n")
    )
    assert config.database == "postgresql+psycopg://db/watch"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "databse: x\n", ["{path}:1: databse: unknown key; did you mean 'database'?"], id="typo-key"
        ),
        pytest.param(
            "feeds:\n  - {name: a, url: 'ftp://x'}\n",
            ["{path}:2: feeds[0].url: 'ftp://x' is not an http://, https:// or file:// URL"],
            id="bad-scheme",
        ),
        pytest.param(
            "feeds:\n  - {name: a, url: 'https://x.org/f', intervall: 5m}\n",
            ["{path}:2: feeds[0].intervall: unknown key; did you mean 'interval'?"],
            id="feed-typo",
        ),
        pytest.param(
            "feeds:\n  - {name: a, url: 'https://x.org/f', interval: soon}\n",
            ["{path}:2: feeds[0].interval: 'soon' is not a duration such as 30s, 10m, 2h or 1d"],
            id="bad-interval",
        ),
        pytest.param(
            "feeds:\n  - {name: a, url: 'https://x.org/1'}\n  - {name: a, url: 'https://x.org/2'}\n",
            ["{path}:3: feeds[1].name: duplicate name 'a'"],
            id="duplicate-feed",
        ),
        pytest.param(
            "targets:\n  - {name: t, url: '${SW_UNSET_SECRET}'}\n",
            ["{path}:2: targets[0].url: environment variable SW_UNSET_SECRET is not set"],
            id="unset-variable",
        ),
        pytest.param(
            "targets:\n  - {name: t, url: 'mailto://x', format: pdf}\n",
            ["{path}:2: targets[0].format: input should be 'text', 'markdown' or 'html'"],
            id="bad-format",
        ),
        pytest.param(
            "- a\n- b\n",
            ["{path}:1: expected a mapping of settings (database:, rules:, feeds: ...)"],
            id="list",
        ),
        pytest.param("feeds: [\n", None, id="yaml-syntax"),
    ],
)
def test_invalid_settings_are_reported_where_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str] | None
) -> None:
    monkeypatch.delenv("SW_UNSET_SECRET", raising=False)
    path = write_file(tmp_path, "c.yaml", text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    lines = str(raised.value).splitlines()
    if expected is None:
        assert lines[0].startswith(f"{path}:")
        assert "YAML syntax error" in lines[0]
    else:
        assert lines == [line.format(path=path) for line in expected]
    assert raised.value.exit_code == 2


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = "databse: x\nfeeds:\n  - {name: a, url: 'ftp://x'}\ndefaults: {interval: never}\n"
    with pytest.raises(ConfigError) as raised:
        load_config(write_file(tmp_path, "c.yaml", text))
    assert len(str(raised.value).splitlines()) == 3


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config, $SUMMIT_WATCH_CONFIG, ./summit-watch.yaml, $XDG_CONFIG_HOME/summit-watch/config.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUMMIT_WATCH_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    local = write_file(tmp_path, "summit-watch.yaml", "")
    (tmp_path / "xdg" / "summit-watch").mkdir(parents=True)
    user = write_file(tmp_path / "xdg" / "summit-watch", "config.yaml", "")
    from_env = write_file(tmp_path, "env.yaml", "")
    explicit = write_file(tmp_path, "explicit.yaml", "")
    assert find_config() == Path("summit-watch.yaml")
    monkeypatch.setenv("SUMMIT_WATCH_CONFIG", str(from_env))
    assert find_config() == from_env
    assert find_config(explicit) == explicit
    local.unlink()
    monkeypatch.delenv("SUMMIT_WATCH_CONFIG")
    assert find_config() == user
    user.unlink()
    if not Path("/etc/summit-watch/config.yaml").exists():
        with pytest.raises(ConfigError) as raised:
            find_config()
        message = str(raised.value)
        assert "no settings file found" in message
        assert str(tmp_path / "xdg" / "summit-watch" / "config.yaml") in message, "each place looked at"
        assert "--config FILE or SUMMIT_WATCH_CONFIG=FILE" in message, "and how to point at one"


def test_a_linked_settings_file_reads_paths_relative_to_where_it_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` links ./summit-watch.yaml to examples/summit-watch.yaml, whose paths are relative
    to examples/."""
    (tmp_path / "examples").mkdir()
    write_file(tmp_path / "examples", "s.yaml", "database: sqlite:///../.run/w.db\nrules: ../rules\n")
    (tmp_path / "summit-watch.yaml").symlink_to("examples/s.yaml")
    config = load_config(tmp_path / "summit-watch.yaml")
    assert config.rules.resolve() == (tmp_path / "rules").resolve()
    assert config.database == f"sqlite:///{tmp_path / '.run' / 'w.db'}"


def test_config_path_names_the_file_in_use(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUMMIT_WATCH_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = write_file(tmp_path, "summit-watch.yaml", "")
    result = run_cli("config", "path")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"{settings.resolve()}  (found in the search path)"
    result = run_cli("--config", tmp_path / "missing.yaml", "config", "path")
    assert result.exit_code == 2
    assert "(no such file)" in result.stdout


def test_cli_reports_a_broken_settings_file_without_traceback(run_cli: RunCli, tmp_path: Path) -> None:
    path = write_file(tmp_path, "c.yaml", "feeds: 3\n")
    result = run_cli("--config", path, "feeds", "list")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{path}:1: feeds: expected a list"]


def test_feeds_list_shows_the_configured_feeds(run_cli: RunCli, tmp_path: Path) -> None:
    path = write_file(tmp_path, "c.yaml", GOOD.replace("${OPS_TOKEN}", "x"))
    result = run_cli("--config", path, "feeds", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["name"], row["interval"], row["tags"]) for row in rows] == [
        ("hindu", "5m", ["india"]),
        ("local", "15m", ["local"]),
    ]
