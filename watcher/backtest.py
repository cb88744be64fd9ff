"""Backtesting rules: run (possibly edited) rules over stored items and compare with the hits
recorded for them. Pure: the items and the recorded hits come in, the difference goes out.

Only the rules of the rule files tried take part in the difference: hits of a rule that is not
in them are left out (trying one new rule file does not show every other rule's hits as lost);
a rule that is in them but disabled loses all its hits.

Hits the user marked (``hits mark ID good|bad``) give each rule a precision: the share of its
marked hits that are good, as recorded, and as the rules tried would keep them. Marked hits come
first in the rows, as the ones whose change is known to be a gain or a loss.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from watcher.items import FeedRef
from watcher.matcher import Matcher
from watcher.records import Mark, RecordedHit, StoredItem

Change = Literal["new", "lost"]


@dataclass(frozen=True)
class BacktestRow:
    """A match the rules would make now (``change`` "new" when no hit was recorded, None when one
    was), or a recorded hit they would not make any more (``change`` "lost": score and terms as
    recorded)."""

    item: int  # database id of the item
    feed: str
    title: str
    rule: str
    score: int
    terms: tuple[str, ...]
    change: Change | None
    mark: Mark | None = None  # the user's judgement of the recorded hit


@dataclass
class RuleDifference:
    """One rule's counts over the window."""

    rule: str
    matches: int = 0  # would match now
    recorded: int = 0  # hits recorded
    new: int = 0
    lost: int = 0
    good: int = 0  # recorded hits marked good
    bad: int = 0  # recorded hits marked bad
    lost_good: int = 0  # of those, the ones the rules tried would lose
    lost_bad: int = 0

    @property
    def precision(self) -> float | None:
        """The share of the marked hits that are good, as recorded (None: none marked)."""
        return self.good / (self.good + self.bad) if self.good + self.bad else None

    @property
    def precision_now(self) -> float | None:
        """The same share among the marked hits the rules tried would keep."""
        good, bad = self.good - self.lost_good, self.bad - self.lost_bad
        return good / (good + bad) if good + bad else None


@dataclass
class Backtest:
    """The result: the rows in item order, and per-rule counts by rule id."""

    items: int = 0
    rows: list[BacktestRow] = field(default_factory=list)
    rules: dict[str, RuleDifference] = field(default_factory=dict)

    def total(self) -> RuleDifference:
        """Every rule's counts added up."""
        total = RuleDifference("total")
        for counts in self.rules.values():
            total.matches += counts.matches
            total.recorded += counts.recorded
            total.new += counts.new
            total.lost += counts.lost
            total.good += counts.good
            total.bad += counts.bad
            total.lost_good += counts.lost_good
            total.lost_bad += counts.lost_bad
        return total


def backtest(
    items: Iterable[tuple[StoredItem, FeedRef]],
    matcher: Matcher,
    recorded: Mapping[tuple[int, str], RecordedHit],
    rule_ids: Collection[str],
    tags: Mapping[str, frozenset[str]] | None = None,
) -> Backtest:
    """Match each item with ``matcher`` (respecting each rule's ``feeds``; ``tags``, by feed name,
    replace the stored tags: those of the settings file) and compare with ``recorded``, restricted
    to ``rule_ids`` (the rules of the files tried, enabled or not)."""
    wanted = set(rule_ids)
    by_item: dict[int, list[RecordedHit]] = {}
    for hit in recorded.values():
        if hit.rule in wanted:
            by_item.setdefault(hit.item, []).append(hit)
    result = Backtest(rules={rule: RuleDifference(rule) for rule in sorted(wanted)})
    for stored, stored_feed in items:
        result.items += 1
        feed = stored_feed
        if tags is not None and feed.name in tags:
            feed = FeedRef(feed.name, tags[feed.name])
        was = {hit.rule: hit for hit in by_item.pop(stored.id, ())}
        title = stored.item.title
        for match in matcher.match(stored.item, feed):
            counts = result.rules.setdefault(match.rule_id, RuleDifference(match.rule_id))
            counts.matches += 1
            kept = was.pop(match.rule_id, None)
            change: Change | None = None if kept is not None else "new"
            counts.new += change == "new"
            mark = kept.mark if kept is not None else None
            result.rows.append(
                BacktestRow(
                    stored.id, feed.name, title, match.rule_id, match.score, match.terms, change, mark
                )
            )
        for hit in was.values():
            result.rows.append(_lost(hit, feed.name, title))
    for hits in by_item.values():  # recorded on items the window no longer holds (pruned meanwhile)
        result.rows.extend(_lost(hit, "", "") for hit in hits)
    for hit in recorded.values():
        if hit.rule in wanted:
            counts = result.rules[hit.rule]
            counts.recorded += 1
            counts.good += hit.mark == "good"
            counts.bad += hit.mark == "bad"
    for row in result.rows:
        if row.change == "lost":
            counts = result.rules[row.rule]
            counts.lost += 1
            counts.lost_good += row.mark == "good"
            counts.lost_bad += row.mark == "bad"
    # Marked first (their change is a known gain or loss), then as before: by item.
    result.rows.sort(key=lambda row: row.mark is None)
    return result


def _lost(hit: RecordedHit, feed: str, title: str) -> BacktestRow:
    return BacktestRow(hit.item, feed, title, hit.rule, hit.score, hit.terms, "lost", hit.mark)
