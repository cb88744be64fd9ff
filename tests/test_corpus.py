"""The whole feedparser test corpus through the real poll pipeline: loopback HTTP, parser, SQLite store.

Each file of ../shared/corpora/feedparser-tests is served with the headers its leading comment
names (``Header: Name: value``; Content-Type application/xml when it names none) and configured as
a feed of its own; one poll cycle fetches, parses and stores them all. No exception may escape the
cycle, every file must end ingested or as a recorded per-feed error, and where a file expects a
plain title or link of its first entry, the first item stored for that feed has it.
"""

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SHARED
from httpserver import LoopbackServer, Reply
from polling import T0, Clock, Row, stored_items, write_settings

from watcher.config import Config, load_config
from watcher.fetch import FetchLimits
from watcher.matcher import Matcher
from watcher.parse import canonical_link
from watcher.pipeline import poll
from watcher.records import FeedReport, FeedState, PollSummary
from watcher.rules import load_rules
from watcher.store import Store
from watcher.text import readable_text

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # the corpus served over loopback into SQLite

CORPUS = SHARED / "corpora" / "feedparser-tests"
FOLDERS = ("wellformed", "illformed", "encoding", "entities", "json")
# The server the corpus was written for: a link relative to the document resolves against it.
CORPUS_ORIGIN = "http://127.0.0.1:8097"
LIMITS = FetchLimits(
    max_connections=16, max_per_host=16, connect_timeout=5, read_timeout=10, total_timeout=20
)

_COMMENT = re.compile(rb"<!--(.*?)-->", re.DOTALL)
_FIELD = re.compile(r"^\s*(Header|Description|Expect):\s*(.*?)\s*$", re.MULTILINE)
_JSON_TEST = re.compile(r'"__TEST__"\s*:\s*"([^"]*)"')
# entries[0]['title'] == 'A', entries[0].link == u'http://...', entries[0][...] == entries[1][...] == '...'
_SIMPLE = re.compile(
    r"(?:^|\band\s+)entries\[0\](?:\['(?P<key>title|link)'\]|\.(?P<attr>title|link))"
    r"(?:\s*==\s*entries\[\d+\](?:\['(?P=key)'\]|\.(?P=attr)))*"
    r"""\s*==\s*u?(?P<quote>['"])(?P<value>[^'"\\<>&]*)(?P=quote)\s*(?:$|\band\b)"""
)


@dataclass(frozen=True)
class Case:
    """One corpus file: its feed name, URL path, response and expectation."""

    name: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    declared_headers: int  # how many came from Header: lines
    expect: str


def comment_text(body: bytes) -> str:
    """The leading comment of a corpus file, readable whatever the file's encoding (the comments
    are ASCII; in UTF-16 and UTF-32 files each character carries NUL bytes, dropped here)."""
    head = body[:8192].replace(b"\x00", b"")
    found = _COMMENT.search(head)
    if found is None:
        json_test = _JSON_TEST.search(head.decode("latin-1"))
        return json_test.group(1).replace(" Expect:", "\nExpect:") if json_test else ""
    return found.group(1).decode("latin-1")


def load_case(path: Path) -> Case:
    relative = path.relative_to(CORPUS).as_posix()
    body = path.read_bytes()
    headers: list[tuple[str, str]] = []
    expect = ""
    for field, value in _FIELD.findall(comment_text(body)):
        if field == "Header":
            name, _, header_value = value.partition(":")
            headers.append((name.strip(), header_value.strip()))
        elif field == "Expect":
            expect = value.removesuffix("-->").strip()
    declared = len(headers)
    if not any(name.lower() == "content-type" for name, _ in headers):
        default = "application/feed+json" if path.suffix == ".json" else "application/xml"
        headers.append(("Content-Type", default))
    return Case(relative.replace("/", "."), "/" + relative, body, tuple(headers), declared, expect)


def simple_expectation(case: Case, origin: str) -> tuple[str, str] | None:
    """(field, expected stored value) when the file expects a plain title or link of entries[0]."""
    found = _SIMPLE.search(case.expect)
    if found is None:
        return None
    field = found.group("key") or found.group("attr")
    value = found.group("value")
    if field == "title":
        return field, readable_text(value)
    return field, canonical_link(value.replace(CORPUS_ORIGIN, origin))


