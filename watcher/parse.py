"""Feed documents (RSS, Atom, RDF) to items, with feedparser.

feedparser gets bytes, never a URL (its own fetching has no timeout). Its HTML sanitising and
relative-URI resolution are turned off because they double the parse time and summit-watch
never renders feed HTML: items hold text (``watcher.text.readable_text``), never markup.

Work and memory are bounded per item: feedparser holds several copies of every text it reads
(a 14 MB title took 270 MB), so the content of each element of the document is first cut to
``ELEMENT_LIMIT`` bytes (``cap_elements``), and an item's title, summary and content are then
cut to ``TITLE_LIMIT``, ``SUMMARY_LIMIT`` and ``CONTENT_LIMIT`` characters before they are
matched and stored.
"""

import calendar
import codecs
import hashlib
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.entities import html5
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from watcher.items import Item
from watcher.text import readable_text

TITLE_LIMIT: Final = 1_000  # characters of an item's (and a feed's) title
SUMMARY_LIMIT: Final = 100_000  # characters of an item's summary
CONTENT_LIMIT: Final = 100_000  # characters of an item's content
ELEMENT_LIMIT: Final = 1 << 20  # bytes inside one element of the document (its text and markup)
ELLIPSIS: Final = "\u2026"
_WORD_REACH: Final = 100  # characters a cut moves back at most, to end after a word
_ELLIPSIS_REFERENCE: Final = b"&#8230;"  # the ellipsis in a document of any encoding
# Elements that hold the items: never cut. Any other element holds one value (a title, a text, a
# link) and is cut when it is larger than any real one.
_CONTAINERS: Final = frozenset({b"rss", b"rdf", b"channel", b"item", b"feed", b"entry"})
# The document's markup and text. Each alternative stops at a "<" (or the end of its section),
# and the tag's are possessive: one pass, whatever the bytes.
_TOKEN: Final = re.compile(
    rb"<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)"
    rb"|<!--.*?(?:-->|\Z)|<[?!][^<>]*>?"
    rb"|</(?P<end>[^\s<>]*)[^<>]*>?"
    rb"|<(?P<start>[^\s<>/\"']++)(?:[^<>\"']|\"[^<\"]*\"|'[^<']*')*+>"
    rb"|[^<]+|<",
    re.DOTALL,
)
_DECLARED_ENCODING: Final = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding=["']([\w.:-]+)""")
_CHARSET: Final = re.compile(r"""charset=["']?([\w.:-]+)""", re.IGNORECASE)
_ENTITY_REFERENCE: Final = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")

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
    body = cap_elements(body, lowered.get("content-type", ""))
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=lowered, sanitize_html=False, resolve_relative_uris=False
    )
    title = cut(_without_undefined_entities(str(parsed.feed.get("title", ""))), TITLE_LIMIT)
    base = lowered.get("content-location") or ""
    items = tuple(_item(entry, title, base) for entry in parsed.entries)
    problem = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(title, items, problem, is_feed=bool(parsed.get("version")) or bool(items))


def _item(entry: Any, source: str, base: str) -> Item:
    title = _text(str(entry.get("title", "")), TITLE_LIMIT)
    summary = _text(str(entry.get("summary", "")), SUMMARY_LIMIT)
    content = _text("\n".join(str(part.get("value", "")) for part in entry.get("content", ())), CONTENT_LIMIT)
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


def _text(markup: str, limit: int) -> str:
    """A field of an item as stored and matched: readable text, at most ``limit`` characters."""
    return cut(readable_text(_without_undefined_entities(markup)), limit)


def _without_undefined_entities(markup: str) -> str:
    """``markup`` without references to entities HTML does not define.

    feedparser keeps a reference it could not resolve as text (``&lol9;`` of a billion-laughs
    document, whose declarations it drops): it means nothing to a reader, so it goes.
    """
    if "&" not in markup:
        return markup
    return _ENTITY_REFERENCE.sub(lambda found: found[0] if f"{found[1]};" in html5 else "", markup)


def cut(text: str, limit: int) -> str:
    """``text``, or if it is longer than ``limit`` characters its start and an ellipsis in
    ``limit`` characters: after the last word that fits when one ends within ``_WORD_REACH``
    characters, never between a letter and its accents."""
    if len(text) <= limit:
        return text
    end = limit - len(ELLIPSIS)
    while end > 0 and unicodedata.combining(text[end]):
        end -= 1
    reach = max(end - _WORD_REACH, 0)
    space = max(text.rfind(" ", reach, end + 1), text.rfind("\n", reach, end + 1))
    return text[: space if space > 0 else end].rstrip() + ELLIPSIS


