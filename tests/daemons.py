"""The daemon as a subprocess, for end-to-end and fault tests (a pytest plugin).

``Daemon`` runs ``summit-watch run`` with its log lines in a queue; ``NotifySocket`` stands in for
systemd's notify socket; ``Newsroom`` is a loopback feed server, a rules directory, an SMTP server
and a settings file. Waiting is always on an event (a datagram, a log line, a mail), never a sleep.
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from httpserver import LoopbackServer, Reply
from polling import Entry, rss, write_settings
from smtpserver import SmtpServer

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
WAIT = 30.0  # seconds any single expected event may take at most


class NotifySocket:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="sw-", dir="/tmp")  # AF_UNIX paths are short
        self.path = str(Path(self._directory) / "notify")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self.seen: list[str] = []

    def expect(self, wanted: str, timeout: float = WAIT) -> str:
        """The next message holding the line ``wanted`` (earlier ones are kept in ``seen``)."""
        self._socket.settimeout(timeout)
        while True:
            try:
                message = self._socket.recv(4096).decode()
            except TimeoutError:
                pytest.fail(f"no {wanted!r} on the notify socket within {timeout} s; saw {self.seen}")
            self.seen.append(message)
            if wanted in message.splitlines():
                return message

    def close(self) -> None:
        self._socket.close()
        shutil.rmtree(self._directory, ignore_errors=True)


@dataclass
class Daemon:
    """``summit-watch run`` in a subprocess; its log lines arrive in a queue."""

    settings: Path
    notify: NotifySocket | None
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] = field(init=False)
    lines: "queue.Queue[str]" = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)

    def start(self) -> "Daemon":
        environment = {**os.environ, "SUMMIT_WATCH_CONFIG": str(self.settings), **self.environment}
        environment.pop("NOTIFY_SOCKET", None)
        if self.notify is not None:
            environment["NOTIFY_SOCKET"] = self.notify.path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def expect_log(self, pattern: str, timeout: float = WAIT) -> str:
        """The next log line matching ``pattern`` (a regular expression)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no log line matching {pattern!r} within {timeout} s; log: {self.log[-30:]}")
            self.log.append(line)
            if re.search(pattern, line):
                return line

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        code = self.process.wait(timeout)
        while not self.lines.empty():
            self.log.append(self.lines.get())
        return code

    @property
    def owner(self) -> str:
        """How the daemon names itself in its claims of polls and deliveries (``watcher.claims.OWNER``)."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def freeze(self) -> None:
        """SIGSTOP, returning once every thread of the daemon has stopped: what it stored is then
        what it will have stored when it is killed, so a test can read its claims in between."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)
            os.waitpid(self.process.pid, os.WUNTRACED)

    def thaw(self) -> None:
        """SIGCONT after ``freeze``."""
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Newsroom:
    """A feed server, a rules directory and a settings file for the daemon."""

    server: LoopbackServer
    root: Path
    database: str
    smtp: SmtpServer
    entries: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rules = self.root / "rules"
        self.rules.mkdir()
        self.server.route("/wire.xml", lambda exchange: Reply(200, rss(*self.entries).encode(), RSS_TYPE))

    def write_rule(self, name: str, spec: dict[str, Any] | str) -> Path:
        path = self.rules / f"{name}.yaml"
        text = spec if isinstance(spec, str) else yaml.safe_dump(spec)
        # Write then rename: the daemon never reads half a file.
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
        return path

    def settings(self, **extra: Any) -> Path:
        feeds = {"wire": {"url": self.server.url("/wire.xml"), "interval": "1s"}}
        return write_settings(
            self.root / "summit-watch.yaml",
            self.database,
            feeds | extra.pop("feeds", {}),
            rules=str(self.rules),
            targets=[{"name": "desk", "url": self.smtp.mailto(), "pace": 0}],
            **extra,
        )

    def publish(self, guid: str, title: str) -> None:
        self.entries.append(Entry(guid, title, link=f"https://news.example/{guid}"))


@pytest.fixture
def newsroom(
    http_server: LoopbackServer, database_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> Newsroom:
    return Newsroom(http_server, tmp_path, database_url, smtp_server)


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    listener = NotifySocket()
    yield listener
    listener.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons started by a test, killed at its end if still running."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()
        daemon.wait()
        print(f"log of daemon {daemon.process.pid}:", *daemon.log, sep="\n")  # shown when a test fails
