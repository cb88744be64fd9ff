"""Dates a text states ("on December 4-5", "next month", "later this year"), resolved against its publication.

An event timeline needs to know what each report says about when: a day, a range of days, a
month, a season or "later this year" are different claims, so each ``DateClaim`` keeps the
precision of what was said next to the dates it resolves to. Relative words are read against the
item's publication time, passed in (no clock here): "on Friday" in a report of what happened is
the last Friday, in an announcement the next one; "December 4-5" read in November is this
year's, read in a January report of past events last year's. The tense of the clause around an
expression decides such cases (``Tense``); it is also what the timeline shows: "held talks on
Tuesday" says the event happened, "will visit on Friday" that it is expected. A claim is also
``hedged`` when words around it doubt it ("reportedly", "is likely to", "is expected to"): the
timeline takes a date only hedged as a rumour.

A focused grammar of regular expressions rather than a library: on the labelled headlines of
benchmarks/data/dates.yaml it resolves 98.6% of the expressions as stated, dateparser's
``search_dates`` 44.5% and ctparse 17.9%; they know neither ranges of days nor parts of months
and years, take "May" in "NATO May Not Survive" for a month and are 20 to 100 times slower
(docs/dev.md has the figures). The grammar's conventions are those of the labelled set:

- weeks run Monday to Sunday; a weekend is Saturday and Sunday;
- early / mid / late (beginning, start, end) of a month: days 1-10, 11-20, 21-end; of a year:
  January-April, May-August, September-December; first / second half: January-June, July-December;
- earlier / later this month, week, year or season: from its start to the publication day, or from
  the publication day to its end;
- seasons are meteorological and northern (spring is March-May); a winter is named by the year
  its January falls in (winter 2026 is December 2025 to February 2026).

Month names are capitalised words, and an ambiguous one (March, May, June...) counts only with a
word that makes it a date (a preposition, "this", a day, a year): "Theresa May", "the Wedding
March" and "NATO May Not Survive" are no claims. Seasons need the same, and a capitalised one
followed by a name is part of that name ("Winter Olympics").
"""

import bisect
import calendar
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

Precision = Literal["day", "days", "week", "month_part", "month", "season", "quarter", "year_part", "year"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)  # from the most specific claim to the least
Tense = Literal["future", "past", "unstated"]  # "past": reported as happening or done
WITHIN = 12  # at most this many words between a claim and a matched term, when terms are given

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DateClaim:
    """One date expression of a text: the dates it states (inclusive), how precisely, and in which tense."""

    start: date
    end: date
    precision: Precision
    tense: Tense
    text: str  # the expression as written
    offset: int  # where it starts in the text
    hedged: bool  # doubted by words around it ("reportedly", "likely", "expected to")

    def more_specific_than(self, other: "DateClaim") -> bool:
        """Whether this claim says more than ``other``: a finer precision, or at one precision a shorter span
        (a timeline shows the most specific claim an event has)."""
        mine, theirs = PRECISIONS.index(self.precision), PRECISIONS.index(other.precision)
        if mine != theirs:
            return mine < theirs
        return self.end - self.start < other.end - other.start


def date_claims(
    text: str,
    published: datetime,
    near: Sequence[tuple[int, int]] | None = None,
    within: int = WITHIN,
) -> tuple[DateClaim, ...]:
    """The date expressions of ``text`` resolved against ``published``, in text order.

    ``near`` (character spans of ``text``, such as a rule's matched terms) keeps only the
    expressions with at most ``within`` words between them and one of the spans: a date elsewhere
    in a long text is about something else.
    """
    found = _expressions(text)
    event_years = _event_years(text, [match.span() for match, _ in found])
    if near is not None:
        found = _near(text, found, near, within)
    today = published.date()
    claims = []
    for match, resolve in found:
        reading = _Reading(
            today, _tense(text, match.start(), match.end()), _named_year(text, match, event_years)
        )
        resolved = resolve(match, reading)
        if resolved is not None:
            start, end, precision = resolved
            hedged = _hedged(text, match.start(), match.end())
            claims.append(
                DateClaim(start, end, precision, reading.tense, match.group(), match.start(), hedged)
            )
    return tuple(claims)


# -- the grammar ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reading:
    """What an expression is read against: the publication day, the tense of its clause, and the year of
    an event its sentence names ("the 2030 Winter Olympics ... from Feb. 1-17")."""

    today: date
    tense: Tense
    named_year: int | None


_Resolved = tuple[date, date, Precision] | None
_Resolver = Callable[[re.Match[str], _Reading], _Resolved]
_Accept = Callable[[str, re.Match[str]], bool]  # whether a match is a date where it stands

_MONTHS = {
    **dict.fromkeys(("january", "jan"), 1),
    **dict.fromkeys(("february", "feb"), 2),
    **dict.fromkeys(("march", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    "may": 5,
    **dict.fromkeys(("june", "jun"), 6),
    **dict.fromkeys(("july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sept", "sep"), 9),
    **dict.fromkeys(("october", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("december", "dec"), 12),
}
# Month names that are also words or names: a date only with a word that makes them one.
_AMBIGUOUS_MONTHS = frozenset(
    {"jan", "march", "mar", "april", "apr", "may", "june", "jun", "july", "jul", "august", "aug"}
)
_WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    )
}  # not calendar.day_name, which follows the locale
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}  # the month each begins
_NTH = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4}
_MONTH_THIRDS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}  # days
_YEAR_PARTS = {"early": (1, 4), "mid": (5, 8), "late": (9, 12), "first half": (1, 6), "second half": (7, 12)}
_PART_WORDS = {"beginning": "early", "start": "early", "very early": "early", "middle": "mid", "end": "late",
               "very late": "late"}  # fmt: skip
