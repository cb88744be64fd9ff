"""The sd_notify client against real AF_UNIX datagram sockets, as systemd would listen on them."""

import logging
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watcher.sdnotify import Notifier

RECV_TIMEOUT = 5.0  # seconds; a datagram that is sent arrives at once, this only bounds a failure


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket in tmp_path and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(RECV_TIMEOUT)
        yield sock, str(path)


def notifier(address: str, **environ: str) -> Notifier:
    return Notifier.from_environment({"NOTIFY_SOCKET": address, **environ})


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def assert_nothing_queued(sock: socket.socket) -> None:
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(4096)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (Notifier.ready, "READY=1"),
        (Notifier.stopping, "STOPPING=1"),
        (Notifier.watchdog, "WATCHDOG=1"),
        (
            lambda n: n.status("12 feeds ok, 1 failing; 3 hits today"),
            "STATUS=12 feeds ok, 1 failing; 3 hits today",
        ),
        (lambda n: n.reloading(123456789), "RELOADING=1\nMONOTONIC_USEC=123456789"),
    ],
    ids=["ready", "stopping", "watchdog", "status", "reloading"],
)
def test_each_message_is_one_exact_datagram(
    listener: tuple[socket.socket, str], call: Callable[[Notifier], None], expected: str
) -> None:
    sock, address = listener
    call(notifier(address))
    assert receive(sock) == expected
    assert_nothing_queued(sock)


def test_reloading_stamps_the_monotonic_clock_in_microseconds(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier(address).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = receive(sock).split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert value.isdigit()
    assert before <= int(value) <= after


def test_status_cannot_smuggle_other_assignments(listener: tuple[socket.socket, str]) -> None:
    """A feed error text with a newline must not become a second line such as READY=1."""
    sock, address = listener
    notifier(address).status("feed failed:\nREADY=1")
    assert receive(sock) == "STATUS=feed failed: READY=1"


def test_non_ascii_status_is_utf8(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier(address).status("São Paulo feed — failing")
    assert sock.recv(4096) == "STATUS=São Paulo feed — failing".encode()


def test_abstract_socket() -> None:
    name = f"summit-watch-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(RECV_TIMEOUT)
        n = notifier("@" + name)
        assert n.enabled
        n.ready()
        n.status("abstract")
        assert receive(sock) == "READY=1"
        assert receive(sock) == "STATUS=abstract"


def test_the_kernel_names_this_process_as_sender_even_from_a_thread(
    listener: tuple[socket.socket, str],
) -> None:
    """systemd (NotifyAccess=main) accepts only datagrams whose credentials carry the main pid;
    the daemon notifies from scheduler threads, whose datagrams must still carry it."""
    sock, address = listener
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    n = notifier(address)
    thread = threading.Thread(target=n.watchdog)
    thread.start()
    thread.join()
    ucred = struct.Struct("iII")  # pid, uid, gid
    data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(ucred.size))
    assert data == b"WATCHDOG=1"
    [(level, kind, payload)] = ancillary
    assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS)
    assert ucred.unpack(payload[: ucred.size])[0] == os.getpid()


def test_without_notify_socket_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sockets(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("a socket was created without NOTIFY_SOCKET")

    monkeypatch.setattr(socket, "socket", no_sockets)
    for environ in ({}, {"NOTIFY_SOCKET": ""}, {"WATCHDOG_USEC": "60000000"}):
        n = Notifier.from_environment(environ)
        assert not n.enabled
        n.ready()
        n.reloading()
        n.status("x")
        n.watchdog()
        n.stopping()
        assert n.send("READY=1") is False
        assert n.watchdog_interval() is None


def test_default_environment_is_os_environ(
    monkeypatch: pytest.MonkeyPatch, listener: tuple[socket.socket, str]
) -> None:
    sock, address = listener
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    Notifier.from_environment().ready()
    assert receive(sock) == "READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not Notifier.from_environment().enabled


def test_unsupported_socket_address_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="watcher.sdnotify"):
        n = Notifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not n.enabled
    assert [r.getMessage() for r in caplog.records] == [
        "sd_notify_unsupported socket=vsock:2:1234 (not a path or @abstract name)"
    ]
    with pytest.raises(ValueError, match="neither an absolute path nor @abstract"):
        Notifier("relative/notify")


@pytest.mark.parametrize("gone", ["unlinked", "nobody listening"])
def test_a_vanished_socket_never_raises_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, gone: str
) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    if gone == "unlinked":
        path.unlink()  # ENOENT; otherwise the file stays and sending is refused (ECONNREFUSED)
    n = notifier(str(path))
    with caplog.at_level(logging.DEBUG, logger="watcher.sdnotify"):
        assert n.send("READY=1") is False
        n.watchdog()
        n.status("still running")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith(f"sd_notify_failed socket={path} error=")
    assert len(caplog.records) == 3  # the later failures at debug level


def test_sending_works_again_when_the_socket_comes_back(tmp_path: Path) -> None:
    """A fresh socket per message: after systemd re-creates its socket, notifications resume."""
    path = tmp_path / "notify"
    n = notifier(str(path))
    assert n.send("WATCHDOG=1") is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(RECV_TIMEOUT)
        assert n.send("WATCHDOG=1") is True
        assert receive(sock) == "WATCHDOG=1"


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "{pid}"}, 30.0),
        ({"WATCHDOG_USEC": "1500000"}, 0.75),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "{other}"}, None),
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "60s"}, None),
        ({"WATCHDOG_USEC": "6_000"}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "not-a-pid"}, 30.0),
    ],
    ids=[
        "usec",
        "our-pid",
        "fraction",
        "other-pid",
        "unset",
        "empty",
        "zero",
        "negative",
        "unit",
        "underscore",
        "bad-pid-ignored",
    ],
)
def test_watchdog_interval(
    listener: tuple[socket.socket, str], environ: dict[str, str], interval: float | None
) -> None:
    _, address = listener
    values = {k: v.format(pid=os.getpid(), other=os.getpid() + 1) for k, v in environ.items()}
    assert notifier(address, **values).watchdog_interval() == interval


def test_watchdog_pid_is_compared_at_call_time(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process forked after start-up is not the one systemd watches: it gets no interval."""
    _, address = listener
    n = notifier(address, WATCHDOG_USEC="60000000", WATCHDOG_PID=str(os.getpid()))
    assert n.watchdog_interval() == 30.0
    monkeypatch.setattr(os, "getpid", lambda: 1)
    assert n.watchdog_interval() is None
