"""Feed documents to items: what ``rules test`` and (later) the poller read from RSS and Atom."""

# Look-alike characters (curly quotes, dashes, full-width letters) are what these tests are about.
# ruff: noqa: RUF001

import io
import tracemalloc
from datetime import UTC, datetime

import feedparser
import pytest

from watcher import parse
from watcher.parse import (
    CONTENT_LIMIT,
    ELEMENT_LIMIT,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    cap_elements,
    cut,
    parse_feed,
)

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://example.com/</link>
<description>d</description>
<item><guid isPermaLink="false">rss-1</guid><title>Putin&#8217;s visit</title>
<description>&lt;p&gt;Kremlin: &lt;b&gt;Putin&lt;/b&gt; &amp;amp; Modi&lt;/p&gt;&lt;p&gt;will meet.&lt;/p&gt;
</description>
<link>http://example.com/1</link><pubDate>Tue, 07 Oct 2025 10:00:00 GMT</pubDate></item>
<item><title>No guid</title><link>http://example.com/2</link></item>
<item><title>Neither guid nor link</title><description>text</description></item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom wire</title><id>urn:x</id>
<updated>2025-10-07T00:00:00Z</updated>
<entry><id>urn:atom:1</id><title type="html">Lavrov &lt;i&gt;to visit&lt;/i&gt;</title>
<updated>2025-10-07T12:30:00Z</updated><link href="https://example.org/a1"/>
<summary>Short</summary><content type="html">&lt;p&gt;Long&lt;/p&gt;&lt;p&gt;story&lt;/p&gt;</content></entry>
<entry><id>urn:atom:2</id><title>No link</title><updated>2025-10-07T00:00:00Z</updated></entry>
</feed>
"""


def test_rss_items() -> None:
    feed = parse_feed(RSS)
    assert (feed.title, feed.is_feed, feed.problem) == ("Test wire", True, None)
    first, second, third = feed.items
    assert (first.id, first.title, first.link, first.source) == (
        "rss-1",
        "Putin’s visit",
        "http://example.com/1",
        "Test wire",
    )
    assert first.summary == "Kremlin: Putin & Modi\nwill meet."
    assert first.published == datetime(2025, 10, 7, 10, 0, tzinfo=UTC)
    assert second.id == "http://example.com/2", "no guid: the link is the id"
    assert third.id.startswith("sha256:"), "neither: a hash of the content"
    assert parse_feed(RSS).items[2].id == third.id, "the same entry gets the same id every time"


def test_atom_items() -> None:
    first, _ = parse_feed(ATOM).items
    assert (first.id, first.title, first.link) == ("urn:atom:1", "Lavrov to visit", "https://example.org/a1")
    assert (first.summary, first.content) == ("Short", "Long\nstory")
    assert first.published == datetime(2025, 10, 7, 12, 30, tzinfo=UTC)


def test_atom_entry_without_link_has_no_link() -> None:
    _, second = parse_feed(ATOM).items
    assert second.link is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<!DOCTYPE html><html><body><p>Putin</p></body></html>", id="html-page"),
        pytest.param(b"", id="empty"),
        pytest.param(b"just text", id="text"),
    ],
)
def test_not_a_feed(body: bytes) -> None:
    feed = parse_feed(body)
    assert not feed.is_feed
    assert feed.items == ()


def test_malformed_feed_still_yields_items() -> None:
    broken = RSS.replace(b"</channel></rss>", b"<item><title>cut off")
    feed = parse_feed(broken)
    assert feed.problem is not None
    assert [item.id for item in feed.items][:2] == ["rss-1", "http://example.com/2"]


def test_entries_without_link_or_guid_stay_distinct_when_the_feed_url_is_known() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>one</title><description>first</description></item>"
        b"<item><title>two</title><description>second</description></item>"
        b"<item><title>three</title><link>/news/3</link></item>"
        b"</channel></rss>"
    )
    items = parse_feed(body, {"content-type": "application/rss+xml"}, "https://example.org/feed.xml").items
    assert len({item.id for item in items}) == 3
    assert [item.link for item in items] == [None, None, "https://example.org/news/3"]


# -- bounded work per item ------------------------------------------------------------------------


def rss_with(inner: str, encoding: str = "utf-8") -> bytes:
    """An RSS document whose first item has ``inner`` (its elements but the guid), then a normal item."""
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>Wire</title>'
        f"<item><guid>big</guid>{inner}</item>"
        "<item><guid>ok</guid><title>Putin to visit New Delhi</title></item></channel></rss>\n"
    ).encode(encoding)


def well_formed(body: bytes) -> bool:
    """Whether feedparser's strict XML parser reads ``body`` (its lenient one reads anything)."""
    return not feedparser.parse(io.BytesIO(body)).bozo


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("Putin to visit", 14, "Putin to visit", id="fits"),
        pytest.param("Putin to visit Delhi", 14, "Putin to…", id="after-a-word"),
        pytest.param("Putin to visit\nDelhi", 16, "Putin to visit…", id="after-a-line"),
        pytest.param("a" * 20, 10, "a" * 9 + "…", id="no-word-ends-nearby"),
        pytest.param("cafe\u0301" * 3, 5, "caf…", id="a-letter-keeps-its-accent"),
    ],
)
def test_cut_keeps_whole_words_and_marks_the_cut(text: str, limit: int, expected: str) -> None:
    assert cut(text, limit) == expected
    assert len(cut(text, limit)) <= limit