_CLOSE = timedelta(days=45)  # a date without its year this close to the publication day is that one

# Names (months, weekdays) are capitalised words, matched case-sensitively; the words around them are not.
_MONTH = (
    r"(?-i:(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?)"
)
_WEEKDAY = r"(?-i:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)"
_SEASON = r"(?:spring|summer|autumn|fall|winter)\b"
_DAYNUM = r"(?:3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?(?![\d:])"
_YEAR = r"(?:19|20)\d\d(?![\w-]|['\u2019]s\b)"  # not a decade (the 1990s)
_DASH = r"\s*(?:-|\u2013|\u2014|to|and|&|through|until|till)\s*"  # hyphen, en and em dash, words
_RELATIVE_YEAR = r"(?:this|last|next) year"
_PREPOSITION = (
    r"(?:(?:on|from|since|by|until|till|before|after|around|of|in|at|for|through|throughout|during"
    r"|between) )?"
)
_NOT_ROLLING = r"(?<!\bthe\s)"  # "in the last week" is the last seven days, not last week


def _pattern(source: str) -> re.Pattern[str]:
    """A pattern of the grammar: case-insensitive, any run of white space where the source has a space."""
    return re.compile(source.replace(" ", r"\s+"), re.IGNORECASE)


_WEEKDAY_FIRST = rf"(?:(?P<wd>{_WEEKDAY}),? \(?)?"  # "Thursday, Sept. 25", "Wednesday (Feb 18)"
_YEAR_AFTER = rf"(?:,? (?:of )?(?P<y>{_YEAR})| (?P<ry>{_RELATIVE_YEAR}))?"
_RANGE_MD = _pattern(  # "December 4-5", "Jan. 8 and 9", "Feb. 4 and Feb. 5", "from April 15th to the 18th"
    rf"\b{_PREPOSITION}(?P<m1>{_MONTH}) (?:the )?(?P<d1>{_DAYNUM})(?:,? (?P<y1>{_YEAR}))?"
    rf"{_DASH}(?:the )?(?:(?P<m2>{_MONTH}) )?(?:the )?(?P<d2>{_DAYNUM}){_YEAR_AFTER}"
)
_RANGE_DM = _pattern(  # "4-5 December", "4 - 8 September 2023", "the 18th and 19th of September 2014"
    rf"\b{_PREPOSITION}(?:the )?(?P<d1>{_DAYNUM})(?: (?:of )?(?P<m1>{_MONTH}))?"
    rf"{_DASH}(?:the )?(?P<d2>{_DAYNUM}) (?:of )?(?P<m2>{_MONTH}){_YEAR_AFTER}"
)
_RANGE_DM_OPEN = _pattern(  # "from the 1st of December to the 25th"
    rf"from (?:the )?(?P<d1>{_DAYNUM}) (?:of )?(?P<m1>{_MONTH}) (?:to|until|till|through) "
    rf"(?:the )?(?P<d2>{_DAYNUM})"
)
_DATE_MD = _pattern(  # "on Dec. 4", "May 3rd", "February the 26th", "Thursday, Sept. 25"
    rf"\b{_PREPOSITION}{_WEEKDAY_FIRST}(?P<m1>{_MONTH}) (?:the )?(?P<d1>{_DAYNUM}){_YEAR_AFTER}\)?"
)
# "20 June", "the 7th December 2018", "on 1 September last year", "Sunday 15 February 2026"
_DATE_DM = _pattern(
    rf"\b{_PREPOSITION}{_WEEKDAY_FIRST}(?:the )?(?P<d1>{_DAYNUM}) (?:of )?(?P<m1>{_MONTH}){_YEAR_AFTER}"
)
# "on Wednesday and Thursday", "Monday to Wednesday"
_WEEKDAY_PAIR = _pattern(rf"\b(?:on )?(?P<w1>{_WEEKDAY}){_DASH}(?P<w2>{_WEEKDAY})")
_WEEKDAY_ALONE = _pattern(
    rf"\b(?:(?P<which>this|next|last|coming|past) |(?:late |early )?(?:on|starting|from|until|by) )?"
    rf"(?P<w1>{_WEEKDAY})(?:['\u2019]s)?(?: (?:morning|afternoon|evening|night))?"
)
_RELATIVE_DAY = _pattern(
    r"\b(?P<word>today|tonight|tomorrow|yesterday|this (?:morning|afternoon|evening)|last night)\b"
)
_WEEK = _pattern(
    rf"{_NOT_ROLLING}\b(?:(?P<edge>earlier|later) )?(?P<which>this|next|last|past|coming) week\b"
)
_WEEKEND = _pattern(rf"{_NOT_ROLLING}\b(?P<which>this|next|last|past|coming|the) weekend\b")
_MONTH_PART = _pattern(
    rf"\b(?:(?P<part>very early|very late|early|mid|late)[- ]|(?:at |by |until |from |since )?(?:the )?"
    rf"(?P<edge>beginning|start|middle|end) of (?:the )?)(?:(?P<m1>{_MONTH})(?: (?:of )?(?P<y>{_YEAR}))?"
    r"|(?P<which>this|next|last|the) month)"
)
_MONTH_EDGE = _pattern(r"\b(?P<edge>earlier|later) this month\b")
_RELATIVE_MONTH = _pattern(rf"{_NOT_ROLLING}\b(?:from )?(?P<which>this|next|last|coming) month\b")
_MONTH_ALONE = _pattern(
    r"\b(?:(?P<cue>in|this|next|last|coming|since|by|until|till|before|after|during|throughout|through|from|of"
    rf"|the|around|for) )?(?P<m1>{_MONTH})(?: (?:of )?(?P<y>{_YEAR})| (?:of )?(?P<ry>{_RELATIVE_YEAR}))?"
)
_SEASON_ANY = _pattern(
    rf"\b(?:(?P<edge>earlier|later) this |(?P<which>this|last|next|coming|past) "
    r"|(?P<cue>in|during|throughout|over|by|until|since|through) (?:the )?)?"
    rf"(?P<season>{_SEASON})(?: (?:of )?(?P<y>{_YEAR}))?"
)
_QUARTER = _pattern(
    r"\b(?:(?:the )?(?P<nth>first|second|third|fourth|1st|2nd|3rd|4th|last(?= quarter of)) quarter"
    rf"(?: \(Q[1-4]\))?|Q(?P<q>[1-4]))(?:,? (?:of )?(?P<y>{_YEAR})| of (?P<which>this|last|next|the) year)?\b"
)
_YEAR_PART = _pattern(
    r"\b(?:(?P<part>early|mid|late)[- ]|(?:at |by |until |from |since )?(?:the )?"
    r"(?P<edge>beginning|start|middle|end|first half|second half) of )"
    rf"(?:(?P<y>{_YEAR})|(?P<which>this|last|next|the) year)"
)
_YEAR_EDGE = _pattern(r"\b(?P<edge>earlier|later) this year\b")
_YEAR_ALONE = _pattern(
    rf"\b(?:(?:in|during|throughout) (?P<y>{_YEAR})|{_NOT_ROLLING}(?P<which>this|last|next) year)\b"
)


