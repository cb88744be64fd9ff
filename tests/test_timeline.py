"""The event timeline (watcher.timeline): the best estimate, moved dates, outlets, first reporters,
statuses against a clock, and the dates of a hit. Pure: reports are built by hand."""

from datetime import UTC, date, datetime, timedelta

import pytest

from watcher.dates import DateClaim, Precision, Tense
from watcher.items import Item
from watcher.records import DateReport, EventDate, FieldClaim, TermHit
from watcher.timeline import Event, changed, event, hit_claims

T0 = datetime(2025, 10, 7, 10, 30, tzinfo=UTC)
RULE = "putin-visit-india"


def claim(
    start: date,
    end: date | None = None,
    precision: Precision = "day",
    tense: Tense = "future",
    *,
    text: str = "",
    offset: int = 0,
    hedged: bool = False,
) -> DateClaim:
    return DateClaim(start, end or start, precision, tense, text or f"{start}..{end}", offset, hedged)


DECEMBER = claim(date(2025, 12, 1), date(2025, 12, 31), "month", text="in December")
DEC_4_5 = claim(date(2025, 12, 4), date(2025, 12, 5), "days", text="on December 4-5")
DEC_10 = claim(date(2025, 12, 10), text="on December 10")


def report(
    hit: int, outlet: str, published: datetime, *claims: DateClaim, field: str = "summary"
) -> DateReport:
    return DateReport(
        rule=RULE,
        hit=hit,
        item=hit,
        feed=outlet.lower().replace(" ", "-"),
        outlet=outlet,
        title=f"report {hit}",
        link=None,
        published=published,
        fetched_at=published + timedelta(minutes=1),
        claims=tuple(FieldClaim(field, c) for c in claims),
    )


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def timeline(*reports: DateReport, now: datetime | None = None) -> Event:
    return event(RULE, reports, now or at(30))


def estimate_of(found: Event) -> EventDate:
    assert found.estimate is not None
    return found.estimate.date


def as_date(c: DateClaim) -> EventDate:
    return EventDate(c.start, c.end, c.precision)


# -- the best estimate -------------------------------------------------------------------------------


def test_reports_that_move_a_date() -> None:
    """ "In December", then "December 4-5", then a report moving it to "December 10": each later
    claim, as precise or more, supersedes; the history says how."""
    found = timeline(
        report(1, "The Hindu", at(0), DECEMBER),
        report(2, "TASS", at(20), DEC_4_5),
        report(3, "Hindustan Times", at(40), DEC_10),
        now=at(41),
    )
    assert estimate_of(found) == as_date(DEC_10)
    assert [(s.report.outlet, s.change) for s in found.history] == [
        ("The Hindu", "set"),
        ("TASS", "narrowed"),
        ("Hindustan Times", "moved"),
    ]
    assert found.estimate is not None
    assert found.estimate.text == "on December 10"
    assert found.estimate.outlets == ("Hindustan Times",)


def test_a_later_claim_of_the_same_precision_supersedes_an_earlier_one() -> None:
    dec_5_6 = claim(date(2025, 12, 5), date(2025, 12, 6), "days")
    found = timeline(report(1, "TASS", at(0), DEC_4_5), report(2, "The Hindu", at(1), dec_5_6))
    assert estimate_of(found) == as_date(dec_5_6)
    assert found.history[-1].change == "moved"
    shorter = claim(date(2025, 12, 4), date(2025, 12, 4), "days")
    assert timeline(report(1, "TASS", at(0), DEC_4_5), report(2, "ANI", at(1), shorter)).history[
        -1
    ].change == ("narrowed")


def test_the_order_of_reports_not_of_the_list_decides() -> None:
    found = timeline(report(2, "Hindustan Times", at(40), DEC_10), report(1, "TASS", at(20), DEC_4_5))
    assert estimate_of(found) == as_date(DEC_10)
    assert [s.report.hit for s in found.history] == [1, 2]


def test_a_vaguer_later_claim_keeps_the_estimate_unless_it_contradicts_it() -> None:
    recap = report(3, "ANI", at(30), DECEMBER)
    found = timeline(report(1, "TASS", at(0), DEC_4_5), recap)
    assert estimate_of(found) == as_date(DEC_4_5)
    assert found.history[-1].change is None
    january = claim(date(2026, 1, 1), date(2026, 1, 31), "month", text="to January")
    postponed = timeline(report(1, "TASS", at(0), DEC_4_5), recap, report(4, "Reuters", at(31), january))
    assert estimate_of(postponed) == as_date(january)
    assert postponed.history[-1].change == "moved"


