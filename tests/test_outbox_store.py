"""The outbox tables on SQLite and PostgreSQL: alerts take pending hits once, stories fold later
outlets into the alert already made, deliveries are claimed, leased, retried and given up."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from watcher.config import FeedConfig
from watcher.items import Item
from watcher.records import NewHit
from watcher.store import Store

NOW = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
OWNER = "desk:1"


def add_item(store: Store, feed: str, key: str, at: datetime = NOW) -> int:
    """Store one item of ``feed`` (created if needed) and return its id."""
    store.sync_feeds(
        [
            FeedConfig(name=name, url=f"https://news.example/{name}.xml")
            for name in ("alpha", "beta", "gamma")
        ],
        None,
        at,
    )
    (stored,) = store.add_items(feed, [Item(id=key, title=f"title {key}", link=f"https://{feed}/{key}")], at)
    return stored.id


def hit(store: Store, item: int, rule: str = "summit", at: datetime = NOW) -> None:
    assert store.add_hits([NewHit(rule, item, 100, ("putin",), ())], at) == 1


def test_an_alert_takes_every_pending_hit_of_its_rule_once(store: Store) -> None:
    first, second, other = (
        add_item(store, "alpha", "a1"),
        add_item(store, "alpha", "a2"),
        add_item(store, "beta", "b1"),
    )
    hit(store, first)
    hit(store, second, at=NOW + timedelta(seconds=10))
    hit(store, other, rule="lavrov")

    (lavrov, summit) = store.pending_rules()  # by rule id
    assert (summit.rule, summit.first_pending, summit.hits, summit.last_alert) == ("summit", NOW, 2, None)
    assert (lavrov.rule, lavrov.hits) == ("lavrov", 1)

    alert = store.create_alert("summit", ["mail", "slack"], NOW + timedelta(minutes=1))
    assert alert is not None
    assert [h.item.id for h in store.alert_hits(alert)] == [first, second]
    assert sorted((d.target, d.state, d.rule) for d in store.deliveries()) == [
        ("mail", "pending", "summit"),
        ("slack", "pending", "summit"),
    ]
    assert store.create_alert("summit", ["mail"], NOW + timedelta(minutes=2)) is None  # nothing left
    (lavrov,) = store.pending_rules()
    assert lavrov.rule == "lavrov"


def test_hits_stored_after_the_alert_time_wait_for_the_next_alert(store: Store) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    later = add_item(store, "alpha", "a2")
    hit(store, later, at=NOW + timedelta(minutes=5))

    alert = store.create_alert("summit", ["mail"], NOW + timedelta(minutes=1))
    assert alert is not None
    assert len(store.alert_hits(alert)) == 1
    (pending,) = store.pending_rules()
    assert (pending.hits, pending.first_pending) == (1, NOW + timedelta(minutes=5))
    assert pending.last_alert == NOW + timedelta(minutes=1)


def test_a_later_outlet_of_an_alerted_story_joins_that_alert_and_sends_nothing(store: Store) -> None:
    first = add_item(store, "alpha", "a1")
    hit(store, first)
    assert store.join_story(first, first) == 0
    alert = store.create_alert("summit", ["mail"], NOW + timedelta(minutes=1))
    assert alert is not None

    later = add_item(store, "beta", "b1", NOW + timedelta(hours=1))
    hit(store, later, at=NOW + timedelta(hours=1))
    assert [item.id for _, item in store.story_candidates(later, NOW)] == [first]
    assert store.join_story(later, first) == 1  # joined the alert already made

    assert store.pending_rules() == []
    assert [h.item.id for h in store.alert_hits(alert)] == [first, later]
    assert len(store.deliveries()) == 1  # no new delivery
    assert [item.id for item in store.story_items([first])[first]] == [first, later]


def test_a_story_alerted_for_one_rule_still_alerts_for_another(store: Store) -> None:
    first = add_item(store, "alpha", "a1")
    hit(store, first)
    store.join_story(first, first)
    assert store.create_alert("summit", ["mail"], NOW) is not None
    later = add_item(store, "beta", "b1")
    hit(store, later, rule="call")
    assert store.story_candidates(later, NOW) == []  # no rule in common
    hit(store, later, rule="summit")
    store.join_story(later, first)
    (pending,) = store.pending_rules()
    assert pending.rule == "call"


def test_two_outlets_pending_together_make_one_alert(store: Store) -> None:
    first, second = add_item(store, "alpha", "a1"), add_item(store, "beta", "b1")
    hit(store, first)
    hit(store, second)
    store.join_story(first, first)
    store.join_story(second, first)
    alert = store.create_alert("summit", ["mail"], NOW)
    assert alert is not None
    assert {(h.item.id, h.story) for h in store.alert_hits(alert)} == {(first, first), (second, first)}


def test_story_candidates_come_from_other_feeds_within_the_window(store: Store) -> None:
    old = add_item(store, "alpha", "old", NOW - timedelta(days=3))
    same_feed = add_item(store, "beta", "b0")
    other = add_item(store, "gamma", "g1")
    new = add_item(store, "beta", "b1")
    for item in (old, same_feed, other, new):
        hit(store, item)
        store.join_story(item, item)
    assert [item.id for _, item in store.story_candidates(new, NOW - timedelta(days=2))] == [other]


def test_a_claimed_delivery_is_leased_then_due_again_after_a_crash(store: Store) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    store.create_alert("summit", ["mail"], NOW)

    claimed = store.claim_delivery(NOW, LEASE, OWNER)
    assert claimed is not None
    assert (claimed.target, claimed.attempts, claimed.state) == ("mail", 0, "pending")
    assert store.claim_delivery(NOW + timedelta(minutes=1), LEASE, OWNER) is None  # leased to the first
    again = store.claim_delivery(NOW + LEASE, LEASE, OWNER)  # the first never recorded: crashed
    assert again is not None
    assert again.id == claimed.id


def test_failures_are_retried_then_dead_and_sent_is_final(store: Store) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    store.create_alert("summit", ["mail", "slack"], NOW)
    mail = store.claim_delivery(NOW, LEASE, OWNER)
    slack = store.claim_delivery(NOW, LEASE, OWNER)
    assert mail is not None
    assert slack is not None

    store.record_delivery(mail.id, NOW, error="connection refused", retry_at=NOW + timedelta(seconds=30))
    store.record_delivery(slack.id, NOW)
    assert store.claim_delivery(NOW + timedelta(seconds=29), LEASE, OWNER) is None
    retried = store.claim_delivery(NOW + timedelta(seconds=30), LEASE, OWNER)
    assert retried is not None
    assert (retried.id, retried.state, retried.attempts, retried.first_attempt) == (mail.id, "failed", 1, NOW)
    assert retried.last_error == "connection refused"

    store.record_delivery(mail.id, NOW + timedelta(hours=48), error="still refused")
    states = {d.target: d.state for d in store.deliveries()}
    assert states == {"mail": "dead", "slack": "sent"}
    assert store.deliveries(("pending", "failed")) == []  # nothing left to send
    assert store.claim_delivery(NOW + timedelta(days=9), LEASE, OWNER) is None

    assert store.retry_deliveries(NOW + timedelta(days=3)) == 1  # the dead one; never the sent one
    (revived,) = store.deliveries(("pending",))
    # A fresh backoff and 48 h (both count from the first attempt, cleared); attempts kept as a record.
    assert (revived.id, revived.first_attempt, revived.attempts) == (mail.id, None, 2)
    assert revived.next_attempt == NOW + timedelta(days=3)


def test_held_delivery_waits_without_counting_an_attempt(store: Store) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    store.create_alert("summit", ["mail"], NOW)
    claimed = store.claim_delivery(NOW, LEASE, OWNER)
    assert claimed is not None
    store.hold_delivery(claimed.id, NOW + timedelta(hours=8))
    assert store.claim_delivery(NOW + timedelta(hours=1), LEASE, OWNER) is None
    resumed = store.claim_delivery(NOW + timedelta(hours=8), LEASE, OWNER)
    assert resumed is not None
    assert resumed.attempts == 0


def test_concurrent_alerting_takes_each_hit_once(database_url: str) -> None:
    """Two daemons planning at once (threads here, own connections): one alert gets the hits."""
    with Store.open(database_url) as store:
        for n in range(20):
            hit(store, add_item(store, "alpha", f"a{n}"))

    def plan(_: int) -> int | None:
        with Store(database_url) as other:
            return other.create_alert("summit", ["mail"], NOW)

    with ThreadPoolExecutor(4) as pool:
        made = [alert for alert in pool.map(plan, range(8)) if alert is not None]
    with Store(database_url) as store:
        assert len(made) == 1
        assert len(store.alert_hits(made[0])) == 20
        assert len(store.deliveries()) == 1


@pytest.mark.parametrize("targets", [[], ["mail", "mail"]])
def test_deliveries_are_one_per_distinct_target(store: Store, targets: list[str]) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    assert store.create_alert("summit", targets, NOW) is not None
    assert len(store.deliveries()) == len(set(targets))


def test_claims_of_a_dispatcher_gone_can_be_released(store: Store) -> None:
    hit(store, add_item(store, "alpha", "a1"))
    store.create_alert("summit", ["mail"], NOW)
    assert store.claim_delivery(NOW, LEASE, "host:41") is not None
    assert store.claimants(NOW) == {"host:41"}
    assert store.claim_delivery(NOW, LEASE, OWNER) is None
    assert store.release_claims({"host:41"}) == 1
    assert store.claimants(NOW) == set()
    assert store.claim_delivery(NOW, LEASE, OWNER) is not None


def alert_to(store: Store, key: str, targets: list[str]) -> dict[str, int]:
    """A new alert of rule "summit" to ``targets``: its deliveries' ids by target."""
    hit(store, add_item(store, "alpha", key))
    alert = store.create_alert("summit", targets, NOW)
    assert alert is not None
    return {d.target: d.id for d in store.deliveries() if d.alert == alert}


