"""Feed items as frozen values: what the matcher reads and the store keeps."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Item:
    """One news item. ``title``, ``summary`` and ``content`` may hold HTML; matching strips it."""

    id: str
    title: str = ""
    summary: str = ""
    content: str = ""
    link: str | None = None
    published: datetime | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class FeedRef:
    """The feed an item came from, for rules limited to some feeds (by name or tag)."""

    name: str
    tags: frozenset[str] = frozenset()
