"""The outbox: pending hits become alerts, alerts become deliveries, deliveries are sent and retried.

Every step is stored before the next begins, so a restart resumes where the last run stopped: a
hit is stored before it is grouped into an alert, an alert with its deliveries (one per target)
before anything is sent, and a delivery is claimed for a short lease while it is sent. A crash
between sending and recording can re-send that one message, never lose one. When to group and
when to retry are pure decisions (``watcher.grouping``); rendering is ``watcher.messages``;
sending is ``watcher.notify``. The clock and the source of randomness are passed in.

Each target has its own sender (a thread per dispatch), so a slow or hanging service holds
only its own deliveries; a sender records each delivery before claiming the next of its
target. A target that answers again (a send to it succeeds) has its other failed deliveries
made due at once rather than after their backoff.
"""

import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from watcher.alerts import Alert, DateChange, Report, SendResult, StoryEntry, merge_alerts
from watcher.claims import OWNER, owner_gone
from watcher.config import Config
from watcher.errors import WatcherError
from watcher.grouping import due_at, held_until, policy_for, retry_at
from watcher.messages import merge_templates, render
from watcher.notify import Target
from watcher.records import AlertHit, Delivery, StoredItem
from watcher.rules import Rule
from watcher.store import Store
from watcher.text import plain_text

log = logging.getLogger(__name__)

