"""The README is true to the code: every command it shows exists, and its example settings load.

A renamed command or key then fails here rather than in a new user's first hour.
"""

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO

from watcher.cli import cli
from watcher.config import Config, load_config

README = REPO / "README.md"
# `summit-watch ...` in a code span, or a shell line `$ summit-watch ...` of a code block.
_SHOWN = re.compile(
    r"`(?:\.venv/bin/)?summit-watch ([^`]*)`|^ {4}\$ (?:\.venv/bin/)?summit-watch (.*)$", re.MULTILINE
)
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
# Values for the ${NAME} secrets of the examples: valid Apprise URLs and parts of them.
_SECRETS = {
    "SLACK_URL": "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
    "SLACK_WEBHOOK": "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
    "SMTP_PASSWORD": "secret",
}


def shown_commands() -> list[list[str]]:
    """The words after ``summit-watch`` of each command the README shows, up to the first option."""
    found = []
    for match in _SHOWN.finditer(README.read_text(encoding="utf-8")):
        words = []
        for word in (match.group(1) or match.group(2)).split():
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        if words:
            found.append(words)
    return found


def test_the_readme_shows_commands() -> None:
    assert len(shown_commands()) > 50  # the extraction works: the README shows many


@pytest.mark.parametrize("words", shown_commands(), ids=" ".join)
def test_every_command_the_readme_shows_exists(words: list[str]) -> None:
    """Its help is shown: the words name a command (and after it, arguments the help ignores)."""
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, f"`summit-watch {' '.join(words)}`: {result.output}"


def settings_examples() -> list[str]:
    """The README's YAML blocks that are settings files (their keys are settings keys)."""
    blocks = _YAML_BLOCK.findall(README.read_text(encoding="utf-8"))
    return [
        block
        for block in blocks
        if isinstance(data := yaml.safe_load(block), dict) and set(data) <= set(Config.model_fields)
    ]


def test_the_readme_shows_settings_examples() -> None:
    assert len(settings_examples()) >= 2  # the settings file and the targets


@pytest.mark.parametrize("example", settings_examples())
def test_every_settings_example_of_the_readme_loads(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "summit-watch.yaml"
    path.write_text(example, encoding="utf-8")
    load_config(path)  # a ConfigError names the key the README got wrong
