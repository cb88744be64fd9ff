"""Rendering an alert as a message for one target. Pure: no I/O, no clock.

A message has a title (an email subject: plain text whatever the format) and a body in the target's
format (text, markdown or html). Each story shows its headline, outlet, time, link, the rules that
fired on it (in a message for several rules), the terms matched and where, a snippet around the
densest cluster of matches with the terms highlighted, and the other outlets that reported it. Any
part can be replaced by a ``string.Template`` text (``Templates``; a target's over a rule's over the
default).

Bodies longer than the target accepts lose whole trailing stories ("… and 2 more stories"), never
part of one: text is only ever cut before markup is added, so a tag or a ``**`` is never cut.
"""

import dataclasses
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Final

from watcher.alerts import Alert, DateChange, Format, Message, Report, StoryEntry
from watcher.records import EventDate, TermHit
from watcher.schema import Templates
from watcher.text import words

SNIPPET_CHARS: Final = 240  # a snippet's length before it is cut between words
SNIPPET_LEAD: Final = 80  # of which at most this much comes before the matches, for context
HEADLINE_CHARS: Final = 300  # some feeds put a whole paragraph in the title
UNTITLED_CHARS: Final = 80  # a headline made of a story's first words, when it has no title
MATCHED_TERMS: Final = 8  # a "matched" line names at most this many terms, then "…"
CHANGE_OUTLETS: Final = 10  # a date-change alert names at most this many outlets stating the date
MATCHED_CHARS: Final = 60  # and shows at most this much of each (a regular expression can match a lot)
_BODY_FIELDS: Final = ("summary", "content")
_FIELDS: Final = ("title", *_BODY_FIELDS)
_SPACES: Final = re.compile(r"\s+")
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>#])")

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Limits:
    """The longest title and body (in characters) a kind of target takes without cutting them itself."""

    title_max: int
    body_max: int


# Apprise's e-mail plugins keep its default body_maxlen, 32768; a subject is folded onto header lines,
# so RFC 5322's 78 characters is no limit, but more than 200 is more than any mail client shows.
EMAIL_LIMITS: Final = Limits(title_max=200, body_max=32_768)
# Apprise's Slack takes 35000 characters, but with ?blocks=yes the title goes into a header block
# (150 at most) and the body into one section (3000 at most); Slack refuses longer ones. 200 spare
# characters leave room for the &amp; and &lt; Apprise's markdown-to-mrkdwn conversion adds.
SLACK_LIMITS: Final = Limits(title_max=150, body_max=2_800)
# Any other service: Apprise's default title_maxlen, and Discord's body_maxlen, the smallest of the
# common chat services, so that a message is sent whole rather than cut where Apprise cuts it.
DEFAULT_LIMITS: Final = Limits(title_max=250, body_max=2_000)
_LIMITS: Final = {"mailto": EMAIL_LIMITS, "mailtos": EMAIL_LIMITS, "slack": SLACK_LIMITS}


def limits_for(url_scheme: str) -> Limits:
    """The limits of a target by its Apprise URL scheme (``mailtos``, ``slack``, ...)."""
    return _LIMITS.get(url_scheme.lower(), DEFAULT_LIMITS)


def merge_templates(*layers: Templates | None) -> Templates:
    """Each part from the first layer setting it: ``merge_templates(target.templates, rule.templates)``."""
    parts = {
        name: next((getattr(t, name) for t in layers if t is not None and getattr(t, name) is not None), None)
        for name in Templates.model_fields
    }
    return Templates(**parts)


def render(
    alert: Alert, format: Format, templates: Templates | None = None, limits: Limits = DEFAULT_LIMITS
) -> Message:
    """An alert as a message in ``format``, within ``limits``; ``templates`` replace default parts
    (of an alert of stories: a date change has a layout of its own)."""
    if alert.change is not None:
        return _date_change(alert, alert.change, format, limits)
    chosen = templates or Templates()
    return Message(
        title=_title(alert, chosen.title, limits.title_max),
        body=_body(alert, _STYLES[format], chosen, limits.body_max),
        format=format,
        priority=alert.priority,
    )


