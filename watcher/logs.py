"""Logging set-up shared by the command line and the daemon."""

import logging
import os
import sys


def quiet_apprise(*, debug: bool = False) -> None:
    """Keep Apprise's own log lines out of ours unless debugging.

    Apprise logs every failure it also returns; summit-watch reports each failure once, naming
    the target. Apprise's warnings must still be *emitted*, though: it captures them per send and
    they are the detail of a failure's reason (``watcher.notify``). So the level stays at WARNING
    and only propagation to our handlers is cut.
    """
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    apprise_logger.propagate = debug


def configure(level: int) -> None:
    """Log to stderr; without timestamps under journald, which adds its own (``$JOURNAL_STREAM``)."""
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(
        level=level, format=stamp + "%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "job executed" lines at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request: 1,000 feeds, 1,000 lines