# -- finding the expressions ------------------------------------------------------------------------

# The key words of the rules, one of which each match holds: a rule is tried only around its key words
# (most of a text is prose, and trying every rule at every position of it is what takes time).
_KEYS: dict[str, frozenset[str]] = {}
for _kind, _words in (
    ("month", _MONTHS),
    ("weekday", (day.lower() for day in _WEEKDAYS)),
    ("season", _SEASONS),
    ("week", ("week", "weekend")),
    ("month_word", ("month",)),
    ("year", ("year",)),
    ("quarter", ("quarter", "q1", "q2", "q3", "q4")),
    ("day_word", ("today", "tonight", "tomorrow", "yesterday", "morning", "afternoon", "evening", "night")),
):
    for _word in _words:
        _KEYS[_word] = _KEYS.get(_word, frozenset()) | {_kind}
_CAPITALISED_KEYS = frozenset({"month", "weekday"})  # names: "May" is a key word, "may" is not


def _key_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """The key words and years as one pattern, alternatives grouped by their first letter (four times faster
    than a flat alternation: the engine tries one group at each word instead of every word)."""
    by_letter: dict[str, list[str]] = {}
    for word in sorted(words, key=len, reverse=True):
        by_letter.setdefault(word[0], []).append(re.escape(word[1:]))
    groups = "|".join(f"{letter}(?:{'|'.join(rests)})" for letter, rests in by_letter.items())
    return re.compile(rf"\b(?:{groups}|(?:19|20)\d\d)\b", re.IGNORECASE)


_KEY_WORD = _key_pattern(_KEYS)


def _expressions(text: str) -> list[tuple[re.Match[str], _Resolver]]:
    """Every expression of the grammar in ``text``, in text order; of two that overlap, the longer one
    ("from Dec. 10" rather than "from Dec."), or on a tie the one of the earlier rule."""
    windows = _windows(text)
    found: dict[tuple[tuple[int, int], int], tuple[re.Match[str], _Resolver]] = {}
    for index, (needs, pattern, resolve, accept) in enumerate(_RULES):
        for left, right in _merged(window for kind in needs for window in windows.get(kind, ())):
            for match in pattern.finditer(text, left, right):
                if accept is None or accept(text, match):
                    found.setdefault((match.span(), index), (match, resolve))
    ranked = sorted(found.items(), key=lambda each: (each[0][0][0] - each[0][0][1], each[0][1]))
    kept: list[tuple[re.Match[str], _Resolver]] = []  # in text order, none overlapping
    starts: list[int] = []
    for (span, _), (match, resolve) in ranked:
        at = bisect.bisect_left(starts, span[0])
        if (at == 0 or kept[at - 1][0].end() <= span[0]) and (at == len(kept) or span[1] <= starts[at]):
            kept.insert(at, (match, resolve))
            starts.insert(at, span[0])
    return kept


_REACH_BEFORE, _REACH_AFTER = 60, 80  # characters an expression spans before and after its key word


