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
# The seed articles the tests read (the ``seeds`` fixture): our own text, not the real articles.
SEEDS = REPO / "tests" / "data" / "seeds"

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
    """The real news beside the clone (../shared): corpora/ (the real-feed and feedparser corpora)
    and seeds/ (the two real seed articles), which may not be copied into the repository. A bare
    clone has none: the tests that read them are skipped, saying so. CI has them: there a missing
    ../shared fails the run, so no test is ever skipped there unseen."""
    if not (SHARED / "seeds").is_dir() or not (SHARED / "corpora").is_dir():
        reason = (
            f"needs {SHARED}: its corpora/ (the real-feed and feedparser corpora) and seeds/ (the two "
            "real seed articles), real news kept beside the clone, outside the repository"
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


def seed_articles(directory: Path) -> list[Path]:
    """The two seed articles (plain text, one item each) in ``directory``, in name order."""
    found = sorted(directory.glob("*.txt"))
    assert len(found) == 2, f"expected the two seed articles in {directory}, found {found}"
    return found


@pytest.fixture
def seeds() -> list[Path]:
    """The seed articles, in name order: 000_call.txt (the Modi-Putin phone call) and
    001_call_and_visit.txt (the call, Putin's December visit, Lavrov's trip, the IRIGC-M&MTC).

    Written for the tests from the facts of the two real seed articles (../shared/seeds, which may
    not be copied here), with the same names and terms, so the rules of tests/data/rules match them as they
    match the originals: always there, even in a bare clone. ``real_seeds`` are the originals."""
    return seed_articles(SEEDS)


@pytest.fixture
def real_seeds(shared: Path) -> list[Path]:
    """The two real seed articles (../shared/seeds), in name order: skipped where ../shared is not."""
    return seed_articles(shared / "seeds")


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
