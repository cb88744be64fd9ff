"""Date claims: expressions found in a text, resolved against its publication time at the precision stated.

The last test pins the figures of the labelled set (benchmarks/data/dates.yaml): a change that
moves them is a change in behaviour; run benchmarks/bench_dates.py --misses before updating them.
"""

# Dashes and curly quotes as feeds write them are what some of these tests are about.
# ruff: noqa: RUF001

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from watcher.dates import PRECISIONS, DateClaim, date_claims

pytestmark = pytest.mark.unit

LABELLED = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "dates.yaml"
# Publication days the tests read against: a Tuesday in November, a Sunday three days before a
# new year, a Monday in January.
NOVEMBER = datetime(2025, 11, 18, 9, 30, tzinfo=UTC)
YEAR_END = datetime(2025, 12, 28, 18, 0, tzinfo=UTC)
JANUARY = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)

Stated = tuple[str, str, str, str]  # the expression, start, end (ISO) and precision


def stated(text: str, published: datetime) -> list[Stated]:
    return [
        (c.text, c.start.isoformat(), c.end.isoformat(), c.precision) for c in date_claims(text, published)
    ]


def only(text: str, published: datetime) -> DateClaim:
    claims = date_claims(text, published)
    assert len(claims) == 1, claims
    return claims[0]


def span(text: str, published: datetime) -> tuple[date, date, str]:
    claim = only(text, published)
    return claim.start, claim.end, claim.precision


# -- days and ranges of days --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        pytest.param(
            "Putin will visit India on December 4–5 for the summit.", "2025-12-04", "2025-12-05", id="en-dash"
        ),
        pytest.param(
            "The summit is on 4-5 December in New Delhi.", "2025-12-04", "2025-12-05", id="day-first"
        ),
        pytest.param("Talks are set for Dec. 4 and 5.", "2025-12-04", "2025-12-05", id="abbreviation-and"),
        pytest.param("The summit is set for December 4 and 5.", "2025-12-04", "2025-12-05", id="and"),
        pytest.param("It runs from December 6 to 8.", "2025-12-06", "2025-12-08", id="from-to"),
        pytest.param("It runs on the 18th and 19th of December.", "2025-12-18", "2025-12-19", id="ordinals"),
        pytest.param("Talks run from Dec. 30 to Jan. 2.", "2025-12-30", "2026-01-02", id="across-the-year"),
        pytest.param("Leaders meet on Thursday and Friday.", "2025-11-20", "2025-11-21", id="weekdays"),
    ],
)
def test_a_range_of_days_keeps_both_ends(text: str, start: str, end: str) -> None:
    assert span(text, NOVEMBER) == (date.fromisoformat(start), date.fromisoformat(end), "days")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        pytest.param("Putin is expected to visit India around December 5.", "2025-12-05", id="month-day"),
        pytest.param("The vote is on Dec. 4th.", "2025-12-04", id="abbreviation-ordinal"),
        pytest.param("The vote is on 20 December.", "2025-12-20", id="day-month"),
        pytest.param("The treaty was signed on Dec. 6, 1989.", "1989-12-06", id="with-year"),
        pytest.param("He took office on 1 September last year.", "2024-09-01", id="last-year"),
        pytest.param("Talks began on September 27.", "2025-09-27", id="past-this-year"),
    ],
)
def test_a_day_is_the_stated_day(text: str, day: str) -> None:
    assert span(text, NOVEMBER) == (date.fromisoformat(day), date.fromisoformat(day), "day")


def test_a_date_without_year_is_this_years_when_it_is_coming() -> None:
    """Read in November, "December 4-5" is this December's, said of the future or the past."""
    assert span("Putin will visit India on December 4-5.", NOVEMBER)[0] == date(2025, 12, 4)
    assert span("Modi said Putin visits on December 4-5.", NOVEMBER)[0] == date(2025, 12, 4)


