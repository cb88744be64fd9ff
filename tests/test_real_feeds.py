"""False positives: the example rules over every entry of ../shared/corpora/real-feeds (200 real feeds).

The corpus is ordinary web feeds (blogs, tech, science, world news). The only expected hit is a
true positive: The Economist's "Donald Trump looms over Vladimir Putin’s visit to India" (Asia
section, 4 December 2025), which is exactly what rule putin-visit-india is for. Anything else
that matches is a false positive to fix in the matcher or the rules, not to add here.
"""

# Look-alike characters (curly quotes, dashes, full-width letters) are what these tests are about.
# ruff: noqa: RUF001, RUF002

from pathlib import Path

import pytest
from conftest import RULES

from watcher.items import Item
from watcher.matcher import Matcher
from watcher.parse import ParsedFeed, parse_feed
from watcher.rules import load_rules

pytestmark = pytest.mark.slow  # each run parses the whole real-feeds corpus

EXPECTED_HITS = [
    ("960551eca5b5db81", "371b913b-871d-4f89-afc4-9bf7874f77ca", "putin-visit-india"),
]

# Files that give no entries: 7ef13a42fa7e177a is not XML at all ("<?xml?xml ... ??>", rss:-prefixed
# elements without a namespace); d4b7ab74da763119 is a JSON Feed, which summit-watch does not read.
# (Neither mentions anything the example rules look for.)
NO_ENTRIES = {"7ef13a42fa7e177a", "d4b7ab74da763119"}


@pytest.fixture(scope="module")
def feeds(shared: Path) -> dict[str, ParsedFeed]:
    directory = shared / "corpora" / "real-feeds" / "feeds"
    return {path.name: parse_feed(path.read_bytes()) for path in sorted(directory.iterdir())}


def test_the_corpus_is_parsed(feeds: dict[str, ParsedFeed]) -> None:
    assert len(feeds) == 200
    assert {name for name, feed in feeds.items() if not feed.items} == NO_ENTRIES
    assert sum(len(feed.items) for feed in feeds.values()) > 6000


def test_example_rules_hit_only_the_expected_items(feeds: dict[str, ParsedFeed]) -> None:
    matcher = Matcher(load_rules(RULES))
    hits = [
        (name, item.id, match.rule_id)
        for name, feed in feeds.items()
        for item in feed.items
        for match in matcher.match(item)
    ]
    assert hits == EXPECTED_HITS


def test_the_expected_hit_is_the_putin_visit_story(feeds: dict[str, ParsedFeed]) -> None:
    (name, item_id, rule_id) = EXPECTED_HITS[0]
    item: Item = next(item for item in feeds[name].items if item.id == item_id)
    assert item.title == "Donald Trump looms over Vladimir Putin’s visit to India"
    assert (
        item.link
        == "https://www.economist.com/asia/2025/12/04/donald-trump-looms-over-vladimir-putins-visit-to-india"
    )
    (match,) = Matcher(load_rules(RULES / f"{rule_id}.yaml")).match(item)
    assert match.score == 100
    assert {(hit.field, hit.text) for hit in match.hits} == {
        ("title", "Putin"),
        ("title", "India"),
        ("title", "visit"),
    }