@dataclass(frozen=True)
class CorpusRun:
    """The first poll cycle of the whole corpus, with what it left in the store; the server and
    the store stay open for the module's tests."""

    cases: list[Case]
    summary: PollSummary
    reports: dict[str, FeedReport]
    feeds: dict[str, FeedState]
    first_items: dict[str, Row]
    origin: str
    seconds: float
    config: Config
    store: Store
    server: LoopbackServer


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Iterator[CorpusRun]:
    """One poll cycle of every corpus file, served from one loopback server into one SQLite file
    (``shared``: skipped on a bare clone, a failure in CI, as every test of ../shared)."""
    if not CORPUS.is_dir():
        pytest.fail(f"{CORPUS} is missing from {shared}: the corpus tests need it")
    paths = sorted(p for folder in FOLDERS for p in (CORPUS / folder).rglob("*") if p.is_file())
    cases = [load_case(path) for path in paths]
    directory = tmp_path_factory.mktemp("corpus")
    database = f"sqlite:///{directory / 'watch.db'}"
    with LoopbackServer() as server, Store.open(database) as store:
        for case in cases:
            server.route(case.path, Reply(200, case.body, case.headers))
        settings = write_settings(
            directory / "settings.yaml", database, {case.name: server.url(case.path) for case in cases}
        )
        config = load_config(settings)
        started = time.monotonic()
        summary = asyncio.run(poll(config, store, Matcher(load_rules(config.rules)), Clock(), limits=LIMITS))
        seconds = time.monotonic() - started
        first_items: dict[str, Row] = {}
        for row in stored_items(database):
            first_items.setdefault(row.feed, row)
        yield CorpusRun(
            cases,
            summary,
            {report.feed: report for report in summary.reports},
            {state.name: state for state in store.feeds()},
            first_items,
            server.url("").rstrip("/"),
            seconds,
            config,
            store,
            server,
        )
    assert not server.errors, server.errors


def test_the_corpus_is_complete(corpus_run: CorpusRun) -> None:
    by_folder = dict.fromkeys(FOLDERS, 0)
    for case in corpus_run.cases:
        by_folder[case.path.split("/")[1]] += 1
    assert sum(by_folder.values()) == 2107, by_folder  # 2,106 XML files and one JSON feed
    assert by_folder["json"] == 1
    with_headers = [case for case in corpus_run.cases if case.declared_headers]
    assert len(with_headers) == 106, "the Header: lines of the corpus were not all read"
    with_expectations = [case for case in corpus_run.cases if case.expect]
    assert len(with_expectations) >= 2090, "the Expect: lines of the corpus were not read"


def test_every_file_is_ingested_or_a_recorded_per_feed_error(corpus_run: CorpusRun) -> None:
    names = {case.name for case in corpus_run.cases}
    assert set(corpus_run.reports) == names, "a feed is missing from the cycle's reports"
    assert set(corpus_run.feeds) == names
    unrecorded = sorted(name for name, state in corpus_run.feeds.items() if state.last_outcome is None)
    assert unrecorded == []
    outcomes = {state.last_outcome for state in corpus_run.feeds.values()}
    assert outcomes <= {"ok", "not_modified", "error"}, outcomes
    for name, state in corpus_run.feeds.items():
        report = corpus_run.reports[name]
        assert report.outcome == state.last_outcome
        if state.last_outcome == "error":
            assert state.last_error, f"{name}: an error without a message"
            assert state.consecutive_failures == 1
            assert report.new_items == 0
        else:
            assert state.last_error is None
            assert state.last_success == state.last_polled
    errors = [state for state in corpus_run.feeds.values() if state.last_outcome == "error"]
    # Per-feed errors are documents that are no feed at all (feedparser finds no version and no
    # entries), never a fetch failure: every file was served whole from loopback.
    assert all(state.last_error.startswith("not an RSS or Atom feed") for state in errors), {  # type: ignore[union-attr]
        state.name: state.last_error
        for state in errors
        if not state.last_error.startswith("not an RSS")  # type: ignore[union-attr]
    }
    print(
        f"\ncorpus: {len(corpus_run.cases)} files in {corpus_run.seconds:.1f} s: "
        f"{corpus_run.summary.count('ok')} ingested, {len(errors)} per-feed errors, "
        f"{corpus_run.summary.new_items} items stored, {corpus_run.summary.hits} hits"
    )


