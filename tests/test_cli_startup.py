"""The command line starts without its heavy libraries: `import watcher.cli`, `summit-watch --help`
and `rules check` load no database, HTTP, alerting, scheduling or plotting library; each command
imports those it uses. Not a timing test: what is loaded at start-up is what makes it slow, and
benchmarks/bench_startup.py measures the time."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.unit

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "apprise", "httpx", "feedparser", "apscheduler", "matplotlib")
# Not heavy, but not needed to print help either: validating settings and rules, matching.
SCHEMA_AND_MATCHER = ("pydantic", "rapidfuzz", "regex")

RUN_CLI = """
from watcher.cli import main
try:
    main({args!r})
except SystemExit as e:
    assert e.code in (0, None), e.code
"""


def loaded_after(code: str, watched: tuple[str, ...]) -> list[str]:
    """The top-level packages of ``watched`` in ``sys.modules`` after running ``code`` in a new
    interpreter (from the repository's root, as the bundled ``rules/`` are found there)."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}} & set({watched!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_import_loads_no_heavy_library() -> None:
    assert loaded_after("import watcher.cli", HEAVY + SCHEMA_AND_MATCHER) == []


def test_help_loads_no_heavy_library() -> None:
    assert loaded_after(RUN_CLI.format(args=["--help"]), HEAVY + SCHEMA_AND_MATCHER) == []


def test_rules_check_loads_no_heavy_library_nor_the_matcher() -> None:
    assert loaded_after(RUN_CLI.format(args=["rules", "check", "rules"]), (*HEAVY, "rapidfuzz")) == []


def test_version_loads_no_heavy_library() -> None:
    assert loaded_after(RUN_CLI.format(args=["--version"]), HEAVY + SCHEMA_AND_MATCHER) == []
