"""Feed documents to items: what ``rules test`` and (later) the poller read from RSS and Atom."""

# Look-alike characters (curly quotes, dashes, full-width letters) are what these tests are about.
# ruff: noqa: RUF001

from datetime import UTC, datetime

import pytest

from watcher.parse import parse_feed

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
