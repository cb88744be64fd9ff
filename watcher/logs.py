"""Logging set-up shared by the command line and the daemon.

Log lines are an event name and ``key=value`` fields (``feed_failed feed=bbc error=...``), for
people and for ``journalctl | grep``. A value with a space would run into the next field, so the
formatter quotes it: ``error="connection refused"``.
"""

import logging
import os
import re
import sys
from typing import Final

# A %-style placeholder of a log message (``%%`` is a literal percent sign).
_PLACEHOLDER: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_NEEDS_QUOTES: Final = re.compile(r'[\s"=]')


def quote_value(value: object) -> str:
    """``value`` as a field value: as it is, or in double quotes (``\\`` and ``"`` escaped) when it
    is empty or holds a space, a quote or ``=``; a line break becomes ``\\n``."""
    text = str(value)
    if text and not _NEEDS_QUOTES.search(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class FieldFormatter(logging.Formatter):
    """Quotes the ``%s`` values that follow ``key=`` in a message, so every field stays one token."""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, str) and isinstance(record.args, tuple) and record.args:
            args = list(record.args)
            index = 0
            for found in _PLACEHOLDER.finditer(record.msg):
                if found.group() == "%%":
                    continue
                if index >= len(args):
                    break
                after_key = found.start() > 0 and record.msg[found.start() - 1] == "="
                if after_key and found.group() == "%s":
                    args[index] = quote_value(args[index])
                index += 1
            record = logging.makeLogRecord({**record.__dict__, "args": tuple(args)})
        return super().format(record)


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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldFormatter(stamp + "%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "job executed" lines at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request: 1,000 feeds, 1,000 lines
    if level > logging.DEBUG:  # Alembic's INFO: a line per migration step ("Context impl", "Running upgrade")
        logging.getLogger("alembic").setLevel(logging.WARNING)