def cap_elements(body: bytes, content_type: str = "") -> bytes:
    """The document with what each element holds (text, CDATA, child elements) cut to
    ``ELEMENT_LIMIT`` bytes and ended by an ellipsis; the elements holding items are not cut.

    One pass over the bytes, before feedparser: an oversized element then costs what its first
    ``ELEMENT_LIMIT`` bytes cost. Cuts keep the document well-formed: not inside a character or an
    entity reference, a cut CDATA section is closed, elements opened inside a cut one are closed.
    UTF-16 and UTF-32 documents are cut as UTF-8 and encoded back. ``content_type`` is the HTTP
    header, whose charset (else the XML declaration's) tells where characters end.
    """
    if len(body) <= ELEMENT_LIMIT:
        return body
    wide = _wide_encoding(body)
    if wide is not None:
        capped = _cap(body.decode(wide, "replace").encode(), "utf-8")
        return body if capped is None else capped.decode().encode(wide)
    return _cap(body, _encoding(body, content_type)) or body


def _wide_encoding(body: bytes) -> str | None:
    """UTF-16 or UTF-32 (and which byte order) if the document starts with their BOM or "<"."""
    for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        if body.startswith(("\ufeff".encode(encoding), "<".encode(encoding))):
            return encoding
    return None


def _encoding(body: bytes, content_type: str) -> str:
    """The document's encoding, as far as telling where its characters end needs: the HTTP
    charset, else the XML declaration's, else UTF-8."""
    charset = _CHARSET.search(content_type)
    declared = _DECLARED_ENCODING.match(body)
    name = charset[1] if charset else declared[1].decode() if declared else "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def _cap(body: bytes, encoding: str) -> bytes | None:
    """``cap_elements`` of a document in an encoding that keeps ASCII; None if nothing was cut."""
    pieces: list[bytes] = []
    done = 0
    while (found := _next_cut(body, done, encoding)) is not None:
        start, end, replacement = found
        pieces += (body[done:start], replacement)
        done = end
    if not pieces:
        return None
    pieces.append(body[done:])
    return b"".join(pieces)


def _next_cut(body: bytes, at: int, encoding: str) -> tuple[int, int, bytes] | None:
    """The first element from ``at`` whose content is over the limit: where its content is cut,
    where its end tag starts, and what goes in between. None if there is none."""
    element: bytes | None = None  # the element being measured
    ends = 0  # where its content must end
    opened: list[bytes] = []  # elements opened inside it and not closed yet
    for token in _TOKEN.finditer(body, at):
        start, end = token.span()
        name, closing = token["start"], token["end"]
        if name is not None and body[end - 2 : end] == b"/>":
            name = None  # an empty element: nothing to measure or close
        if element is None:
            if name is not None and name.rpartition(b":")[2].lower() not in _CONTAINERS:
                element, ends, opened = name, end + ELEMENT_LIMIT, []
        elif closing == element and (not opened or opened[-1] != closing):
            element = None
        elif end > ends:
            closes = b"".join(b"</" + inner + b">" for inner in reversed(opened))
            replacement = _kept(body, token, ends, encoding) + _ELLIPSIS_REFERENCE + closes
            nested = opened.count(element) + (name == element)  # open inside it, to skip
            return start, _end_tag(body, element, end, nested), replacement
        elif name is not None:
            opened.append(name)
        elif closing is not None and opened and opened[-1] == closing:
            opened.pop()
    return None


def _end_tag(body: bytes, name: bytes, at: int, nested: int) -> int:
    """Where the end tag of the element ``name`` open at ``at`` starts, ``nested`` elements of that
    name being open inside it (the end of the document if it is not closed). A search for tags of
    that name only: the rest of a 14 MB element is not read token by token."""
    for tag in re.compile(rb"<(/?)" + re.escape(name) + rb"(?:\s[^<>]*?)?(/?)>").finditer(body, at):
        if not tag[1]:
            if not tag[2]:  # <name/> opens nothing
                nested += 1
        elif nested:
            nested -= 1
        else:
            return tag.start()
    return len(body)


def _kept(body: bytes, token: re.Match[bytes], ends: int, encoding: str) -> bytes:
    """What is kept of the token that crosses an element's limit: the start of a text or of a
    CDATA section, in whole characters and entity references; nothing of a tag or a comment."""
    start = token.start()
    if token["cdata"] is not None:
        data = token.start("cdata")
        return b"<![CDATA[" + _whole_characters(body[data : max(ends, data)], encoding) + b"]]>"
    if body[start : start + 1] == b"<":
        return b""
    kept = _whole_characters(body[start:ends], encoding)
    reference = kept.rfind(b"&")
    return kept[:reference] if reference > kept.rfind(b";") else kept


def _whole_characters(data: bytes, encoding: str) -> bytes:
    """``data`` without the bytes of a character it cuts in two at its end."""
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    decoder.decode(data)
    pending = len(decoder.getstate()[0])
    return data[: len(data) - pending]


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
