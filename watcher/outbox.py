"""The outbox: pending hits become alerts, alerts become deliveries, deliveries are sent and retried.

Every step is stored before the next begins, so a restart resumes where the last run stopped: a
hit is stored before it is grouped into an alert, an alert with its deliveries (one per target)
before anything is sent, and a delivery is claimed for a short lease while it is sent. A crash
between sending and recording can re-send that one message, never lose one. When to group and
when to retry are pure decisions (``watcher.grouping``); rendering is ``watcher.messages``;
sending is ``watcher.notify``. The clock and the source of randomness are passed in.
"""

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from watcher.alerts import Alert, Report, SendResult, StoryEntry
from watcher.claims import OWNER, owner_gone
from watcher.config import Config
from watcher.grouping import due_at, held_until, policy_for, retry_at
from watcher.messages import merge_templates, render
from watcher.notify import Target
from watcher.rules import Rule
from watcher.store import AlertHit, Delivery, Store, StoredItem
from watcher.text import plain_text

log = logging.getLogger(__name__)

DELIVERY_LEASE: Final = timedelta(minutes=5)  # a crashed dispatcher's delivery is due again after this
DispatchOutcome = Literal["sent", "failed", "dead", "held"]


@dataclass(frozen=True)
class Dispatched:
    """What happened to one delivery in one dispatch."""

    delivery: int
    rule: str
    target: str
    outcome: DispatchOutcome
    error: str | None = None
    retry_at: datetime | None = None


class Outbox:
    """Turns stored hits into sent messages, one step at a time, each step stored."""

    def __init__(
        self,
        store: Store,
        rules: Iterable[Rule],
        config: Config,
        targets: Mapping[str, Target],
        *,
        clock: Callable[[], datetime],
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._rules = {rule.id: rule for rule in rules}
        self._config = config
        self._targets = targets
        self._clock = clock
        self._jitter = jitter

    def plan(self) -> list[int]:
        """Make an alert of each rule's pending hits whose time has come; return the alerts' ids.

        Hits of a rule no longer configured stay pending (kept, not sent) until it returns.
        """
        now = self._clock()
        made = []
        for pending in self._store.pending_rules():
            rule = self._rules.get(pending.rule)
            if rule is None or not rule.enabled:
                continue
            policy = policy_for(rule, self._config.defaults)
            if due_at(policy, pending.first_pending, pending.last_alert) > now:
                continue
            targets = self._targets_of(rule)
            alert = self._store.create_alert(rule.id, targets, now, digest=policy.digest is not None)
            if alert is not None:
                made.append(alert)
                log.info(
                    "alert_created rule=%s alert=%d hits=%d targets=%s",
                    rule.id,
                    alert,
                    pending.hits,
                    ",".join(targets) or "-",
                )
        return made

    def dispatch(self, limit: int | None = None) -> list[Dispatched]:
        """Send the deliveries due now, one at a time (at most ``limit``), recording each.

        First, claims left by a dispatcher of this machine that no longer runs (killed while
        sending) are freed, so a restart re-sends that one message at once rather than after
        the lease.
        """
        gone = {owner for owner in self._store.claimants(self._clock()) if owner_gone(owner)}
        if gone:
            log.warning("delivery_claims_released owners=%s", ",".join(sorted(gone)))
            self._store.release_claims(gone)
        done: list[Dispatched] = []
        while limit is None or len(done) < limit:
            now = self._clock()
            delivery = self._store.claim_delivery(now, DELIVERY_LEASE, OWNER)
            if delivery is None:
                break
            done.append(self._deliver(delivery, now))
        return done

    def alert(self, id: int) -> Alert | None:
        """An alert as stored, its hits grouped into stories (None: no such alert)."""
        stored = self._store.alert(id)
        if stored is None:
            return None
        rule_id, created_at, digest = stored
        rule = self._rules.get(rule_id)
        hits = self._store.alert_hits(id)
        stories: dict[int, list[AlertHit]] = {}
        for hit in hits:
            stories.setdefault(hit.story, []).append(hit)
        members = self._store.story_items(stories)
        return Alert(
            id=id,
            rule_id=rule_id,
            rule_name=rule.title if rule is not None else rule_id,
            priority=rule.priority if rule is not None else "normal",
            created_at=created_at,
            entries=tuple(_entry(story, found, members[story]) for story, found in stories.items()),
            digest=digest,
        )

    def _targets_of(self, rule: Rule) -> list[str]:
        if rule.notify is not None:
            return list(rule.notify)
        return list(self._targets)

    def _deliver(self, delivery: Delivery, now: datetime) -> Dispatched:
        rule = self._rules.get(delivery.rule)
        if rule is not None:
            hold = held_until(policy_for(rule, self._config.defaults), now)
            if hold is not None:
                self._store.hold_delivery(delivery.id, hold)
                log.info(
                    "delivery_held rule=%s target=%s until=%s", rule.id, delivery.target, hold.isoformat()
                )
                return Dispatched(delivery.id, delivery.rule, delivery.target, "held", retry_at=hold)
        result = self._send(delivery, rule)
        if result.ok:
            self._store.record_delivery(delivery.id, self._clock())
            log.info(
                "delivery_sent rule=%s target=%s alert=%d", delivery.rule, delivery.target, delivery.alert
            )
            return Dispatched(delivery.id, delivery.rule, delivery.target, "sent")
        finished = self._clock()
        again = retry_at(delivery.attempts + 1, delivery.first_attempt or now, finished, self._jitter)
        self._store.record_delivery(delivery.id, finished, error=result.reason, retry_at=again)
        if again is None:
            log.error(
                "delivery_dead rule=%s target=%s alert=%d attempts=%d error=%s",
                delivery.rule,
                delivery.target,
                delivery.alert,
                delivery.attempts + 1,
                result.reason,
            )
            return Dispatched(delivery.id, delivery.rule, delivery.target, "dead", result.reason)
        log.warning(
            "delivery_failed rule=%s target=%s alert=%d attempts=%d error=%s retry_at=%s",
            delivery.rule,
            delivery.target,
            delivery.alert,
            delivery.attempts + 1,
            result.reason,
            again.isoformat(timespec="seconds"),
        )
        return Dispatched(delivery.id, delivery.rule, delivery.target, "failed", result.reason, again)

    def _send(self, delivery: Delivery, rule: Rule | None) -> SendResult:
        target = self._targets.get(delivery.target)
        if target is None:
            return SendResult(False, f"target {delivery.target!r} is not in the settings file")
        alert = self.alert(delivery.alert)
        if alert is None or not alert.entries:
            return SendResult(False, f"alert {delivery.alert} has no stored hits left")
        templates = merge_templates(target.templates, rule.templates if rule is not None else None)
        return target.send(render(alert, target.format, templates, target.limits))


def _report(item: StoredItem) -> Report:
    return Report(
        item_id=item.id,
        feed=item.feed,
        source=item.item.source or item.feed,
        title=item.item.title,
        link=item.item.link,
        published=item.item.published,
    )


def _entry(story: int, hits: list[AlertHit], members: list[StoredItem]) -> StoryEntry:
    """One story of an alert: led by its first hit's item, the story's other outlets "also"."""
    lead = hits[0]
    item = lead.item.item
    others = [member for member in members if member.id != lead.item.id]
    return StoryEntry(
        story_id=story,
        lead=_report(lead.item),
        # The matcher's offsets are into plain_text of each field (as the matcher read it).
        text={
            "title": plain_text(item.title),
            "summary": plain_text(item.summary),
            "content": plain_text(item.content),
        },
        hits=lead.hit.hits,
        also=tuple(_report(member) for member in others),
    )
