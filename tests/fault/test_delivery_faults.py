"""Mail servers that fail under a running daemon: one down for a while, one hanging mid-send.

A real daemon (``summit-watch run``) alerts real aiosmtpd servers. What an operator cares about
is counted at the servers: every alert arrives exactly once, and a server that answers again
gets what waited for it within seconds, not after each delivery's backoff (30 s at least, less
20% jitter); a server that hangs holds neither another target's alerts nor the daemon.
"""

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from daemons import WAIT, Daemon, Newsroom, NotifySocket
from polling import write_settings
from smtpserver import Mail, free_port

VISIT = {"id": "visit", "name": "Putin visit", "group_wait": "0s", "match": {"all": ["putin", "visit"]}}
TITLES = [f"Putin to visit New Delhi, report {n}" for n in range(1, 5)]
SHORTEST_RETRY = 24.0  # seconds: the first retry comes 30 s after a failure, less 20% jitter
PROMPTLY = 10.0  # seconds within which waiting alerts must follow the first one a server takes


def subjects(mails: list[Mail]) -> list[str]:
    return sorted(str(mail.message["Subject"]) for mail in mails)


def expected(titles: list[str]) -> list[str]:
    return sorted(f"[summit-watch] Putin visit: {title}" for title in titles)


def test_alerts_waiting_for_a_mail_server_follow_its_first_success_at_once(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """Three alerts fail while the server is down, each backing off for at least 24 s. Once the
    server is back, the next alert goes at once, and the three follow it within seconds."""
    newsroom.write_rule("visit", VISIT)
    newsroom.smtp.stop()
    daemon = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    for n, title in enumerate(TITLES[:3], 1):  # one poll and one alert each: their backoffs differ
        newsroom.publish(f"putin-{n}", title)
        daemon.expect_log(rf"delivery_failed rule=visit target=desk alert={n} attempts=1 ")

    newsroom.smtp.start()
    newsroom.publish("putin-4", TITLES[3])
    first = newsroom.smtp.next_message(timeout=WAIT)
    first_at = time.monotonic()
    for _ in range(3):
        newsroom.smtp.next_message(timeout=WAIT)
    assert time.monotonic() - first_at < PROMPTLY, "the waiting alerts waited out their backoff"
    daemon.expect_log(r"target_recovered target=desk woken=[1-3]$")

    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert subjects(newsroom.smtp.received) == expected(TITLES), "an alert was lost or sent twice"
    assert first.message["Subject"] in expected(TITLES)


class HangingServer:
    """aiosmtpd whose handler holds every message, unanswered, until ``release`` is set: a mail
    server that stopped answering mid-send (after DATA), then recovers and accepts it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.release = threading.Event()
        self.held = threading.Event()  # a client is waiting for an answer
        self.accepted: list[str] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def url(self) -> str:
        # Apprise's SMTP socket timeout is 15 s: 60 keeps the client waiting for the whole test.
        return f"mailto://127.0.0.1:{self.port}?from=watch@example.org&to=slow@example.org&cto=60"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        if not self.release.is_set():
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 2 * WAIT)
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.accepted.append(str(message["Subject"]))
        return "250 OK"

    def __enter__(self) -> "HangingServer":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # a held handler must not outlive the test
        self._controller.stop()


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    with HangingServer() as server:
        yield server


def test_a_hanging_mail_server_holds_neither_other_targets_nor_the_daemon(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon], hanging: HangingServer
) -> None:
    """Every alert goes to a hanging server and a working one. The working one gets each alert
    while the other hangs, those that come later too; once released, the hanging one gets each
    alert exactly once."""
    newsroom.write_rule("visit", VISIT)
    settings = write_settings(
        newsroom.root / "two-targets.yaml",
        newsroom.database,
        {"wire": {"url": newsroom.server.url("/wire.xml"), "interval": "1s"}},
        rules=str(newsroom.rules),
        targets=[  # the hanging one first: a single queue would try it first
            {"name": "slow", "url": hanging.url(), "pace": 0},
            {"name": "desk", "url": newsroom.smtp.mailto(), "pace": 0},
        ],
    )
    daemon = Daemon(settings, notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    for n, title in enumerate(TITLES[:3], 1):  # one alert each, the later ones made during the hang
        newsroom.publish(f"putin-{n}", title)
        mail = newsroom.smtp.next_message(timeout=PROMPTLY)
        assert mail.message["Subject"] == f"[summit-watch] Putin visit: {title}"
        assert hanging.held.wait(WAIT)
        assert hanging.accepted == []  # still hanging

    hanging.release.set()
    for _ in range(3):
        daemon.expect_log(r"delivery_sent rule=visit target=slow ")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert sorted(hanging.accepted) == expected(TITLES[:3]), "an alert was lost or sent twice"
    assert subjects(newsroom.smtp.received) == expected(TITLES[:3])
