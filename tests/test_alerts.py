"""Alerts from feed to inbox: real loopback feeds, real databases, a real SMTP server, Slack's
webhook captured on loopback, and the outbox driven by a test clock.

Grouping timing (group_wait, cooldown, quiet hours, digest) is checked with a recording target;
delivery (email content, retries, one target failing, SMTP down then up) with real servers.
"""

import asyncio
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from apprise.plugins.slack import NotifySlack
from conftest import RunCli
from daemons import WAIT
from httpserver import LoopbackServer, Reply
from polling import Clock, Entry, Poller, rss, seed_entries, write_settings
from smtpserver import SmtpServer, free_port

from watcher.alerts import Message, SendResult
from watcher.config import load_config
from watcher.matcher import Matcher
from watcher.messages import DEFAULT_LIMITS
from watcher.notify import Target, build_targets
from watcher.outbox import Dispatched, Outbox
from watcher.pipeline import join_storyless
from watcher.rules import load_rules
from watcher.store import Store

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
SLACK_TOKENS = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
SLACK_PATH = "/services/" + "/".join(SLACK_TOKENS)
T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)  # a Monday; 09:00 in London too


@dataclass(frozen=True, eq=False)
class Recorder(Target):
    """A target that keeps what it is sent (grouping tests: when and what, not how)."""

    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> SendResult:
        self.sent.append(message)
        return SendResult(ok=True)


@dataclass(frozen=True, eq=False)
class Switch(Target):
    """A target that refuses messages while ``up`` is clear, and keeps each send waiting while
    ``flowing`` is clear (a hanging service). What it takes goes to ``inbox``."""

    up: threading.Event = field(default_factory=threading.Event)
    flowing: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)  # a send is waiting on ``flowing``
    calls: list[Message] = field(default_factory=list)
    inbox: "queue.Queue[Message]" = field(default_factory=queue.Queue)

    @classmethod
    def named(cls, name: str, *, up: bool = True, flowing: bool = True) -> "Switch":
        target = cls(name=name, format="text", description=name, templates=None, limits=DEFAULT_LIMITS)
        if up:
            target.up.set()
        if flowing:
            target.flowing.set()
        return target

    def send(self, message: Message) -> SendResult:
        self.calls.append(message)
        if not self.flowing.is_set():
            self.hanging.set()
            if not self.flowing.wait(WAIT):
                return SendResult(ok=False, reason="the test never let the send through")
        if not self.up.is_set():
            return SendResult(ok=False, reason="connection refused")
        self.inbox.put(message)
        return SendResult(ok=True)

    def taken(self, count: int) -> list[Message]:
        """The next ``count`` messages taken, waiting for each (fails the test after ``WAIT``)."""
        try:
            return [self.inbox.get(timeout=WAIT) for _ in range(count)]
        except queue.Empty:
            pytest.fail(f"{self.name} took fewer than {count} messages within {WAIT} s")


def entry(n: int, title: str = "Putin to visit New Delhi for the annual summit") -> Entry:
    return Entry(f"visit-{n}", f"{title} ({n})", link=f"https://news.example/{n}")