DELIVERY_LEASE: Final = timedelta(minutes=5)  # a crashed dispatcher's delivery is due again after this
# How long ``dispatch`` waits for the targets' senders by default: less than the daemon's 2 s
# tick, so a hanging service never holds the next round of the others.
DISPATCH_WAIT: Final = timedelta(seconds=1)
DispatchOutcome = Literal["sent", "failed", "dead", "held", "dropped"]


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
        self._lock = threading.Lock()
        self._sending: set[str] = set()  # targets whose sender is still at work
        self._late: list[Dispatched] = []  # outcomes recorded after their dispatch returned

    def plan(self) -> list[int]:
        """Make an alert of each rule's pending hits whose time has come, and give the date-change
        alerts stored since the last plan their deliveries; return the alerts' ids.

        Hits of a rule no longer configured stay pending (kept, not sent) until it returns. A rule
        alerts on what its ``notify_on`` says; what it does not alert on becomes history (an alert
        with no delivery).
        """
        now = self._clock()
        made = self._plan_date_changes(now)
        for pending in self._store.pending_rules():
            rule = self._rules.get(pending.rule)
            if rule is None or not rule.enabled:
                continue
            policy = policy_for(rule, self._config.defaults)
            if due_at(policy, pending.first_pending, pending.last_alert) > now:
                continue
            targets = self._targets_of(rule) if "hit" in rule.notify_on else []
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

    def _plan_date_changes(self, now: datetime) -> list[int]:
        made = []
        for alert, rule_id in self._store.unplanned_alerts():
            rule = self._rules.get(rule_id)
            if rule is None or not rule.enabled:
                continue
            targets = self._targets_of(rule) if "date_change" in rule.notify_on else []
            if self._store.plan_alert(alert, targets, now):
                made.append(alert)
                log.info(
                    "alert_created rule=%s alert=%d kind=date_change targets=%s",
                    rule.id,
                    alert,
                    ",".join(targets) or "-",
                )
        return made

    def dispatch(
        self, limit: int | None = None, *, wait: timedelta | None = DISPATCH_WAIT
    ) -> list[Dispatched]:
        """Send the deliveries due now (at most ``limit`` in all), each target by its own sender,
        one delivery at a time, recording each before the next; return what happened.

        The call waits for the senders at most ``wait`` (None: until they are done). A sender
        still busy then finishes the send in hand (Apprise's socket timeouts end a hanging one),
        records it and stops; the next call returns that outcome and starts no second sender for
        its target meanwhile. So a hanging service holds neither the others nor the caller, and
        what was not reached stays due. (That memory is this outbox's: the one a reload makes may
        start a sender beside an old one finishing its send; each delivery is still claimed once.)

        First, claims left by a dispatcher of this machine that no longer runs (killed while
        sending) are freed, so a restart re-sends that one message at once rather than after
        the lease.
        """
        now = self._clock()
        gone = {owner for owner in self._store.claimants(now) if owner_gone(owner)}
        if gone:
            log.warning("delivery_claims_released owners=%s", ",".join(sorted(gone)))
            self._store.release_claims(gone)
        due = self._store.due_targets(now)
        with self._lock:
            late, self._late = self._late, []
            targets = [target for target in due if target not in self._sending]
            self._sending.update(targets)
        run = _Run(limit)
        if targets:
            pool = ThreadPoolExecutor(len(targets), thread_name_prefix="sender")
            senders = [pool.submit(self._send_all, target, run) for target in targets]
            pool.shutdown(wait=False)  # its threads end with their senders
            futures.wait(senders, timeout=None if wait is None else wait.total_seconds())
        done, error = run.end()
        if error is not None:
            raise error
        return late + done

    def _send_all(self, target: str, run: "_Run") -> None:
        """The sender of ``target``: its due deliveries, one at a time, while ``run`` lasts."""
        try:
            while run.take():
                now = self._clock()
                try:
                    delivery = self._store.claim_delivery(now, DELIVERY_LEASE, OWNER, target=target)
                    outcomes = None if delivery is None else self._deliver(delivery, now)
                except Exception as e:
                    run.release()
                    if not run.fail(e):  # nobody else will hear of it
                        log.error(
                            "sender_failed target=%s error=%s",
                            target,
                            e,
                            exc_info=not isinstance(e, WatcherError),
                        )
                    return
                if outcomes is None:
                    run.release()
                    return
                if not run.record(outcomes):
                    with self._lock:
                        self._late.extend(outcomes)
        finally:
            with self._lock:
                self._sending.discard(target)

    def alert(self, id: int) -> Alert | None:
        """An alert as stored, its hits grouped into stories (None: no such alert)."""
        stored = self._store.alert(id)
        if stored is None:
            return None
        rule = self._rules.get(stored.rule)
        hits = self._store.alert_hits(id)
        stories: dict[int, list[AlertHit]] = {}
        for hit in hits:
            stories.setdefault(hit.story, []).append(hit)
        members = self._store.story_items(stories)
        return Alert(
            id=id,
            rule_id=stored.rule,
            rule_name=rule.title if rule is not None else stored.rule,
            priority=rule.priority if rule is not None else "normal",
            created_at=stored.created_at,
            entries=tuple(_entry(story, found, members[story]) for story, found in stories.items()),
            digest=stored.digest,
            change=None if stored.change is None else DateChange.from_json(stored.change),
        )

    def _targets_of(self, rule: Rule) -> list[str]:
        if rule.notify is not None:
            return list(rule.notify)
        return list(self._targets)

    def _deliver(self, delivery: Delivery, now: datetime) -> list[Dispatched]:
        """Send one claimed delivery, with the target's other due deliveries on the same stories
        when it takes one message per story; record each. One outcome per delivery."""
        rule = self._rules.get(delivery.rule)
        if rule is not None:
            hold = held_until(policy_for(rule, self._config.defaults), now)
            if hold is not None:
                self._store.hold_delivery(delivery.id, hold)
                log.info(
                    "delivery_held rule=%s target=%s until=%s", rule.id, delivery.target, hold.isoformat()
                )
                return [Dispatched(delivery.id, delivery.rule, delivery.target, "held", retry_at=hold)]
        alert = self.alert(delivery.alert)
        if alert is None or not (alert.entries or alert.change):
            return [self._drop(delivery)]
        sent = [delivery]
        if alert.entries and not alert.digest and self._config.group_by(delivery.target) == "story":
            companions = self._store.claim_companions(
                delivery,
                [entry.story_id for entry in alert.entries],
                now,
                DELIVERY_LEASE,
                OWNER,
                skip_rules=self._held_rules(now),
            )
            alerts = [alert]
            for companion in companions:
                joined = self.alert(companion.alert)
                if joined is None or not joined.entries:
                    self._drop(companion)
                else:
                    sent.append(companion)
                    alerts.append(joined)
            alert = merge_alerts(alerts)
        result = self._send(delivery, rule, alert)
        return self._record(sent, result)

    def _held_rules(self, now: datetime) -> list[str]:
        """The rules inside their quiet hours at ``now``: their deliveries wait, joined to none."""
        return [
            rule.id
            for rule in self._rules.values()
            if held_until(policy_for(rule, self._config.defaults), now) is not None
        ]

    def _drop(self, delivery: Delivery) -> Dispatched:
        # Its hits joined an earlier alert of their story (the story was joined after this
        # alert was made): they are history, and there is nothing left to send.
        self._store.drop_delivery(delivery.id)
        log.info(
            "delivery_dropped rule=%s target=%s alert=%d reason=no hits left (joined an earlier alert)",
            delivery.rule,
            delivery.target,
            delivery.alert,
        )
        return Dispatched(delivery.id, delivery.rule, delivery.target, "dropped")

    def _record(self, sent: list[Delivery], result: SendResult) -> list[Dispatched]:
        """Record one message's result for each delivery it carried (the first one leads): sent,
        or failed and due again together, after the first one's backoff."""
        finished = self._clock()
        lead = sent[0]
        if result.ok:
            for delivery in sent:
                self._store.record_delivery(delivery.id, finished)
                log.info(
                    "delivery_sent rule=%s target=%s alert=%d", delivery.rule, delivery.target, delivery.alert
                )
            target_answered(self._store, lead.target, finished)
            return [Dispatched(delivery.id, delivery.rule, delivery.target, "sent") for delivery in sent]
        again = retry_at(lead.first_attempt or finished, finished, self._jitter)
        outcomes = []
        for delivery in sent:
            self._store.record_delivery(delivery.id, finished, error=result.reason, retry_at=again)
            outcomes.append(self._failed(delivery, result.reason, again))
        return outcomes

    @staticmethod
    def _failed(delivery: Delivery, reason: str | None, again: datetime | None) -> Dispatched:
        if again is None:
            log.error(
                "delivery_dead rule=%s target=%s alert=%d attempts=%d error=%s",
                delivery.rule,
                delivery.target,
                delivery.alert,
                delivery.attempts + 1,
                reason,
            )
            return Dispatched(delivery.id, delivery.rule, delivery.target, "dead", reason)
        log.warning(
            "delivery_failed rule=%s target=%s alert=%d attempts=%d error=%s retry_at=%s",
            delivery.rule,
            delivery.target,
            delivery.alert,
            delivery.attempts + 1,
            reason,
            again.isoformat(timespec="seconds"),
        )
        return Dispatched(delivery.id, delivery.rule, delivery.target, "failed", reason, again)

    def _send(self, delivery: Delivery, rule: Rule | None, alert: Alert) -> SendResult:
        target = self._targets.get(delivery.target)
        if target is None:
            return SendResult(False, f"target {delivery.target!r} is not in the settings file")
        templates = merge_templates(target.templates, rule.templates if rule is not None else None)
        return target.send(render(alert, target.format, templates, target.limits))


