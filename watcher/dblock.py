"""One daemon per SQLite database: the lock file beside it, and who holds it.

Its own module, apart from the daemon's, so that ``status`` can tell whether a daemon runs
without importing the daemon's libraries (APScheduler, Apprise, httpx).
"""

import fcntl
import os
from pathlib import Path
from typing import TextIO

from watcher.errors import DaemonRunningError
from watcher.store import database_url


class DatabaseLock:
    """One daemon per SQLite database: an exclusive ``flock`` on ``<database>.lock``.

    (PostgreSQL may be shared: each poll and delivery is claimed in the database.)
    """

    def __init__(self, url: str) -> None:
        parsed = database_url(url)
        self.path = (
            Path(f"{parsed.database}.lock")
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
            else None
        )
        self._file: TextIO | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            database = str(self.path)[: -len(".lock")]
            raise DaemonRunningError(
                f"another summit-watch daemon (pid {holder}) is running on {database}; "
                "stop it first (one daemon per SQLite database; use PostgreSQL to run several)"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._file = lock

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None


def sqlite_daemon(url: str) -> int | None:
    """The pid of the daemon holding SQLite database ``url`` (None: none runs, or not SQLite)."""
    path = DatabaseLock(url).path
    if path is None:
        return None
    try:
        lock = path.open("r", encoding="utf-8")
    except OSError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock.read().strip()
            return int(holder) if holder.isdigit() else 0
        fcntl.flock(lock, fcntl.LOCK_UN)
        return None