# -- the parts of a message ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Style:
    """How a format writes text: escaping, highlighting, links, and its default layout."""

    escape: Callable[[str], str]
    mark: tuple[str, str]
    link: Callable[[str, str], str]  # (label markup, URL) -> a link
    outlet: Callable[[str, str], str]  # the same, for "also reported by"
    url: Callable[[str], str]  # a URL as the value of $link
    header: str  # with {rule} for "$rule" or "$rule digest"
    entry: str
    separator: str
    more: str  # with {more} for "2 more stories"


def highlighted_text(story: StoryEntry, mark: tuple[str, str] = ("*", "*")) -> tuple[str, str | None]:
    """A story's headline and snippet (None: no text beyond the title) as plain text, the matched
    terms between ``mark`` (``*term*``, or a terminal's bold), as `hits show` prints them."""
    style = dataclasses.replace(_TEXT, mark=mark)
    snippet = _snippet(story)
    return _excerpt(_headline(story), style), None if snippet is None else _excerpt(snippet, style)


def matched_terms(hits: Iterable[TermHit]) -> str:
    """The terms matched, as found and where, in reading order: ``Putin (title, summary), speaks ~
    spoke (summary)`` (plain text), so that an alert says why it came.

    A term found in another form than written (a word form, a typo, a prefix, a regular expression)
    reads ``found ~ term``; each term and form is named once, with every field it was found in.
    """
    fields_by_term: dict[tuple[str, tuple[str, ...]], tuple[str, list[str]]] = {}
    for hit in sorted(hits, key=_reading_order):
        _, fields = fields_by_term.setdefault((hit.term, tuple(words(hit.text))), (_as_found(hit), []))
        if hit.field not in fields:
            fields.append(hit.field)
    named = [f"{found} ({', '.join(fields)})" for found, fields in fields_by_term.values()]
    return ", ".join(named[:MATCHED_TERMS] + (["…"] if len(named) > MATCHED_TERMS else []))


def _reading_order(hit: TermHit) -> tuple[int, str, int]:
    """Title, then summary, then content (then any other field), each from its start."""
    rank = _FIELDS.index(hit.field) if hit.field in _FIELDS else len(_FIELDS)
    return rank, hit.field, hit.start


def _as_found(hit: TermHit) -> str:
    found = _shorten(_SPACES.sub(" ", hit.text).strip(), MATCHED_CHARS)
    if hit.edits == 0 and words(hit.text) == words(hit.term):
        return found
    return f"{found} ~ {_shorten(hit.term, MATCHED_CHARS)}"