@dataclass
class Desk:
    """A feed server, a database and a settings file with one watch rule, driven by a test clock."""

    server: LoopbackServer
    store: Store
    database: str
    root: Path
    clock: Clock = field(default_factory=lambda: Clock(T0))
    rule: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, str]] = field(default_factory=list)
    feeds: dict[str, list[Entry]] = field(default_factory=lambda: {"wire": []})
    more_rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id, beside "visit"
    defaults: dict[str, Any] = field(default_factory=dict)
    recorder: Recorder = field(
        default_factory=lambda: Recorder(
            name="desk", format="text", description="desk", templates=None, limits=DEFAULT_LIMITS
        )
    )

    def settings(self) -> Path:
        rules = self.root / "rules"
        rules.mkdir(exist_ok=True)
        spec = {"id": "visit", "name": "Putin visit", "match": {"all": ["putin", "visit"]}, **self.rule}
        (rules / "visit.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        for rule_id, more in self.more_rules.items():
            (rules / f"{rule_id}.yaml").write_text(yaml.safe_dump({"id": rule_id, **more}), encoding="utf-8")
        urls = {}
        for name, entries in self.feeds.items():
            body = rss(*entries, title=name.title()).encode()
            urls[name] = self.server.route(f"/{name}.xml", Reply(200, body, RSS_TYPE))
        return write_settings(
            self.root / "summit-watch.yaml",
            self.database,
            urls,
            rules=str(rules),
            targets=self.targets,
            defaults=self.defaults,
        )

    def publish(self, *entries: Entry, feed: str = "wire") -> None:
        """Add entries to a feed and poll every feed at the clock's time."""
        self.feeds.setdefault(feed, []).extend(entries)
        Poller(self.settings(), self.store, self.clock)(list(self.feeds))

    def outbox(self, targets: dict[str, Target] | None = None) -> Outbox:
        config = load_config(self.settings())
        chosen = targets if targets is not None else build_targets(config)
        rules = load_rules(config.rules)
        return Outbox(self.store, rules, config, chosen, clock=self.clock, jitter=lambda: 0.5)

    def send_due(
        self, at: datetime | None = None, targets: dict[str, Target] | None = None
    ) -> list[Dispatched]:
        """Plan and dispatch at ``at`` (default: the clock's time), to the recorder by default."""
        if at is not None:
            self.clock.set(at)
        outbox = self.outbox(targets if targets is not None else {"desk": self.recorder})
        outbox.plan()
        return outbox.dispatch(wait=None)

    def received(self, at: datetime) -> list[Message]:
        """What the recorder received from a plan and dispatch at ``at``."""
        before = len(self.recorder.sent)
        self.send_due(at)
        return self.recorder.sent[before:]


@pytest.fixture
def desk(http_server: LoopbackServer, database_url: str, tmp_path: Path) -> Iterator[Desk]:
    with Store.open(database_url) as store:
        yield Desk(http_server, store, database_url, tmp_path)


def unmarked(message: Message) -> str:
    """A text message's body without the ``*term*`` highlights."""
    return message.body.replace("*", "")


# -- grouping -------------------------------------------------------------------------------------


def test_group_wait_makes_the_first_hits_one_message(desk: Desk) -> None:
    desk.rule = {"group_wait": "2m"}
    desk.publish(entry(1), entry(2))
    desk.clock.advance(timedelta(seconds=30))
    desk.publish(entry(3))

    assert desk.received(T0 + timedelta(seconds=119)) == []
    (message,) = desk.received(T0 + timedelta(minutes=2))
    assert message.title == "[summit-watch] Putin visit: 3 new stories"
    for n in (1, 2, 3):
        assert f"Putin to visit New Delhi for the annual summit ({n})" in unmarked(message)
    assert desk.received(T0 + timedelta(hours=1)) == []  # sent once


def test_cooldown_spaces_messages_and_batches_the_hits_between(desk: Desk) -> None:
    desk.rule = {"group_wait": 0, "cooldown": "10m"}
    desk.publish(entry(1))
    assert len(desk.received(T0)) == 1

    desk.clock.set(T0 + timedelta(minutes=2))
    desk.publish(entry(2))
    desk.clock.set(T0 + timedelta(minutes=3))
    desk.publish(entry(3))
    assert desk.received(T0 + timedelta(minutes=9)) == []  # within the cooldown: held, not dropped
    (batched,) = desk.received(T0 + timedelta(minutes=10))
    assert "(2)" in batched.body
    assert "(3)" in batched.body
    assert "(1)" not in batched.body


def test_quiet_hours_hold_delivery_until_they_end(desk: Desk) -> None:
    desk.rule = {
        "group_wait": "1m",
        "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/London"},
    }
    night = datetime(2025, 12, 1, 23, 30, tzinfo=UTC)
    desk.clock.set(night)
    desk.publish(entry(1))
    assert desk.received(night + timedelta(minutes=5)) == []
    assert desk.received(datetime(2025, 12, 2, 6, 59, tzinfo=UTC)) == []
    (message,) = desk.received(datetime(2025, 12, 2, 7, 0, tzinfo=UTC))
    assert "(1)" in message.body


