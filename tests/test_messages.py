"""Rendering alerts as messages: highlights, snippets, matched terms, titles, several rules in one
message, limits, escaping and templates."""

# Cyrillic letters and curly apostrophes are what some of these tests are about.
# ruff: noqa: RUF001

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import WriteFile, write_file

from watcher.alerts import Alert, DateChange, Format, Message, Priority, Report, StoryEntry
from watcher.config import load_config
from watcher.errors import ConfigError, RulesError
from watcher.items import Item
from watcher.matcher import Matcher
from watcher.messages import (
    DEFAULT_LIMITS,
    EMAIL_LIMITS,
    MATCHED_TERMS,
    SLACK_LIMITS,
    SNIPPET_CHARS,
    Limits,
    limits_for,
    matched_terms,
    merge_templates,
    render,
)
from watcher.records import EventDate, TermHit
from watcher.rules import Rule, load_rules
from watcher.schema import Templates
from watcher.text import plain_text

FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
PUBLISHED = datetime(2025, 10, 7, 14, 5, tzinfo=UTC)
SNIPPET_ONLY = Templates(header="", entry="$snippet")
WORDS = " ".join(f"word{i}" for i in range(200))  # 1,590 characters of filler, spaces between


def hit(text: str, field: str, start: int, end: int, *, term: str | None = None, edits: int = 0) -> TermHit:
    return TermHit(term or text[start:end], field, start, end, text[start:end], edits)


def find(
    text: str, word: str, field: str = "content", nth: int = 0, *, term: str | None = None, edits: int = 0
) -> TermHit:
    """The ``nth`` occurrence of ``word`` in ``text`` as a hit (of ``term``, when the rule wrote
    another form, with ``edits`` for a typo)."""
    start = [m.start() for m in re.finditer(re.escape(word), text)][nth]
    return hit(text, field, start, start + len(word), term=term, edits=edits)


def report(source: str = "The Hindu", title: str = "", link: str | None = "https://example.org/a") -> Report:
    return Report(1, "feed", source, title, link, PUBLISHED)


def story(
    *,
    title: str = "",
    summary: str = "",
    content: str = "",
    hits: tuple[TermHit, ...] = (),
    also: tuple[Report, ...] = (),
    lead: Report | None = None,
    rules: tuple[str, ...] = (),
) -> StoryEntry:
    text = {"title": title, "summary": summary, "content": content}
    return StoryEntry(1, lead or report(title=title), text, hits, also, rules)


def alert(
    *entries: StoryEntry,
    name: str = "Putin visit",
    digest: bool = False,
    priority: Priority = "normal",
    rules: tuple[str, ...] = (),
) -> Alert:
    return Alert(7, "putin-visit", name, priority, PUBLISHED, entries, digest, rules)


def snippet(entry: StoryEntry, fmt: Format = "text") -> str:
    return render(alert(entry), fmt, SNIPPET_ONLY).body


# -- highlighting --------------------------------------------------------------------------------

HIGHLIGHTS = [
    pytest.param(
        "Modi met Putin in Delhi",
        [("Putin", 0)],
        ("Modi met *Putin* in Delhi", "Modi met **Putin** in Delhi", "Modi met <mark>Putin</mark> in Delhi"),
        id="one-hit",
    ),
    pytest.param(
        "Putin and Modi spoke; Putin will visit",
        [("Putin", 1), ("Putin", 0), ("Modi", 0)],  # in any order
        (
            "*Putin* and *Modi* spoke; *Putin* will visit",
            "**Putin** and **Modi** spoke; **Putin** will visit",
            "<mark>Putin</mark> and <mark>Modi</mark> spoke; <mark>Putin</mark> will visit",
        ),
        id="several-hits",
    ),
    pytest.param(
        "Путин встретился с Моди в Нью-Дели",
        [("Путин", 0), ("Моди", 0)],
        (
            "*Путин* встретился с *Моди* в Нью-Дели",
            "**Путин** встретился с **Моди** в Нью-Дели",
            "<mark>Путин</mark> встретился с <mark>Моди</mark> в Нью-Дели",
        ),
        id="cyrillic",
    ),
    pytest.param(
        "Après l’entretien, Zelenskyy’s aide met Putin",
        [("Zelenskyy", 0), ("Putin", 0)],
        (
            "Après l’entretien, *Zelenskyy*’s aide met *Putin*",
            "Après l’entretien, **Zelenskyy**’s aide met **Putin**",
            "Après l’entretien, <mark>Zelenskyy</mark>’s aide met <mark>Putin</mark>",
        ),
        id="accents-and-curly-apostrophes",
    ),
    pytest.param(
        "President Vladimir Putin arrived",
        [("Vladimir Putin", 0), ("Putin", 0)],
        (
            "President *Vladimir Putin* arrived",
            "President **Vladimir Putin** arrived",
            "President <mark>Vladimir Putin</mark> arrived",
        ),
        id="overlapping-hits-merge",
    ),
    pytest.param(
        "the IndiaRussia summit",
        [("India", 0), ("Russia", 0)],
        ("the *IndiaRussia* summit", "the **IndiaRussia** summit", "the <mark>IndiaRussia</mark> summit"),
        id="touching-hits-merge",
    ),
    pytest.param(
        "Vladimir\n\n   Putin said\tso",
        [("Vladimir\n\n   Putin", 0)],
        ("*Vladimir Putin* said so", "**Vladimir Putin** said so", "<mark>Vladimir Putin</mark> said so"),
        id="white-space-runs-collapse",
    ),
    pytest.param(
        "Putin <b>&</b> *a_b* [x] #1",
        [("Putin", 0)],
        (
            "*Putin* <b>&</b> *a_b* [x] #1",
            r"**Putin** \<b\>&\</b\> \*a\_b\* \[x\] \#1",
            "<mark>Putin</mark> &lt;b&gt;&amp;&lt;/b&gt; *a_b* [x] #1",
        ),
        id="markup-in-text-escaped",
    ),
]