def _shorten(text: str, limit: int) -> str:
    """``text`` cut between words (unless that would lose half of it) to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _markdown_url(url: str) -> str:
    """A URL inside ``<...>`` (so parentheses in it do not end the link): no ``<``, ``>`` or spaces."""
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def _as_is(text: str) -> str:
    return text


_TEXT = _Style(
    escape=_as_is,
    # Asterisks, the plain-text convention for emphasis; rare in news. Guillemets would be confused
    # with quotation marks in the Russian and French feeds this watches.
    mark=("*", "*"),
    link=lambda label, _: label,  # the URL has its own line
    outlet=lambda name, url: f"{name} ({url})",
    url=_as_is,
    header="{rule}: $stories",
    entry="\n".join(
        [
            "$title",
            "$source · $published",
            "$link",
            "Rules: $rules",
            "Matched: $matched",
            "$snippet",
            "Also reported by: $also",
        ]
    ),
    separator="\n\n",
    more="… and {more}",
)
_MARKDOWN = _Style(
    escape=_escape_markdown,
    mark=("**", "**"),
    link=lambda label, url: f"[{label}](<{_markdown_url(url)}>)",
    outlet=lambda label, url: f"[{label}](<{_markdown_url(url)}>)",
    url=_as_is,
    header="**{rule}**: $stories",
    # Two spaces end a line in Markdown; a bare newline would join the lines into one paragraph.
    entry="  \n".join(
        [
            "$headline",
            "$source · $published",
            "Rules: $rules",
            "Matched: $matched",
            "$snippet",
            "Also reported by: $also",
        ]
    ),
    separator="\n\n",
    more="… and {more}",
)
_HTML = _Style(
    escape=html.escape,
    mark=("<mark>", "</mark>"),
    link=lambda label, url: f'<a href="{html.escape(url)}">{label}</a>',
    outlet=lambda label, url: f'<a href="{html.escape(url)}">{label}</a>',
    url=html.escape,
    header="<p><strong>{rule}</strong>: $stories</p>",
    entry="\n".join(
        [
            "<p><strong>$headline</strong><br>",
            "$source · $published<br>",
            "Rules: $rules<br>",
            "Matched: $matched<br>",
            "$snippet",
            "<br>Also reported by: $also",
            "</p>",
        ]
    ),
    separator="\n",
    more="<p>… and {more}</p>",
)
_STYLES: Final[dict[Format, _Style]] = {"text": _TEXT, "markdown": _MARKDOWN, "html": _HTML}
_PLAIN = _Style(_as_is, ("", ""), _TEXT.link, _TEXT.outlet, _as_is, "", "", "", "")  # titles


def _title(alert: Alert, template: str | None, title_max: int) -> str:
    """One line of plain text (a subject is never markup), cut between words to fit."""
    if template is None:
        if alert.digest:
            template = "[summit-watch] $rule digest: $stories"
        else:
            template = "[summit-watch] $rule: " + ("$title" if len(alert.entries) == 1 else "$stories")
    headline = _excerpt(_headline(alert.entries[0]), _PLAIN) if alert.entries else ""
    # "A + B" rather than "A, B": in a subject, a comma inside a rule's name would read as a separator.
    values = {**_message_values(alert, _PLAIN), "rule": " + ".join(_rule_names(alert)), "title": headline}
    return _shorten(_SPACES.sub(" ", _fill(template, values)).strip(), title_max)


def _body(alert: Alert, style: _Style, templates: Templates, body_max: int) -> str:
    """Header, stories, footer; trailing stories dropped whole ("… and 2 more stories") to fit."""
    values = _message_values(alert, style)
    header = templates.header
    if header is None:
        header = style.header.format(rule="$rule digest" if alert.digest else "$rule")
    entry = templates.entry if templates.entry is not None else style.entry
    entries = [_fill(entry, _entry_values(alert, story, style)).rstrip() for story in alert.entries]
    ends = (_fill(header, values), _fill(templates.footer or "", values))
    shown = len(entries)
    while True:
        more = [style.more.format(more=_count(len(entries) - shown, "more "))] if shown < len(entries) else []
        body = style.separator.join(part for part in (ends[0], *entries[:shown], *more, ends[1]) if part)
        if len(body) <= body_max or shown == 0:
            return body
        shown -= 1


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Substitute, leaving out lines whose placeholders are all empty ("Also reported by: $also")."""
    lines = []
    for line in template.split("\n"):
        names = Template(line).get_identifiers()
        if not names or any(values[name] for name in names):
            lines.append(Template(line).substitute(values))
    return "\n".join(lines)


def _count(number: int, adjective: str) -> str:
    return f"{number} {adjective}{'story' if number == 1 else 'stories'}"


def _message_values(alert: Alert, style: _Style) -> dict[str, str]:
    count = len(alert.entries)
    return {
        "rule": style.escape(", ".join(_rule_names(alert))),
        "priority": alert.priority,
        "count": str(count),
        "stories": _count(count, "" if alert.digest else "new "),
    }


def _entry_values(alert: Alert, story: StoryEntry, style: _Style) -> dict[str, str]:
    lead = story.lead
    link = _web_link(lead.link)
    title = _excerpt(_headline(story), style)
    snippet = _snippet(story)
    return {
        "rule": style.escape(", ".join(_rule_names(alert))),
        "rules": style.escape(", ".join(story.rules)),
        "priority": alert.priority,
        "title": title,
        "headline": style.link(title, link) if link else title,
        "source": style.escape(lead.source),
        "published": _published(lead.published),
        "link": style.url(link) if link else "",
        "matched": style.escape(matched_terms(story.hits)),
        "snippet": _excerpt(snippet, style) if snippet else "",
        "also": ", ".join(_outlet(report, style) for report in story.also),
    }


