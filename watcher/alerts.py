"""Alerts as frozen values: what the outbox hands to rendering, and what rendering hands to a target.

A hit becomes part of an ``Alert`` (one message of one rule); hits on the same story (near-duplicate
items from several outlets) become one ``StoryEntry`` with "also reported by". Rendering
(``watcher.messages``) turns an alert into a ``Message`` in a target's format; a target
(``watcher.notify``) sends it and reports a ``SendResult``.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from watcher.records import EventDate, TermHit

if TYPE_CHECKING:
    from watcher.dates import Precision

Format = Literal["text", "markdown", "html"]
Priority = Literal["low", "normal", "high"]


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's item about a story."""

    item_id: int
    feed: str
    source: str  # the outlet's name: the feed's own title, else the feed name
    title: str  # plain text; may be empty (then the snippet leads)
    link: str | None
    published: datetime | None  # aware UTC; None when the feed gave no date (then fetched time is used)


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One story in an alert: the first report in full, the other outlets as "also reported by"."""

    story_id: int
    lead: Report
    text: dict[str, str]  # the lead item's stored plain text by field ("title", "summary", "content")
    hits: tuple[TermHit, ...]  # where the rule's terms matched in ``text`` (offsets into text[field])
    also: tuple[Report, ...] = ()
    # The names of the rules that fired on this story, when the alert is one message for several
    # rules (a target's ``group_by: story``); empty in a one-rule alert.
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DateChange:
    """What a date-change alert says (a rule's ``notify_on: date_change``): the event's estimated
    date now and before (None: the first date reported), as first written, by whom, and the outlets
    stating it."""

    date: EventDate
    was: EventDate | None
    text: str
    first_outlet: str
    first_at: datetime
    outlets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """As stored with its alert."""
        return {
            "date": _date_json(self.date),
            "was": None if self.was is None else _date_json(self.was),
            "text": self.text,
            "first_outlet": self.first_outlet,
            "first_at": self.first_at.isoformat(),
            "outlets": list(self.outlets),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DateChange":
        return cls(
            date=_json_date(data["date"]),
            was=None if data["was"] is None else _json_date(data["was"]),
            text=data["text"],
            first_outlet=data["first_outlet"],
            first_at=datetime.fromisoformat(data["first_at"]),
            outlets=tuple(data["outlets"]),
        )


def _date_json(when: EventDate) -> dict[str, str]:
    return {"start": when.start.isoformat(), "end": when.end.isoformat(), "precision": when.precision}


def _json_date(data: dict[str, str]) -> EventDate:
    precision = cast("Precision", data["precision"])
    return EventDate(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]), precision)


@dataclass(frozen=True, slots=True)
class Alert:
    """One message of one rule (or of several rules that fired on the same stories): its stories,
    in the order their first hit arrived."""

    id: int
    rule_id: str
    rule_name: str
    priority: Priority
    created_at: datetime
    entries: tuple[StoryEntry, ...]
    digest: bool = False  # a scheduled summary rather than a prompt alert
    # Every rule of a message that stands for several rules' alerts on the same stories (a target's
    # ``group_by: story``), by name, ``rule_name`` first; empty in a one-rule alert.
    rules: tuple[str, ...] = ()
    change: DateChange | None = None  # a date-change alert: no stories, this instead


@dataclass(frozen=True, slots=True)
class Message:
    """An alert rendered for one target: a title (email subject) and a body in ``format``."""

    title: str
    body: str
    format: Format
    priority: Priority = "normal"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a target said about one message: delivered, or why not (never holding a secret)."""

    ok: bool
    reason: str | None = None


_PRIORITY_ORDER: dict[Priority, int] = {"low": 0, "normal": 1, "high": 2}


def merge_alerts(alerts: Sequence[Alert]) -> Alert:
    """Several rules' alerts on the same stories as one message: the first alert's stories first,
    then the others' new ones; a story several rules fired on is shown once, naming its rules and
    highlighting each rule's terms found in its lead item. The highest priority wins."""
    first = alerts[0]
    if len(alerts) == 1:
        return first
    names = tuple(dict.fromkeys(alert.rule_name for alert in alerts))
    entries: dict[int, StoryEntry] = {}
    for alert in alerts:
        for entry in alert.entries:
            known = entries.get(entry.story_id)
            if known is None:
                entries[entry.story_id] = dataclasses.replace(entry, rules=(alert.rule_name,))
                continue
            hits = known.hits
            if entry.lead.item_id == known.lead.item_id:  # offsets into the same text
                hits = tuple(dict.fromkeys(known.hits + entry.hits))
            rules = tuple(dict.fromkeys((*known.rules, alert.rule_name)))
            entries[entry.story_id] = dataclasses.replace(known, hits=hits, rules=rules)
    return dataclasses.replace(
        first,
        priority=max((alert.priority for alert in alerts), key=_PRIORITY_ORDER.__getitem__),
        entries=tuple(entries.values()),
        rules=names if len(names) > 1 else (),
    )