@pytest.mark.parametrize(("text", "words", "expected"), HIGHLIGHTS)
def test_snippet_highlights_hits_in_each_format(
    text: str, words: list[tuple[str, int]], expected: tuple[str, str, str]
) -> None:
    entry = story(content=text, hits=tuple(find(text, word, nth=nth) for word, nth in words))
    assert tuple(snippet(entry, fmt) for fmt in FORMATS) == expected


def test_a_hit_whose_offsets_do_not_hold_its_text_is_not_highlighted() -> None:
    text = "Modi met Putin in Delhi"
    stale = TermHit("Putin", "content", 0, 5, "Putin", 0)  # offsets of another version of the text
    assert snippet(story(content=text, hits=(stale, find(text, "Delhi")))) == "Modi met Putin in *Delhi*"


# -- snippet windows -----------------------------------------------------------------------------


def _plain_snippet(rendered: str) -> str:
    return rendered.replace("*", "").strip("…")


@pytest.mark.parametrize(
    ("before", "after", "leading", "trailing"),
    [
        pytest.param(WORDS, WORDS, True, True, id="middle"),
        pytest.param("At first", WORDS, False, True, id="near-the-start"),
        pytest.param(WORDS, "the end.", True, False, id="near-the-end"),
        pytest.param("Short:", "here.", False, False, id="whole-text"),
    ],
)
def test_snippet_window_around_the_first_hit(before: str, after: str, leading: bool, trailing: bool) -> None:
    text = f"{before} Putin {after}"
    rendered = snippet(story(content=text, hits=(find(text, "Putin"),)))
    assert "*Putin*" in rendered
    assert rendered.startswith("…") == leading
    assert rendered.endswith("…") == trailing
    shown = _plain_snippet(rendered)
    assert shown in text
    if leading or trailing:
        assert 180 <= len(shown) <= 300
    if leading:  # cut between words: whole words only, starting after a space
        assert text[text.index(shown) - 1] == " "
    if leading and trailing:  # some context before the hit, most after it
        assert text.index("Putin") - text.index(shown) <= 80
    if trailing:
        assert text[text.index(shown) + len(shown)] == " "


def test_snippet_shows_the_densest_cluster_of_hits_cut_between_words() -> None:
    # "Putin" alone in the opening words; "Modi", "summit" and "Delhi" together 1,500 characters on
    lonely = f"Putin was mentioned. {WORDS} Later Modi said the summit in Delhi is set. {WORDS}"
    hits = (find(lonely, "Putin"), find(lonely, "Modi"), find(lonely, "summit"), find(lonely, "Delhi"))
    rendered = snippet(story(content=lonely, hits=hits))
    assert "Later *Modi* said the *summit* in *Delhi* is set. word0 word1" in rendered
    assert "Putin" not in rendered
    assert rendered.startswith("…")
    assert rendered.endswith("…")
    shown = _plain_snippet(rendered)
    assert 180 <= len(shown) <= SNIPPET_CHARS
    at = lonely.index(shown)
    assert lonely[at - 1] == " "  # whole words
    assert lonely[at + len(shown)] == " "
    assert lonely.index("Later Modi") - at <= 80  # some context before the cluster, most after it


