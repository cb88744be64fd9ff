"""The daemon end to end: ``summit-watch run`` as a subprocess, a loopback feed server, aiosmtpd,
and a NOTIFY_SOCKET the test listens on, as systemd would.

Waiting is always on an event: a datagram on the notify socket, a line of the daemon's log (read
by a thread into a queue), or a mail at the SMTP server; never a fixed sleep.
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
from conftest import REPO
from httpserver import LoopbackServer, Reply
from polling import Entry, rss, write_settings
from smtpserver import SmtpServer

from watcher.service import Service
from watcher.store import StorageError

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


VISIT = {"id": "visit", "name": "Putin visit", "group_wait": "1s", "match": {"all": ["putin", "visit"]}}


def test_the_daemon_alerts_reloads_and_stops_cleanly(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", VISIT)
    newsroom.publish("oslo-1", "Weather in Oslo: rain all week")
    daemon = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    notify_socket.expect("STATUS=1 feeds ok, 0 failing; 0 hits in 24 h; 0 deliveries pending, 0 dead")

    # A new item arrives as an email within group_wait plus a few seconds.
    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")
    mail = newsroom.smtp.next_message(timeout=WAIT)
    assert (
        mail.message["Subject"]
        == "[summit-watch] Putin visit: Putin to visit New Delhi for the annual summit"
    )

    # A rule edited on disk applies without a restart.
    newsroom.write_rule("visit", {**VISIT, "match": {"all": ["lavrov"]}})
    daemon.expect_log(r"rules_reloaded rules=1")
    newsroom.publish("lavrov-1", "Lavrov arrives in New Delhi for talks")
    assert "Lavrov arrives" in newsroom.smtp.next_message(timeout=WAIT).message["Subject"]

    # A broken edit keeps the old rules working, and says why, as path:line: field: message.
    broken = newsroom.write_rule("visit", {**VISIT, "match": {"all": ["lavrov"]}, "realret": 1})
    line = daemon.expect_log(r"rules_invalid")
    assert re.search(rf"rules_invalid {re.escape(str(broken))}:\d+: realret: ", line)
    newsroom.publish("lavrov-2", "Lavrov meets Jaishankar in New Delhi")
    assert "Jaishankar" in newsroom.smtp.next_message(timeout=WAIT).message["Subject"]

    # SIGHUP: RELOADING=1 with the monotonic time, then READY=1.
    daemon.signal(signal.SIGHUP)
    reloading = notify_socket.expect("RELOADING=1")
    assert re.search(r"^MONOTONIC_USEC=\d+$", reloading, re.MULTILINE)
    notify_socket.expect("READY=1")

    # SIGTERM: STOPPING=1 and exit 0.
    daemon.signal(signal.SIGTERM)
    notify_socket.expect("STOPPING=1")
    assert daemon.wait() == 0
    assert len(newsroom.smtp.received) == 3


def test_hits_pending_at_sigterm_are_sent_after_a_restart(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", {**VISIT, "group_wait": "1h"})  # held in the outbox at the stop
    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")
    first = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(first)
    first.expect_log(r"feed_hits feed=wire new_items=1 hits=1")
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    assert newsroom.smtp.received == []

    newsroom.write_rule("visit", {**VISIT, "group_wait": "0s"})
    second = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(second)
    mail = newsroom.smtp.next_message(timeout=WAIT)
    assert "Putin to visit New Delhi" in mail.message["Subject"]
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


def test_sighup_adds_a_feed_from_the_settings_file(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", {**VISIT, "group_wait": "0s"})
    daemon = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    extra = Entry("putin-9", "Putin to visit Chennai next", link="https://news.example/9")
    url = newsroom.server.route("/extra.xml", Reply(200, rss(extra).encode(), RSS_TYPE))
    newsroom.settings(feeds={"extra": {"url": url, "interval": "1s"}})
    daemon.signal(signal.SIGHUP)
    daemon.expect_log(r"feed_scheduled feed=extra")
    assert "Chennai" in newsroom.smtp.next_message(timeout=WAIT).message["Subject"]
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_second_daemon_on_one_sqlite_database_refuses_to_start(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", VISIT)
    settings = newsroom.settings()
    first = Daemon(settings, notify_socket).start()
    daemons.append(first)
    notify_socket.expect("READY=1")
    second = Daemon(settings, None).start()
    daemons.append(second)
    assert second.wait() == 1
    assert any(f"another summit-watch daemon (pid {first.process.pid})" in line for line in second.log)
    first.signal(signal.SIGTERM)
    assert first.wait() == 0


def test_the_bundled_example_alerts_on_stdout_within_a_minute_offline(
    tmp_path: Path, seeds: list[Path], notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """What `make run` does, in a scratch copy: the example settings, the sample feeds written from
    the seeds, no targets. Real outlets' feeds cannot be reached from here (no internet, or any
    answer: they are polled in the background); the seeds' story alerts on stdout all the same."""
    (tmp_path / "examples").mkdir()
    shutil.copy(REPO / "examples" / "summit-watch.yaml", tmp_path / "examples")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    written = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "sample_feeds.py"),
            str(seeds[0].parent),
            str(tmp_path / ".run"),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    daemon = Daemon(tmp_path / "examples" / "summit-watch.yaml", notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    daemon.expect_log(r"^\[summit-watch\] Modi-Putin phone call: ", timeout=60)
    # One story: led by whichever outlet was stored first, the other "also".
    daemon.expect_log(r"^Also reported by: (The Hindu|Hindustan Times) \(sample\)")
    daemon.signal(signal.SIGINT)
    assert daemon.wait() == 0


def test_watchdog_pings_when_systemd_asks_for_them(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """WatchdogSec=: systemd sets WATCHDOG_USEC (and WATCHDOG_PID); WATCHDOG=1 comes every half of it."""
    newsroom.write_rule("visit", VISIT)
    daemon = Daemon(newsroom.settings(), notify_socket, {"WATCHDOG_USEC": "400000"}).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    notify_socket.expect("WATCHDOG=1", timeout=5)
    notify_socket.expect("WATCHDOG=1", timeout=5)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0


def test_a_job_failing_as_expected_is_logged_and_a_bug_stops_the_daemon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreachable database is the job's failure, retried at its next run; a bug is fatal (exit 1)."""
    service = Service(tmp_path / "unused.yaml")

    def storage_down() -> None:
        raise StorageError("database sqlite:///x.db: disk I/O error")

    def bug() -> None:
        raise KeyError("oops")

    service._guarded(storage_down)()
    assert "job_failed job=storage_down error=database sqlite:///x.db: disk I/O error" in caplog.text
    assert not service._crashed
    service._guarded(bug)()
    assert "job_crashed job=bug" in caplog.text
    assert service._crashed
