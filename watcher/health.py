"""Is summit-watch working? A status report from the database, and an optional HTTP endpoint.

``status_report`` is what ``summit-watch status`` prints and what the daemon's sd_notify STATUS
line says: it reads the store only, so it tells the same story whether or not a daemon runs.
``HealthServer`` serves /healthz and Prometheus /metrics on a loopback address: neither has any
authentication, so any other address must be allowed explicitly (``health.allow_remote``).
"""

import logging
import socketserver
import sys
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from watcher.config import HealthConfig, is_loopback, parse_listen
from watcher.display import count, iso, when
from watcher.errors import HealthError, RulesError
from watcher.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from watcher.rules import RuleSet

if TYPE_CHECKING:
    from watcher.records import FeedState
    from watcher.store import Store

log = logging.getLogger(__name__)

HITS_WINDOW: Final = timedelta(hours=24)  # "hits" in a status: those of the last day
# A feed is overdue when not polled for twice its interval and this margin: a daemon running but
# storing nothing (database full or failing) leaves every feed overdue.
OVERDUE_AFTER: Final = timedelta(seconds=30)
SHOWN_RULE_ERRORS: Final = 5  # the first rule errors a status shows; the daemon's log has them all
_REQUEST_TIMEOUT: Final = 10.0  # seconds a client may take to send its request


# -- the status report -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailingFeed:
    """A feed whose last poll failed, or that is gone (HTTP 410), with why."""

    name: str
    outcome: str | None
    failures: int  # in a row
    error: str | None
    gone: bool
    last_success: datetime | None


@dataclass(frozen=True)
class StatusReport:
    """What ``summit-watch status`` shows; ``problems`` is what needs a person's attention."""

    checked_at: datetime
    last_poll: datetime | None  # the latest poll of any feed; None: never polled
    feeds: int  # active feeds in the database
    feeds_ok: int  # polled, and the last poll succeeded
    failing: tuple[FailingFeed, ...]
    hits: int
    hits_since: datetime | None  # hits counts those stored since then; None: all stored hits
    deliveries: Mapping[str, int]  # by state: pending, failed, dead, sent
    rules: int | None  # rules loaded; None: the rule files are invalid
    rules_enabled: int | None
    rule_errors: tuple[str, ...]  # "path:line: field: message", all of them
    overdue: int = 0  # active feeds whose poll is overdue (see OVERDUE_AFTER)
    daemon: int | None = None  # pid of the daemon holding the SQLite database; None: none, or unknown
    # deliveries waiting for a target the settings no longer define: they can never be sent
    orphaned: Mapping[str, int] = field(default_factory=dict)

    @property
    def feeds_unpolled(self) -> int:
        """Active feeds not polled yet (a new feed until its first poll)."""
        return self.feeds - self.feeds_ok - len(self.failing)

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the installation needs attention: failing feeds, dead deliveries, invalid rules."""
        found = []
        if self.failing:
            found.append(count(len(self.failing), "failing feed"))
        if self.deliveries.get("dead", 0):
            found.append(count(self.deliveries["dead"], "dead delivery", "dead deliveries"))
        if self.rules is None:
            found.append(f"rules invalid: {count(len(self.rule_errors), 'error')}")
        for target, waiting in sorted(self.orphaned.items()):
            waiting_for = f"{count(waiting, 'delivery', 'deliveries')} waiting for target {target!r}"
            found.append(f"{waiting_for}, which the settings no longer define: they can never be sent")
        if self.daemon is not None and self.overdue:
            since = when(self.last_poll) or "its start"
            found.append(
                f"database failing since {since}: the daemon (pid {self.daemon}) runs but stored no poll "
                f"({count(self.overdue, 'feed')} overdue)"
            )
        return tuple(found)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def status_line(self) -> str:
        """One line for sd_notify STATUS= and logs."""
        rules = f"{self.rules} rules" if self.rules is not None else "rules invalid"
        return (
            f"feeds {self.feeds_ok} ok, {len(self.failing)} failing; {count(self.hits, 'hit')}; "
            f"{self.deliveries.get('pending', 0) + self.deliveries.get('failed', 0)} deliveries waiting, "
            f"{self.deliveries.get('dead', 0)} dead; {rules}"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (times in ISO 8601)."""
        return {
            "healthy": self.healthy,
            "problems": list(self.problems),
            "checked_at": iso(self.checked_at),
            "last_poll": iso(self.last_poll),
            "daemon": self.daemon,
            "feeds": {
                "total": self.feeds,
                "ok": self.feeds_ok,
                "unpolled": self.feeds_unpolled,
                "overdue": self.overdue,
                "failing": [
                    {
                        "name": f.name,
                        "outcome": f.outcome,
                        "failures": f.failures,
                        "gone": f.gone,
                        "last_success": iso(f.last_success),
                        "error": f.error,
                    }
                    for f in self.failing
                ],
            },
            "hits": {"count": self.hits, "since": iso(self.hits_since)},
            "deliveries": dict(self.deliveries),
            "orphaned_deliveries": dict(self.orphaned),
            "rules": {"loaded": self.rules, "enabled": self.rules_enabled, "errors": list(self.rule_errors)},
        }


