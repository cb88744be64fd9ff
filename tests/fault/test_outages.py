"""The database goes away under a running daemon: PostgreSQL stopped for 60 s, SQLite's disk full.

The daemon must stay up, say so once (``database_unavailable``), answer 503 on /healthz with the
reason, and when the database is back say so (``database_available``) and deliver what arrived
meanwhile, exactly once. Invalid rule files make /healthz fail too. Real parts throughout: a
private PostgreSQL cluster (its own directory and port, so the shared one keeps serving the
rest of the suite), a tmpfs mount of 3 MiB for the full disk, aiosmtpd, a loopback feed server.
"""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import WAIT, Daemon, Newsroom, NotifySocket
from httpserver import LoopbackServer
from smtpserver import SmtpServer, free_port

OUTAGE = 60.0  # seconds PostgreSQL stays down
VISIT = {"id": "visit", "name": "Putin visit", "group_wait": "0s", "match": {"all": ["putin", "visit"]}}


def healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for_health(port: int, status: int, timeout: float = WAIT) -> str:
    """The /healthz body once it answers ``status`` (asked every 0.2 s: the daemon sends no event)."""
    deadline = time.monotonic() + timeout
    seen: tuple[int, str] = (0, "")
    while time.monotonic() < deadline:
        seen = healthz(port)
        if seen[0] == status:
            return seen[1]
        threading.Event().wait(0.2)
    pytest.fail(f"/healthz never answered {status} within {timeout} s; last {seen}")


def mail_links(smtp: SmtpServer) -> list[str]:
    """The item links of every alert received (each alerted item is listed with its link)."""
    links = []
    for mail in smtp.received:
        body = mail.message.get_body(preferencelist=("plain",))
        assert body is not None
        links += [line for line in body.get_content().splitlines() if line.startswith("https://")]
    return links


class PrivateCluster:
    """A PostgreSQL cluster of the test's own, started and stopped by it (as user postgres when
    the tests run as root: the server refuses to run as root)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            pytest.fail("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin", pytrace=False)
        self.bin = found[-1].parent
        self.directory = Path(tempfile.mkdtemp(prefix="sw-pg-", dir="/tmp"))  # short socket path
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *arguments: str) -> None:
        command = [str(self.bin / tool), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    cluster.start()
    yield cluster
    cluster.remove()


def test_postgresql_down_for_a_minute_the_daemon_waits_and_delivers_once(
    private_postgres: PrivateCluster,
    postgres_newsroom: Newsroom,
    notify_socket: NotifySocket,
    daemons: list[Daemon],
) -> None:
    newsroom, smtp_server = postgres_newsroom, postgres_newsroom.smtp
    newsroom.write_rule("visit", VISIT)
    port = free_port()
    daemon = Daemon(newsroom.settings(health={"listen": f"127.0.0.1:{port}"}), notify_socket).start()
    daemons.append(daemon)
    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")
    smtp_server.next_message(timeout=WAIT)
    assert wait_for_health(port, 200) == "ok\n"

    private_postgres.stop()
    stopped = time.monotonic()
    newsroom.publish("putin-2", "Putin's visit: Delhi readies a state banquet")
    daemon.expect_log(r"database_unavailable job=")
    assert "database failing since" in wait_for_health(port, 503)
    # The outage lasts a minute: longer than the status report's 30 s, which used to end the daemon.
    while (left := OUTAGE - (time.monotonic() - stopped)) > 0:
        try:
            daemon.log.append(daemon.lines.get(timeout=left))
        except queue.Empty:  # the minute is over
            break
    assert daemon.process.poll() is None, f"the daemon exited during the outage: {daemon.log[-20:]}"
    assert sum("database_unavailable" in line for line in daemon.log) == 1  # said once, not per job

    private_postgres.start()
    daemon.expect_log(r"database_available after=\d+s", timeout=WAIT + 30)  # the backoff's longest wait
    smtp_server.next_message(timeout=WAIT)
    assert wait_for_health(port, 200) == "ok\n"
    daemon.signal(15)
    assert daemon.wait() == 0
    assert sorted(mail_links(smtp_server)) == ["https://news.example/putin-1", "https://news.example/putin-2"]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 3 MiB tmpfs: a disk that fills up (mounting needs root, as CI runs)."""
    directory = Path(tempfile.mkdtemp(prefix="sw-disk-", dir="/tmp"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(directory)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        directory.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    yield directory
    subprocess.run(["umount", "-l", str(directory)], check=False)
    directory.rmdir()


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; return the filler file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while out.write(b"\0" * size):
                    pass
            except OSError:
                continue
    return filler


@pytest.fixture
def postgres_newsroom(
    private_postgres: PrivateCluster, http_server: LoopbackServer, smtp_server: SmtpServer, tmp_path: Path
) -> Newsroom:
    return Newsroom(http_server, tmp_path, private_postgres.url, smtp_server)


@pytest.fixture
def full_disk_newsroom(
    small_disk: Path, http_server: LoopbackServer, smtp_server: SmtpServer, tmp_path: Path
) -> Newsroom:
    return Newsroom(http_server, tmp_path, f"sqlite:///{small_disk / 'watch.db'}", smtp_server)


def test_sqlite_on_a_full_disk_fails_loudly_then_recovers_without_loss(
    small_disk: Path, full_disk_newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom, smtp_server = full_disk_newsroom, full_disk_newsroom.smtp
    newsroom.write_rule("visit", VISIT)
    port = free_port()
    settings = newsroom.settings(health={"listen": f"127.0.0.1:{port}"})
    daemon = Daemon(settings, notify_socket).start()
    daemons.append(daemon)
    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")
    smtp_server.next_message(timeout=WAIT)

    filler = fill(small_disk)
    for n in range(2, 40):  # new items every poll: more than the write-ahead log has room for
        newsroom.publish(f"putin-{n}", f"Putin's visit, day {n}: " + "talks and banquets " * 40)
    daemon.expect_log(r"database_unavailable job=.*(full|disk)")
    assert "database failing since" in wait_for_health(port, 503)

    # `status` tells the operator (exit 1), where it used to print "all well".
    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(settings), "status"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    # Feeds are overdue after twice their interval and 30 s: asked every 2 s, no event to await.
    deadline = time.monotonic() + 90
    shown = status()
    while shown.returncode == 0 and time.monotonic() < deadline:
        threading.Event().wait(2)
        shown = status()
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "database failing since" in shown.stdout
    assert daemon.process.poll() is None

    filler.unlink()
    daemon.expect_log(r"database_available after=\d+s", timeout=WAIT + 30)  # the backoff's longest wait
    wanted = {f"https://news.example/putin-{n}" for n in range(1, 40)}
    while set(mail_links(smtp_server)) != wanted:
        smtp_server.next_message(timeout=WAIT)
    daemon.signal(15)
    assert daemon.wait() == 0
    links = mail_links(smtp_server)
    assert sorted(links) == sorted(wanted), "an item was alerted twice"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_healthz_fails_while_the_rule_files_are_invalid(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", VISIT)
    port = free_port()
    daemon = Daemon(newsroom.settings(health={"listen": f"127.0.0.1:{port}"}), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")
    assert wait_for_health(port, 200) == "ok\n"
    broken = newsroom.write_rule("visit", {**VISIT, "realret": 1})
    daemon.expect_log(r"rules_invalid")
    assert wait_for_health(port, 503).startswith(f"rules invalid: {broken}:")
    newsroom.write_rule("visit", VISIT)
    daemon.expect_log(r"rules_reloaded")
    assert wait_for_health(port, 200) == "ok\n"
    daemon.signal(15)
    assert daemon.wait() == 0