def _windows(text: str) -> dict[str, list[tuple[int, int]]]:
    """For each kind of key word in ``text``, the parts of the text around them, where matches can be."""
    windows: dict[str, list[tuple[int, int]]] = {}
    for word in _KEY_WORD.finditer(text):
        found = word.group()
        kinds = frozenset({"year"}) if found[0].isdigit() else _KEYS.get(found.lower())
        if kinds is None:
            continue
        if not found[0].isupper():
            kinds -= _CAPITALISED_KEYS
        left = text.rfind(" ", 0, max(0, word.start() - _REACH_BEFORE)) + 1
        right = min(len(text), word.end() + _REACH_AFTER)
        for kind in kinds:
            windows.setdefault(kind, []).append((left, right))
    return windows


def _merged(windows: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for left, right in sorted(windows):
        if merged and left <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(right, merged[-1][1]))
        else:
            merged.append((left, right))
    return merged


_NAME_FOLLOWS = re.compile(r"\s+[A-Z]")  # "Winter Olympics", "Sunday Times"
_OF_FOLLOWS = re.compile(r"\s+of\s+(?!(?:19|20)\d\d)")  # "the fall of Kabul", "the March of Dimes"
_NAMED_DAY = re.compile(
    r"\b(?-i:The|Black|Good|Cyber|Easter|Palm|Super|Ash|Holy|Maundy|Shrove|Rose|Giving)\s+$"
)
# "on a Friday": no day in particular
_ANY_DAY = re.compile(r"\b(?:a|an|any|every|each|one)\s+$", re.IGNORECASE)
_ON_PRECEDES = re.compile(r"\b(?:on|this|next|last)\s+$", re.IGNORECASE)


def _after(text: str, match: re.Match[str]) -> str:
    return text[match.end() : match.end() + 20]


def _before(text: str, match: re.Match[str]) -> str:
    return text[max(0, match.start() - 20) : match.start()]


def _month_accepted(text: str, match: re.Match[str]) -> bool:
    """An ambiguous month name (May, March, June...) is a date only with a cue or a year; "the May of"
    is none either way."""
    cue = (match.group("cue") or "").lower()
    if match.group("m1").rstrip(".").lower() in _AMBIGUOUS_MONTHS and not (
        cue or match.group("y") or match.group("ry")
    ):
        return False
    return cue != "the" or not _OF_FOLLOWS.match(_after(text, match))


def _season_accepted(text: str, match: re.Match[str]) -> bool:
    """A season needs a cue (this, last, in...) or a year, and is no date in a name (Next Winter Olympics,
    Spring Localhost) or before "of" (the fall of Kabul)."""
    if match.group("y"):
        return True
    if not (match.group("which") or match.group("cue") or match.group("edge")):
        return False
    in_a_name = match.group("season")[0].isupper() and _NAME_FOLLOWS.match(_after(text, match))
    return not in_a_name and not _OF_FOLLOWS.match(_after(text, match))


def _weekday_accepted(text: str, match: re.Match[str]) -> bool:
    """A weekday is no date in a named day (Black Friday, The Sunday Times), after "a" or "every" (no day in
    particular) or before a capitalised word (Sunday Telegraph), unless "on" or "this" makes it one."""
    if match.group("which"):
        return True
    before = _before(text, match)
    if _NAMED_DAY.search(before) or _ANY_DAY.search(before):
        return False
    return not _NAME_FOLLOWS.match(_after(text, match)) or bool(_ON_PRECEDES.search(before))


def _relative_day_accepted(text: str, match: re.Match[str]) -> bool:
    """A capitalised "Tomorrow" inside a sentence is a title (Pandora Tomorrow, the Center for Tomorrow)."""
    if match.group("word")[0].islower():
        return True
    before = match.start()
    while before > 0 and text[before - 1].isspace():
        before -= 1
    return before == 0 or text[before - 1] in '.!?:"\u201c('  # it starts a sentence


# -- resolving against the publication day --------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _valid(year: int, month: int, day: int) -> date | None:
    return date(year, month, day) if day <= calendar.monthrange(year, month)[1] else None


def _choose(make: Callable[[int], tuple[date, date] | None], reading: _Reading) -> tuple[date, date] | None:
    """Which year's occurrence a date without its year means (``make`` gives one year's): the year of the
    event its sentence names; else the occurrence close to the publication day; else, by the clause's
    tense, the first not over yet (announced) or the last already begun (reported); else the nearest."""
    if reading.named_year is not None and (named := make(reading.named_year)) is not None:
        return named
    today = reading.today
    candidates = [c for year in (today.year - 1, today.year, today.year + 1) if (c := make(year)) is not None]
    if not candidates:
        return None

    def gap(span: tuple[date, date]) -> timedelta:
        return max(span[0] - today, today - span[1], timedelta(0))

    nearest = min(candidates, key=gap)
    if gap(nearest) <= _CLOSE or reading.tense == "unstated":
        return nearest
    if reading.tense == "future":
        return next((c for c in candidates if c[1] >= today), nearest)
    return next((c for c in reversed(candidates) if c[0] <= today), nearest)


def _given_year(match: re.Match[str], today: date) -> int | None:
    """The year an expression states: "2025", "last year", "this year"."""
    groups = match.groupdict()
    if groups.get("y"):
        return int(groups["y"])
    if groups.get("ry"):
        return _relative_year(groups["ry"].split()[0], today)
    return None


def _relative_year(which: str, today: date) -> int:
    return today.year + {"last": -1, "next": 1}.get(which.lower(), 0)


def _day(number: str) -> int:
    return int(number.rstrip("stndrh"))