def target_answered(store: Store, target: str, now: datetime) -> int:
    """``target`` took a message: its deliveries waiting out a backoff are due at ``now``,
    not up to an hour later; return how many."""
    woken = store.wake_target(target, now)
    if woken:
        log.info("target_recovered target=%s woken=%d", target, woken)
    return woken


class _Run:
    """What the senders of one ``dispatch`` share: the room left under its limit, what they did,
    and whether the call has returned (a sender then stops after the send in hand)."""

    def __init__(self, limit: int | None) -> None:
        self._changed = threading.Condition()
        self._room = limit
        self._taken = 0  # room taken by senders that have not recorded or released it yet
        self._done: list[Dispatched] = []
        self._error: Exception | None = None
        self._over = False

    def take(self) -> bool:
        """Room for one more delivery: False once the call has returned or the limit is spent.
        Room another sender holds may come back (it found nothing to send): that is waited for."""
        with self._changed:
            while not self._over and self._room == 0 and self._taken:
                self._changed.wait()
            if self._over or self._room == 0:
                return False
            if self._room is not None:
                self._room -= 1
            self._taken += 1
            return True

    def release(self) -> None:
        """Give back the room taken: nothing was sent with it."""
        with self._changed:
            self._taken -= 1
            if self._room is not None:
                self._room += 1
            self._changed.notify_all()

    def record(self, outcomes: list[Dispatched]) -> bool:
        """``outcomes`` (of one message) used the room taken; False if the call has returned
        without them."""
        with self._changed:
            self._taken -= 1
            self._changed.notify_all()
            if not self._over:
                self._done.extend(outcomes)
            return not self._over

    def fail(self, error: Exception) -> bool:
        """A sender stopped on ``error``; False unless the call will raise it (the first error,
        before the call returns)."""
        with self._changed:
            if self._over or self._error is not None:
                return False
            self._error = error
            return True

    def end(self) -> tuple[list[Dispatched], Exception | None]:
        """The call returns: what was done so far, and the first error."""
        with self._changed:
            self._over = True
            self._changed.notify_all()
            return list(self._done), self._error


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
