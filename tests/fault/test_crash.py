"""SIGKILL at the worst moments: between storing a poll's items and its hits, and mid-send.

A real daemon (``summit-watch run``) is killed with no chance to clean up, as the OOM killer or
a watchdog would; a second one starts on the same database. What an operator cares about is
counted at the SMTP server: every expected alert arrives, exactly once.
"""

import asyncio
import signal
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from daemons import WAIT, Daemon, Newsroom, NotifySocket
from polling import stored_items, write_settings
from smtpserver import free_port

from watcher.faults import ENVIRONMENT as FAULT
from watcher.store import Store

VISIT = {"id": "visit", "name": "Putin visit", "group_wait": "0s", "match": {"all": ["putin", "visit"]}}
MATCHING = [f"Putin to visit New Delhi, report {n}" for n in range(1, 4)]


def mail_text(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    return f"{message['Subject']}\n{body.get_content() if body is not None else ''}"


def test_a_kill_between_items_and_hits_loses_no_alert(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", VISIT)
    for n, title in enumerate(MATCHING, 1):
        newsroom.publish(f"putin-{n}", title)
    newsroom.publish("oslo-1", "Weather in Oslo: rain all week")
    settings = newsroom.settings()

    # Killed after matching, before the transaction holding the items and their hits commits.
    first = Daemon(settings, notify_socket, {FAULT: "poll_matched"}).start()
    daemons.append(first)
    assert first.wait() == -signal.SIGKILL
    assert stored_items(newsroom.database) == []  # nothing half-stored: no item is "seen" without hits

    second = Daemon(settings, notify_socket).start()
    daemons.append(second)
    newsroom.smtp.next_message(timeout=WAIT)  # one poll, group_wait 0: one alert of the 3 items
    second.signal(signal.SIGTERM)
    assert second.wait() == 0

    # Each alerted item is listed with its link (titles carry highlights).
    texts = "".join(mail_text(m.message) for m in newsroom.smtp.received)
    for n in range(1, len(MATCHING) + 1):
        assert texts.count(f"https://news.example/putin-{n}\r\n") == 1, f"putin-{n} not alerted once: {texts}"
    assert len(newsroom.smtp.received) == 1, "the same hits were alerted twice"
    assert {row.title for row in stored_items(newsroom.database)} == {
        *MATCHING,
        "Weather in Oslo: rain all week",
    }


def test_a_kill_before_stories_are_joined_is_made_good_at_start(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", {**VISIT, "group_wait": "1h"})  # nothing sent before the kill
    newsroom.publish("putin-1", MATCHING[0])
    settings = newsroom.settings()
    first = Daemon(settings, notify_socket, {FAULT: "poll_stored"}).start()
    daemons.append(first)
    assert first.wait() == -signal.SIGKILL

    newsroom.write_rule("visit", VISIT)
    second = Daemon(settings, notify_socket).start()
    daemons.append(second)
    second.expect_log(r"stories_recovered items=1")
    assert "putin-1" in mail_text(newsroom.smtp.next_message(timeout=WAIT).message)
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert len(newsroom.smtp.received) == 1


def test_a_kill_before_a_date_change_is_stored_alerts_it_at_start(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """Killed after storing a hit that dates the event, before storing the change: the restarted
    daemon stores it, and its alert goes out once."""
    newsroom.write_rule("visit", {**VISIT, "notify_on": "date_change"})
    newsroom.publish("putin-1", "Putin to visit New Delhi on December 4-5")
    settings = newsroom.settings()
    first = Daemon(settings, notify_socket, {FAULT: "poll_stored"}).start()
    daemons.append(first)
    assert first.wait() == -signal.SIGKILL

    second = Daemon(settings, notify_socket).start()
    daemons.append(second)
    second.expect_log(r"events_recovered rules=visit")
    mail = newsroom.smtp.next_message(timeout=WAIT)
    assert "now dated 4\u20135 December" in str(mail.message["Subject"])
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert len(newsroom.smtp.received) == 1


class RefusingGate:
    """An aiosmtpd handler that holds message number ``hold`` until ``release`` is set, then
    refuses it (451, so it is not delivered); every other message is accepted and kept."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.seen = 0
        self.accepted: list[str] = []
        self.held = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.seen += 1
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        if self.seen == self.hold:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, WAIT)
            return "451 try again later"
        self.accepted.append(str(message["Subject"]))
        return "250 OK"


@dataclass(frozen=True)
class KillMidSend:
    """A daemon killed while the SMTP server holds message number ``hold``, then a second one
    started on the same database: each finished once every delivery is sent."""

    newsroom: Newsroom
    notify_socket: NotifySocket
    daemons: list[Daemon]
    settings_path: Path

    def run(self, rules: int, hold: int, group_by: str, left: int) -> RefusingGate:
        """``rules`` rules hit one item, ``left`` of their deliveries are sent after the restart;
        return what the SMTP server took."""
        for n in range(1, rules + 1):
            self.newsroom.write_rule(f"rule-{n}", {**VISIT, "id": f"rule-{n}", "name": f"rule {n}"})
        self.newsroom.publish("putin-1", MATCHING[0])
        gate = RefusingGate(hold=hold)
        port = free_port()
        controller = Controller(gate, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            settings = write_settings(
                self.settings_path,
                self.newsroom.database,
                {"wire": {"url": self.newsroom.server.url("/wire.xml"), "interval": "1s"}},
                rules=str(self.newsroom.rules),
                targets=[
                    {"name": "desk", "url": f"mailto://127.0.0.1:{port}?from=w@example.org&to=d@example.org"}
                ],
                defaults={"group_by": group_by},
            )
            first = Daemon(settings, self.notify_socket).start()
            self.daemons.append(first)
            assert gate.held.wait(WAIT), f"message {hold} never reached the SMTP server"
            first.process.send_signal(signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
            gate.release.set()

            second = Daemon(settings, self.notify_socket).start()
            self.daemons.append(second)
            second.expect_log(r"delivery_claims_released")  # the dead daemon's claim is freed at once
            for _ in range(left):
                second.expect_log(r"delivery_sent")
            second.signal(signal.SIGTERM)
            assert second.wait() == 0
        finally:
            controller.stop()
        with Store.open(self.newsroom.database) as store:
            assert store.delivery_counts()["sent"] == rules
            assert store.waiting_by_target() == {}
        return gate


@pytest.fixture
def kill_mid_send(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon], tmp_path: Path
) -> KillMidSend:
    return KillMidSend(newsroom, notify_socket, daemons, tmp_path / "gated.yaml")


def test_a_kill_mid_send_delivers_every_alert_once(kill_mid_send: KillMidSend) -> None:
    """Five rules hit one item and the target takes a message per rule; the daemon is killed
    while the SMTP server holds the third message (not yet accepted). After a restart each of
    the five arrives exactly once."""
    gate = kill_mid_send.run(rules=5, hold=3, group_by="rule", left=3)
    assert sorted(gate.accepted) == sorted(f"[summit-watch] rule {n}: {MATCHING[0]}" for n in range(1, 6)), (
        "an alert was lost or sent twice"
    )


def test_a_kill_mid_send_of_a_story_message_sends_it_once_after_restart(kill_mid_send: KillMidSend) -> None:
    """Three rules hit one item: one message names them all (group_by: story, the default). The
    daemon is killed while the SMTP server holds it; after a restart it arrives exactly once,
    still naming the three rules."""
    gate = kill_mid_send.run(rules=3, hold=1, group_by="story", left=3)  # in one message
    (subject,) = gate.accepted
    assert all(f"rule {n}" in subject for n in range(1, 4)), subject