def test_a_day_inside_a_range_of_days_is_a_part_of_it_and_a_range_around_a_day_widens_it() -> None:
    talks = claim(date(2025, 12, 5), text="Friday, 5 December")
    assert estimate_of(
        timeline(report(1, "TASS", at(0), DEC_4_5), report(2, "ANI", at(1), talks))
    ) == as_date(DEC_4_5)
    arrival = claim(date(2025, 12, 4), text="on December 4")
    found = timeline(report(1, "ANI", at(0), arrival), report(2, "TASS", at(1), DEC_4_5))
    assert estimate_of(found) == as_date(DEC_4_5)
    assert found.history[-1].change == "widened"


def test_within_a_report_the_vaguest_claim_is_read_first_and_one_precision_in_text_order() -> None:
    found = timeline(report(1, "TASS", at(0), DEC_4_5, DECEMBER))  # "December 4-5 ... in December"
    assert estimate_of(found) == as_date(DEC_4_5)
    planned = claim(date(2025, 12, 4), date(2025, 12, 5), "days", offset=10)
    now = claim(date(2025, 12, 10), date(2025, 12, 11), "days", offset=60)
    assert estimate_of(timeline(report(1, "TASS", at(0), planned, now))) == as_date(now)


def test_claims_reported_as_done_do_not_set_the_estimate_unless_nothing_else_says_when() -> None:
    """ "Held talks on Tuesday" before a visit "in December": the call is a step on the way."""
    call = claim(T0.date(), precision="day", tense="past", text="on Tuesday")
    found = timeline(report(1, "Eurasia Wire", at(0), call, DECEMBER))
    assert estimate_of(found) == as_date(DECEMBER)
    assert [s.done for s in found.history] == [True, False]
    unstated_today = claim(T0.date(), precision="day", tense="unstated")
    assert timeline(report(1, "ANI", at(0), unstated_today)).history[0].done
    rescheduled = claim(date(2025, 12, 10), tense="past", text="has been moved to December 10")
    assert not timeline(report(1, "ANI", at(0), rescheduled)).history[0].done

    only_done = timeline(report(1, "Eurasia Wire", at(0), call))
    assert estimate_of(only_done) == as_date(call)


def test_no_report_states_a_date() -> None:
    found = timeline(report(1, "TASS", at(0)))
    assert (found.estimate, found.status, found.history) == (None, "rumoured", ())
    assert timeline().estimate is None


# -- outlets and first reporters --------------------------------------------------------------------


def test_outlets_stating_the_estimate_are_counted_once_each_in_the_order_they_first_did() -> None:
    found = timeline(
        report(1, "The Hindu", at(0), DECEMBER),
        report(2, "TASS", at(1), DEC_4_5),
        report(3, "Hindustan Times", at(2), DEC_4_5),
        report(4, "TASS", at(3), DEC_4_5),
        report(5, "ANI", at(4), claim(date(2025, 12, 4), tense="past")),
        report(6, "Reuters", at(5), claim(date(2025, 9, 1), date(2025, 9, 30), "month", "past")),
    )
    assert found.estimate is not None
    assert found.estimate.outlets == ("TASS", "Hindustan Times")
    assert found.estimate.consistent == ("The Hindu", "ANI")  # the month of it, a day of it; not September
    assert found.estimate.first.report.outlet == "TASS"
    assert found.estimate.first.report.published == at(1)


def test_the_first_to_report_each_date_is_marked_in_the_history() -> None:
    found = timeline(
        report(1, "The Hindu", at(0), DECEMBER),
        report(2, "TASS", at(1), DEC_4_5),
        report(3, "Hindustan Times", at(2), DEC_4_5, DECEMBER),
    )
    assert [(s.report.outlet, s.claim.text, s.first) for s in found.history] == [
        ("The Hindu", "in December", True),
        ("TASS", "on December 4-5", True),
        ("Hindustan Times", "on December 4-5", False),
        ("Hindustan Times", "in December", False),
    ]


def test_the_estimate_reads_as_its_first_reporter_wrote_it() -> None:
    written = claim(date(2025, 12, 4), date(2025, 12, 5), "days", text="on 4-5 December")
    found = timeline(report(1, "TASS", at(0), written), report(2, "ANI", at(1), DEC_4_5))
    assert found.estimate is not None
    assert found.estimate.text == "on 4-5 December"


# -- status ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stated", "status"),
    [
        (DEC_4_5, "dated"),
        (DEC_10, "dated"),
        (DECEMBER, "announced"),  # "will visit in December"
        (claim(date(2025, 12, 1), date(2025, 12, 10), "month_part"), "announced"),
        (claim(date(2025, 12, 1), date(2025, 12, 31), "month", "unstated"), "rumoured"),
        (claim(date(2025, 12, 1), date(2026, 2, 28), "season"), "rumoured"),
        (claim(date(2025, 10, 1), date(2025, 12, 31), "quarter"), "rumoured"),
        (claim(date(2025, 10, 7), date(2025, 12, 31), "year_part"), "rumoured"),
        (claim(date(2026, 1, 1), date(2026, 12, 31), "year"), "rumoured"),
        (claim(date(2025, 12, 5), hedged=True, text="expected around December 5"), "rumoured"),
        (claim(date(2025, 12, 1), date(2025, 12, 31), "month", hedged=True), "rumoured"),
    ],
)
def test_status_before_the_event(stated: DateClaim, status: str) -> None:
    assert timeline(report(1, "TASS", at(0), stated), now=at(1)).status == status