def test_a_january_report_of_december_is_last_years() -> None:
    assert span("Putin held talks in New Delhi on December 4-5.", JANUARY)[:2] == (
        date(2025, 12, 4),
        date(2025, 12, 5),
    )
    assert span("The attack on December 20 killed three.", JANUARY)[0] == date(2025, 12, 20)


def test_a_far_date_without_year_follows_the_tense() -> None:
    """Seven months away either way, only the tense tells which July."""
    april = datetime(2026, 4, 10, tzinfo=UTC)
    assert span("The treaty was signed on July 3.", april)[0] == date(2025, 7, 3)
    assert span("The treaty will be signed on July 3.", april)[0] == date(2026, 7, 3)


def test_a_weekday_given_with_a_date_picks_the_year() -> None:
    """20 June was a Friday in 2025, a Saturday in 2026."""
    february = datetime(2026, 2, 13, tzinfo=UTC)
    assert span("The attack in the early hours of Friday 20 June was the latest.", february)[0] == date(
        2025, 6, 20
    )


def test_the_year_of_an_event_the_sentence_names_is_the_dates_year() -> None:
    published = datetime(2026, 2, 16, tzinfo=UTC)
    text = "The 2030 Winter Olympics are set to take place in the French Alps from Feb. 1-17."
    assert span(text, published)[:2] == (date(2030, 2, 1), date(2030, 2, 17))


# -- weekdays and relative days ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        pytest.param("Modi and Putin held talks on Friday.", "2025-11-14", id="reported-last-friday"),
        pytest.param("Modi and Putin will hold talks on Friday.", "2025-11-21", id="announced-next-friday"),
        pytest.param("Modi spoke to Putin on Tuesday.", "2025-11-18", id="reported-today"),
        pytest.param("Lavrov is due to arrive on Tuesday.", "2025-11-18", id="announced-today"),
        pytest.param("Lavrov arrives on Thursday.", "2025-11-20", id="unstated-the-nearer"),
        pytest.param("Lavrov arrived late on Sunday.", "2025-11-16", id="late-on"),
        pytest.param("Pilots to strike on Thursday", "2025-11-20", id="headline-to"),
        pytest.param("This Friday, the summit opens.", "2025-11-21", id="this"),
        pytest.param("Last Friday the talks failed.", "2025-11-14", id="last"),
        pytest.param("Talks resume next Monday.", "2025-11-24", id="next"),
        pytest.param("CBS pulled it from Monday's broadcast.", "2025-11-17", id="possessive"),
        pytest.param("The ministry said so today.", "2025-11-18", id="today"),
        pytest.param("The ministry said so yesterday.", "2025-11-17", id="yesterday"),
        pytest.param("Lavrov lands in Delhi tomorrow.", "2025-11-19", id="tomorrow"),
    ],
)
def test_a_weekday_or_relative_day_is_read_against_publication(text: str, day: str) -> None:
    assert span(text, NOVEMBER) == (date.fromisoformat(day), date.fromisoformat(day), "day")


def test_relative_dates_cross_the_year_end() -> None:
    """Published Sunday 28 December 2025."""
    assert stated("Lavrov is expected to travel to New Delhi next month.", YEAR_END) == [
        ("next month", "2026-01-01", "2026-01-31", "month")
    ]
    assert span("The leaders will meet on Friday.", YEAR_END) == (date(2026, 1, 2), date(2026, 1, 2), "day")
    assert span("The leaders met on Friday.", YEAR_END) == (date(2025, 12, 26), date(2025, 12, 26), "day")
    assert span("Talks resume next week.", YEAR_END) == (date(2025, 12, 29), date(2026, 1, 4), "week")
    assert span("Elections are due next year.", YEAR_END) == (date(2026, 1, 1), date(2026, 12, 31), "year")
    assert span("The vote is on January 8th.", YEAR_END)[0] == date(2026, 1, 8)


def test_the_publication_day_is_the_one_of_its_own_offset() -> None:
    """00:30 on Wednesday in Karachi is still Tuesday in UTC: the paper's "on Tuesday" is its yesterday."""
    karachi = datetime(2026, 2, 18, 0, 30, tzinfo=timezone(timedelta(hours=5)))
    assert span("The moon was sighted on Tuesday night.", karachi)[0] == date(2026, 2, 17)
    assert span("Ramazan begins today.", karachi)[0] == date(2026, 2, 18)