def test_a_delivery_falling_in_quiet_hours_is_held_not_skipped(desk: Desk) -> None:
    """An alert made before the window whose delivery comes due inside it waits for the end."""
    desk.rule = {"group_wait": 0, "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "UTC"}}
    evening = datetime(2025, 12, 1, 21, 59, tzinfo=UTC)
    desk.clock.set(evening)
    desk.publish(entry(1))
    desk.clock.set(evening)
    assert desk.outbox({"desk": desk.recorder}).plan()  # the alert is made before 22:00 ...
    (held,) = desk.send_due(datetime(2025, 12, 1, 22, 0, tzinfo=UTC))  # ... and comes due at 22:00
    assert (held.outcome, held.retry_at) == ("held", datetime(2025, 12, 2, 7, 0, tzinfo=UTC))
    assert desk.recorder.sent == []
    assert [d.outcome for d in desk.send_due(datetime(2025, 12, 2, 7, 0, tzinfo=UTC))] == ["sent"]


def test_a_digest_sends_one_summary_at_its_time(desk: Desk) -> None:
    desk.rule = {"digest": {"at": "18:00", "timezone": "Asia/Kolkata"}}  # 12:30 UTC
    desk.publish(entry(1))
    desk.clock.set(T0 + timedelta(hours=2))
    desk.publish(entry(2))
    assert desk.received(datetime(2025, 12, 1, 12, 29, tzinfo=UTC)) == []
    (digest,) = desk.received(datetime(2025, 12, 1, 12, 30, tzinfo=UTC))
    assert digest.title == "[summit-watch] Putin visit digest: 2 stories"
    assert desk.received(datetime(2025, 12, 2, 12, 30, tzinfo=UTC)) == []  # nothing new: no empty digest


def test_a_rule_notifies_only_its_targets(desk: Desk) -> None:
    other = Recorder(name="other", format="text", description="other", templates=None, limits=DEFAULT_LIMITS)
    desk.rule = {"group_wait": 0, "notify": ["desk"]}
    desk.publish(entry(1))
    desk.send_due(T0, {"desk": desk.recorder, "other": other})
    assert (len(desk.recorder.sent), len(other.sent)) == (1, 0)


# -- one message per story and target ------------------------------------------------------------

TALKS = {"name": "Modi-Putin talks", "group_wait": 0, "match": {"all": ["putin", "new delhi"]}}
SUMMIT = {"name": "Annual summit", "group_wait": 0, "priority": "high", "match": {"all": ["summit"]}}


def recorder(name: str) -> Recorder:
    return Recorder(name=name, format="text", description=name, templates=None, limits=DEFAULT_LIMITS)


def test_rules_firing_on_one_story_make_one_message_per_target_naming_every_rule(
    desk: Desk, smtp_server: SmtpServer
) -> None:
    desk.rule = {"group_wait": 0}
    desk.more_rules = {"talks": TALKS, "summit": SUMMIT}
    desk.targets = [{"name": "analysts", "url": smtp_server.mailto(), "pace": 0}]
    desk.publish(entry(1))
    targets = {**build_targets(load_config(desk.settings())), "desk": desk.recorder}

    dispatched = desk.send_due(T0, targets)
    assert sorted((d.target, d.rule, d.outcome) for d in dispatched) == [
        (target, rule, "sent") for target in ("analysts", "desk") for rule in ("summit", "talks", "visit")
    ]
    (message,) = desk.recorder.sent
    assert message.priority == "high"  # the highest of the rules'
    for name in ("Putin visit", "Modi-Putin talks", "Annual summit"):
        assert name in message.title
        assert name in message.body
    assert unmarked(message).count("Putin to visit New Delhi for the annual summit (1)") >= 1
    mail = smtp_server.next_message()
    for name in ("Putin visit", "Modi-Putin talks", "Annual summit"):
        assert name in str(mail.message["Subject"])
    assert desk.send_due(T0 + timedelta(hours=1), targets) == []  # each delivery sent once
    assert smtp_server.received == [mail]
    assert desk.store.waiting_by_target() == {}


def test_a_story_shared_by_two_rules_is_shown_once_with_the_other_rules_stories(desk: Desk) -> None:
    desk.rule = {"group_wait": 0}
    desk.more_rules = {"summit": SUMMIT}
    desk.publish(entry(1), Entry("summit-2", "Leaders gather for the summit in Ladakh"))
    (message,) = desk.received(T0)
    body = unmarked(message)
    assert body.count("Putin to visit New Delhi for the annual summit (1)") == 1
    assert "Leaders gather for the summit in Ladakh" in body
    rules = sorted(
        sorted(line.removeprefix("Rules: ").split(", "))
        for line in body.splitlines()
        if line.startswith("Rules: ")
    )
    assert rules == [["Annual summit"], ["Annual summit", "Putin visit"]]  # each story names its rules


def test_group_by_rule_keeps_a_message_per_rule(desk: Desk) -> None:
    desk.rule = {"group_wait": 0}
    desk.more_rules = {"talks": TALKS}
    desk.defaults = {"group_by": "rule"}
    desk.publish(entry(1))
    messages = desk.received(T0)
    assert sorted(message.title for message in messages) == [
        "[summit-watch] Modi-Putin talks: Putin to visit New Delhi for the annual summit (1)",
        "[summit-watch] Putin visit: Putin to visit New Delhi for the annual summit (1)",
    ]


def test_a_target_can_choose_a_message_per_rule_while_another_groups_by_story(desk: Desk) -> None:
    desk.rule = {"group_wait": 0}
    desk.more_rules = {"talks": TALKS}
    desk.targets = [
        {"name": "desk", "url": "json://127.0.0.1:9/", "group_by": "rule"},
        {"name": "wire", "url": "json://127.0.0.1:9/"},
    ]
    wire = recorder("wire")
    desk.publish(entry(1))
    desk.send_due(T0, {"desk": desk.recorder, "wire": wire})
    assert (len(desk.recorder.sent), len(wire.sent)) == (2, 1)


def test_a_failed_story_message_is_retried_as_one_and_sent_once(desk: Desk) -> None:
    desk.rule = {"group_wait": 0}
    desk.more_rules = {"talks": TALKS}
    desk.publish(entry(1))
    down = Switch.named("desk", up=False)
    failed = desk.send_due(T0, {"desk": down})
    assert [d.outcome for d in failed] == ["failed", "failed"]
    assert len({d.retry_at for d in failed}) == 1  # due again together, so sent together

    down.up.set()
    again = desk.send_due(T0 + timedelta(minutes=1), {"desk": down})
    assert [d.outcome for d in again] == ["sent", "sent"]
    (message,) = down.taken(1)
    assert "Putin visit" in message.title
    assert "Modi-Putin talks" in message.title
    assert desk.send_due(T0 + timedelta(hours=1), {"desk": down}) == []


def test_a_rule_in_its_quiet_hours_is_not_joined_to_another_rules_message(desk: Desk) -> None:
    desk.rule = {"group_wait": 0}
    quiet = {"start": "09:00", "end": "10:00", "timezone": "UTC"}  # from T0
    desk.more_rules = {"talks": {**TALKS, "quiet_hours": quiet}}
    desk.clock.set(T0 - timedelta(minutes=1))
    desk.publish(entry(1))
    assert len(desk.outbox({"desk": desk.recorder}).plan()) == 2  # both alerts made before 09:00 ...
    outcomes = {d.rule: d.outcome for d in desk.send_due(T0)}  # ... and due inside talks' quiet hours
    assert outcomes == {"visit": "sent", "talks": "held"}
    (message,) = desk.recorder.sent
    assert "Modi-Putin talks" not in message.title


# -- stories ----------------------------------------------------------------------------------------


def test_the_two_seeds_from_two_feeds_make_one_email_naming_both_outlets(
    desk: Desk, seeds: list[Path], smtp_server: SmtpServer
) -> None:
    hindu, hindustan = seed_entries(seeds)
    desk.rule = {"group_wait": "1m", "match": {"all": ["modi", "putin", ["phone", "telephonic", "dialled"]]}}
    desk.targets = [{"name": "analysts", "url": smtp_server.mailto(), "format": "html"}]
    desk.publish(hindu, feed="the-hindu")
    desk.clock.advance(timedelta(seconds=20))
    desk.publish(hindustan, feed="hindustan-times")

    dispatched = desk.send_due(T0 + timedelta(minutes=2), build_targets(load_config(desk.settings())))
    assert [d.outcome for d in dispatched] == ["sent"]
    mail = smtp_server.next_message()
    assert mail.message["Subject"].startswith("[summit-watch] Putin visit: ")
    html = mail.body("html")
    assert html.count("<mark>") >= 3, "the matched terms are highlighted"
    assert "Also reported by" in html or "also reported by" in html
    assert "The-Hindu" in html
    assert "Hindustan-Times" in html
    assert smtp_server.received == [mail]  # one story, one message


def test_a_later_outlet_of_a_story_already_sent_is_history_not_a_new_alert(
    desk: Desk, seeds: list[Path]
) -> None:
    hindu, hindustan = seed_entries(seeds)
    desk.rule = {"group_wait": 0, "match": {"all": ["modi", "putin"]}}
    desk.publish(hindu, feed="the-hindu")
    assert len(desk.received(T0)) == 1

    desk.clock.set(T0 + timedelta(hours=3))
    desk.publish(hindustan, feed="hindustan-times")
    assert desk.received(T0 + timedelta(hours=4)) == []
    [(alert_id, *_)] = [(d.alert,) for d in desk.store.deliveries()]
    alert = desk.outbox().alert(alert_id)
    assert alert is not None
    (story,) = alert.entries
    assert [report.feed for report in story.also] == ["hindustan-times"]  # in the history


def test_a_delivery_whose_hits_joined_an_earlier_alert_is_dropped_not_retried(
    desk: Desk, seeds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second outlet's hit is alerted before its item joins the story (the daemon stopped in
    between): once the story is joined the hit is history of the first alert, and the second
    alert's delivery has nothing left to send. It is dropped, not failed and retried for ever."""
    hindu, hindustan = seed_entries(seeds)
    desk.rule = {"group_wait": 0, "match": {"all": ["modi", "putin"]}}
    desk.publish(hindu, feed="the-hindu")
    assert len(desk.received(T0)) == 1
    desk.clock.set(T0 + timedelta(hours=3))
    with monkeypatch.context() as stopped:
        stopped.setattr(Store, "join_story", lambda _store, _item, _story: 0)
        desk.publish(hindustan, feed="hindustan-times")
    outbox = desk.outbox({"desk": desk.recorder})
    outbox.plan()
    assert len(desk.store.deliveries()) == 2
    config = load_config(desk.settings())
    assert join_storyless(config, desk.store, Matcher(load_rules(config.rules)), desk.clock()) == 1

    [dropped] = outbox.dispatch(wait=None)
    assert dropped.outcome == "dropped"
    assert len(desk.recorder.sent) == 1  # nothing more was sent
    [first] = desk.store.deliveries()
    assert first.state == "sent"
    assert desk.send_due(T0 + timedelta(hours=5)) == []  # and nothing is left to retry
    alert = desk.outbox().alert(first.alert)
    assert alert is not None
    (story,) = alert.entries
    assert [report.feed for report in story.also] == ["hindustan-times"]


# -- delivery with real servers -------------------------------------------------------------------


@pytest.fixture
def slack_hook(http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    """Slack's webhook host pointed at the loopback server."""
    monkeypatch.setattr(NotifySlack, "webhook_url", http_server.url("/services"))
    return http_server


def test_one_target_failing_never_resends_to_another(
    desk: Desk, smtp_server: SmtpServer, slack_hook: LoopbackServer
) -> None:
    answers = iter([Reply(500, b"internal_error"), Reply(200, b"ok")])
    slack_hook.route(SLACK_PATH, lambda exchange: next(answers))
    desk.rule = {"group_wait": 0}
    desk.targets = [
        {"name": "mail", "url": smtp_server.mailto()},
        {"name": "slack", "url": "slack://" + "/".join(SLACK_TOKENS)},
    ]
    desk.publish(entry(1))
    targets = build_targets(load_config(desk.settings()))

    first = {d.target: d for d in desk.send_due(T0, targets)}
    assert first["mail"].outcome == "sent"
    assert (first["slack"].outcome, first["slack"].retry_at) == ("failed", T0 + timedelta(seconds=30))
    assert "500" in (first["slack"].error or "")
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in (first["slack"].error or "")

    assert desk.send_due(T0 + timedelta(seconds=29), targets) == []
    second = desk.send_due(T0 + timedelta(seconds=30), targets)
    assert [(d.target, d.outcome) for d in second] == [("slack", "sent")]
    assert len(smtp_server.received) == 1  # the mail went once
    payload = json.loads(slack_hook.requests[-1].body)
    assert "Putin to visit New Delhi" in json.dumps(payload)


def test_smtp_down_then_up_delivers_once_after_recovery(desk: Desk, smtp_server: SmtpServer) -> None:
    desk.rule = {"group_wait": 0}
    desk.targets = [{"name": "mail", "url": smtp_server.mailto()}]
    desk.publish(entry(1))
    targets = build_targets(load_config(desk.settings()))
    smtp_server.stop()

    moments = [T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=60)]
    outcomes = [[d.outcome for d in desk.send_due(at, targets)] for at in moments]
    assert outcomes == [["failed"], ["failed"], ["failed"]]  # each wait as long as it has been failing
    (failed,) = desk.store.deliveries(("failed",))
    assert (failed.attempts, failed.next_attempt) == (3, T0 + timedelta(seconds=120))

    smtp_server.start()
    assert [d.outcome for d in desk.send_due(T0 + timedelta(seconds=120), targets)] == ["sent"]
    smtp_server.next_message()
    assert desk.send_due(T0 + timedelta(days=1), targets) == []
    assert len(smtp_server.received) == 1


def test_after_48_hours_a_delivery_is_dead_shown_and_retried_on_request(
    desk: Desk, smtp_server: SmtpServer, run_cli: RunCli
) -> None:
    desk.rule = {"group_wait": 0}
    desk.targets = [{"name": "mail", "url": smtp_server.mailto()}]
    desk.publish(entry(1))
    settings = desk.settings()
    targets = build_targets(load_config(settings))
    smtp_server.stop()
    at = T0
    outcomes = []
    while not outcomes or outcomes[-1] == "failed":
        outcomes += [d.outcome for d in desk.send_due(at, targets)]
        (state,) = desk.store.deliveries()
        at = state.next_attempt
    assert outcomes[-1] == "dead"
    assert at - T0 <= timedelta(hours=48)
    assert 48 <= len(outcomes) <= 60  # 30 s doubling to hourly tries, for 48 h

    status = run_cli("--config", str(settings), "notify", "status")
    assert status.exit_code == 0
    assert "dead" in status.output
    assert "mail" in status.output
    assert "Connection error while submitting email" in status.output

    smtp_server.start()
    retried = run_cli("--config", str(settings), "notify", "retry", "--all")
    assert retried.exit_code == 0, retried.output
    assert "1 delivery queued again" in retried.output
    smtp_server.next_message()
    assert run_cli("--config", str(settings), "notify", "status").output.strip() == "no deliveries waiting"


def test_notify_test_reports_each_target(desk: Desk, smtp_server: SmtpServer, run_cli: RunCli) -> None:
    desk.targets = [
        {"name": "mail", "url": smtp_server.mailto()},
        {"name": "dead-mail", "url": "mailto://127.0.0.1:9?from=a@example.org&to=b@example.org"},
    ]
    settings = desk.settings()
    result = run_cli("--config", str(settings), "notify", "test")
    assert result.exit_code == 1
    lines = dict(line.split(" ", 1) for line in result.output.splitlines())
    assert lines["mail"].endswith(": ok")
    assert "FAILED" in lines["dead-mail"]
    assert smtp_server.next_message().message["Subject"] == "summit-watch test alert"

    only = run_cli("--config", str(settings), "notify", "test", "--target", "mail")
    assert only.exit_code == 0
    assert run_cli("--config", str(settings), "notify", "test", "--target", "nope").exit_code == 2


# -- recovery, and targets independent of each other ------------------------------------------------


def test_a_target_answering_again_gets_its_waiting_deliveries_at_once(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    mail = Switch.named("desk", up=False)
    desk.rule = {"group_wait": 0}
    desk.publish(entry(1))
    assert [d.retry_at for d in desk.send_due(T0, {"desk": mail})] == [T0 + timedelta(seconds=30)]
    desk.clock.set(T0 + timedelta(seconds=20))
    desk.publish(entry(2, "Putin visit: Modi and Putin sign defence deals"))
    assert [d.retry_at for d in desk.send_due(None, {"desk": mail})] == [T0 + timedelta(seconds=50)]

    mail.up.set()  # the first retry succeeds: the other delivery does not wait out its 30 s
    with caplog.at_level(logging.INFO, logger="watcher.outbox"):
        sent = desk.send_due(T0 + timedelta(seconds=30), {"desk": mail})
    assert [d.outcome for d in sent] == ["sent", "sent"]
    assert "target_recovered target=desk woken=1" in caplog.text
    assert len(mail.taken(2)) == 2
    by_alert = {d.alert: d for d in desk.store.deliveries()}
    assert (by_alert[2].attempts, by_alert[2].first_attempt) == (2, T0 + timedelta(seconds=20))
    assert desk.send_due(T0 + timedelta(days=3), {"desk": mail}) == []  # each sent once
    assert len(mail.calls) == 4


def _end_of_senders() -> None:
    """Wait for every sender thread of the outbox to end (they finish the send in hand)."""
    for thread in threading.enumerate():
        if thread.name.startswith("sender"):
            thread.join(WAIT)
            assert not thread.is_alive(), f"{thread.name} still sending after {WAIT} s"


def test_a_hanging_target_holds_neither_the_others_nor_the_dispatcher(desk: Desk) -> None:
    fast, slow = Switch.named("fast"), Switch.named("slow", flowing=False)
    targets: dict[str, Target] = {"fast": fast, "slow": slow}
    desk.rule = {"group_wait": 0}
    outbox = desk.outbox(targets)
    desk.publish(entry(1))
    made = outbox.plan()
    desk.clock.advance(timedelta(seconds=1))
    desk.publish(entry(2, "Putin visit: Modi and Putin sign defence deals"))
    assert len(made + outbox.plan()) == 2

    done = outbox.dispatch(wait=timedelta(seconds=1))  # returns while slow hangs
    assert len(fast.taken(2)) == 2  # the other target got both alerts meanwhile
    assert slow.hanging.wait(WAIT)
    done += outbox.dispatch(wait=None)  # slow's sender is still at work: no second one starts
    assert len(slow.calls) == 1

    slow.flowing.set()
    _end_of_senders()
    done += outbox.dispatch(wait=None)  # slow's first outcome, recorded late, and its second send
    assert sorted((d.target, d.delivery, d.outcome) for d in done) == sorted(
        (d.target, d.id, "sent") for d in desk.store.deliveries()
    )
    assert len(done) == 4
    assert [m.title for m in slow.calls] == [m.title for m in fast.calls]  # each alert once, in order


def test_the_dispatch_limit_counts_the_deliveries_of_every_target(desk: Desk) -> None:
    targets: dict[str, Target] = {"a": Switch.named("a"), "b": Switch.named("b")}
    desk.rule = {"group_wait": 0}
    outbox = desk.outbox(targets)
    for n in (1, 2):
        desk.publish(entry(n, f"Putin visit, part {n}"))
        outbox.plan()
    assert len(outbox.dispatch(limit=3, wait=None)) == 3
    assert len(outbox.dispatch(limit=3, wait=None)) == 1
    assert desk.store.delivery_counts()["sent"] == 4


def test_notify_retry_keeps_the_attempts_and_starts_the_backoff_afresh(
    desk: Desk, smtp_server: SmtpServer, run_cli: RunCli
) -> None:
    desk.rule = {"group_wait": 0}
    desk.targets = [{"name": "mail", "url": smtp_server.mailto()}]
    desk.publish(entry(1))
    settings = desk.settings()
    targets = build_targets(load_config(settings))
    smtp_server.stop()
    for at in (T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=60)):
        desk.send_due(at, targets)

    retried = run_cli("--config", str(settings), "notify", "retry", "--all")  # still down
    assert retried.exit_code == 0, retried.output
    assert "failed mail (rule visit)" in retried.output
    (failed,) = desk.store.deliveries()
    assert failed.attempts == 4  # the count goes on ...
    assert failed.first_attempt is not None
    assert failed.first_attempt > T0 + timedelta(days=300)  # ... the 48 h start again ...
    wait = failed.next_attempt - failed.first_attempt
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)  # ... and so does the backoff, at 30 s