def _rule_names(alert: Alert) -> tuple[str, ...]:
    """Every rule a message stands for: several when one message carries several rules' alerts."""
    return alert.rules or (alert.rule_name,)


def _web_link(link: str | None) -> str | None:
    """Only web links are shown: a ``javascript:`` one in an html message would be a script."""
    return link if link and link.startswith(("http://", "https://")) else None


def _outlet(report: Report, style: _Style) -> str:
    name = style.escape(report.source)
    link = _web_link(report.link)
    return style.outlet(name, link) if link else name


def _published(when: datetime | None) -> str:
    if when is None:
        return "date unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- date changes ---------------------------------------------------------------------------------


def _date_change(alert: Alert, change: DateChange, format: Format, limits: Limits) -> Message:
    """ "Putin visit: now dated 4-5 December 2025 (was: December 2025)", then who said it first, as
    written, and which outlets state it (at most ``CHANGE_OUTLETS`` named: a message of a few lines)."""
    style = _STYLES[format]
    headline = f"{alert.rule_name}: {_estimate(change.date)} (was: {_was(change.was)})"
    outlets = len(change.outlets)
    named = ", ".join(change.outlets[:CHANGE_OUTLETS])
    if outlets > CHANGE_OUTLETS:
        named += f" and {outlets - CHANGE_OUTLETS} more"
    lines = [
        f"First reported by {change.first_outlet} · {_published(change.first_at)}: “{change.text}”",
        f"Stated by {outlets} outlet{'' if outlets == 1 else 's'}: {named}",
        f"More: summit-watch event {alert.rule_id}",
    ]
    paragraph = [style.escape(headline), *(style.escape(line) for line in lines)]
    if style is _HTML:
        body = f"<p><strong>{paragraph[0]}</strong><br>\n" + "<br>\n".join(paragraph[1:]) + "</p>"
    elif style is _MARKDOWN:
        body = f"**{paragraph[0]}**  \n" + "  \n".join(paragraph[1:])
    else:
        body = "\n".join(paragraph)
    return Message(
        title=_shorten(f"[summit-watch] {headline}", limits.title_max),
        body=body,
        format=format,
        priority=alert.priority,
    )


def _estimate(when: EventDate) -> str:
    from watcher.dates import period  # the date grammar's words, compiled only for a date change

    said = period(when.start, when.end, when.precision)
    return f"now dated {said}" if when.precision in ("day", "days") else f"now expected in {said}"


def _was(when: EventDate | None) -> str:
    from watcher.dates import period

    return "no date" if when is None else period(when.start, when.end, when.precision)


# -- headlines and snippets ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cut:
    """Plain text taken from a field, the spans in it to highlight, and whether text was left out."""

    text: str
    spans: tuple[Span, ...]
    before: bool
    after: bool


def _headline(story: StoryEntry) -> _Cut:
    """The title with its hits; without a title, the first words of the story."""
    title = story.text.get("title") or story.lead.title
    if title.strip():
        return _window(*_squeeze(title, _spans(story, "title")), HEADLINE_CHARS, HEADLINE_CHARS)
    for field in _BODY_FIELDS:
        if story.text.get(field, "").strip():
            return _window(*_squeeze(story.text[field], []), UNTITLED_CHARS, 0)
    return _Cut("(untitled)", (), before=False, after=False)


def _snippet(story: StoryEntry) -> _Cut | None:
    """Text around the densest cluster of hits in the summary or content (the headline shows the
    title in full): where most matched words are together, which tells more than the first of them
    alone. On a tie, the summary and the earlier cluster.

    When only the title matched, the story's first words: they tell more than the title again.
    """
    matched = [
        _squeeze(story.text[field], spans) for field in _BODY_FIELDS if (spans := _spans(story, field))
    ]
    if matched:
        text, spans = max(matched, key=lambda squeezed: _densest(squeezed[1], SNIPPET_CHARS)[0])
        return _window(text, spans, SNIPPET_CHARS, SNIPPET_LEAD)
    for field in _BODY_FIELDS:
        if story.text.get(field, "").strip():
            return _window(*_squeeze(story.text[field], []), SNIPPET_CHARS, 0)
    return None