def _month(name: str) -> int:
    return _MONTHS[name.rstrip(".").lower()]


def _resolve_range(match: re.Match[str], reading: _Reading) -> _Resolved:
    groups = match.groupdict()
    month1 = _month(groups["m1"] or groups["m2"])
    month2 = _month(groups.get("m2") or groups["m1"])
    day1, day2 = _day(groups["d1"]), _day(groups["d2"])

    def make(year: int) -> tuple[date, date] | None:
        start, end = _valid(year, month1, day1), _valid(year + (month2 < month1), month2, day2)
        return (start, end) if start and end and start < end else None

    year = int(groups["y1"]) if groups.get("y1") else _given_year(match, reading.today)
    span = make(year) if year is not None else _choose(make, reading)
    return (*span, "days") if span else None


def _resolve_date(match: re.Match[str], reading: _Reading) -> _Resolved:
    month, day = _month(match.group("m1")), _day(match.group("d1"))
    weekday = match.group("wd")

    def make(year: int) -> tuple[date, date] | None:  # a weekday given with the date picks the year
        when = _valid(year, month, day)
        return (when, when) if when and (weekday is None or when.weekday() == _WEEKDAYS[weekday]) else None

    year = _given_year(match, reading.today)
    span = make(year) if year is not None else _choose(make, reading)
    return (*span, "day") if span else None


def _weekday(today: date, weekday: int, which: str, tense: Tense) -> date:
    """A weekday near ``today``: "this" one of its week, the "next" after it, the "last" before it; said
    alone, the next one (today included) when announced, else the last (today included) when reported,
    else the nearer."""
    back, ahead = (today.weekday() - weekday) % 7, (weekday - today.weekday()) % 7
    if which == "this":
        return today + timedelta(days=weekday - today.weekday())
    if which in ("next", "coming"):
        return today + timedelta(days=ahead or 7)
    if which in ("last", "past"):
        return today - timedelta(days=back or 7)
    if tense == "future" or (tense == "unstated" and ahead < back):
        return today + timedelta(days=ahead)
    return today - timedelta(days=back)


def _resolve_weekday(match: re.Match[str], reading: _Reading) -> _Resolved:
    which = (match.group("which") or "").lower()
    when = _weekday(reading.today, _WEEKDAYS[match.group("w1")], which, reading.tense)
    return when, when, "day"


def _resolve_weekday_pair(match: re.Match[str], reading: _Reading) -> _Resolved:
    start = _weekday(reading.today, _WEEKDAYS[match.group("w1")], "", reading.tense)
    return start, start + timedelta(days=(_WEEKDAYS[match.group("w2")] - start.weekday()) % 7), "days"


def _resolve_relative_day(match: re.Match[str], reading: _Reading) -> _Resolved:
    when = reading.today + timedelta(
        days={"tomorrow": 1, "yesterday": -1, "last night": -1}.get(match.group("word").lower(), 0)
    )
    return when, when, "day"


def _resolve_week(match: re.Match[str], reading: _Reading) -> _Resolved:
    today = reading.today
    shift = {"next": 7, "coming": 7, "last": -7, "past": -7}.get(match.group("which").lower(), 0)
    start = today - timedelta(days=today.weekday() - shift)
    end = start + timedelta(days=6)
    edge = (match.group("edge") or "").lower()
    return (today if edge == "later" else start), (today if edge == "earlier" else end), "week"


def _resolve_weekend(match: re.Match[str], reading: _Reading) -> _Resolved:
    """The weekend "this weekend" (or "the weekend") means: the coming one (on a Saturday or a Sunday, that
    one), but the last one when reported early in the week ("this weekend's talks failed", on a Monday)."""
    today = reading.today
    saturday = today + timedelta(days=5 - today.weekday())  # of this week
    which = match.group("which").lower()
    the_last = today.weekday() <= 2 and reading.tense == "past"
    if which in ("next", "coming"):
        saturday += timedelta(days=7)
    elif which in ("last", "past") or (which in ("this", "the") and the_last):
        saturday -= timedelta(days=7)
    return saturday, saturday + _DAY, "days"


def _part(match: re.Match[str]) -> str:
    part = " ".join((match.group("part") or match.group("edge")).lower().split())
    return _PART_WORDS.get(part, part)


