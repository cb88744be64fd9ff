"""Bounded work per item and per rule, on a real daemon: a hostile regex cannot freeze it, and a
hostile feed item cannot make it grow.

- A rule regex with nested quantifiers is refused at load (``rules_invalid path:line``), the
  running rules stay; one the static check cannot see runs with a time limit: /healthz answers and
  another rule's alert arrives while hostile titles are matched.
- An item with a 14 MB title is stored cut to ``TITLE_LIMIT``, the next item of the feed alerts,
  and the daemon (with any parser processes) peaks under 250 MB.

Waiting is on events (log lines, mails, an HTTP answer), never on a fixed sleep.
"""

import re
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from daemons import RSS_TYPE, WAIT, Daemon, Newsroom, NotifySocket
from httpserver import Reply
from polling import Entry, rss, stored_items
from smtpserver import free_port

from watcher.parse import ELLIPSIS, TITLE_LIMIT

VISIT: dict[str, Any] = {"id": "visit", "group_wait": "0s", "match": {"all": ["putin", "visit"]}}
# Catastrophic, yet not caught by ``rules check``: see tests/test_matcher.py.
HOSTILE: dict[str, Any] = {"id": "hostile", "group_wait": "0s", "match": {"any": ["/(a|b?a)+$/"]}}
PEAK_BOUND_MB = 250
BIG_TITLE = 14 * 2**20  # characters (bytes): just under the 15 MiB body cap


def test_a_regex_with_nested_quantifiers_is_refused_and_the_running_rules_stay(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    newsroom.write_rule("visit", VISIT)
    daemon = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")

    redos = newsroom.write_rule("redos", {"id": "redos", "match": {"any": ["/(a+)+$/"]}})
    line = daemon.expect_log(r"rules_invalid|rules_reloaded")  # the latter: accepted, wrongly
    assert re.search(rf"rules_invalid {re.escape(str(redos))}:\d+: match\.any\[0\]: /\(a\+\)\+\$/ ", line)
    assert "catastrophic backtracking" in line

    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")
    assert "Putin to visit" in newsroom.smtp.next_message(timeout=WAIT).message["Subject"]
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0


def test_a_catastrophic_regex_the_check_misses_cannot_freeze_the_daemon(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """Before the time limit, the first hostile title held the GIL for ever: no log line, no
    /healthz answer, no alert."""
    newsroom.write_rule("visit", VISIT)
    newsroom.write_rule("hostile", HOSTILE)
    port = free_port()
    daemon = Daemon(newsroom.settings(health={"listen": f"127.0.0.1:{port}"}), notify_socket).start()
    daemons.append(daemon)
    notify_socket.expect("READY=1")

    hostile_items = 60  # each one search out of time: ~3 s of matching in one poll
    for n in range(hostile_items):
        newsroom.publish(f"hostile-{n}", "a" * 40 + f" {n}")
    newsroom.publish("putin-1", "Putin to visit New Delhi for the annual summit")

    daemon.expect_log(r"regex_timeout rule=hostile term=/\(a\|b\?a\)\+\$/ feed=wire field=title")
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
        assert answer.status == 200
    assert time.monotonic() - started < 2

    mail = newsroom.smtp.next_message(timeout=WAIT)
    assert "Putin to visit New Delhi" in mail.message["Subject"]
    daemon.expect_log(rf"feed_hits feed=wire new_items={hostile_items + 1} hits=1\b")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    timeouts = [line for line in daemon.log if "regex_timeout rule=hostile" in line]
    assert len(timeouts) == 1, f"one log line a minute per rule, not {len(timeouts)}"
    assert len(newsroom.smtp.received) == 1


def test_a_14_mb_title_is_cut_and_the_daemon_stays_small(
    newsroom: Newsroom, notify_socket: NotifySocket, daemons: list[Daemon]
) -> None:
    """Before the cut, this feed took the daemon to 360 MB (SQLite) and 470 MB (PostgreSQL)."""
    newsroom.write_rule("visit", VISIT)
    words = "lorem ipsum dolor sit amet "
    huge = Entry("huge", (words * (BIG_TITLE // len(words) + 1))[:BIG_TITLE], link="https://news.example/h")
    normal = Entry("putin-1", "Putin to visit New Delhi for the annual summit", link="https://news.example/1")
    newsroom.server.route("/wire.xml", Reply(200, rss(huge, normal).encode(), RSS_TYPE))
    daemon = Daemon(newsroom.settings(), notify_socket).start()
    daemons.append(daemon)

    assert "Putin to visit" in newsroom.smtp.next_message(timeout=WAIT).message["Subject"]
    peak = sum(_peak_mb(pid) for pid in _process_tree(daemon.process.pid))
    titles = {row.entry_id: row.title for row in stored_items(newsroom.database, "wire")}
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0

    assert peak < PEAK_BOUND_MB, f"peak {peak} MB"
    assert len(titles["huge"]) <= TITLE_LIMIT
    assert titles["huge"].startswith("lorem ipsum")
    assert titles["huge"].endswith(ELLIPSIS)


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (parser pool workers) alive now."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _process_tree(int(child))
    return found


def _peak_mb(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None, status
    return int(found[1]) // 1024