def fail(store: Store, target: str, retry_at: datetime | None, at: datetime = NOW) -> int:
    """Claim ``target``'s next due delivery at ``at`` and record a failure; return its id."""
    claimed = store.claim_delivery(at, LEASE, OWNER, target=target)
    assert claimed is not None
    store.record_delivery(claimed.id, at, error="refused", retry_at=retry_at)
    return claimed.id


def test_deliveries_are_claimed_per_target(store: Store) -> None:
    first = alert_to(store, "a1", ["mail", "slack"])
    second = alert_to(store, "a2", ["mail"])
    assert store.due_targets(NOW) == ["mail", "slack"]

    claimed = store.claim_delivery(NOW, LEASE, OWNER, target="slack")
    assert claimed is not None
    assert claimed.id == first["slack"]
    assert store.claim_delivery(NOW, LEASE, OWNER, target="slack") is None  # its only one is claimed
    assert store.due_targets(NOW) == ["mail"]  # a held delivery is no one else's to send
    mail = [store.claim_delivery(NOW, LEASE, OWNER, target="mail") for _ in range(3)]
    assert [d.id if d else None for d in mail] == [first["mail"], second["mail"], None]
    assert store.due_targets(NOW) == []
    assert store.due_targets(NOW + LEASE) == ["mail", "slack"]  # leases ended: due again


