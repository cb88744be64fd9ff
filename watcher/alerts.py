"""Alerts as frozen values: what the outbox hands to rendering, and what rendering hands to a target.

A hit becomes part of an ``Alert`` (one message of one rule); hits on the same story (near-duplicate
items from several outlets) become one ``StoryEntry`` with "also reported by". Rendering
(``watcher.messages``) turns an alert into a ``Message`` in a target's format; a target
(``watcher.notify``) sends it and reports a ``SendResult``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from watcher.records import TermHit

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


@dataclass(frozen=True, slots=True)
class Alert:
    """One message of one rule: its stories, in the order their first hit arrived."""

    id: int
    rule_id: str
    rule_name: str
    priority: Priority
    created_at: datetime
    entries: tuple[StoryEntry, ...]
    digest: bool = False  # a scheduled summary rather than a prompt alert


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