def test_one_outlet_stating_it_firmly_is_enough() -> None:
    rumour = claim(date(2025, 12, 5), hedged=True)
    firm = claim(date(2025, 12, 5))
    assert (
        timeline(report(1, "HT", at(0), rumour), report(2, "TASS", at(1), firm), now=at(2)).status == "dated"
    )


def test_under_way_while_the_dates_last_then_over() -> None:
    reports = [report(1, "TASS", at(0), DEC_4_5)]
    assert timeline(*reports, now=datetime(2025, 12, 3, 23, 59, tzinfo=UTC)).status == "dated"
    assert timeline(*reports, now=datetime(2025, 12, 4, 0, 1, tzinfo=UTC)).status == "under_way"
    assert timeline(*reports, now=datetime(2025, 12, 5, 23, 59, tzinfo=UTC)).status == "under_way"
    assert timeline(*reports, now=datetime(2025, 12, 6, tzinfo=UTC)).status == "over"


def test_a_report_of_it_happening_today_makes_a_vaguer_estimate_under_way() -> None:
    """ "Putin arrived in New Delhi this morning", published today, inside the December estimate."""
    today = datetime(2025, 12, 4, 14, tzinfo=UTC)
    arrived = claim(today.date(), tense="past", text="this morning")
    reports = [report(1, "TASS", at(0), DECEMBER), report(2, "ANI", today, arrived)]
    assert timeline(*reports, now=today + timedelta(hours=1)).status == "under_way"
    assert timeline(*reports, now=today + timedelta(days=1)).status == "announced"  # not today any more
    assert timeline(*reports, now=datetime(2026, 1, 1, tzinfo=UTC)).status == "over"
    call = claim(T0.date(), tense="past", text="on Tuesday")  # a done claim outside the estimate
    assert timeline(report(1, "TASS", T0, call, DECEMBER), now=T0 + timedelta(hours=1)).status == "announced"


def test_the_clock_is_read_in_utc() -> None:
    reports = [report(1, "TASS", at(0), DEC_4_5)]
    late_in_delhi = datetime(2025, 12, 6, 4, 0, tzinfo=UTC).astimezone(None)
    assert timeline(*reports, now=late_in_delhi).status == "over"


# -- changes -------------------------------------------------------------------------------------------


def test_changed_compares_dates_and_precision() -> None:
    december = as_date(DECEMBER)
    assert not changed(None, None)
    assert not changed(december, EventDate(date(2025, 12, 1), date(2025, 12, 31), "month"))
    assert changed(None, december)
    assert changed(december, None)
    assert changed(december, as_date(DEC_4_5))
    assert changed(december, EventDate(december.start, december.end, "days"))


# -- the dates of a hit --------------------------------------------------------------------------------


def term(field: str, text: str, start: int) -> TermHit:
    return TermHit(text, field, start, start + len(text), text, 0)


def test_a_hit_states_the_dates_near_its_terms_title_first() -> None:
    item = Item(
        id="1",
        title="Kremlin confirms Putin's state visit to India on December 4-5",
        summary="<p>Putin will visit India on 4-5 December.</p> "
        + "Unrelated words follow here. " * 6
        + "The budget is due on March 3.",
        published=datetime(2025, 11, 28, 9, tzinfo=UTC),
    )
    hits = [term("summary", "Putin", 4), term("title", "Putin", 17)]
    found = hit_claims(item, hits, datetime(2025, 11, 28, 10, tzinfo=UTC))
    assert [(c.field, c.claim.text, c.claim.start, c.claim.end) for c in found] == [
        ("title", "on December 4-5", date(2025, 12, 4), date(2025, 12, 5)),
        ("summary", "on 4-5 December", date(2025, 12, 4), date(2025, 12, 5)),
    ]


def test_a_field_without_matched_terms_states_nothing_and_a_missing_publication_is_the_fetch() -> None:
    item = Item(id="1", title="Putin to visit on Friday", summary="Talks on December 4-5")
    fetched = datetime(2025, 12, 1, 9, tzinfo=UTC)  # a Monday
    [found] = hit_claims(item, [term("title", "Putin", 0)], fetched)
    assert (found.field, found.claim.start) == ("title", date(2025, 12, 5))