def test_cut_looks_back_only_so_far_for_a_word() -> None:
    text = "short " + "x" * 300
    assert cut(text, 200) == "short " + "x" * 193 + "…"


@pytest.mark.parametrize(
    ("element", "field", "limit"),
    [("title", "title", TITLE_LIMIT), ("description", "summary", SUMMARY_LIMIT)],
)
def test_item_fields_are_cut_to_their_limits(element: str, field: str, limit: int) -> None:
    text = " ".join(f"word{n}" for n in range(limit))  # longer than the limit, shorter than the element's
    item = parse_feed(rss_with(f"<{element}>{text}</{element}>")).items[0]
    stored = getattr(item, field)
    assert len(stored) <= limit
    assert stored.endswith("…")
    assert text.startswith(stored[:-1])
    assert text[len(stored) - 1] == " ", "cut after a whole word"


def test_content_is_cut_to_its_limit() -> None:
    text = "z " * CONTENT_LIMIT
    body = rss_with(f"<description>short</description><content:encoded>{text}</content:encoded>").replace(
        b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    )
    item = parse_feed(body).items[0]
    assert (len(item.content), item.content[-3:]) == (CONTENT_LIMIT, " z…")


@pytest.mark.slow
def test_a_14_mb_title_is_cut_before_feedparser_reads_it() -> None:
    """feedparser and the text tidying held ~230 MB for a 14 MB title; cut first, they hold ~20 MB."""
    huge = rss_with("<title>" + "lorem ipsum dolor sit amet " * (14 * 2**20 // 27) + "</title>")
    tracemalloc.start()
    try:
        feed = parse_feed(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MiB"
    big, ok = feed.items
    assert (len(big.title), big.title[:11], big.title[-1]) == (TITLE_LIMIT - 1, "lorem ipsum", "…")
    assert ok.title == "Putin to visit New Delhi"


SMALL = 64 * 1024  # an element limit for the tests below: feedparser reads 1 MiB of tags in seconds
LONG = 2 * SMALL  # characters: longer than an element may be


@pytest.fixture
def small_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "ELEMENT_LIMIT", SMALL)


@pytest.mark.parametrize(
    ("inner", "encoding", "field", "starts"),
    [
        pytest.param(f"<title>{'word ' * (LONG // 5)}</title>", "utf-8", "title", "word word", id="text"),
        pytest.param(
            f"<description>{'a&amp;b ' * (LONG // 8)}</description>",
            "utf-8",
            "summary",
            "a&b a&b",
            id="entity-references",
        ),
        pytest.param(
            f"<description><![CDATA[{'<p>x</p>' * (LONG // 8)}]]></description>",
            "utf-8",
            "summary",
            "x\nx",
            id="cdata",
        ),
        pytest.param(
            f"<description>&lt;p&gt;{'<b>x</b> ' * (LONG // 9)}&lt;/p&gt;</description>",
            "utf-8",
            "summary",
            "x x",
            id="child-elements",
        ),
        pytest.param(f"<title>{'żółć ' * (LONG // 9)}</title>", "utf-8", "title", "żółć żółć", id="utf-8"),
        pytest.param(
            f"<title>{'日本語のテキスト' * (LONG // 16)}</title>",
            "shift_jis",
            "title",
            "日本語のテキスト",
            id="shift-jis",
        ),
        pytest.param(f"<title>{'word ' * (LONG // 5)}</title>", "utf-16", "title", "word word", id="utf-16"),
        pytest.param(
            f"<description>a<description>{'x ' * (LONG // 2)}</description>b</description>",
            "utf-8",
            "summary",
            "a x x",
            id="nested-same-name",
        ),
    ],
)
@pytest.mark.usefixtures("small_elements")
def test_an_oversized_element_is_cut_and_the_document_stays_well_formed(
    inner: str, encoding: str, field: str, starts: str
) -> None:
    body = rss_with(inner, encoding)
    capped = cap_elements(body)
    width = len("xx".encode(encoding)) - len("x".encode(encoding))  # the limit is of UTF-8 bytes
    assert len(capped) < (SMALL + 1000) * width < len(body)
    assert well_formed(body)
    assert well_formed(capped), "a cut must not break the document"
    big, ok = parse_feed(body).items
    text = getattr(big, field)
    assert text.startswith(starts)
    assert text.endswith("…")
    assert "\ufffd" not in text, "no character was cut in two"
    assert ok.title == "Putin to visit New Delhi"


@pytest.mark.usefixtures("small_elements")
def test_atom_xhtml_content_with_many_elements_is_cut_and_closed() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>'
        b'<entry><id>big</id><title>Big</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        + b"<p>x</p>" * (LONG // 8)
        + b"</div></content></entry><entry><id>ok</id><title>Putin to visit</title></entry></feed>"
    )
    capped = cap_elements(body)
    assert len(capped) < SMALL + 1000
    assert well_formed(capped)
    big, ok = parse_feed(body).items
    assert big.summary.startswith("x\nx")
    assert big.summary.endswith("…")
    assert ok.title == "Putin to visit"


@pytest.mark.slow
def test_elements_holding_items_are_never_cut() -> None:
    items = "".join(
        f"<item><guid>{n}</guid><title>Item {n} " + "x" * 100 + "</title></item>" for n in range(20_000)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'.encode()
    )
    assert len(body) > 2 * ELEMENT_LIMIT
    assert cap_elements(body) is body
    assert len(parse_feed(body).items) == 20_000


def test_references_to_undefined_entities_are_dropped() -> None:
    """A billion-laughs document: feedparser drops its entity declarations and its lenient parser
    keeps ``&lol9;`` as text, which would reach the store and the alert."""
    laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n<!ENTITY lol9 "&lol;&lol;">\n]>\n'
        b"<rss version='2.0'><channel><title>Laughs &lol9;</title>"
        b"<item><guid>1</guid><title>Laugh &lol9; now</title><description>&lol9;</description></item>"
        b"</channel></rss>\n"
    )
    feed = parse_feed(laughs)
    (item,) = feed.items
    assert (feed.title, item.title, item.summary, item.source) == ("Laughs ", "Laugh now", "", "Laughs ")


def test_defined_and_escaped_references_stay() -> None:
    body = rss_with("<title>Tom &amp;amp; Jerry &amp;nbsp;&amp;eacute;t&#233; &amp;amp;x;</title>")
    assert parse_feed(body).items[0].title == "Tom & Jerry été &x;"
