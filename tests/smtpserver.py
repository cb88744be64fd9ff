"""A real SMTP server (aiosmtpd) on 127.0.0.1 for integration tests: received mail is recorded.

Registered as a pytest plugin by ``tests/conftest.py``, so every test can ask for ``smtp_server``::

    def test_mail(smtp_server: SmtpServer) -> None:
        url = smtp_server.mailto()  # mailto://127.0.0.1:PORT?from=...&to=...
        ...  # send through Apprise
        mail = smtp_server.next_message()  # waits (no sleeps), fails the test after ``timeout``
        assert mail.message["Subject"] == "..."

``stop()`` closes the port (connections are refused, as with a mail server that is down) and
``start()`` listens again on the same port, for "SMTP down, then up" tests.
"""

import queue
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

SENDER = "watch@example.org"
RECIPIENT = "analyst@example.org"


@dataclass(frozen=True)
class Mail:
    """One message the server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    def body(self, subtype: str = "plain") -> str:
        """The text of the ``text/<subtype>`` part (``plain`` or ``html``); fails if there is none."""
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part in a {self.message.get_content_type()} message"
        content: str = part.get_content()
        return content


class _Recorder:
    """The aiosmtpd handler: parses each message and hands it to the test thread."""

    def __init__(self, inbox: "queue.Queue[Mail]", received: list[Mail]) -> None:
        self.inbox = inbox
        self.received = received

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(envelope.mail_from or "", tuple(envelope.rcpt_tos), message)
        self.received.append(mail)
        self.inbox.put(mail)
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a fixed free port; restartable on that port."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Mail] = []
        self._inbox: queue.Queue[Mail] = queue.Queue()
        self._controller: Controller | None = None

    def mailto(self, sender: str = SENDER, to: str = RECIPIENT, **params: str) -> str:
        """An Apprise URL for this server: plain SMTP, no login; extra ``params`` go in the query."""
        query = urlencode({"from": sender, "to": to, **params}, safe="@")
        return f"mailto://{self.host}:{self.port}?{query}"

    def start(self) -> None:
        """Listen (again) on ``port``; a stopped server's loop is closed, so each start is fresh."""
        assert self._controller is None, "the SMTP server is already running"
        controller = Controller(_Recorder(self._inbox, self.received), hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the port: clients now get "connection refused"."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def next_message(self, timeout: float = 5.0) -> Mail:
        """The next message received (in order), waiting up to ``timeout`` seconds for it."""
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no mail arrived at {self.host}:{self.port} within {timeout} s", pytrace=False)

    def poll_message(self, timeout: float) -> Mail | None:
        """The next message received, or None when none arrives within ``timeout`` seconds: for a
        bounded loop that waits on several servers at once."""
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def __enter__(self) -> "SmtpServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running loopback SMTP server for this test."""
    with SmtpServer() as server:
        yield server
