"""A minimal sd_notify client: tell systemd (Type=notify) the daemon's state.

The protocol is one datagram of ``KEY=value`` lines to the AF_UNIX socket named by
$NOTIFY_SOCKET (a path, or ``@name`` for an abstract socket); systemd learns the sender's pid
from the kernel. It is a few lines, so no dependency (the ``sdnotify`` package is unmaintained).
Outside systemd ($NOTIFY_SOCKET unset) every call does nothing, so the daemon calls it freely.
Sending never raises: a lost notification must not take the daemon down with it.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

_SEND_TIMEOUT = 2.0  # seconds; a stuck service manager must not stall the daemon for long


class Notifier:
    """Sends READY, RELOADING, STOPPING, STATUS and WATCHDOG notifications to systemd.

    Thread-safe: each message goes on a fresh socket (as libsystemd's ``sd_notify`` does), so a
    socket that vanished and came back (systemd re-executed) works again.
    """

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        """``address``: $NOTIFY_SOCKET (``/path`` or ``@abstract``), or None to do nothing.

        ``watchdog_usec`` and ``watchdog_pid`` are $WATCHDOG_USEC and $WATCHDOG_PID.
        """
        if address is not None and not address.startswith(("/", "@")):
            raise ValueError(f"NOTIFY_SOCKET {address!r} is neither an absolute path nor @abstract")
        self.address = address
        self._target = "\0" + address[1:] if address and address.startswith("@") else address
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._warned = False
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Notifier":
        """The notifier systemd asked for, or one that does nothing (no or unusable $NOTIFY_SOCKET)."""
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and not address.startswith(("/", "@")):
            log.warning("sd_notify_unsupported socket=%s (not a path or @abstract name)", address)
            address = None
        return cls(
            address,
            watchdog_usec=_positive_int(environ.get("WATCHDOG_USEC")),
            watchdog_pid=_positive_int(environ.get("WATCHDOG_PID")),
        )

    @property
    def enabled(self) -> bool:
        """Whether notifications go anywhere (so callers can skip building STATUS text)."""
        return self._target is not None

    def send(self, message: str) -> bool:
        """Send raw ``KEY=value`` lines; True if delivered, False if disabled or it failed."""
        if self._target is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(_SEND_TIMEOUT)
                sock.sendto(message.encode("utf-8"), self._target)
        except OSError as e:
            with self._lock:
                first = not self._warned
                self._warned = True
            reason = e.strerror or type(e).__name__
            # Warn once: a vanished socket fails at every watchdog ping and would flood the log.
            level = logging.WARNING if first else logging.DEBUG
            log.log(level, "sd_notify_failed socket=%s error=%s", self.address, reason)
            return False
        return True

    def ready(self) -> None:
        """Startup or a reload is complete: systemd marks the service active."""
        self.send("READY=1")

    def reloading(self, monotonic_usec: int | None = None) -> None:
        """A reload starts; READY=1 must follow when it is done.

        MONOTONIC_USEC (CLOCK_MONOTONIC in µs, now by default) lets systemd tell this reload
        from an earlier one.
        """
        if monotonic_usec is None:
            monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec}")

    def stopping(self) -> None:
        """Shutdown has begun (SIGTERM): systemd shows the service as deactivating."""
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        """One line for ``systemctl status``; line breaks become spaces (a newline would start a new key)."""
        self.send("STATUS=" + " ".join(text.splitlines()))

    def watchdog(self) -> None:
        """Keep-alive for WatchdogSec=: send every ``watchdog_interval()`` seconds."""
        self.send("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between ``watchdog()`` calls (half of $WATCHDOG_USEC), or None without a watchdog.

        None also when notifications go nowhere, or when $WATCHDOG_PID names another process (the
        variables were inherited from a parent that systemd watches, not this process).
        """
        if self._target is None or self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000


def _positive_int(value: str | None) -> int | None:
    """A positive integer from an environment variable; None when unset or malformed (as libsystemd)."""
    if not value or not (value.isascii() and value.isdigit()):
        return None
    return int(value) or None