def status_report(
    store: "Store",
    rules: RuleSet | RulesError,
    now: datetime,
    *,
    intervals: Mapping[str, timedelta] | None = None,
    daemon: int | None = None,
    targets: Collection[str] | None = None,
) -> StatusReport:
    """The installation's state as stored, with ``rules`` (the loaded set, or why loading failed).

    ``intervals`` (by feed name) tell which feeds are overdue; ``daemon`` is the pid of the daemon
    known to run on this database: then overdue feeds mean it cannot store its polls. ``targets``
    (the settings' target names) show the deliveries waiting for a target that no longer exists.
    """
    states = store.feeds()
    overdue = sum(_overdue(s, (intervals or {}).get(s.name, timedelta()), now) for s in states)
    failing = tuple(
        FailingFeed(s.name, s.last_outcome, s.consecutive_failures, s.last_error, s.gone, s.last_success)
        for s in states
        if s.consecutive_failures > 0 or s.gone
    )
    polled = [s.last_polled for s in states if s.last_polled is not None]
    ok = sum(s.last_polled is not None and s.consecutive_failures == 0 and not s.gone for s in states)
    if isinstance(rules, RulesError):
        loaded, enabled, errors = None, None, tuple(str(p) for p in rules.problems)
    else:
        loaded, enabled, errors = len(rules), len(rules.enabled), ()
    return StatusReport(
        checked_at=now,
        last_poll=max(polled, default=None),
        feeds=len(states),
        feeds_ok=ok,
        failing=failing,
        hits=store.hits_since(now - HITS_WINDOW),
        hits_since=now - HITS_WINDOW,
        deliveries=store.delivery_counts(),
        rules=loaded,
        rules_enabled=enabled,
        rule_errors=errors,
        overdue=overdue,
        daemon=daemon,
        orphaned={}
        if targets is None
        else {name: n for name, n in store.waiting_by_target().items() if name not in targets},
    )


def _overdue(state: "FeedState", interval: timedelta, now: datetime) -> bool:
    """A healthy feed not polled for twice its interval and a margin (the scheduler's jitter
    and a poll's own time): a daemon that runs but cannot store its polls leaves them so."""
    if state.gone or state.consecutive_failures or not state.active:
        return False
    polled = state.last_polled or state.next_poll
    return now - polled > 2 * interval + OVERDUE_AFTER


# -- the HTTP endpoint -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """GET or HEAD /healthz and /metrics; anything else is 404 (or 405 for other methods)."""

    server: "_Server"
    protocol_version = "HTTP/1.1"
    timeout = _REQUEST_TIMEOUT
    server_version = "summit-watch"

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _not_allowed(self) -> None:
        self._reply(405, "only GET and HEAD\n", headers={"Allow": "GET, HEAD"}, body=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _serve(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            try:
                ok, reason = self.server.healthy()
            except Exception as e:  # a broken check is unhealthy, never a dropped connection
                log.exception("health_check_failed")
                ok, reason = False, f"health check failed: {type(e).__name__}: {e}"
            self._reply(200 if ok else 503, "ok\n" if ok else f"{reason}\n", body=body)
        elif path == "/metrics":
            try:
                text = self.server.metrics()
            except Exception as e:
                log.exception("metrics_failed")
                self._reply(500, f"metrics failed: {type(e).__name__}: {e}\n", body=body)
                return
            self._reply(200, text, content_type=METRICS_CONTENT_TYPE, body=body)
        else:
            self._reply(404, "not found (try /healthz or /metrics)\n", body=body)

    def _reply(
        self,
        status: int,
        text: str,
        *,
        body: bool,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log, not stderr: a scrape every 15 s is not news."""
        log.debug("health_request client=%s request=%s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds up the daemon's exit

    def __init__(
        self,
        address: tuple[str, int],
        healthy: Callable[[], tuple[bool, str]],
        metrics: Callable[[], str],
    ) -> None:
        self.healthy = healthy
        self.metrics = metrics
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a probe with a short timeout) is not news: no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("health_client_gone client=%s error=%s", client_address, type(error).__name__)
            return
        log.exception("health_request_failed client=%s", client_address)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host (slow, and never needed here)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Server6(_Server):
    address_family = AF_INET6


class HealthServer:
    """/healthz and /metrics over HTTP, served from a daemon thread.

    ``listen`` is ``host:port`` or the config's ``health`` section (its ``allow_remote`` then
    applies). ``healthy()`` returns (ok, reason): 200 "ok" or 503 with the reason. ``metrics()``
    returns the /metrics body (``Metrics.render``). Both are called in the server's request threads.
    """

    def __init__(
        self,
        listen: str | HealthConfig,
        healthy: Callable[[], tuple[bool, str]],
        metrics: Callable[[], str],
        *,
        allow_remote: bool = False,
    ) -> None:
        if isinstance(listen, HealthConfig):
            allow_remote = listen.allow_remote or allow_remote
            listen = listen.listen
        try:
            self._host, self._port = parse_listen(listen)
        except ValueError as e:
            raise HealthError(f"health endpoint: {e}") from e
        if not allow_remote and not is_loopback(self._host):
            raise HealthError(
                f"health endpoint: {listen} is not a loopback address; /healthz and /metrics have no "
                "authentication, so listening elsewhere needs health.allow_remote: true"
            )
        self._healthy = healthy
        self._metrics = metrics
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on (the port chosen by the system when given as 0)."""
        if self._server is None:
            return self._host, self._port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> None:
        """Listen and serve in a background thread; raise ``HealthError`` if the address is unusable."""
        if self._server is not None:
            return
        server_class = _Server6 if ":" in self._host else _Server
        try:
            server = server_class((self._host, self._port), self._healthy, self._metrics)
        except OSError as e:
            reason = e.strerror or str(e)
            raise HealthError(f"health endpoint: cannot listen on {self._shown()}: {reason}") from e
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="health-http", daemon=True
        )
        self._thread.start()
        host, port = self.address
        log.info("health_listening host=%s port=%d", host, port)

    def stop(self) -> None:
        """Stop serving and close the socket; requests in progress are abandoned."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None
        log.info("health_stopped")

    def __enter__(self) -> "HealthServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _shown(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"