def _resolve_month_part(match: re.Match[str], reading: _Reading) -> _Resolved:
    first, last = _MONTH_THIRDS[_part(match)]

    def make(year: int, month: int) -> tuple[date, date]:
        return date(year, month, first), date(year, month, min(last, calendar.monthrange(year, month)[1]))

    today = reading.today
    if match.group("which"):
        index = (
            today.year * 12 + today.month - 1 + {"next": 1, "last": -1}.get(match.group("which").lower(), 0)
        )
        return (*make(index // 12, index % 12 + 1), "month_part")
    month = _month(match.group("m1"))
    span = (
        make(int(match.group("y")), month) if match.group("y") else _choose(lambda y: make(y, month), reading)
    )
    return (*span, "month_part") if span else None


def _resolve_month_edge(match: re.Match[str], reading: _Reading) -> _Resolved:
    today = reading.today
    if match.group("edge").lower() == "earlier":
        return today.replace(day=1), today, "month_part"
    return today, _month_end(today.year, today.month), "month_part"


def _resolve_relative_month(match: re.Match[str], reading: _Reading) -> _Resolved:
    today = reading.today
    index = (
        today.year * 12
        + today.month
        - 1
        + {"next": 1, "coming": 1, "last": -1}.get(match.group("which").lower(), 0)
    )
    year, month = index // 12, index % 12 + 1
    return date(year, month, 1), _month_end(year, month), "month"


def _resolve_month(match: re.Match[str], reading: _Reading) -> _Resolved:
    month = _month(match.group("m1"))
    cue = (match.group("cue") or "").lower()

    def make(year: int) -> tuple[date, date]:
        return date(year, month, 1), _month_end(year, month)

    today = reading.today
    year = today.year if cue == "this" else _given_year(match, today)
    if year is not None:
        span: tuple[date, date] | None = make(year)
    elif cue in ("next", "coming"):
        span = next(make(y) for y in (today.year, today.year + 1) if make(y)[0] > today)
    elif cue == "last":
        span = next(make(y) for y in (today.year, today.year - 1) if make(y)[1] < today)
    else:
        span = _choose(make, reading)
    return (*span, "month") if span else None


def _season(name: str, year: int) -> tuple[date, date]:
    """The season ``name`` of ``year``; a winter is named by the year of its January."""
    first = _SEASONS[name.lower()]
    if first == 12:
        return date(year - 1, 12, 1), _month_end(year, 2)
    return date(year, first, 1), _month_end(year, first + 2)


def _resolve_season(match: re.Match[str], reading: _Reading) -> _Resolved:
    name, today = match.group("season"), reading.today
    if match.group("y"):
        return (*_season(name, int(match.group("y"))), "season")
    seasons = [_season(name, year) for year in range(today.year - 1, today.year + 3)]
    which = (match.group("which") or "").lower()
    current = next((s for s in seasons if s[0] <= today <= s[1]), None)
    if which in ("next", "coming"):
        span: tuple[date, date] | None = next(s for s in seasons if s[0] > today)
    elif which in ("last", "past"):
        span = next(s for s in reversed(seasons) if s[1] < today)
    else:
        span = current or _choose(lambda year: _season(name, year), reading)
    if span is None:
        return None
    start, end = span
    edge = (match.group("edge") or "").lower()
    if edge and start <= today <= end:
        start, end = (start, today) if edge == "earlier" else (today, end)
    return start, end, "season"


def _resolve_quarter(match: re.Match[str], reading: _Reading) -> _Resolved:
    number = int(match.group("q") or _NTH[match.group("nth").lower()])

    def make(year: int) -> tuple[date, date]:
        return date(year, 3 * number - 2, 1), _month_end(year, 3 * number)

    if match.group("y"):
        return (*make(int(match.group("y"))), "quarter")
    if match.group("which"):
        return (*make(_relative_year(match.group("which"), reading.today)), "quarter")
    span = _choose(make, reading)
    return (*span, "quarter") if span else None


def _resolve_year_part(match: re.Match[str], reading: _Reading) -> _Resolved:
    first, last = _YEAR_PARTS[_part(match)]
    year = int(match.group("y")) if match.group("y") else _relative_year(match.group("which"), reading.today)
    return date(year, first, 1), _month_end(year, last), "year_part"


def _resolve_year_edge(match: re.Match[str], reading: _Reading) -> _Resolved:
    today = reading.today
    if match.group("edge").lower() == "earlier":
        return date(today.year, 1, 1), today, "year_part"
    return today, date(today.year, 12, 31), "year_part"


def _resolve_year(match: re.Match[str], reading: _Reading) -> _Resolved:
    year = int(match.group("y")) if match.group("y") else _relative_year(match.group("which"), reading.today)
    return date(year, 1, 1), date(year, 12, 31), "year"


# The rules, each with the kinds of key word it needs; of two overlapping matches of one length, the
# earlier rule's is kept.
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], _Resolver, _Accept | None], ...] = (
    (("month",), _RANGE_MD, _resolve_range, None),
    (("month",), _RANGE_DM, _resolve_range, None),
    (("month",), _RANGE_DM_OPEN, _resolve_range, None),
    (("month",), _DATE_MD, _resolve_date, None),
    (("month",), _DATE_DM, _resolve_date, None),
    (("weekday",), _WEEKDAY_PAIR, _resolve_weekday_pair, None),
    (("month", "month_word"), _MONTH_PART, _resolve_month_part, None),
    (("month", "month_word"), _MONTH_EDGE, _resolve_month_edge, None),
    (("year",), _YEAR_PART, _resolve_year_part, None),
    (("year",), _YEAR_EDGE, _resolve_year_edge, None),
    (("quarter",), _QUARTER, _resolve_quarter, None),
    (("season",), _SEASON_ANY, _resolve_season, _season_accepted),
    (("month", "month_word"), _RELATIVE_MONTH, _resolve_relative_month, None),
    (("month",), _MONTH_ALONE, _resolve_month, _month_accepted),
    (("week",), _WEEK, _resolve_week, None),
    (("week",), _WEEKEND, _resolve_weekend, None),
    (("weekday",), _WEEKDAY_ALONE, _resolve_weekday, _weekday_accepted),
    (("day_word",), _RELATIVE_DAY, _resolve_relative_day, _relative_day_accepted),
    (("year",), _YEAR_ALONE, _resolve_year, None),
)