def test_a_target_answering_again_wakes_only_its_failed_deliveries(store: Store) -> None:
    later = NOW + timedelta(minutes=10)
    waiting = alert_to(store, "a1", ["mail", "slack"])
    failed_mail = fail(store, "mail", NOW + timedelta(hours=1))
    failed_slack = fail(store, "slack", NOW + timedelta(hours=1))
    overdue = alert_to(store, "a2", ["mail"])["mail"]
    assert fail(store, "mail", NOW + timedelta(minutes=5)) == overdue  # due before ``later`` anyway
    dead = alert_to(store, "a3", ["mail"])["mail"]
    assert fail(store, "mail", None) == dead
    held = alert_to(store, "a4", ["mail"])["mail"]
    claimed = store.claim_delivery(NOW, LEASE, OWNER, target="mail")
    assert claimed is not None
    assert claimed.id == held
    store.hold_delivery(held, NOW + timedelta(hours=8))  # quiet hours: not a failure to wake

    assert store.wake_target("mail", later) == 1
    by_id = {d.id: d for d in store.deliveries()}
    woken = by_id[waiting["mail"]]
    assert woken.id == failed_mail
    assert (woken.state, woken.next_attempt, woken.attempts, woken.first_attempt) == ("failed", later, 1, NOW)
    assert by_id[failed_slack].next_attempt == NOW + timedelta(hours=1)
    assert by_id[overdue].next_attempt == NOW + timedelta(minutes=5)
    assert by_id[dead].state == "dead"
    assert (by_id[held].state, by_id[held].next_attempt) == ("pending", NOW + timedelta(hours=8))
    assert store.wake_target("mail", later) == 0
    first_due = store.claim_delivery(later, LEASE, OWNER, target="mail")
    assert first_due is not None
    assert first_due.id == overdue  # the most overdue first; the woken one is next


def test_a_retried_delivery_keeps_its_attempts_and_starts_a_fresh_deadline(store: Store) -> None:
    mail = alert_to(store, "a1", ["mail"])["mail"]
    for n in range(3):
        fail(store, "mail", NOW + timedelta(minutes=n + 1), at=NOW + timedelta(minutes=n))
    fail(store, "mail", None, at=NOW + timedelta(hours=48))
    assert store.retry_deliveries(NOW + timedelta(days=3), [mail]) == 1
    fail(store, "mail", NOW + timedelta(days=3, seconds=30), at=NOW + timedelta(days=3))
    (again,) = store.deliveries()
    assert (again.state, again.attempts) == ("failed", 5)
    assert again.first_attempt == NOW + timedelta(days=3)  # the next 48 h count from the retry


def test_companions_are_the_targets_due_deliveries_on_the_same_story_each_claimed_once(store: Store) -> None:
    """Several rules fired on one story: the deliveries of the same target sharing that story are
    taken with the first one; a digest's, another story's, another target's, a rule held by
    quiet hours and one already claimed are not."""
    story, alone = add_item(store, "alpha", "a1"), add_item(store, "beta", "b1")
    for rule in ("summit", "talks", "quiet", "visit"):
        hit(store, story, rule=rule)
    hit(store, alone, rule="other")
    hit(store, story, rule="digest")
    for rule in ("summit", "talks", "quiet", "visit", "other"):
        store.create_alert(rule, ["mail", "slack"], NOW)
    store.create_alert("digest", ["mail"], NOW, digest=True)
    assert store.claim_delivery(NOW, LEASE, "other:1", target="mail") is not None  # summit's, elsewhere
    lead = store.claim_delivery(NOW, LEASE, OWNER, target="mail")
    assert lead is not None
    assert lead.rule == "talks"

    taken = store.claim_companions(lead, [story], NOW, LEASE, OWNER, skip_rules=["quiet"])
    assert [(d.rule, d.target) for d in taken] == [("visit", "mail")]
    assert store.claim_companions(lead, [story], NOW, LEASE, OWNER, skip_rules=["quiet"]) == []
    assert store.claim_companions(lead, [], NOW, LEASE, OWNER) == []
