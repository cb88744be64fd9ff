"""When a rule's pending hits become one alert, and when a failed delivery is tried again.

Pure decisions on values and clock times (no I/O, no clock of its own), so the outbox can ask
them after every change and across restarts. Every time in and out is an aware datetime; out
it is UTC. Wall-clock times (quiet hours, digest times) are read in their own time zone with
PEP 495's ``fold=0``: a time skipped by a DST change is read with the offset before the change
(01:30 on a spring-forward night in London is 02:30 BST), a repeated time is its first occurrence.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from watcher.config import Defaults
from watcher.rules import Digest, QuietHours, Rule

RETRY_FIRST_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(hours=1)
RETRY_JITTER = 0.2  # each delay is spread by +-20%, so deliveries failing together do not retry together
DELIVERY_DEADLINE = timedelta(hours=48)  # a delivery still failing this long after its first try is dead
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    """How a rule's hits are batched and held: the rule's own values, else the config's defaults."""

    group_wait: timedelta
    cooldown: timedelta
    quiet_hours: QuietHours | None = None
    digest: Digest | None = None


def policy_for(rule: Rule, defaults: Defaults) -> Policy:
    """The alerting policy of ``rule``; a value the rule leaves unset comes from ``defaults``."""
    return Policy(
        group_wait=defaults.group_wait if rule.group_wait is None else rule.group_wait,
        cooldown=defaults.cooldown if rule.cooldown is None else rule.cooldown,
        quiet_hours=rule.quiet_hours,
        digest=rule.digest,
    )


def due_at(policy: Policy, first_pending: datetime, last_alert: datetime | None) -> datetime:
    """When the rule's pending hits (the first of them at ``first_pending``) are sent as one alert.

    Without a digest: ``group_wait`` after the first pending hit, so the hits that follow it
    closely join the same message, but never sooner than ``cooldown`` after the rule's last
    alert. With a digest: the first digest time at or after the first pending hit (a digest
    covers the hits since the previous one) and strictly after the last alert (so one digest
    time never sends twice); ``group_wait`` and ``cooldown`` do not apply. Either way, a time
    inside quiet hours moves to their end.
    """
    _check_aware(first_pending, "first_pending")
    if last_alert is not None:
        _check_aware(last_alert, "last_alert")
    if policy.digest is not None:
        due = _next_digest(policy.digest, first_pending, last_alert)
    else:
        due = first_pending + policy.group_wait
        if last_alert is not None:
            due = max(due, last_alert + policy.cooldown)
    return (held_until(policy, due) or due).astimezone(UTC)


def held_until(policy: Policy, now: datetime) -> datetime | None:
    """If ``now`` is inside the rule's quiet hours, when they end (deliveries wait until then).

    The window is ``[start, end)`` in the rule's time zone and spans midnight when ``end`` is
    earlier than ``start`` (22:00-07:00). A window whose start equals its end is empty: holding
    all day would never deliver, and quiet hours hold alerts, they never drop them.
    """
    _check_aware(now, "now")
    quiet = policy.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = ZoneInfo(quiet.timezone)
    today = now.astimezone(zone).date()
    for day in (today - _ONE_DAY, today):  # a window that spans midnight began yesterday
        start = _instant(day, quiet.start, zone)
        end = _instant(day + _ONE_DAY if quiet.end < quiet.start else day, quiet.end, zone)
        if start <= now < end:
            return end
    return None


def retry_at(first_attempt: datetime, now: datetime, random: Callable[[], float]) -> datetime | None:
    """When to try a delivery again after a failure at ``now``; None once it is dead.

    The delay is as long as the delivery has been failing (since ``first_attempt``), at least
    30 s and at most 1 h, spread by +-20% (``random()`` in [0, 1)): tries at 0, 30 s, 1, 2, 4 ...
    minutes, then hourly. It is reckoned from time, not from the number of attempts, so the
    attempt count stays a plain record and ``notify retry`` starts the backoff afresh by clearing
    ``first_attempt``. A delivery that still fails 48 h after its first attempt is dead; the last
    retry is scheduled no later than that deadline, so a delivery gets a final try right at it.
    """
    _check_aware(first_attempt, "first_attempt")
    _check_aware(now, "now")
    deadline = first_attempt + DELIVERY_DEADLINE
    if now >= deadline:
        return None
    failing = min(max(now - first_attempt, RETRY_FIRST_DELAY), RETRY_MAX_DELAY)
    delay = failing * (1 + RETRY_JITTER * (2 * random() - 1))
    return min(now + delay, deadline).astimezone(UTC)


def _next_digest(digest: Digest, first_pending: datetime, last_alert: datetime | None) -> datetime:
    zone = ZoneInfo(digest.timezone)
    day = first_pending.astimezone(zone).date() - _ONE_DAY  # fold=0 can move a time past midnight
    while True:
        for at in sorted(digest.at):
            due = _instant(day, at, zone)
            if due >= first_pending and (last_alert is None or due > last_alert):
                return due
        day += _ONE_DAY


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time of ``day`` is in ``zone``, read with ``fold=0`` (see module)."""
    return datetime.combine(day, wall.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not naive {value.isoformat()}")
