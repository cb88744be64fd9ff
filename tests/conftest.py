"""Shared paths and helpers: the repository, ../shared, rule files in tmp_path, the CLI in-process."""

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from watcher.cli import cli

pytest_plugins = [
    "httpserver",  # the loopback HTTP server fixture, ``http_server`` (tests/httpserver.py)
    "databases",  # ``database_url`` (SQLite and PostgreSQL) and ``store`` (tests/databases.py)
    "smtpserver",  # the loopback SMTP server fixture, ``smtp_server`` (tests/smtpserver.py)
    "daemons",  # ``newsroom``, ``notify_socket`` and ``daemons``: the daemon as a subprocess
]
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# The rules the tests match with: a frozen copy of the example rules, so that adding, removing or
# editing an example rule in rules/ never changes what a test expects. rules/ itself is only
# checked generically (tests/test_rules.py: valid, described, no regex, about 40 lines).
RULES = REPO / "tests" / "data" / "rules"
EXAMPLE_RULES = REPO / "rules"

WriteFile = Callable[[str, str], Path]
RunCli = Callable[..., Result]


# Fixtures that start or reach a real part: a database, an HTTP or SMTP server, a daemon.
REAL_PARTS = frozenset(
    {"postgres_admin", "postgres_database", "database_url", "store", "http_server", "smtp_server"}
    | {"newsroom", "notify_socket", "daemons"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test ``unit`` or ``integration``; the fault suite is also ``fault`` and ``slow``.

    A test is ``integration`` when it uses a real part (a fixture of ``REAL_PARTS``), lives in
    tests/fault/, or its module says so (``pytestmark = pytest.mark.integration``: subprocesses);
    every other test is ``unit``, which ``make test-fast`` runs.
    """
    fault = REPO / "tests" / "fault"
    for item in items:
        if item.path.is_relative_to(fault):
            item.add_marker(pytest.mark.fault)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.integration)
        elif item.get_closest_marker("integration") is None:
            uses = set(getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.integration if uses & REAL_PARTS else pytest.mark.unit)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared seeds and corpora beside the clone (../shared). A bare clone has none: the tests
    that read them are skipped, saying so. CI has them: there a missing ../shared fails the run, so
    no test is ever skipped there unseen."""
    if not (SHARED / "seeds").is_dir() or not (SHARED / "corpora").is_dir():
        reason = (
            f"needs {SHARED} (seeds/ and corpora/: the seed articles and the real-feed corpus), "
            "which sits beside the clone in the project's workspace, not in the repository"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return SHARED


@pytest.fixture(autouse=True)
def _no_apprise_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apprise waits 5.5 s between two emails of one target (1.2 s for Slack) to be polite to real
    servers; tests send many messages to loopback servers, where the pacing would only add sleeps."""
    from apprise.plugins.base import NotifyBase
    from apprise.plugins.slack import NotifySlack

    for plugin in (NotifyBase, NotifySlack):
        monkeypatch.setattr(plugin, "request_rate_per_sec", 0)


@pytest.fixture
def seeds(shared: Path) -> list[Path]:
    """The seed articles, in name order (000_..., 001_...)."""
    found = sorted((shared / "seeds").glob("*.txt"))
    assert len(found) == 2, f"expected the two seed articles in {shared / 'seeds'}, found {found}"
    return found


def write_file(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented, so tests can indent YAML) to ``directory/name``; return the path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def write_rule(tmp_path: Path) -> WriteFile:
    """``write_rule("name.yaml", yaml_text)`` writes a rule file into ``tmp_path/rules``."""

    def write(name: str, text: str) -> Path:
        return write_file(tmp_path / "rules", name, text)

    return write


@pytest.fixture
def write_input(tmp_path: Path) -> WriteFile:
    """``write_input("items.jsonl", text)`` writes an input file for ``rules test`` into ``tmp_path/in``."""

    def write(name: str, text: str) -> Path:
        return write_file(tmp_path / "in", name, text)

    return write


def _run_cli(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    # Errors a user can fix are printed and exit with a code; any other exception is a crash.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the CLI crashed on {args}:\n{result.output}") from result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def run_cli() -> RunCli:
    """``run_cli("rules", "check", path)``: the CLI in-process; ``.stdout``, ``.stderr``, ``.exit_code``."""
    return _run_cli