# -- weeks, months, seasons, parts of a year ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "precision"),
    [
        pytest.param("Talks were held this week.", "2025-11-17", "2025-11-23", "week", id="this-week"),
        pytest.param("Talks were held last week.", "2025-11-10", "2025-11-16", "week", id="last-week"),
        pytest.param(
            "The showdown is later this week.", "2025-11-18", "2025-11-23", "week", id="later-this-week"
        ),
        pytest.param("A tutorial runs this weekend.", "2025-11-22", "2025-11-23", "days", id="this-weekend"),
        pytest.param("Putin visits India in December.", "2025-12-01", "2025-12-31", "month", id="in-month"),
        pytest.param(
            "The December summit is expected to outline plans.",
            "2025-12-01",
            "2025-12-31",
            "month",
            id="month-as-adjective",
        ),
        pytest.param("Skirmishes broke out last May.", "2025-05-01", "2025-05-31", "month", id="last-may"),
        pytest.param(
            "He has not visited since March 2024.", "2024-03-01", "2024-03-31", "month", id="month-year"
        ),
        pytest.param(
            "A forum is held in April this year.", "2025-04-01", "2025-04-30", "month", id="this-year"
        ),
        pytest.param(
            "The commission meets this month.", "2025-11-01", "2025-11-30", "month", id="this-month"
        ),
        pytest.param(
            "It began earlier this month.", "2025-11-01", "2025-11-18", "month_part", id="earlier-month"
        ),
        pytest.param(
            "Troops are ready by early December.", "2025-12-01", "2025-12-10", "month_part", id="early"
        ),
        pytest.param("The summit is in mid-December.", "2025-12-11", "2025-12-20", "month_part", id="mid"),
        pytest.param(
            "It reopens at the end of the month.", "2025-11-21", "2025-11-30", "month_part", id="end"
        ),
        pytest.param("Courts rule this spring.", "2026-03-01", "2026-05-31", "season", id="this-spring"),
        pytest.param("The US struck last summer.", "2025-06-01", "2025-08-31", "season", id="last-summer"),
        pytest.param("Singles come out in the winter.", "2025-12-01", "2026-02-28", "season", id="winter"),
        pytest.param(
            "It ships in the third quarter of 2026.", "2026-07-01", "2026-09-30", "quarter", id="quarter"
        ),
        pytest.param("Sales rose in Q3 2025.", "2025-07-01", "2025-09-30", "quarter", id="q3"),
        pytest.param(
            "Putin visits India later this year.", "2025-11-18", "2025-12-31", "year_part", id="later"
        ),
        pytest.param(
            "A deal is due in early 2026.", "2026-01-01", "2026-04-30", "year_part", id="early-year"
        ),
        pytest.param("The centre opens by mid-2026.", "2026-05-01", "2026-08-31", "year_part", id="mid-year"),
        pytest.param(
            "Growth slowed in the first half of 2025.",
            "2025-01-01",
            "2025-06-30",
            "year_part",
            id="first-half",
        ),
        pytest.param("Putin last visited India in 2021.", "2021-01-01", "2021-12-31", "year", id="in-year"),
        pytest.param(
            "Parties weigh who might lead next year.", "2026-01-01", "2026-12-31", "year", id="next-year"
        ),
    ],
)
def test_longer_claims_keep_their_precision(text: str, start: str, end: str, precision: str) -> None:
    assert span(text, NOVEMBER) == (date.fromisoformat(start), date.fromisoformat(end), precision)


