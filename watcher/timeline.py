"""The event of a rule: when it is, who said so first, and how sure it is. Pure: the clock is passed in.

A rule watches one event (Putin's visit to India); each of its hits is a report that may state
when it is. ``hit_claims`` takes the dates an item states near the rule's matched terms
(``watcher.dates``); ``event`` reads a rule's reports (``DateReport``, oldest first) into an
``Event``: the best estimate of the date, the history of claims, and a status.

**Scheduled or done.** A claim not in the future tense that ends on or before its report's
publication day ("landed in New Delhi on Thursday", "held talks on Tuesday") reports something
done: often a step on the way (the phone call before a visit), so it never sets the estimate while
any report says when the event is to be; it counts for the status ("under way") and for outlets
whose dates are consistent with the estimate. A rule with only such claims (an event first
reported as it happens) takes its estimate from them, read the same way.

**The best estimate.** Claims are read in the order they were reported (publication time, then
fetch time, then hit; within one report from the vaguest to the most precise, then in text
order, title first). The first sets the estimate; each later claim, against the estimate:

1. the same dates at the same precision: agrees (one more outlet states it);
2. other dates at the same precision: a correction, it replaces the estimate ("December 5-6"
   after "December 4-5"; "narrowed", "widened" or "moved" by how the dates compare);
3. inside the estimate: narrows it when more precise and the estimate is not yet a day or a
   range of days ("December 4-5" after "in December"); else it is a part of it (the "Friday,
   5 December" talks of a December 4-5 visit) and the estimate stays;
4. containing the estimate: says less ("the December summit" after "December 4-5"), the estimate
   stays; but a range of days around an estimated day widens it ("December 4-5" after "December 4");
5. anything else reaches outside the estimate: the event moved ("December 10" after "December
   4-5", "next year" after "in December"), and the newer claim is the estimate.

So a newer claim at the same or a finer precision that differs supersedes an older one, and a
vaguer one only when it contradicts it. There is no window of "recent reports": a vague recap
never hides a precise date reported a week earlier, and a move counts however soon it follows.
Two different dates of one precision in one report: the later in the text wins ("first planned
for December 4-5, now December 10-11").

**Outlets.** Those that stated exactly the estimate (same start, end and precision), in the order
they first did, the first with its time; "consistent" outlets stated only dates containing it or
inside it (the month of it, the day it began).

**Status**, with today the clock's UTC date (stored times are UTC, so are the resolved dates):

- ``over``: the estimate's last day is past;
- ``under_way``: today is within an estimate of a day or days, or a report published today says
  it is happening today (a claim reported as done, covering today, inside the estimate);
- ``dated``: an estimate of a day or days some outlet states without hedging;
- ``announced``: a week, a part of a month or a month some outlet states without hedging and in
  a tense (future: "will visit in December"; past: "has been moved to December");
- ``rumoured``: anything else: no date yet, a vaguer one (a season, a quarter, a part of a year,
  a year), a month no tense states, or one only hedged ("reportedly", "likely", "expected to").
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from watcher.dates import PRECISIONS, DateClaim, date_claims
from watcher.items import Item
from watcher.records import DateReport, EventDate, FieldClaim, TermHit
from watcher.rules import FIELDS
from watcher.text import plain_text

Status = Literal["rumoured", "announced", "dated", "under_way", "over"]
Change = Literal["set", "narrowed", "widened", "moved"]  # what a claim did to the estimate
_DAY_LEVEL = frozenset({"day", "days"})  # the precisions of a dated event
_ANNOUNCED = frozenset({"week", "month_part", "month"})


@dataclass(frozen=True)
class Statement:
    """One claim of one report, as the history shows it."""

    report: DateReport
    field: str
    claim: DateClaim
    done: bool  # reported as done ("arrived on Thursday"), not scheduled
    first: bool  # the first report of these dates at this precision
    change: Change | None  # what it did to the estimate; None: agreed, said less, or was a part of it

    @property
    def date(self) -> EventDate:
        return _date(self.claim)


@dataclass(frozen=True)
class Estimate:
    """The best-known date of the event, and who states it."""

    date: EventDate
    text: str  # as its first reporter wrote it
    outlets: tuple[str, ...]  # stating exactly these dates, in the order they first did
    consistent: tuple[str, ...]  # the other outlets, stating dates that contain it or lie inside it
    first: Statement  # the first report of it


@dataclass(frozen=True)
class Event:
    """A rule's event: its status, the best estimate of its date (None: no report states one) and
    every claim, in report order (each report's claims in text order, title first)."""

    rule: str
    status: Status
    estimate: Estimate | None
    history: tuple[Statement, ...]


def hit_claims(item: Item, hits: Iterable[TermHit], fetched_at: datetime) -> tuple[FieldClaim, ...]:
    """The dates ``item`` states near the terms a rule matched in it (``hits``), read against its
    publication time (else ``fetched_at``); title first."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        spans.setdefault(hit.field, []).append((hit.start, hit.end))
    when = item.published or fetched_at
    return tuple(
        FieldClaim(field, claim)
        for field in FIELDS
        if field in spans
        for claim in date_claims(plain_text(getattr(item, field)), when, near=spans[field])
    )


def changed(old: EventDate | None, new: EventDate | None) -> bool:
    """Whether an estimate changed: other dates or another precision, or one gained or lost."""
    return old != new


def event(rule: str, reports: Iterable[DateReport], now: datetime) -> Event:
    """The event of ``rule`` from its reports (any order), at ``now``."""
    ordered = sorted(reports, key=lambda r: (r.published, r.fetched_at, r.hit))
    stated = [(position, report, found) for position, report in enumerate(ordered) for found in report.claims]
    done = [_done(found.claim, report) for _, report, found in stated]
    readable = [(index, position, found.claim) for index, (position, _, found) in enumerate(stated)]
    scheduled = [each for each, is_done in zip(readable, done, strict=True) if not is_done]
    current, changes = _read(scheduled or readable)
    seen: set[EventDate] = set()
    history = []
    for index, (_, report, found) in enumerate(stated):
        when = _date(found.claim)
        history.append(
            Statement(report, found.field, found.claim, done[index], when not in seen, changes.get(index))
        )
        seen.add(when)
    estimate = None if current is None else _estimate(current, history)
    today = now.astimezone(UTC).date()
    return Event(rule, _status(estimate, history, today), estimate, tuple(history))


def _date(claim: DateClaim) -> EventDate:
    return EventDate(claim.start, claim.end, claim.precision)


def _done(claim: DateClaim, report: DateReport) -> bool:
    """Whether ``claim`` reports something done rather than scheduled (see the module's docstring)."""
    return claim.tense != "future" and claim.end <= report.published.astimezone(UTC).date()


def _read(claims: list[tuple[int, int, DateClaim]]) -> tuple[EventDate | None, dict[int, Change]]:
    """The estimate after reading ``claims`` ((index, report's position, claim), in report order),
    and what each claim that changed it did, by index."""
    # Within one report the vaguest first; the sort is stable, so one precision stays in text order.
    ordered = sorted(claims, key=lambda c: (c[1], -PRECISIONS.index(c[2].precision)))
    current: EventDate | None = None
    changes: dict[int, Change] = {}
    for index, _, claim in ordered:
        new = _date(claim)
        change: Change | None = "set" if current is None else _change(current, new)
        if change is not None:
            current, changes[index] = new, change
    return current, changes


def _change(current: EventDate, new: EventDate) -> Change | None:
    """What a newer claim of ``new`` does to the estimate ``current`` (the rules of the docstring)."""
    if new == current:
        return None
    inside, contains = _within(new, current), _within(current, new)
    if new.precision == current.precision:
        return "narrowed" if inside else "widened" if contains else "moved"
    if inside:
        finer = PRECISIONS.index(new.precision) < PRECISIONS.index(current.precision)
        return "narrowed" if finer and current.precision not in _DAY_LEVEL else None
    if contains:
        return "widened" if {new.precision, current.precision} <= _DAY_LEVEL else None
    return "moved"


def _estimate(current: EventDate, history: list[Statement]) -> Estimate:
    stating = [s for s in history if s.date == current]
    outlets = _unique(s.report.outlet for s in stating)
    consistent = _unique(
        s.report.outlet
        for s in history
        if s.report.outlet not in outlets and (_within(s.date, current) or _within(current, s.date))
    )
    return Estimate(current, stating[0].claim.text, outlets, consistent, stating[0])


def _status(estimate: Estimate | None, history: list[Statement], today: date) -> Status:
    if estimate is None:
        return "rumoured"
    when = estimate.date
    if when.end < today:
        return "over"
    happening = any(
        s.done
        and s.claim.start <= today <= s.claim.end
        and s.report.published.astimezone(UTC).date() == today
        and _within(s.date, when)
        for s in history
    )
    if happening or (when.precision in _DAY_LEVEL and when.start <= today):
        return "under_way"
    firm = [s for s in history if s.date == when and not s.claim.hedged]
    if when.precision in _DAY_LEVEL and firm:
        return "dated"
    if when.precision in _ANNOUNCED and any(s.claim.tense != "unstated" for s in firm):
        return "announced"
    return "rumoured"


def _within(inner: EventDate, outer: EventDate) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
