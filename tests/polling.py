"""Helpers for tests of whole poll cycles: settings files, a settable clock, a cycle run, stored rows.

Used by tests/test_poll.py and tests/test_corpus.py (real loopback server, real databases).
"""

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml
from conftest import RULES
from sqlalchemy import text

from watcher.config import Config, load_config
from watcher.fetch import FetchLimits
from watcher.matcher import Matcher
from watcher.pipeline import poll
from watcher.records import PollSummary
from watcher.rules import load_rules
from watcher.store import Store, make_engine

T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
# Small timeouts: nothing on loopback takes a second unless a test makes it.
QUICK = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=5, max_per_host=8)


class Clock:
    """A clock the test moves by hand: ``clock()`` is now, ``clock.advance(...)`` moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return self.now


def write_settings(
    path: Path,
    database: str,
    feeds: Mapping[str, str | Mapping[str, Any]] | None = None,
    **extra: Any,
) -> Path:
    """A settings file at ``path``: the example rules, ``database``, and ``feeds`` by name
    (a URL, or a mapping of the other feed keys: url, tags, interval)."""
    data: dict[str, Any] = {"database": database, "rules": str(RULES)}
    if feeds is not None:
        data["feeds"] = [
            {"name": name, "url": spec} if isinstance(spec, str) else {"name": name, **spec}
            for name, spec in feeds.items()
        ]
    data.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Poller:
    """Runs poll cycles of one settings file on one store, with a test clock and limits."""

    settings: Path
    store: Store
    clock: Clock
    limits: FetchLimits = QUICK

    @property
    def config(self) -> Config:
        return load_config(self.settings)  # read again each time: tests edit the file

    def __call__(self, feeds: Collection[str] | None = None) -> PollSummary:
        config = self.config
        matcher = Matcher(load_rules(config.rules))
        return asyncio.run(poll(config, self.store, matcher, self.clock, feeds=feeds, limits=self.limits))


@dataclass(frozen=True)
class Row:
    """An item as stored, read straight from the table (the store has no listing query)."""

    id: int
    feed: str
    entry_id: str
    title: str
    summary: str
    content: str
    link: str | None


def stored_items(database: str, feed: str | None = None) -> list[Row]:
    """The stored items (of ``feed``, or all), in the order they were stored."""
    query = "SELECT id, feed, entry_id, title, summary, content, link FROM item"
    query += " WHERE feed = :feed ORDER BY id" if feed is not None else " ORDER BY id"
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(query), {"feed": feed}).all()
    finally:
        engine.dispose()
    return [Row(*row) for row in rows]


def hit_rules(store: Store, item: int) -> set[str]:
    """The ids of the rules that hit stored item ``item``."""
    return {hit.rule for hit in store.item_hits(item)}


# -- feeds -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    guid: str
    title: str
    description: str = ""
    link: str | None = None


def rss(
    *entries: Entry, title: str = "Wire", declaration: str = '<?xml version="1.0" encoding="utf-8"?>'
) -> str:
    """An RSS 2.0 document (text: encode it as the test needs)."""
    items = "".join(
        f"<item><guid isPermaLink='false'>{escape(e.guid)}</guid><title>{escape(e.title)}</title>"
        + (f"<link>{escape(e.link)}</link>" if e.link else "")
        + f"<description>{escape(e.description)}</description>"
        + "<pubDate>Tue, 07 Oct 2025 10:00:00 GMT</pubDate></item>\n"
        for e in entries
    )
    channel = f"<channel><title>{escape(title)}</title>\n{items}</channel>"
    return f"{declaration}\n<rss version='2.0'>{channel}</rss>\n"


def seed_entries(seeds: list[Path]) -> list[Entry]:
    """The seed articles as entries: the first sentence the title, the whole text the description,
    a link carrying tracking parameters."""
    entries = []
    for path in seeds:
        article = " ".join(path.read_text(encoding="utf-8").split())
        title = article.split(". ")[0][:120]
        link = f"https://news.example/{path.stem}?utm_source=rss&utm_medium=feed"
        entries.append(Entry(path.stem, title, article, link))
    return entries
