"""Each rule's event kept in the store: its estimate stored when it changes, the date claims rebuilt.

The poll cycle stores the dates a new hit states with the hit (``timeline.hit_claims``, called
while matching, in the same transaction); then ``update_event`` reads the event of each rule whose
new hits state dates and stores its estimate when it changed (``timeline.changed``): a stored
change is what an alert on a new date will be made of. ``rebuild`` computes the claims of stored
hits again, from their items and matched terms, when the date grammar or the hits changed.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.alerts import DateChange
from watcher.records import EventDate, EventState
from watcher.store import Store
from watcher.timeline import changed, event, hit_claims

log = logging.getLogger(__name__)

REBUILD_BATCH = 500  # hits read, and their claims replaced, at a time


@dataclass(frozen=True)
class Rebuilt:
    """What ``rebuild`` did."""

    hits: int  # hits read
    claims: int  # date claims stored
    changed: tuple[str, ...]  # the rules whose estimate changed, by id


def update_event(store: Store, rule: str, now: datetime) -> bool:
    """Read the event of ``rule`` from its stored reports and store its estimate if it changed;
    return whether this call stored a change (another daemon may have stored it first)."""
    estimate = event(rule, store.rule_date_reports(rule), now).estimate
    stored = store.event_state(rule)
    before = None if stored is None else stored.date
    after = None if estimate is None else estimate.date
    if not changed(before, after):
        return False
    state = None if estimate is None else EventState(rule, estimate.date, estimate.text, now)
    change = None
    if estimate is not None:  # a date no longer stated is no news to send
        first = estimate.first.report
        change = DateChange(
            estimate.date, before, estimate.text, first.outlet, first.published, estimate.outlets
        ).to_json()
    if not store.set_event_state(rule, before, state, change):
        return False
    log.info("event_date_changed rule=%s date=%s was=%s", rule, _logged(after), _logged(before))
    return True


def catch_up(store: Store, rules: Sequence[str], now: datetime) -> tuple[str, ...]:
    """Store the changed estimates of ``rules`` that a poll stored the hits of but not the change
    (the daemon was killed in between); return those rules. Run at start-up, so that no change
    goes unalerted."""
    caught = tuple(rule for rule in rules if update_event(store, rule, now))
    if caught:
        log.warning("events_recovered rules=%s", ",".join(caught))
    return caught


def rebuild(store: Store, rules: Sequence[str], now: datetime) -> Rebuilt:
    """Compute the date claims of the stored hits of ``rules`` (all when empty) again, then update
    the events of their rules."""
    hits = claims = after = 0
    touched: set[str] = set()
    while batch := store.hits_with_items(rules, after, REBUILD_BATCH):
        found = {hit.id: hit_claims(stored.item, hit.hits, stored.fetched_at) for hit, stored in batch}
        claims += store.replace_date_claims(found)
        hits += len(batch)
        touched |= {hit.rule for hit, _ in batch}
        after = batch[-1][0].id
    return Rebuilt(hits, claims, tuple(rule for rule in sorted(touched) if update_event(store, rule, now)))


def _logged(when: EventDate | None) -> str:
    return "none" if when is None else f"{when.start}..{when.end}/{when.precision}"