def test_a_passing_notify_test_makes_the_targets_failed_deliveries_due(
    desk: Desk, smtp_server: SmtpServer, run_cli: RunCli
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    desk.clock.set(now)
    desk.rule = {"group_wait": 0}
    desk.targets = [{"name": "mail", "url": smtp_server.mailto()}]
    desk.publish(entry(1))
    settings = desk.settings()
    smtp_server.stop()
    (failed,) = desk.send_due(now, build_targets(load_config(settings)))
    assert failed.retry_at == now + timedelta(seconds=30)

    smtp_server.start()
    result = run_cli("--config", str(settings), "notify", "test", "--target", "mail")
    assert result.exit_code == 0, result.output
    assert "mail: 1 failed delivery due now" in result.output.splitlines()
    (woken,) = desk.store.deliveries()
    assert (woken.state, woken.attempts, woken.first_attempt) == ("failed", 1, now)
    assert woken.next_attempt < now + timedelta(seconds=30)
    assert run_cli("--config", str(settings), "notify", "send").exit_code == 0
    assert smtp_server.next_message().message["Subject"] == "summit-watch test alert"
    assert "Putin to visit New Delhi" in smtp_server.next_message().message["Subject"]


# -- a dispatcher killed while sending --------------------------------------------------------------


class GatedRecorder:
    """An aiosmtpd handler that records mail and holds its answer to message number ``hold``
    until ``release`` is set: the client is then waiting on the server, mid-send."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.subjects: list[str] = []
        self.held = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.subjects.append(str(message["Subject"]))
        if len(self.subjects) == self.hold:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return "250 OK"


def test_a_dispatcher_killed_mid_send_loses_nothing_and_repeats_at_most_one(
    desk: Desk, tmp_path: Path
) -> None:
    """Eight rules hit one item, a message per rule; the CLI is SIGKILLed while the SMTP server
    holds the third message. After a restart every alert is delivered, and at most one of them twice."""
    gate = GatedRecorder(hold=3)
    port = free_port()
    controller = Controller(gate, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rules = tmp_path / "rules"
        rules.mkdir()
        for n in range(1, 9):
            spec = {"id": f"rule-{n}", "group_wait": 0, "match": {"all": ["putin", "visit"]}}
            (rules / f"rule-{n}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        feed = desk.server.route("/wire.xml", Reply(200, rss(entry(1)).encode(), RSS_TYPE))
        target = f"mailto://127.0.0.1:{port}?from=watch@example.org&to=desk@example.org"
        settings = write_settings(
            tmp_path / "kill.yaml",
            desk.database,
            {"wire": feed},
            rules=str(rules),
            targets=[{"name": "mail", "url": target, "pace": 0}],  # no sleeps between the 8 mails
            defaults={"group_by": "rule"},  # eight messages, so that the kill falls between two
        )
        environment = {**os.environ, "SUMMIT_WATCH_CONFIG": str(settings)}
        command = [sys.executable, "-m", "watcher"]

        first = subprocess.Popen(
            [*command, "poll"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert gate.held.wait(60), "the third message never reached the SMTP server"
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        finally:
            first.kill()
            first.communicate()
        gate.release.set()

        def summit_watch(*arguments: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*command, *arguments],
                env=environment,
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
            )

        second = summit_watch("notify", "send")
        assert second.returncode == 0, second.stderr
        status = summit_watch("notify", "status")
        assert status.stdout.strip() == "no deliveries waiting"
    finally:
        controller.stop()

    expected = {
        f"[summit-watch] rule-{n}: Putin to visit New Delhi for the annual summit (1)" for n in range(1, 9)
    }
    assert set(gate.subjects) == expected  # none lost
    assert 8 <= len(gate.subjects) <= 9  # at most the one in flight twice


# -- date changes (notify_on: date_change) -----------------------------------------------------------


def test_a_date_change_alerts_each_target_once_by_email(desk: Desk, smtp_server: SmtpServer) -> None:
    """The first date, then a more precise one, alert; a report agreeing with it does not; the hits
    themselves send nothing (the rule asks for date changes only)."""
    desk.rule = {"group_wait": 0, "notify_on": ["date_change"]}
    desk.targets = [{"name": "analysts", "url": smtp_server.mailto(), "pace": 0}]

    def send(at: datetime) -> list[Dispatched]:
        return desk.send_due(at, {**build_targets(load_config(desk.settings())), "desk": desk.recorder})

    desk.publish(Entry("v1", "Putin to visit New Delhi in December"))
    assert sorted((d.target, d.outcome) for d in send(T0)) == [("analysts", "sent"), ("desk", "sent")]
    desk.clock.advance(timedelta(hours=1))
    desk.publish(
        Entry("v2", "Kremlin: Putin to visit New Delhi on December 4-5", link="https://kremlin.example/1")
    )
    assert len(send(desk.clock())) == 2
    desk.clock.advance(timedelta(hours=1))
    desk.publish(Entry("v3", "Putin will visit New Delhi on December 4-5, officials say"), feed="agency")
    assert send(desk.clock()) == []  # the same date again: no change, no alert
    assert send(desk.clock() + timedelta(hours=1)) == []  # each sent once

    expected = [
        "[summit-watch] Putin visit: now expected in December 2025 (was: no date)",
        "[summit-watch] Putin visit: now dated 4\u20135 December 2025 (was: December 2025)",
    ]
    assert [message.title for message in desk.recorder.sent] == expected
    mails = [smtp_server.next_message(), smtp_server.next_message()]
    assert [str(mail.message["Subject"]) for mail in mails] == expected
    body = mails[1].body("plain")
    assert "First reported by Wire" in body
    assert "on December 4-5" in body
    assert "Stated by 1 outlet: Wire" in body  # when it changed
    assert len(smtp_server.received) == 2


def test_a_date_change_in_quiet_hours_waits_for_their_end(desk: Desk) -> None:
    desk.rule = {
        "notify_on": "date_change",
        "quiet_hours": {"start": "08:00", "end": "10:00", "timezone": "UTC"},  # T0 is 09:00
    }
    desk.publish(Entry("v1", "Putin to visit New Delhi on December 4-5"))
    assert [d.outcome for d in desk.send_due(T0)] == ["held"]
    assert desk.recorder.sent == []
    (message,) = desk.received(T0.replace(hour=10))
    assert message.title == "[summit-watch] Putin visit: now dated 4\u20135 December 2025 (was: no date)"