def test_items_were_stored_for_the_ingested_feeds(corpus_run: CorpusRun) -> None:
    ingested = [name for name, state in corpus_run.feeds.items() if state.last_outcome == "ok"]
    with_items = [name for name in ingested if name in corpus_run.first_items]
    assert len(with_items) >= 1000, f"only {len(with_items)} of {len(ingested)} ingested feeds stored items"
    assert corpus_run.summary.new_items == sum(r.new_items for r in corpus_run.reports.values())


def mismatches(corpus_run: CorpusRun) -> tuple[int, dict[str, tuple[str, str, str | None]]]:
    """How many simple expectations there are, and those that fail: name -> (field, expected, got)."""
    checked = 0
    failed: dict[str, tuple[str, str, str | None]] = {}
    for case in corpus_run.cases:
        expectation = simple_expectation(case, corpus_run.origin)
        if expectation is None:
            continue
        field, expected = expectation
        checked += 1
        row = corpus_run.first_items.get(case.name)
        got = None if row is None else getattr(row, field)
        if got != expected:
            failed[case.name] = (field, expected, got)
    return checked, failed


# Link cases that once failed, each kept as a test of its own below.
RELATIVE_TO_DOCUMENT = "wellformed.base.http_item_link_base_docuri.xml"
LINK_WITHOUT_HREF = tuple(
    f"wellformed.{folder}.{name}.xml"
    for folder in ("atom", "atom10")
    for name in ("entry_link_no_href_link_priority", "entry_link_rel_enclosure_no_href")
)


def test_simple_title_and_link_expectations_hold_on_stored_items(corpus_run: CorpusRun) -> None:
    checked, failed = mismatches(corpus_run)
    print(f"\ncorpus: {checked} simple title/link expectations checked")
    assert checked == 51
    assert failed == {}, "\n".join(f"{name}: {mismatch}" for name, mismatch in failed.items())


def test_a_relative_item_link_resolves_against_the_feed_url(corpus_run: CorpusRun) -> None:
    _, failed = mismatches(corpus_run)
    assert RELATIVE_TO_DOCUMENT not in failed, failed[RELATIVE_TO_DOCUMENT]


def test_an_enclosure_link_without_href_does_not_replace_the_alternate_link(corpus_run: CorpusRun) -> None:
    _, failed = mismatches(corpus_run)
    assert not set(LINK_WITHOUT_HREF) & set(failed), {name: failed[name] for name in LINK_WITHOUT_HREF}


def test_the_json_feed_is_a_clean_per_feed_error(corpus_run: CorpusRun) -> None:
    # feedparser 6 reads no JSON Feed (neither does summit-watch, whose feeds are RSS and Atom).
    state = corpus_run.feeds["json.example.json"]
    assert (state.last_outcome, state.consecutive_failures) == ("error", 1)
    assert state.last_error is not None
    assert state.last_error.startswith("not an RSS or Atom feed")


def test_a_second_cycle_brings_nothing_new(corpus_run: CorpusRun) -> None:
    """Re-polling ingested feeds (served again in full: the corpus has no validators) stores no
    item twice and hits nothing again."""
    again = sorted(corpus_run.first_items)[:300]
    matcher = Matcher(load_rules(corpus_run.config.rules))
    clock = Clock(T0 + timedelta(hours=1))
    summary = asyncio.run(
        poll(corpus_run.config, corpus_run.store, matcher, clock, feeds=again, limits=LIMITS)
    )
    assert sorted(report.feed for report in summary.reports) == again
    assert {report.outcome for report in summary.reports} <= {"ok", "not_modified"}
    assert (summary.new_items, summary.hits) == (0, 0)
    assert corpus_run.store.counts()["items"] == corpus_run.summary.new_items