# -- the year an event is named with ----------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z\"\u201c(]|$)")
_SENTENCE_REACH = 400  # characters: what is farther from an expression is in another sentence
_A_YEAR_NUMBER = re.compile(r"(?<![\w$\u00a3\u20ac.,/-])(?:19|20)\d\d(?![\w%/-])")
_PREPOSITION_BEFORE = re.compile(  # "in 2017" says when, it names nothing
    r"\b(?:in|on|of|since|by|until|till|from|to|before|after|during|through|throughout|between|and|or)\s+$",
    re.IGNORECASE,
)


def _between(text: str, breaks: re.Pattern[str], start: int, end: int) -> tuple[int, int]:
    """The part of ``text`` around ``text[start:end]`` between the nearest ``breaks`` (sentence ends...)."""
    low, high = max(0, start - _SENTENCE_REACH), min(len(text), end + _SENTENCE_REACH)
    left = max((found.end() for found in breaks.finditer(text, low, start)), default=low)
    right = next((found.start() for found in breaks.finditer(text, end, high)), high)
    return left, right


def _event_years(text: str, claimed: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offset, year) of each year of ``text`` that names an event ("the 2030 Winter Olympics", "KGC 2024"):
    outside the date expressions (``claimed``, in text order) and after no preposition."""
    starts = [start for start, _ in claimed]

    def in_a_claim(offset: int) -> bool:
        at = bisect.bisect_right(starts, offset) - 1
        return at >= 0 and offset < claimed[at][1]

    return [
        (found.start(), int(found.group()))
        for found in _A_YEAR_NUMBER.finditer(text)
        if not in_a_claim(found.start())
        and not _PREPOSITION_BEFORE.search(text, max(0, found.start() - 12), found.start())
    ]


def _named_year(text: str, match: re.Match[str], event_years: Sequence[tuple[int, int]]) -> int | None:
    """The one year the sentence of ``match`` names an event with (of ``event_years``), if there is one."""
    if not event_years:
        return None
    left, right = _between(text, _SENTENCE_END, match.start(), match.end())
    first = bisect.bisect_left(event_years, (left, 0))
    years = {year for offset, year in event_years[first:] if offset < right}
    return years.pop() if len(years) == 1 else None


# -- tense ---------------------------------------------------------------------------------------------

_FUTURE = """
    will shall would upcoming scheduled expected due planned plans plan planning slated set starting
    ahead await awaits awaiting forthcoming
"""
_PAST = """
    was were had did been ago recently already said told met held began came went took gave made saw won
    lost left led fled fell rose spoke wrote sent brought bought thought found got hit kept ran sat
    stood struck shot swore sworn drove flew knew became paid quit built broke chose caught taught
    sought fought felt heard meant sold spent understood withdrew arose drew grew threw forgot hid rang
    sang sank shook slept stole stuck swept tore woke wore begun done gone seen taken given written
    spoken chosen
"""
_NOT_PAST = """
    need indeed seed feed speed bed red shed hundred united naked wicked sacred based related detailed
    limited advanced proposed intended anticipated
"""
_EVENTS = """
    visit begin start hold meet strike travel attend host open launch vote deliver return sign arrive
    leave face resume end close head speak address announce unveil release tour take join go come
"""
_FUTURE_WORDS = frozenset(_FUTURE.split())  # "will visit", "is expected to", "set for Tuesday"
_PAST_WORDS = frozenset(_PAST.split())  # auxiliaries and irregular pasts; regular ones end in -ed
_NOT_PAST_WORDS = frozenset(_NOT_PAST.split())  # words in -ed that are no past tense
_EVENT_VERBS = frozenset(_EVENTS.split())  # "Ramadan to begin Wednesday", "pilots to strike on Thursday"
_MODALS = frozenset(("may", "might", "could", "should", "must", "can"))  # "could have been" is past
_AUXILIARIES = frozenset(("be", "being", "to"))  # "will be held", "to be released": the word before decides
_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")
_CLAUSE_BREAKS = re.compile(r"[,;:()\[\]\u2013\u2014]|[.!?](?=\s|$)")
_TENSE_REACH = 10  # words: a verb farther from the expression is about something else


def _tense(text: str, start: int, end: int) -> Tense:
    """Whether the expression at ``text[start:end]`` is announced or reported: the tense cue nearest to it in
    its clause, else in its sentence (before it rather than after it on a tie), within a few words."""
    for breaks in (_CLAUSE_BREAKS, _SENTENCE_END):
        cues = _cues(text, *_between(text, breaks, start, end), start, end)
        if cues:
            return min(cues)[2]
    return "unstated"


def _cues(text: str, left: int, right: int, start: int, end: int) -> list[tuple[int, int, Tense]]:
    """(distance in words, 0 before / 1 after, tense) of each tense cue in ``text[left:right]``."""
    before = [m.group() for m in _WORD.finditer(text, left, start)][-_TENSE_REACH - 2 :]
    after = [m.group() for m in _WORD.finditer(text, end, right)][: _TENSE_REACH + 2]
    words = [*before, *after]
    found: list[tuple[int, int, Tense]] = []
    for index, word in enumerate(words):
        previous = words[index - 1].lower() if index > 0 else ""
        following = words[index + 1].lower() if index + 1 < len(words) else ""
        is_before = index < len(before)
        tense = _cue(word, previous, following, is_before)
        distance = len(before) - 1 - index if is_before else index - len(before)
        if tense is not None and distance <= _TENSE_REACH:
            found.append((distance, 0 if is_before else 1, tense))
    return found


def _cue(word: str, previous: str, following: str, before: bool) -> Tense | None:
    lower = word.lower()
    if (
        lower in _FUTURE_WORDS
        or lower.endswith(("'ll", "\u2019ll"))
        or (lower == "to" and before and following in _EVENT_VERBS)
    ):
        return "future"
    if lower in _MODALS:
        return "past" if following == "have" else "future"
    if previous in _AUXILIARIES:
        return None
    if lower in _PAST_WORDS or (
        lower.endswith("ed") and len(lower) > 4 and lower not in _NOT_PAST_WORDS and word.islower()
    ):
        return "past"
    return None


# -- hedging ---------------------------------------------------------------------------------------

_HEDGE = """
    reportedly likely unlikely possibly probably tentatively tentative expected rumoured rumored rumours
    rumors speculation speculated unconfirmed could might may
