"""The daemon end to end: ``summit-watch run`` as a subprocess, a loopback feed server, aiosmtpd,
and a NOTIFY_SOCKET the test listens on, as systemd would.

Waiting is always on an event: a datagram on the notify socket, a line of the daemon's log (read
by a thread into a queue), or a mail at the SMTP server; never a fixed sleep.
"""

import itertools
import os
import pty
import queue
import re
import select
import shutil
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from daemons import WAIT, Daemon, Newsroom, NotifySocket
from httpserver import Reply
from polling import Entry, rss

from watcher.errors import StorageError
from watcher.service import Service

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}

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
    tmp_path: Path, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """What `make run` does, in a scratch copy of a bare clone: the example settings, their demo
    feeds in examples/feeds, no targets, nothing from ../shared. Real outlets' feeds cannot be
    reached from here (no internet, or any answer: they are polled in the background); the demo
    story alerts on stdout all the same."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    daemon = Daemon(tmp_path / "examples" / "summit-watch.yaml", notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    # Whatever the example rules say: an alert, and the phone call's story from both outlets.
    daemon.expect_log(r"^\[summit-watch\] .+: ", timeout=60)
    # One story: led by whichever outlet was stored first, the other "also".
    daemon.expect_log(r"^Also reported by: (Delhi Dispatch|Eurasia Wire) \(demo\)")
    daemon.signal(signal.SIGINT)
    assert daemon.wait() == 0
    # A quiet demo: no Alembic INFO lines (creating the database), no "malformed" local feed.
    assert not [line for line in daemon.log if "alembic" in line]
    assert not [line for line in daemon.log if "feed_malformed" in line and "demo-" in line]


@pytest.mark.integration
def test_make_run_stops_with_exit_status_0_on_ctrl_c_from_a_terminal(tmp_path: Path) -> None:
    """`make run` in a terminal (a pseudo-terminal here), then Ctrl-C: the daemon stops cleanly and
    make, whose process group the terminal's interrupt no longer reaches, exits 0 too."""
    feed = (REPO / "examples" / "feeds" / "delhi-dispatch.xml").as_uri()
    settings = tmp_path / "demo.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path / 'demo.db'}",
                "rules": str(REPO / "tests" / "data" / "rules"),
                "feeds": [{"name": "demo", "url": feed}],
            }
        ),
        encoding="utf-8",
    )
    venv = Path(sys.prefix)
    command = ["make", "-s", "-C", str(REPO), "-o", str(venv / ".installed-run"), "run"]
    command += [f"VENV={venv}", f"EXAMPLE_CONFIG={settings}"]  # this venv, as installed: no reinstall
    pid, terminal = pty.fork()
    if pid == 0:  # the child: make, on the terminal
        os.execvp(command[0], command)
    try:
        seen = _read_terminal_until(terminal, b"daemon_ready")
        assert b"daemon_ready" in seen, seen.decode(errors="replace")
        os.write(terminal, b"\x03")  # Ctrl-C, as a user types it
        seen += _read_terminal_until(terminal, b"daemon_stopped")
        _, status = os.waitpid(pid, 0)
        seen += _read_terminal_until(terminal, None)  # what is left once make is gone
    finally:
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    assert b"daemon_stopped" in seen, seen.decode(errors="replace")
    assert b"Interrupt" not in seen  # make was not interrupted


def _read_terminal_until(terminal: int, wanted: bytes | None) -> bytes:
    """What the terminal shows until ``wanted`` appears (None: until it closes), within ``WAIT``."""
    seen = b""
    deadline = time.monotonic() + WAIT
    while (wanted is None or wanted not in seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], deadline - time.monotonic())
        if not ready:
            break
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: every process holding the terminal has ended
            break
        if not chunk:
            break
        seen += chunk
    return seen


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
    assert "database_unavailable job=storage_down error=database sqlite:///x.db: disk I/O error" in (
        caplog.text
    )
    assert not service._crashed
    service._guarded(bug, storage=False)()  # storage jobs wait out the backoff meanwhile
    assert "job_crashed job=bug" in caplog.text
    assert service._crashed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_feed_is_polled_every_interval_not_every_other_one(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """The next poll counts from when a poll is recorded, a moment after the job fired: the job
    must follow that time, not fire early, find the feed not due and wait a whole interval more."""
    polled: queue.Queue[float] = queue.Queue()

    def wire(exchange: object) -> Reply:
        polled.put(time.monotonic())
        threading.Event().wait(0.5)  # a slow outlet: the poll is recorded well after the job fired
        return Reply(200, rss(*newsroom.entries).encode(), RSS_TYPE)

    newsroom.write_rule("visit", VISIT)
    url = newsroom.server.route("/wire.xml", wire)
    daemon = Daemon(newsroom.settings(feeds={"wire": {"url": url, "interval": "2s"}}), notify_socket).start()
    daemons.append(daemon)
    times = [polled.get(timeout=WAIT) for _ in range(7)]
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > 1.9, f"polled within its interval: {gaps}"
    assert statistics.median(gaps) < 3.4, f"polled about every other interval: {gaps}"  # 2 s + 0.5 s
