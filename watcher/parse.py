"""Feed documents (RSS, Atom, RDF) to items, with feedparser.

feedparser gets bytes, never a URL (its own fetching has no timeout). Its HTML sanitising and
relative-URI resolution are turned off because they double the parse time and summit-watch
never renders feed HTML: items hold text (``watcher.text.readable_text``), never markup.
"""

import calendar
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from watcher.items import Item
from watcher.text import readable_text


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: its items, and why it is malformed if it is (its items may still be usable)."""

    title: str
    items: tuple[Item, ...]
    problem: str | None
    is_feed: bool


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document. ``headers`` are the HTTP response headers (they carry the charset)."""
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=lowered, sanitize_html=False, resolve_relative_uris=False
    )
    title = str(parsed.feed.get("title", ""))
    items = tuple(_item(entry, title) for entry in parsed.entries)
    problem = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(title, items, problem, is_feed=bool(parsed.get("version")) or bool(items))


def _item(entry: Any, source: str) -> Item:
    title = readable_text(str(entry.get("title", "")))
    summary = readable_text(str(entry.get("summary", "")))
    content = readable_text("\n".join(str(part.get("value", "")) for part in entry.get("content", ())))
    # feedparser falls back on the guid for a missing link; only a web address is a link.
    link = entry.get("link") if str(entry.get("link", "")).startswith(("http://", "https://")) else None
    return Item(
        id=str(entry.get("id") or link or _content_id(title, summary, content)),
        title=title,
        summary=summary,
        content=content if content != summary else "",
        link=str(link) if link else None,
        published=_published(entry),
        source=source or None,
    )


def _content_id(*parts: str) -> str:
    """An id for an entry with neither guid nor link: a hash of what it says."""
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _published(entry: Any) -> datetime | None:
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    if not when:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(when), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
