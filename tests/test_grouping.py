"""When pending hits become an alert, quiet hours, digests and delivery retries; pure, with fixed clocks."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from watcher.config import Defaults
from watcher.grouping import (
    DELIVERY_DEADLINE,
    RETRY_FIRST_DELAY,
    RETRY_JITTER,
    RETRY_MAX_DELAY,
    Policy,
    due_at,
    held_until,
    policy_for,
    retry_at,
)
from watcher.rules import Digest, QuietHours, Rule

MINUTE = timedelta(minutes=1)
NIGHT_LONDON = QuietHours(start=time(22), end=time(7), timezone="Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def policy(
    group_wait: timedelta = MINUTE,
    cooldown: timedelta = timedelta(0),
    quiet_hours: QuietHours | None = None,
    digest: Digest | None = None,
) -> Policy:
    return Policy(group_wait, cooldown, quiet_hours, digest)


# -- policy_for: the rule's values, else the config's defaults -----------------------------------


def test_policy_takes_the_rules_values_and_the_defaults_for_the_rest() -> None:
    rule = Rule.model_validate(
        {
            "id": "r",
            "match": {"any": "putin"},
            "cooldown": "30m",
            "quiet_hours": {"start": "22:00", "end": "07:00"},
        }
    )
    defaults = Defaults(group_wait=timedelta(minutes=2), cooldown=timedelta(minutes=5))
    assert policy_for(rule, defaults) == Policy(
        group_wait=timedelta(minutes=2),
        cooldown=timedelta(minutes=30),
        quiet_hours=QuietHours(start=time(22), end=time(7)),
        digest=None,
    )


def test_a_rule_can_set_a_zero_group_wait_below_the_default() -> None:
    rule = Rule.model_validate({"id": "r", "match": {"any": "putin"}, "group_wait": 0})
    assert policy_for(rule, Defaults()) == Policy(group_wait=timedelta(0), cooldown=timedelta(0))


# -- due_at without a digest: group_wait, cooldown, quiet hours ---------------------------------


@pytest.mark.parametrize(
    ("rule_policy", "first_pending", "last_alert", "expected"),
    [
        pytest.param(policy(), utc(2026, 1, 10, 12), None, utc(2026, 1, 10, 12, 1), id="group-wait"),
        pytest.param(
            policy(group_wait=timedelta(0)), utc(2026, 1, 10, 12), None, utc(2026, 1, 10, 12), id="no-wait"
        ),
        pytest.param(
            policy(cooldown=timedelta(minutes=10)),
            utc(2026, 1, 10, 12),
            utc(2026, 1, 10, 11, 55),
            utc(2026, 1, 10, 12, 5),
            id="cooldown-spaces-alerts",
        ),
        pytest.param(
            policy(cooldown=timedelta(minutes=10)),
            utc(2026, 1, 10, 12),
            utc(2026, 1, 10, 10),
            utc(2026, 1, 10, 12, 1),
            id="cooldown-long-over",
        ),
        pytest.param(
            policy(group_wait=timedelta(minutes=5), cooldown=timedelta(minutes=5)),
            utc(2026, 1, 10, 12),
            utc(2026, 1, 10, 12),
            utc(2026, 1, 10, 12, 5),
            id="both-equal",
        ),
        # quiet hours 22:00-07:00 in London: GMT (= UTC) in January
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 10, 21, 58),
            None,
            utc(2026, 1, 10, 21, 59),
            id="before-quiet",
        ),
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 10, 21, 59),
            None,
            utc(2026, 1, 11, 7),
            id="quiet-starts",
        ),
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 10, 23, 30),
            None,
            utc(2026, 1, 11, 7),
            id="before-midnight",
        ),
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 11, 3),
            None,
            utc(2026, 1, 11, 7),
            id="after-midnight",
        ),
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 11, 6, 59),
            None,
            utc(2026, 1, 11, 7),
            id="quiet-ends",
        ),
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 11, 7),
            None,
            utc(2026, 1, 11, 7, 1),
            id="after-quiet",
        ),
        # in July London is on BST (UTC+1): 22:00-07:00 BST is 21:00-06:00 UTC
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON),
            utc(2026, 7, 10, 21, 30),
            None,
            utc(2026, 7, 11, 6),
            id="summer-time",
        ),
        # clocks go forward at 01:00 UTC on Sunday 29 March 2026: the night is an hour shorter
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON), utc(2026, 3, 28, 23), None, utc(2026, 3, 29, 6), id="dst-starts"
        ),
        # clocks go back at 01:00 UTC on Sunday 25 October 2026: the night is an hour longer
        pytest.param(
            policy(quiet_hours=NIGHT_LONDON), utc(2026, 10, 24, 22), None, utc(2026, 10, 25, 7), id="dst-ends"
        ),
        # 01:30 does not exist on 29 March (01:00 -> 02:00): read as 01:30 GMT, i.e. 02:30 BST
        pytest.param(
            policy(quiet_hours=QuietHours(start=time(22), end=time(1, 30), timezone="Europe/London")),
            utc(2026, 3, 28, 23),
            None,
            utc(2026, 3, 29, 1, 30),
            id="end-skipped-by-dst",
        ),
        # 01:30 happens twice on 25 October: the window ends at the first one (01:30 BST)
        pytest.param(
            policy(quiet_hours=QuietHours(start=time(22), end=time(1, 30), timezone="Europe/London")),
            utc(2026, 10, 24, 23),
            None,
            utc(2026, 10, 25, 0, 30),
            id="end-repeated-by-dst",
        ),
        # a daytime window (start < end) in India (UTC+5:30): 09:00-17:00 IST is 03:30-11:30 UTC
        pytest.param(
            policy(quiet_hours=QuietHours(start=time(9), end=time(17), timezone="Asia/Kolkata")),
            utc(2026, 1, 10, 5),
            None,
            utc(2026, 1, 10, 11, 30),
            id="daytime-window",
        ),
        pytest.param(
            policy(quiet_hours=QuietHours(start=time(9), end=time(9))),
            utc(2026, 1, 10, 9),
            None,
            utc(2026, 1, 10, 9, 1),
            id="start-equals-end-is-empty",
        ),
        pytest.param(
            policy(cooldown=timedelta(hours=2), quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 10, 20),
            utc(2026, 1, 10, 20, 30),
            utc(2026, 1, 11, 7),
            id="cooldown-into-quiet-hours",
        ),
    ],
)
def test_due_at(
    rule_policy: Policy, first_pending: datetime, last_alert: datetime | None, expected: datetime
) -> None:
    due = due_at(rule_policy, first_pending, last_alert)
    assert due == expected
    assert due.tzinfo is UTC


def test_due_at_accepts_aware_times_in_any_zone_and_answers_in_utc() -> None:
    first = datetime(2026, 1, 10, 17, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    due = due_at(policy(), first, None)
    assert due == utc(2026, 1, 10, 12, 1)
    assert due.tzinfo is UTC


# -- held_until: whether the dispatcher holds a rule's deliveries now ---------------------------


@pytest.mark.parametrize(
    ("quiet_hours", "now", "expected"),
    [
        pytest.param(None, utc(2026, 1, 10, 23), None, id="no-quiet-hours"),
        pytest.param(NIGHT_LONDON, utc(2026, 1, 10, 23), utc(2026, 1, 11, 7), id="inside"),
        pytest.param(NIGHT_LONDON, utc(2026, 1, 10, 12), None, id="outside"),
        pytest.param(NIGHT_LONDON, utc(2026, 1, 10, 22), utc(2026, 1, 11, 7), id="start-is-inside"),
        pytest.param(NIGHT_LONDON, utc(2026, 1, 11, 7), None, id="end-is-outside"),
        pytest.param(QuietHours(start=time(0), end=time(0)), utc(2026, 1, 10), None, id="empty-window"),
    ],
)
def test_held_until(quiet_hours: QuietHours | None, now: datetime, expected: datetime | None) -> None:
    assert held_until(policy(quiet_hours=quiet_hours), now) == expected


# -- due_at with a digest ------------------------------------------------------------------------

TWICE_A_DAY_INDIA = Digest(at=(time(18), time(9)), timezone="Asia/Kolkata")  # 12:30 and 03:30 UTC


@pytest.mark.parametrize(
    ("rule_policy", "first_pending", "last_alert", "expected"),
    [
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 2),
            None,
            utc(2026, 1, 10, 3, 30),
            id="next-time",
        ),
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 3, 30),
            None,
            utc(2026, 1, 10, 3, 30),
            id="hit-at-digest-time-is-in-it",
        ),
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 3, 30),
            utc(2026, 1, 10, 3, 30),
            utc(2026, 1, 10, 12, 30),
            id="a-digest-time-sends-once",
        ),
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 4),
            None,
            utc(2026, 1, 10, 12, 30),
            id="second-time",
        ),
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 13),
            None,
            utc(2026, 1, 11, 3, 30),
            id="next-day",
        ),
        pytest.param(
            policy(digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 9, 20),  # 01:30 IST on the 10th: the previous UTC day
            None,
            utc(2026, 1, 10, 3, 30),
            id="zone-date-differs",
        ),
        pytest.param(
            policy(group_wait=timedelta(hours=5), cooldown=timedelta(days=1), digest=TWICE_A_DAY_INDIA),
            utc(2026, 1, 10, 2),
            utc(2026, 1, 9, 12, 30),
            utc(2026, 1, 10, 3, 30),
            id="no-group-wait-or-cooldown",
        ),
        pytest.param(
            policy(digest=Digest(at=(time(8),), timezone="Europe/London")),
            utc(2026, 3, 28, 12),
            None,
            utc(2026, 3, 29, 7),  # 08:00 BST
            id="across-dst",
        ),
        pytest.param(
            policy(digest=Digest(at=(time(6),), timezone="Europe/London"), quiet_hours=NIGHT_LONDON),
            utc(2026, 1, 10, 12),
            None,
            utc(2026, 1, 11, 7),
            id="held-by-quiet-hours",
        ),
    ],
)
def test_due_at_with_a_digest(
    rule_policy: Policy, first_pending: datetime, last_alert: datetime | None, expected: datetime
) -> None:
    assert due_at(rule_policy, first_pending, last_alert) == expected


# -- naive datetimes are bugs --------------------------------------------------------------------

NAIVE = datetime(2026, 1, 10, 12)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="first_pending"):
        due_at(policy(), NAIVE, None)
    with pytest.raises(ValueError, match="last_alert"):
        due_at(policy(), utc(2026, 1, 10), NAIVE)
    with pytest.raises(ValueError, match="now"):
        held_until(policy(quiet_hours=NIGHT_LONDON), NAIVE)
    with pytest.raises(ValueError, match="first_attempt"):
        retry_at(NAIVE, utc(2026, 1, 10), lambda: 0.5)
    with pytest.raises(ValueError, match="now"):
        retry_at(utc(2026, 1, 10), NAIVE, lambda: 0.5)


# -- retry_at: as long again as the delivery has been failing, with jitter, dead after 48 h --------

FIRST_TRY = utc(2026, 1, 10, 12)


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        (timedelta(0), timedelta(seconds=30)),
        (timedelta(seconds=30), timedelta(seconds=30)),
        (timedelta(seconds=60), timedelta(seconds=60)),
        (timedelta(minutes=32), timedelta(minutes=32)),
        (timedelta(minutes=64), timedelta(hours=1)),  # capped
        (timedelta(hours=40), timedelta(hours=1)),
    ],
)
def test_retry_waits_as_long_as_the_delivery_has_been_failing(
    failing: timedelta, expected: timedelta
) -> None:
    now = FIRST_TRY + failing
    assert retry_at(FIRST_TRY, now, lambda: 0.5) == now + expected


def test_retries_come_at_30_s_then_doubling_gaps_up_to_an_hour() -> None:
    tries, at = [], FIRST_TRY
    while at is not None and len(tries) < 10:
        tries.append(at - FIRST_TRY)
        at = retry_at(FIRST_TRY, at, lambda: 0.5)
    assert [int(t.total_seconds()) for t in tries] == [0, 30, 60, 120, 240, 480, 960, 1920, 3840, 7440]


@pytest.mark.parametrize("failing", [timedelta(seconds=n) for n in (0, 20, 45, 300, 3000, 9000)])
@pytest.mark.parametrize("random", [0.0, 0.25, 0.999999])
def test_retry_jitter_stays_within_twenty_percent(failing: timedelta, random: float) -> None:
    now = FIRST_TRY + failing
    retry = retry_at(FIRST_TRY, now, lambda: random)
    assert retry is not None
    assert retry.tzinfo is UTC
    assert RETRY_FIRST_DELAY * (1 - RETRY_JITTER) <= retry - now <= RETRY_MAX_DELAY * (1 + RETRY_JITTER)


def test_retry_jitter_spreads_both_ways() -> None:
    assert retry_at(FIRST_TRY, FIRST_TRY, lambda: 0.0) == FIRST_TRY + timedelta(seconds=24)
    assert retry_at(FIRST_TRY, FIRST_TRY, lambda: 0.75) == FIRST_TRY + timedelta(seconds=33)


@pytest.mark.parametrize(
    ("since_first", "expected"),
    [
        pytest.param(timedelta(hours=47), timedelta(hours=48), id="last-retry-at-the-deadline"),
        pytest.param(DELIVERY_DEADLINE - timedelta(seconds=1), DELIVERY_DEADLINE, id="just-alive"),
        pytest.param(DELIVERY_DEADLINE, None, id="dead-at-48h"),
        pytest.param(timedelta(days=30), None, id="long-dead"),
    ],
)
def test_a_delivery_is_dead_48_hours_after_its_first_attempt(
    since_first: timedelta, expected: timedelta | None
) -> None:
    retry = retry_at(FIRST_TRY, FIRST_TRY + since_first, lambda: 0.5)
    assert retry == (None if expected is None else FIRST_TRY + expected)