def test_a_sentence_with_several_claims_gives_each_in_text_order() -> None:
    text = (
        "Tehran and Washington held on Tuesday a second round of negotiations — which began earlier this"
        " month — after talks last year collapsed following Israel’s attack on Iran in June."
    )
    assert stated(text, datetime(2026, 2, 17, 14, 52, tzinfo=UTC)) == [
        ("on Tuesday", "2026-02-17", "2026-02-17", "day"),
        ("earlier this month", "2026-02-01", "2026-02-17", "month_part"),
        ("last year", "2025-01-01", "2025-12-31", "year"),
        ("in June", "2025-06-01", "2025-06-30", "month"),
    ]


# -- tense: announced or reported ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tense"),
    [
        pytest.param("Putin arrived in New Delhi on Thursday.", "past", id="arrived"),
        pytest.param("Modi and Putin held talks on Friday.", "past", id="held-talks"),
        pytest.param("The leaders met on Monday.", "past", id="met"),
        pytest.param("Lavrov landed in Delhi yesterday.", "past", id="landed"),
        pytest.param("The summit concluded on December 5.", "past", id="concluded"),
        pytest.param("The meeting has been held this week.", "past", id="perfect"),
        pytest.param("Putin will visit India in December.", "future", id="will"),
        pytest.param("Putin to visit India on December 4-5", "future", id="to-visit"),
        pytest.param("Lavrov is due to arrive next month.", "future", id="due-to"),
        pytest.param("The summit is expected to be held on December 5.", "future", id="expected-held"),
        pytest.param("Talks are scheduled for Friday.", "future", id="scheduled"),
        pytest.param("Putin visits India in December", "unstated", id="headline-present"),
    ],
)
def test_the_tense_tells_an_announced_event_from_a_reported_one(text: str, tense: str) -> None:
    assert only(text, NOVEMBER).tense == tense


def test_each_claim_takes_the_tense_of_its_own_clause() -> None:
    text = "Macron on Tuesday invited Modi to the G7 Summit, which will be presided over by France in 2026."
    assert [c.tense for c in date_claims(text, NOVEMBER)] == ["past", "future"]


@pytest.mark.parametrize(
    ("text", "hedged"),
    [
        pytest.param("Putin is expected to visit India around December 5.", True, id="expected"),
        pytest.param("Putin will reportedly visit India in December.", True, id="reportedly"),
        pytest.param("The summit is likely to be held in early December.", True, id="likely"),
        pytest.param("Lavrov may travel to New Delhi next month.", True, id="may"),
        pytest.param("Putin will visit India on 4-5 December, the Kremlin said.", False, id="will"),
        pytest.param("Modi and Putin held talks on Tuesday.", False, id="held"),
        pytest.param("Putin will visit in May.", False, id="the-month-may"),
    ],
)
def test_a_claim_doubted_by_words_around_it_is_hedged(text: str, hedged: bool) -> None:
    """The timeline takes a date only ever hedged as a rumour."""
    assert only(text, NOVEMBER).hedged is hedged


def test_hedging_stays_in_its_sentence() -> None:
    text = "Putin is likely to raise oil. The summit will be held on December 4-5."
    assert not only(text, NOVEMBER).hedged


# -- what is no date ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Theresa May said the deal was dead.", id="theresa-may"),
        pytest.param("NATO May Not Survive the Trump Era", id="may-in-a-title"),
        pytest.param("The teenage girl who may rule North Korea", id="may-verb"),
        pytest.param("Farmers march on Delhi over crop prices.", id="march-verb"),
        pytest.param("Thousands in Kosovo March on anniversary of independence", id="march-title-case"),
        pytest.param("Two friends asked me to play the Wedding March at their ceremony.", id="wedding-march"),
        pytest.param("The Sun reported that the minister resigned.", id="the-sun"),
        pytest.param("Said Neil Fisher in The Sunday Times.", id="sunday-times"),
        pytest.param("India took 4-5 wickets before lunch.", id="wickets"),
        pytest.param("Where Are the Next Winter Olympics?", id="next-winter-olympics"),
        pytest.param("Four years after the fall of Kabul, governments recognise the Taliban.", id="fall-of"),
        pytest.param("Spring is a wonderful time of year to visit.", id="spring-alone"),
        pytest.param("I got it cheap on Black Friday.", id="black-friday"),
        pytest.param("Book on a Friday for three nights.", id="a-friday"),
        pytest.param("A reporter stays in Ferguson for the next year.", id="rolling-year"),
        pytest.param("Tom Clancy's Splinter Cell: Pandora Tomorrow was added.", id="title-tomorrow"),
        pytest.param("Jan Koum sold WhatsApp.", id="jan-a-name"),
        pytest.param("The iPod ads of the early 2000s were everywhere.", id="decade"),
    ],
)
def test_words_that_look_like_dates_are_no_claims(text: str) -> None:
    assert date_claims(text, NOVEMBER) == ()