def test_the_densest_cluster_wins_over_an_earlier_field_and_ties_go_to_the_earlier_cluster() -> None:
    summary = f"Putin spoke. {WORDS}"
    content = f"{WORDS} Putin and Modi met. {WORDS}"
    hits = (find(summary, "Putin", "summary"), find(content, "Putin"), find(content, "Modi"))
    assert "word199 *Putin* and *Modi* met. word0" in snippet(
        story(summary=summary, content=content, hits=hits)
    )
    twice = f"Modi spoke. {WORDS} Putin spoke. {WORDS}"
    rendered = snippet(story(content=twice, hits=(find(twice, "Putin"), find(twice, "Modi"))))
    assert rendered.startswith("*Modi* spoke. word0")  # one hit each: the first


def test_snippet_never_cuts_a_hit() -> None:
    # The window around "Putin" (120) would end at 280, inside a long phrase hit (186-380): end before it.
    phrase = " ".join(["India Russia"] * 15)
    text = "x " * 60 + "Putin " + "y " * 30 + phrase + " " + WORDS
    rendered = snippet(story(content=text, hits=(find(text, "Putin"), find(text, phrase))))
    assert rendered == "…" + "x " * 40 + "*Putin* " + "y " * 29 + "y…"
    # The cluster of three "Modi" (189-349) would start at 109, inside "Vladimir Putin" (100-114):
    # start after it, not at "Putin".
    text = "x " * 50 + "Vladimir Putin " + "y " * 37 + "Modi " + "z " * 73 + "Modi Modi " + WORDS
    hits = (find(text, "Vladimir Putin"), *(find(text, "Modi", nth=nth) for nth in range(3)))
    assert (
        snippet(story(content=text, hits=hits)) == "…" + "y " * 37 + "*Modi* " + "z " * 73 + "*Modi* *Modi*…"
    )
    # a later hit within the window is shown, highlighted
    near = "x " * 60 + "Putin " + "y " * 40 + "Vladimir Putin and Modi " + WORDS
    hits = (find(near, "Putin"), find(near, "Vladimir Putin"), find(near, "Modi"))
    assert "*Putin* y y" in snippet(story(content=near, hits=hits))
    assert "y *Vladimir Putin* and *Modi* word0" in snippet(story(content=near, hits=hits))


def test_a_hit_longer_than_the_window_is_kept_whole() -> None:
    long_term = "x" * 400
    text = f"{WORDS} {long_term} {WORDS}"
    rendered = snippet(story(content=text, hits=(find(text, long_term),)))
    assert f"*{long_term}*" in rendered


def test_the_snippet_comes_from_the_summary_before_the_content() -> None:
    entry = story(
        title="Putin in India",
        summary="The summit with Modi.",
        content="Putin met Modi.",
        hits=(find("Putin in India", "Putin", "title"), find("The summit with Modi.", "Modi", "summary")),
    )
    assert snippet(entry) == "The summit with *Modi*."
    content_only = story(
        summary="No match here.", content="Putin met Modi.", hits=(find("Putin met Modi.", "Putin"),)
    )
    assert snippet(content_only) == "*Putin* met Modi."


def test_title_hits_are_highlighted_in_the_headline_and_the_snippet_is_the_opening() -> None:
    title = "Putin to visit India"
    entry = story(
        title=title, content=f"The Kremlin said on Tuesday {WORDS}", hits=(find(title, "Putin", "title"),)
    )
    body = render(alert(entry), "markdown").body
    assert "[**Putin** to visit India](<https://example.org/a>)" in body
    assert "\nThe Kremlin said on Tuesday word0 word1" in body
    html_body = render(alert(entry), "html").body
    assert '<a href="https://example.org/a"><mark>Putin</mark> to visit India</a>' in html_body


# -- the parts of a message ----------------------------------------------------------------------


def test_an_empty_title_becomes_the_first_words_of_the_story() -> None:
    content = (
        f"Prime Minister Narendra Modi and Russian President Vladimir Putin held a telephonic call {WORDS}"
    )
    entry = story(content=content, hits=(find(content, "Putin"),))
    message = render(alert(entry), "text")
    headline = "Prime Minister Narendra Modi and Russian President Vladimir Putin held a…"
    assert message.title == f"[summit-watch] Putin visit: {headline}"
    assert message.body.splitlines()[2] == headline
    nothing = render(alert(story(lead=report(title=""))), "text")
    assert nothing.body.splitlines()[2] == "(untitled)"


