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
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from watcher.items import Item
from watcher.text import readable_text

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "itm_")
_TRACKING_KEYS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igshid", "yclid", "_ga", "ref_src", "cmpid", "ocid"}
)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: its items, and why it is malformed if it is (its items may still be usable)."""

    title: str
    items: tuple[Item, ...]
    problem: str | None
    is_feed: bool


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, url: str | None = None) -> ParsedFeed:
    """Parse a feed document. ``headers`` are the HTTP response headers (they carry the charset);
    ``url`` is where it was fetched from, against which relative item links are resolved."""
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    if url and "content-location" not in lowered:
        lowered["content-location"] = url
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=lowered, sanitize_html=False, resolve_relative_uris=False
    )
    title = str(parsed.feed.get("title", ""))
    base = lowered.get("content-location") or ""
    items = tuple(_item(entry, title, base) for entry in parsed.entries)
    problem = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(title, items, problem, is_feed=bool(parsed.get("version")) or bool(items))


def _item(entry: Any, source: str, base: str) -> Item:
    title = readable_text(str(entry.get("title", "")))
    summary = readable_text(str(entry.get("summary", "")))
    content = readable_text("\n".join(str(part.get("value", "")) for part in entry.get("content", ())))
    raw_link = _link_of(entry)
    if raw_link and base:  # an empty link must not become the feed's own address
        raw_link = urljoin(base, raw_link)
    link = canonical_link(raw_link) if raw_link.startswith(("http://", "https://")) else None
    return Item(
        id=str(entry.get("id") or link or _content_id(title, summary, content)),
        title=title,
        summary=summary,
        content=content if content != summary else "",
        link=link,
        published=_published(entry),
        source=source or None,
    )


def _link_of(entry: Any) -> str:
    """The entry's web page: its ``alternate`` link, else feedparser's ``link``.

    feedparser may put an enclosure's URL or the guid in ``link``; only a web address is a link.
    """
    for link in entry.get("links", ()):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return str(entry.get("link") or "")


def canonical_link(url: str) -> str:
    """The link without tracking parameters (utm_*, fbclid...) or fragment, host in lower case.

    The same article shared with different campaign tags is then one link, and one item.
    """
    parts = urlsplit(url)
    query = [
        (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(key)
    ]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def _is_tracking(key: str) -> bool:
    return key.lower().startswith(_TRACKING_PREFIXES) or key.lower() in _TRACKING_KEYS


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