# -- near the matched terms ----------------------------------------------------------------------------


def test_only_claims_near_the_matched_terms_are_kept() -> None:
    text = (
        "Putin called Modi on September 17 to greet him on his birthday. People familiar with the matter"
        " said the two sides are working on a range of deliverables in trade, investment, defence and"
        " security, and that Putin is expected to visit India around December 5."
    )
    visit = text.index("visit India")
    near_visit = date_claims(text, NOVEMBER, near=[(visit, visit + len("visit India"))])
    assert [c.text for c in near_visit] == ["around December 5"]
    assert [c.text for c in date_claims(text, NOVEMBER)] == ["on September 17", "around December 5"]


def test_within_counts_words_between_a_claim_and_a_term() -> None:
    text = "Lavrov is expected to travel to New Delhi next month."
    lavrov = [(0, len("Lavrov"))]
    assert date_claims(text, NOVEMBER, near=lavrov, within=7) != ()
    assert date_claims(text, NOVEMBER, near=lavrov, within=6) == ()
    assert date_claims(text, NOVEMBER, near=[]) == ()


# -- which claim says more -------------------------------------------------------------------------


def test_precisions_run_from_the_most_specific_claim_to_the_least() -> None:
    assert PRECISIONS == (
        "day",
        "days",
        "week",
        "month_part",
        "month",
        "season",
        "quarter",
        "year_part",
        "year",
    )
    day = only("Putin will visit India on December 5.", NOVEMBER)
    days = only("Putin will visit India on December 4-5.", NOVEMBER)
    month = only("Putin will visit India in December.", NOVEMBER)
    later = only("Putin will visit India later this year.", NOVEMBER)
    assert day.more_specific_than(days)
    assert days.more_specific_than(month)
    assert month.more_specific_than(later)
    assert not later.more_specific_than(month)
    assert not day.more_specific_than(day)


def test_of_two_claims_of_one_precision_the_shorter_span_says_more() -> None:
    two_days = only("The summit runs December 4-5.", NOVEMBER)
    three_days = only("The summit runs December 4-6.", NOVEMBER)
    assert two_days.more_specific_than(three_days)
    assert not three_days.more_specific_than(two_days)


# -- the labelled set ----------------------------------------------------------------------------------


def test_the_labelled_real_headlines_resolve_at_least_90_percent_with_few_false_dates() -> None:
    """Issue 16's target on the labelled real headlines: 90% of the expressions resolved to the stated
    dates at the stated precision; at most one negative in ten given a date (measured: 341 of 346, 5
    of 60)."""
    resolved = labelled = false_positives = negatives = 0
    for entry in yaml.safe_load(LABELLED.read_text(encoding="utf-8")):
        claims = date_claims(entry["text"], datetime.fromisoformat(entry["published"]))
        if entry["precision"] is None:
            negatives += 1
            false_positives += bool(claims)
            continue
        labelled += 1
        offset = entry["text"].index(entry["expression"])
        end = offset + len(entry["expression"])
        expected = (entry["start"], entry["end"], entry["precision"])
        resolved += any(
            c.offset < end and offset < c.offset + len(c.text)
            and (c.start.isoformat(), c.end.isoformat(), c.precision) == expected
            for c in claims
        )  # fmt: skip
    assert labelled >= 150
    assert resolved / labelled >= 0.9
    assert false_positives <= negatives / 10