EXPECTED_BODIES = {
    "text": (
        "Putin visit: 1 new story\n\n"
        "Putin in India\n"
        "The Hindu · 2025-10-07 14:05 UTC\n"
        "https://example.org/a\n"
        "Matched: summit (summary)\n"
        "The *summit* is due.\n"
        "Also reported by: Hindustan Times (https://ht.example/b), TASS"
    ),
    "markdown": (
        "**Putin visit**: 1 new story\n\n"
        "[Putin in India](<https://example.org/a>)  \n"
        "The Hindu · 2025-10-07 14:05 UTC  \n"
        "Matched: summit (summary)  \n"
        "The **summit** is due.  \n"
        "Also reported by: [Hindustan Times](<https://ht.example/b>), TASS"
    ),
    "html": (
        "<p><strong>Putin visit</strong>: 1 new story</p>\n"
        '<p><strong><a href="https://example.org/a">Putin in India</a></strong><br>\n'
        "The Hindu · 2025-10-07 14:05 UTC<br>\n"
        "Matched: summit (summary)<br>\n"
        "The <mark>summit</mark> is due.\n"
        '<br>Also reported by: <a href="https://ht.example/b">Hindustan Times</a>, TASS\n'
        "</p>"
    ),
}
ALSO = (
    Report(2, "ht", "Hindustan Times", "Modi, Putin speak", "https://ht.example/b", PUBLISHED),
    Report(3, "tass", "TASS", "", None, None),
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_whole_message_with_also_reported_by(fmt: Format) -> None:
    summary = "The summit is due."
    entry = story(
        title="Putin in India", summary=summary, hits=(find(summary, "summit", "summary"),), also=ALSO
    )
    assert render(alert(entry), fmt) == Message(
        "[summit-watch] Putin visit: Putin in India", EXPECTED_BODIES[fmt], fmt, "normal"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_link_date_other_outlets_or_hits_their_lines_are_left_out(fmt: Format) -> None:
    lead = Report(1, "feed", "Wire", "Putin in India", None, None)
    body = render(alert(story(title="Putin in India", lead=lead)), fmt).body
    assert "Also reported by" not in body
    assert "Matched" not in body
    assert "Rules" not in body
    assert "http" not in body
    assert "Wire · date unknown" in body
    assert "Putin in India" in body


@pytest.mark.parametrize(
    ("entries", "digest", "title"),
    [
        pytest.param(1, False, "[summit-watch] Putin visit: Story 0 about Putin", id="one-story"),
        pytest.param(3, False, "[summit-watch] Putin visit: 3 new stories", id="several"),
        pytest.param(3, True, "[summit-watch] Putin visit digest: 3 stories", id="digest"),
        pytest.param(1, True, "[summit-watch] Putin visit digest: 1 story", id="digest-of-one"),
    ],
)
def test_titles(entries: int, digest: bool, title: str) -> None:
    stories = [story(title=f"Story {i} about Putin") for i in range(entries)]
    message = render(alert(*stories, digest=digest), "html")
    assert message.title == title
    assert message.body.startswith(f"<p><strong>Putin visit{' digest' if digest else ''}</strong>: ")


def test_a_long_title_is_cut_between_words_within_the_limit() -> None:
    headline = "Putin   visit to India:\nDonald Trump looms over the summit " + WORDS
    message = render(alert(story(title=headline)), "text", limits=Limits(title_max=80, body_max=10_000))
    assert len(message.title) <= 80
    assert message.title == "[summit-watch] Putin visit: Putin visit to India: Donald Trump looms over the…"


def test_priority_is_carried_not_written_into_the_title() -> None:
    message = render(alert(story(title="Putin in India"), priority="high"), "text")
    assert (message.priority, message.title) == ("high", "[summit-watch] Putin visit: Putin in India")


# -- what matched --------------------------------------------------------------------------------


def test_matched_names_each_term_as_found_and_where_in_reading_order() -> None:
    title = "Putin to visit India"
    summary = "Modi and PUTIN spoke; Vladimir\n  Putin speaks of a sumit."
    content = "Putins and negotiations."
    hits = (  # in the order a rule lists its terms, not the order of the text
        find(summary, "speaks", "summary", term="spoke"),
        find(content, "Putins", term="Putin"),
        find(title, "Putin", "title"),
        find(summary, "PUTIN", "summary", term="Putin"),
        find(summary, "Modi", "summary"),
        find(summary, "Vladimir\n  Putin", "summary"),
        find(summary, "sumit", "summary", term="summit", edits=1),
        find(content, "negotiations", term="negotiat*"),
    )
    assert matched_terms(hits) == (
        "Putin (title, summary), Modi (summary), Vladimir Putin (summary), speaks ~ spoke (summary), "
        "sumit ~ summit (summary), Putins ~ Putin (content), negotiations ~ negotiat* (content)"
    )
    # the same words as the term, written another way, are the term as written
    exact = "the US-India talks"
    same = (find(exact, "US", term='"US"'), find(exact, "US-India", term="/us india/"))
    assert matched_terms(same) == "US (content), US-India (content)"
    assert matched_terms(()) == ""


def test_matched_names_at_most_a_few_terms_each_shortened() -> None:
    text = " ".join(f"word{i}" for i in range(MATCHED_TERMS + 2))
    hits = tuple(find(text, f"word{i}") for i in range(MATCHED_TERMS + 2))
    expected = ", ".join(f"word{i} (content)" for i in range(MATCHED_TERMS))
    assert matched_terms(hits) == f"{expected}, …"
    assert matched_terms(hits[:MATCHED_TERMS]) == expected
    long_match = find(WORDS, WORDS[:200], term="/word0.*/")
    assert (
        matched_terms((long_match,))
        == "word0 word1 word2 word3 word4 word5 word6 word7 word8… ~ /word0.*/ (content)"
    )


@pytest.mark.parametrize(
    ("fmt", "lines"),
    [
        ("text", "\nMatched: AT&T ~ /at&t|at_t/ (content), negotiations ~ negotiat* (content)\n*AT&T*"),
        (
            "markdown",
            "\nMatched: AT&T ~ /at&t|at\\_t/ (content), negotiations ~ negotiat\\* (content)  \n**AT&T**",
        ),
        (
            "html",
            "\nMatched: AT&amp;T ~ /at&amp;t|at_t/ (content), negotiations ~ negotiat* (content)<br>\n"
            "<mark>AT&amp;T</mark>",
        ),
    ],
)
def test_each_story_says_what_matched_escaped_for_its_format(fmt: Format, lines: str) -> None:
    content = "AT&T negotiations"
    hits = (find(content, "AT&T", term="/at&t|at_t/"), find(content, "negotiations", term="negotiat*"))
    body = render(alert(story(title="Talks", content=content, hits=hits)), fmt).body
    assert lines in body  # the line, then the snippet


# -- several rules in one message ----------------------------------------------------------------

SEVERAL_RULES_BODIES = {
    "text": (
        "Putin visit, Lavrov in Delhi: 2 new stories\n\n"
        "*Putin* and *Lavrov* in Delhi\n"
        "The Hindu · 2025-10-07 14:05 UTC\n"
        "https://example.org/a\n"
        "Rules: Putin visit, Lavrov in Delhi\n"
        "Matched: Putin (title), Lavrov (title)\n\n"
        "*Lavrov* lands\n"
        "The Hindu · 2025-10-07 14:05 UTC\n"
        "https://example.org/a\n"
        "Rules: Lavrov in Delhi\n"
        "Matched: Lavrov (title)"
    ),
    "markdown": (
        "**Putin visit, Lavrov in Delhi**: 2 new stories\n\n"
        "[**Putin** and **Lavrov** in Delhi](<https://example.org/a>)  \n"
        "The Hindu · 2025-10-07 14:05 UTC  \n"
        "Rules: Putin visit, Lavrov in Delhi  \n"
        "Matched: Putin (title), Lavrov (title)\n\n"
        "[**Lavrov** lands](<https://example.org/a>)  \n"
        "The Hindu · 2025-10-07 14:05 UTC  \n"
        "Rules: Lavrov in Delhi  \n"
        "Matched: Lavrov (title)"
    ),
    "html": (
        "<p><strong>Putin visit, Lavrov in Delhi</strong>: 2 new stories</p>\n"
        '<p><strong><a href="https://example.org/a"><mark>Putin</mark> and <mark>Lavrov</mark> in Delhi</a>'
        "</strong><br>\n"
        "The Hindu · 2025-10-07 14:05 UTC<br>\n"
        "Rules: Putin visit, Lavrov in Delhi<br>\n"
        "Matched: Putin (title), Lavrov (title)<br>\n"
        "</p>\n"
        '<p><strong><a href="https://example.org/a"><mark>Lavrov</mark> lands</a></strong><br>\n'
        "The Hindu · 2025-10-07 14:05 UTC<br>\n"
        "Rules: Lavrov in Delhi<br>\n"
        "Matched: Lavrov (title)<br>\n"
        "</p>"
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_message_for_several_rules_names_them_in_title_header_and_each_story(fmt: Format) -> None:
    both = ("Putin visit", "Lavrov in Delhi")
    first_title, second_title = "Putin and Lavrov in Delhi", "Lavrov lands"
    first = story(
        title=first_title,
        hits=(find(first_title, "Putin", "title"), find(first_title, "Lavrov", "title")),
        rules=both,
    )
    second = story(title=second_title, hits=(find(second_title, "Lavrov", "title"),), rules=both[1:])
    message = render(alert(first, second, rules=both), fmt)
    assert message.title == "[summit-watch] Putin visit + Lavrov in Delhi: 2 new stories"
    assert message.body == SEVERAL_RULES_BODIES[fmt]
    one = render(alert(first, rules=both), fmt)
    assert one.title == "[summit-watch] Putin visit + Lavrov in Delhi: Putin and Lavrov in Delhi"


def test_several_rules_are_escaped_and_fit_the_title() -> None:
    names = ("Putin & Modi", "<Lavrov>")
    entry = story(title="Putin in India", rules=names)
    body = render(alert(entry, rules=names), "html").body
    assert body.startswith("<p><strong>Putin &amp; Modi, &lt;Lavrov&gt;</strong>: 1 new story</p>")
    assert "\nRules: Putin &amp; Modi, &lt;Lavrov&gt;<br>\n" in body
    long_names = ("Putin visit to India", "Lavrov in New Delhi", "India-Russia annual summit")
    message = render(alert(entry, rules=long_names), "text", limits=Limits(title_max=80, body_max=10_000))
    assert message.title == "[summit-watch] Putin visit to India + Lavrov in New Delhi + India-Russia…"


# -- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "limits"),
    [
        ("mailto", EMAIL_LIMITS),
        ("mailtos", EMAIL_LIMITS),
        ("MAILTOS", EMAIL_LIMITS),
        ("slack", SLACK_LIMITS),
        ("discord", DEFAULT_LIMITS),
    ],
)
def test_limits_for_url_schemes(scheme: str, limits: Limits) -> None:
    assert limits_for(scheme) == limits


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("limits", "stories", "shown"),
    [
        pytest.param(SLACK_LIMITS, 40, None, id="slack"),
        pytest.param(DEFAULT_LIMITS, 40, None, id="default"),
        pytest.param(Limits(200, 1_000), 5, None, id="small"),
        pytest.param(EMAIL_LIMITS, 20, 20, id="email-fits-all"),
    ],
)
def test_long_bodies_lose_whole_trailing_stories(
    fmt: Format, limits: Limits, stories: int, shown: int | None
) -> None:
    entries = []
    for i in range(stories):
        content = f"{WORDS[:100]} Putin <i>visit</i> number {i} {WORDS}"
        entries.append(
            story(title=f"Story {i}: Putin & Modi", content=content, hits=(find(content, "Putin"),))
        )
    body = render(alert(*entries), fmt, limits=limits).body
    assert len(body) <= limits.body_max
    alone = [render(alert(entry), fmt).body.split("\n", 2 if fmt != "html" else 1)[-1] for entry in entries]
    included = [text for text in alone if text in body]
    assert included == alone[: len(included)]  # whole entries, in order
    if shown is not None:
        assert len(included) == shown
        assert "more stor" not in body
    else:
        assert 1 <= len(included) < stories
        more = f"… and {stories - len(included)} more stories"
        assert body.endswith(f"<p>{more}</p>" if fmt == "html" else more)
    if fmt == "html":
        assert body.count("<p>") == body.count("</p>")
        assert body.count("<mark>") == body.count("</mark>") == len(included)
    if fmt == "markdown":
        assert body.count("**") % 2 == 0


# -- escaping ------------------------------------------------------------------------------------


def test_html_escapes_hostile_text_and_links() -> None:
    evil = "<script>alert(1)</script>"
    lead = Report(1, "feed", f"Outlet {evil}", f"Putin {evil}", 'https://x.example/"><script>', PUBLISHED)
    also = (Report(2, "f2", evil, "", "javascript:alert(1)", None),)
    content = f"Putin said {evil}"
    entry = StoryEntry(1, lead, {"title": lead.title, "content": content}, (find(content, "Putin"),), also)
    message = render(alert(entry, name=f"Rule {evil}"), "html")
    assert "<script>" not in message.body
    assert "javascript:" not in message.body
    assert message.body.count("&lt;script&gt;") == 6  # rule, title, link, source, snippet, also
    assert 'href="https://x.example/&quot;&gt;&lt;script&gt;"' in message.body
    assert message.title == f"[summit-watch] Rule {evil}: Putin {evil}"  # a subject is plain text


# -- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "templates", "expected_title", "expected_body"),
    [
        pytest.param(
            "text",
            Templates(title="$rule ($priority, $count): $title", header="", entry="$source | $title | $link"),
            "Putin visit (normal, 1): Putin & Modi",
            "The Hindu | *Putin* & Modi | https://example.org/a?x=1&y=2",
            id="text",
        ),
        pytest.param(
            "html",
            Templates(
                header="<h1>$rule</h1>", entry="<li>$headline from $source</li>", footer="<p>$count $$</p>"
            ),
            "[summit-watch] Putin visit: Putin & Modi",
            '<h1>Putin visit</h1>\n<li><a href="https://example.org/a?x=1&amp;y=2">'
            "<mark>Putin</mark> &amp; Modi</a> from &lt;Wire&gt;</li>\n<p>1 $</p>",
            id="html-values-escaped",
        ),
        pytest.param(
            "markdown",
            Templates(entry="* $title\nAlso: $also\n$snippet"),
            "[summit-watch] Putin visit: Putin & Modi",
            "**Putin visit**: 1 new story\n\n* **Putin** & Modi",
            id="lines-with-only-empty-placeholders-left-out",
        ),
        pytest.param(
            "markdown",
            Templates(header="", entry="$title\nRules: $rules\n_${matched}_ [$rules]"),
            "[summit-watch] Putin visit: Putin & Modi",
            "**Putin** & Modi\n_Putin (title)_ []",  # $rules is empty in a one-rule alert
            id="matched-and-rules",
        ),
    ],
)
def test_templates_replace_default_parts(
    fmt: Format, templates: Templates, expected_title: str, expected_body: str
) -> None:
    title = "Putin & Modi"
    source = "<Wire>" if fmt == "html" else "The Hindu"
    lead = Report(1, "feed", source, title, "https://example.org/a?x=1&y=2", PUBLISHED)
    message = render(
        alert(story(title=title, hits=(find(title, "Putin", "title"),), lead=lead)), fmt, templates
    )
    assert (message.title, message.body) == (expected_title, expected_body)


def test_target_templates_override_rule_templates_part_by_part() -> None:
    target = Templates(entry="target: $title")
    rule = Templates(entry="rule: $title", header="rule header")
    assert merge_templates(target, rule) == Templates(entry="target: $title", header="rule header")
    assert merge_templates(None, rule) == rule
    assert merge_templates(None, None) == Templates()
    message = render(alert(story(title="Putin in India")), "text", merge_templates(target, rule))
    assert message.body == "rule header\n\ntarget: Putin in India"


_ENTRY_PLACEHOLDERS = (
    "$also, $headline, $link, $matched, $priority, $published, $rule, $rules, $snippet, $source, $title"
)
_TITLE_PLACEHOLDERS = "$count, $priority, $rule, $stories, $title"
_HEADER_PLACEHOLDERS = "$count, $priority, $rule, $stories"


@pytest.mark.parametrize(
    ("templates", "line", "field", "message"),
    [
        pytest.param(
            "  entry: '$titel from $source'\n",
            4,
            "templates.entry",
            f"unknown placeholder $titel; valid placeholders: {_ENTRY_PLACEHOLDERS}",
            id="unknown-placeholder",
        ),
        pytest.param(
            "  title: '$rule: $snippet'\n",
            4,
            "templates.title",
            f"unknown placeholder $snippet; valid placeholders: {_TITLE_PLACEHOLDERS}",
            id="placeholder-of-another-part",
        ),
        pytest.param(
            "  header: Costs $5 now\n",
            4,
            "templates.header",
            f"bad placeholder '$5' (write $$ for a literal $); valid placeholders: {_HEADER_PLACEHOLDERS}",
            id="bad-dollar",
        ),
        pytest.param(
            "  footer: 'ends with $'\n",
            4,
            "templates.footer",
            f"bad placeholder '$' (write $$ for a literal $); valid placeholders: {_HEADER_PLACEHOLDERS}",
            id="trailing-dollar",
        ),
        pytest.param(
            "  entri: $title\n",
            4,
            "templates.entri",
            "unknown key; did you mean 'entry'?",
            id="unknown-part",
        ),
    ],
)
def test_invalid_templates_in_rule_files(
    write_rule: WriteFile, templates: str, line: int, field: str, message: str
) -> None:
    path = write_rule("t.yaml", f"match:\n  all: [Putin]\ntemplates:\n{templates}")
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert [str(problem) for problem in raised.value.problems] == [f"{path}:{line}: {field}: {message}"]


def test_valid_templates_in_rule_and_settings_files(write_rule: WriteFile, tmp_path: Path) -> None:
    path = write_rule(
        "t.yaml",
        """\
        match: {all: [Putin]}
        templates:
          title: "${rule}: $$$count"
          entry: |
            $headline ($source; $rules)
            $matched: $snippet
        """,
    )
    (rule,) = load_rules(path)
    assert rule.templates == Templates(
        title="${rule}: $$$count", entry="$headline ($source; $rules)\n$matched: $snippet\n"
    )
    config = write_file(
        tmp_path,
        "summit-watch.yaml",
        """\
        targets:
          - name: mail
            url: json://localhost
            format: html
            templates: {entry: "<li>$headline</li>"}
        """,
    )
    assert load_config(config).targets[0].templates == Templates(entry="<li>$headline</li>")
    broken = write_file(
        tmp_path, "broken.yaml", "targets:\n  - name: m\n    url: x\n    templates: {title: $bad}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(broken)
    message = f"unknown placeholder $bad; valid placeholders: {_TITLE_PLACEHOLDERS}"
    assert str(raised.value) == f"{broken}:4: targets[0].templates.title: {message}"


# -- a realistic case: the two seed articles, one story ------------------------------------------


def test_seed_articles_render_as_one_story_with_also_reported_by(seeds: list[Path]) -> None:
    texts = [path.read_text(encoding="utf-8") for path in seeds]
    rule = Rule.model_validate(
        {
            "id": "putin-visit",
            "name": "Putin visit to India",
            "match": {"all": ["Putin", "India", ["visit", "summit"]]},
        }
    )
    item = Item(id="000", title="", content=texts[0])
    (match,) = Matcher([rule]).match(item)
    content = plain_text(texts[0])
    lead = Report(1, "hindu", "The Hindu", "", "https://www.thehindu.com/news/modi-putin", None)
    other = Report(
        2, "ht", "Hindustan Times", "Modi dials Putin", "https://www.hindustantimes.com/x", PUBLISHED
    )
    entry = StoryEntry(1, lead, {"title": "", "content": content}, match.hits, (other,))
    for fmt, (opening, closing) in zip(
        FORMATS, (("*", "*"), ("**", "**"), ("<mark>", "</mark>")), strict=True
    ):
        body = render(alert(entry, name=rule.title), fmt, limits=SLACK_LIMITS).body
        story_part = body.split("\n", 1)[1]  # not the header, where markdown bolds the rule's name
        marked = re.findall(re.escape(opening) + r"(.+?)" + re.escape(closing), story_part)
        # each highlight is a hit's text, at a place where the article has it
        assert marked
        assert set(marked) <= {h.text for h in match.hits}
        assert "In a telephonic conversation held on Tuesday, Russian President Vladimir" in body
        assert "Hindustan Times" in body
    text_body = render(alert(entry, name=rule.title), "text").body
    first = min((h for h in match.hits), key=lambda h: h.start)
    assert first.text == "Putin"  # alone in the opening sentence: the snippet shows where most terms are
    assert "held on Tuesday, Russian President Vladimir Putin…" in text_body  # the headline, not highlighted
    assert (
        "the December *visit* to *India* by President *Putin*, who is to attend the 23rd Annual "
        "*India*-Russia *Summit*."
    ) in text_body
    assert "\nMatched: Putin (content), India (content), visit (content), Summit (content)\n" in text_body
    assert text_body.endswith("Also reported by: Hindustan Times (https://www.hindustantimes.com/x)")
    assert render(alert(entry, name=rule.title), "text").title.startswith(
        "[summit-watch] Putin visit to India: In a telephonic conversation held on Tuesday, Russian President"
    )


# -- date changes ----------------------------------------------------------------------------------


def date_change_alert(outlets: int = 2) -> Alert:
    change = DateChange(
        date=EventDate(date(2025, 12, 4), date(2025, 12, 5), "days"),
        was=EventDate(date(2025, 12, 1), date(2025, 12, 31), "month"),
        text="on December 4-5",
        first_outlet="Times <of> India",
        first_at=datetime(2025, 11, 28, 14, 2, tzinfo=UTC),
        outlets=tuple(f"Outlet {n}" for n in range(1, outlets + 1)),
    )
    return Alert(
        1, "summit", "India-Russia summit", "high", datetime(2025, 11, 28, 15, tzinfo=UTC), (), change=change
    )


def test_a_date_change_says_the_new_date_the_old_one_and_who_said_it_first() -> None:
    message = render(date_change_alert(), "text")
    assert (
        message.title
        == "[summit-watch] India-Russia summit: now dated 4\u20135 December 2025 (was: December 2025)"
    )
    assert message.priority == "high"
    assert message.body.splitlines() == [
        "India-Russia summit: now dated 4\u20135 December 2025 (was: December 2025)",
        "First reported by Times <of> India · 2025-11-28 14:02 UTC: \u201con December 4-5\u201d",
        "Stated by 2 outlets: Outlet 1, Outlet 2",
        "More: summit-watch event summit",
    ]


def test_a_date_change_in_html_is_escaped_and_names_at_most_ten_outlets() -> None:
    body = render(date_change_alert(outlets=12), "html").body
    assert body.startswith("<p><strong>India-Russia summit: now dated")
    assert "Times &lt;of&gt; India" in body
    assert "<of>" not in body
    assert (
        "Stated by 12 outlets: Outlet 1, Outlet 2, Outlet 3, Outlet 4, Outlet 5, Outlet 6, Outlet 7, " in body
    )
    assert "Outlet 10 and 2 more" in body
    assert "Outlet 11" not in body