"""
_HEDGES = frozenset(_HEDGE.split())


def _hedged(text: str, start: int, end: int) -> bool:
    """Whether a word of the sentence of ``text[start:end]``, within the tense's reach, doubts it
    ("Putin is expected to visit on December 5", "reportedly in March"). "May" is the month."""
    left, right = _between(text, _SENTENCE_END, start, end)
    before = [m.group() for m in _WORD.finditer(text, left, start)][-_TENSE_REACH:]
    after = [m.group() for m in _WORD.finditer(text, end, right)][:_TENSE_REACH]
    return any(word.lower() in _HEDGES and word != "May" for word in (*before, *after))


# -- near the matched terms ------------------------------------------------------------------------


def _near(
    text: str, found: list[tuple[re.Match[str], _Resolver]], near: Sequence[tuple[int, int]], within: int
) -> list[tuple[re.Match[str], _Resolver]]:
    """The expressions with at most ``within`` words between them and one of the ``near`` spans."""
    starts = [word.start() for word in re.finditer(r"\w+", text)]

    def words(span: tuple[int, int]) -> tuple[int, int]:
        """The indexes of the first and the last word of ``span``."""
        return bisect.bisect_right(starts, span[0]), bisect.bisect_right(starts, max(span[0], span[1] - 1))

    terms = [words(span) for span in near]
    kept = []
    for match, resolve in found:
        first, last = words(match.span())
        if any(max(term_first - last, first - term_last, 1) - 1 <= within for term_first, term_last in terms):
            kept.append((match, resolve))
    return kept


# -- the dates as said ----------------------------------------------------------------------------
# Printed with the words and conventions the grammar reads (its month, season and part tables), so
# that what `event` and an alert print reads back as the same claim.

_MONTH_NAMES = {number: name.capitalize() for name, number in reversed(_MONTHS.items())}  # the full names
_SEASON_NAMES = {month: name for name, month in reversed(_SEASONS.items())}  # autumn, not fall
_TO = "\u2013"  # an en dash: 4\u20135 December


def period(start: date, end: date, precision: str) -> str:
    """Dates an event is said to be on, as said (this module's precisions): 4 December 2025, 4-5
    December 2025 (an en dash), the week of 1 December 2025, early December 2025, December 2025,
    winter 2026, Q3 2026, late 2026, 2026; a span no name fits ("later this year") as its days."""
    whole_months = start.day == 1 and end == _month_end(end.year, end.month)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    month = f"{_MONTH_NAMES[start.month]} {start.year}"
    if precision == "week" and start.weekday() == 0 and end == start + timedelta(days=6):
        return f"the week of {_said_day(start)}"
    if precision == "month_part" and months == 1:
        last = _month_end(start.year, start.month).day
        for part, (first_day, last_day) in _MONTH_THIRDS.items():
            if (start.day, end.day) == (first_day, min(last_day, last)):
                return _part_of(part, month)
    if whole_months:
        if precision == "month" and months == 1:
            return month
        if precision == "season" and months == 3 and start.month in _SEASON_NAMES:
            return f"{_SEASON_NAMES[start.month]} {end.year}"
        if precision == "quarter" and months == 3 and start.month % 3 == 1:
            return f"Q{start.month // 3 + 1} {start.year}"
        for part, span in _YEAR_PARTS.items():
            if precision == "year_part" and (start.month, end.month) == span:
                return _part_of(part, str(start.year))
        if precision == "year" and months == 12 and start.month == 1:
            return str(start.year)
    return _said_days(start, end)


def _part_of(part: str, whole: str) -> str:
    """ "early December 2025", "mid-December 2025", "the first half of 2026"."""
    if part == "mid":
        return f"mid-{whole}"
    if part.endswith("half"):
        return f"the {part} of {whole}"
    return f"{part} {whole}"


def _said_days(start: date, end: date) -> str:
    """4 December 2025; 4-5 December 2025, 30 November - 2 December 2025 (en dashes)."""
    if start == end:
        return _said_day(start)
    if start.year != end.year:
        return f"{_said_day(start)} {_TO} {_said_day(end)}"
    if start.month != end.month:
        return f"{start.day} {_MONTH_NAMES[start.month]} {_TO} {_said_day(end)}"
    return f"{start.day}{_TO}{_said_day(end)}"


def _said_day(when: date) -> str:
    return f"{when.day} {_MONTH_NAMES[when.month]} {when.year}"