def _spans(story: StoryEntry, field: str) -> list[Span]:
    """The hits in ``field``, sorted, overlapping and touching ones merged (``**a****b**`` is no Markdown).

    A hit whose offsets do not hold its text is left out: better no highlight than the wrong words.
    """
    text = story.text.get(field, "")
    found = sorted(
        (hit.start, hit.end)
        for hit in story.hits
        if hit.field == field and hit.start < hit.end and text[hit.start : hit.end] == hit.text
    )
    merged: list[Span] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _squeeze(text: str, spans: Sequence[Span]) -> tuple[str, list[Span]]:
    """Feed text with each run of white space (paragraph breaks, indentation) made one space."""

    def moved(offset: int) -> int:
        return len(_SPACES.sub(" ", text[:offset]).lstrip())

    return _SPACES.sub(" ", text).strip(), [(moved(start), moved(end)) for start, end in spans]


def _densest(spans: Sequence[Span], size: int) -> tuple[int, Span]:
    """The most spans that fit in ``size`` characters together (one, however long, at least), and the
    text from the first of them to the end of the last; the earliest such cluster."""
    best = (1, spans[0])
    last = 0
    for first, (start, _) in enumerate(spans):
        last = max(last, first)
        while last + 1 < len(spans) and spans[last + 1][1] - start <= size:
            last += 1
        if last - first + 1 > best[0]:
            best = (last - first + 1, (start, spans[last][1]))
    return best


def _window(text: str, spans: Sequence[Span], size: int, lead: int) -> _Cut:
    """About ``size`` characters around the densest cluster of spans, up to ``lead`` of them before it,
    cut between words and never through a span (a span longer than ``size`` is kept whole)."""
    cluster_start, cluster_end = _densest(spans, size)[1] if spans else (0, 0)
    begin = max(0, cluster_start - min(lead, max(0, size - (cluster_end - cluster_start))))
    end = max(min(len(text), begin + size), cluster_end)
    begin = max(0, min(begin, end - size))  # near the end of the text, show more before
    if begin > 0 and (text[begin - 1] != " " or _inside(begin, spans)):
        space = _first_space(text, spans, begin, cluster_start)
        begin = space + 1 if space >= 0 else cluster_start
    if end < len(text) and (text[end] != " " or _inside(end, spans)):
        space = _last_space(text, spans, cluster_end, end)
        if space < 0:  # no space after the cluster within the window: end after the word
            space = _first_space(text, spans, end, len(text))
        end = space if space >= 0 else len(text)
    kept = tuple((start - begin, stop - begin) for start, stop in spans if begin <= start and stop <= end)
    return _Cut(text[begin:end].rstrip(), kept, before=begin > 0, after=end < len(text))


def _inside(offset: int, spans: Sequence[Span]) -> bool:
    return any(start < offset < stop for start, stop in spans)


def _first_space(text: str, spans: Sequence[Span], start: int, stop: int) -> int:
    """The first space in ``text[start:stop]`` that is not inside a span (a phrase), or -1."""
    space = text.find(" ", start, stop)
    while space >= 0 and _inside(space, spans):
        space = text.find(" ", space + 1, stop)
    return space


def _last_space(text: str, spans: Sequence[Span], start: int, stop: int) -> int:
    """The last space in ``text[start:stop]`` that is not inside a span (a phrase), or -1."""
    space = text.rfind(" ", start, stop)
    while space >= 0 and _inside(space, spans):
        space = text.rfind(" ", start, space)
    return space


def _excerpt(cut: _Cut, style: _Style) -> str:
    """The cut in a format: escaped, its spans highlighted, "…" where text was left out."""
    opening, closing = style.mark
    parts = ["…"] if cut.before else []
    done = 0
    for start, end in cut.spans:
        parts += [style.escape(cut.text[done:start]), opening, style.escape(cut.text[start:end]), closing]
        done = end
    parts.append(style.escape(cut.text[done:]))
    if cut.after:
        parts.append("…")
    return "".join(parts)
