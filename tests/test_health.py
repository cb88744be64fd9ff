"""Health: the metrics text, the /healthz and /metrics endpoint over real loopback HTTP, and
``summit-watch status`` on a database a real poll filled (SQLite and PostgreSQL)."""

import http.client
import json
import re
import socket
import struct
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import RunCli, write_file
from httpserver import LoopbackServer, Reply
from polling import T0, Clock, Entry, Poller, rss, write_settings

from watcher.config import HealthConfig, load_config
from watcher.errors import ConfigError, HealthError, Problem, RulesError
from watcher.health import HealthServer, is_loopback, parse_listen, status_report
from watcher.metrics import POLL_BUCKETS, Metrics, escape_label
from watcher.records import FeedReport
from watcher.rules import RuleSet
from watcher.store import Store

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
PUTIN_VISIT = Entry(
    "putin-1", "Putin to visit New Delhi for the annual summit", link="https://news.example/1"
)
OSLO = Entry("oslo-1", "Weather in Oslo: rain all week", link="https://news.example/2")

# -- the exposition format, parsed back -------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Sample = tuple[str, frozenset[tuple[str, str]]]


def parse_metrics(text: str) -> tuple[dict[str, str], dict[Sample, float]]:
    """(TYPE of each family, value of each sample); fails on any line the format does not allow."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helps, f"TYPE before HELP for {name}"
            assert name not in types, f"{name} declared twice"
            types[name] = kind
        else:
            found = _SAMPLE.match(line)
            assert found, f"not a sample line: {line!r}"
            name, labels_text, value = found.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
            assert family in types, f"{name} has no TYPE line before it"
            labels = []
            rest = labels_text or ""
            while rest:
                label = _LABEL.match(rest)
                assert label, f"bad labels in {line!r}"
                raw = re.sub(r"\\.", lambda m: _UNESCAPE[m.group(0)], label.group(2))
                labels.append((label.group(1), raw))
                rest = rest[label.end() :]
            key = (name, frozenset(labels))
            assert key not in samples, f"duplicate sample {line!r}"
            samples[key] = float(value)
    return types, samples


def sample(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def report(feed: str, outcome: str = "ok", new_items: int = 0, hits: int = 0) -> FeedReport:
    error = None if outcome in ("ok", "not_modified") else "HTTP 500 Internal Server Error"
    return FeedReport(feed, outcome, new_items, hits, error, None)


def test_metrics_count_polls_items_hits_deliveries_and_durations() -> None:
    metrics = Metrics(clock=lambda: 1_764_579_600.5)
    odd = 'quote " back \\ line\nend'
    metrics.poll_done(report("wire", "ok", new_items=3, hits=2), 0.04)
    metrics.poll_done(report("wire", "not_modified"), 0.3)
    metrics.poll_done(report("broken", "error"), 7.0)
    metrics.poll_done(report("broken", "gone"), 100.0)
    metrics.poll_done(report(odd, "ok", new_items=1, hits=1), 1.0)
    metrics.delivery_done("sent")
    metrics.delivery_done("sent")
    metrics.delivery_done("dead")
    metrics.rules_loaded(4)

    types, samples = parse_metrics(metrics.render({"pending": 2, "failed": 0, "dead": 1, "sent": 5}))

    assert types == {
        "summit_watch_up": "gauge",
        "summit_watch_polls_total": "counter",
        "summit_watch_poll_failures_total": "counter",
        "summit_watch_items_total": "counter",
        "summit_watch_hits_total": "counter",
        "summit_watch_regex_timeouts_total": "counter",
        "summit_watch_deliveries_total": "counter",
        "summit_watch_deliveries": "gauge",
        "summit_watch_poll_duration_seconds": "histogram",
        "summit_watch_rules_loaded": "gauge",
        "summit_watch_last_poll_timestamp_seconds": "gauge",
    }
    assert sample(samples, "summit_watch_up") == 1
    polls = {
        (dict(labels)["feed"], dict(labels)["outcome"]): value
        for (name, labels), value in samples.items()
        if name == "summit_watch_polls_total"
    }
    assert polls == {
        ("wire", "ok"): 1,
        ("wire", "not_modified"): 1,
        ("broken", "error"): 1,
        ("broken", "gone"): 1,
        (odd, "ok"): 1,
    }, "label values escaped and read back intact"
    assert sample(samples, "summit_watch_poll_failures_total", feed="broken") == 2
    assert sample(samples, "summit_watch_poll_failures_total", feed="wire") == 0, "zero from the first poll"
    assert sample(samples, "summit_watch_items_total", feed="wire") == 3
    assert sample(samples, "summit_watch_items_total", feed=odd) == 1
    assert sample(samples, "summit_watch_hits_total") == 3
    assert sample(samples, "summit_watch_deliveries_total", outcome="sent") == 2
    assert sample(samples, "summit_watch_deliveries_total", outcome="dead") == 1
    for state, count in {"pending": 2, "failed": 0, "dead": 1, "sent": 5}.items():
        assert sample(samples, "summit_watch_deliveries", state=state) == count
    assert sample(samples, "summit_watch_rules_loaded") == 4
    assert sample(samples, "summit_watch_last_poll_timestamp_seconds") == 1_764_579_600.5

    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in samples.items()
        if name == "summit_watch_poll_duration_seconds_bucket"
    }
    assert list(buckets) == [*(repr(bound) for bound in POLL_BUCKETS), "+Inf"]
    # 0.04 -> 0.05; 0.3 -> 0.5; 1.0 -> 1.0 (le is inclusive); 7.0 -> 10.0; 100.0 -> +Inf only
    assert buckets["0.05"] == 1
    assert buckets["0.25"] == 1
    assert buckets["0.5"] == 2
    assert buckets["1.0"] == 3
    assert buckets["5.0"] == 3
    assert buckets["10.0"] == 4
    assert buckets["60.0"] == 4
    assert buckets["+Inf"] == 5
    assert sample(samples, "summit_watch_poll_duration_seconds_count") == 5
    assert sample(samples, "summit_watch_poll_duration_seconds_sum") == pytest.approx(108.34)
    values = list(buckets.values())
    assert values == sorted(values), "buckets are cumulative"


def test_metrics_before_any_poll_declare_families_without_made_up_values() -> None:
    types, samples = parse_metrics(Metrics().render({"pending": 0, "failed": 0, "dead": 0, "sent": 0}))
    assert sample(samples, "summit_watch_up") == 1
    assert sample(samples, "summit_watch_hits_total") == 0
    assert sample(samples, "summit_watch_poll_duration_seconds_count") == 0
    assert sample(samples, "summit_watch_poll_duration_seconds_bucket", le="+Inf") == 0
    assert "summit_watch_polls_total" in types
    assert not any(name == "summit_watch_polls_total" for name, _ in samples)
    assert "summit_watch_last_poll_timestamp_seconds" not in types, "no poll yet: no timestamp"
    assert "summit_watch_rules_loaded" not in types


def test_metrics_updates_from_many_threads_are_all_counted() -> None:
    metrics = Metrics()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(500):
            metrics.poll_done(report("wire", "ok", new_items=1, hits=1), 0.01)
            metrics.delivery_done("sent")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, samples = parse_metrics(metrics.render({}))
    assert sample(samples, "summit_watch_polls_total", feed="wire", outcome="ok") == 4000
    assert sample(samples, "summit_watch_items_total", feed="wire") == 4000
    assert sample(samples, "summit_watch_hits_total") == 4000
    assert sample(samples, "summit_watch_deliveries_total", outcome="sent") == 4000
    assert sample(samples, "summit_watch_poll_duration_seconds_count") == 4000


def test_label_escaping_follows_the_format() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


# -- the HTTP endpoint ---------------------------------------------------------------------------


class Health:
    """A settable health check and metrics body for a server under test."""

    def __init__(self) -> None:
        self.state = (True, "")
        self.body = "summit_watch_up 1\n"
        self.checks = 0

    def healthy(self) -> tuple[bool, str]:
        self.checks += 1
        return self.state

    def metrics(self) -> str:
        return self.body


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
def endpoint(health: Health) -> Iterator[HealthServer]:
    with HealthServer("127.0.0.1:0", health.healthy, health.metrics) as server:
        yield server


def request(server: HealthServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection (http.client: no proxy from the environment)."""
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_healthz_answers_200_when_healthy_and_503_with_the_reason_when_not(
    endpoint: HealthServer, health: Health
) -> None:
    assert endpoint.port != 0, "port 0: the bound port is reported"
    status, headers, body = request(endpoint, "/healthz")
    assert (status, body) == (200, b"ok\n")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["cache-control"] == "no-store"

    health.state = (False, "no poll for 45 min")
    status, _, body = request(endpoint, "/healthz")
    assert (status, body) == (503, b"no poll for 45 min\n")
    assert health.checks == 2, "checked on every request, never cached"


def test_a_health_check_that_raises_is_unhealthy(health: Health) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("database gone")

    with HealthServer("127.0.0.1:0", broken, health.metrics) as server:
        status, _, body = request(server, "/healthz")
    assert status == 503
    assert b"RuntimeError: database gone" in body


def test_metrics_endpoint_serves_the_exposition_format(endpoint: HealthServer, health: Health) -> None:
    metrics = Metrics()
    metrics.poll_done(report("wire", "ok", new_items=2), 0.2)
    health.body = metrics.render({"pending": 1, "failed": 0, "dead": 0, "sent": 0})

    status, headers, body = request(endpoint, "/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    _, samples = parse_metrics(body.decode())
    assert sample(samples, "summit_watch_items_total", feed="wire") == 2
    assert sample(samples, "summit_watch_deliveries", state="pending") == 1

    status, headers, body = request(endpoint, "/metrics", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(health.body.encode())
    assert request(endpoint, "/metrics?name[]=x")[0] == 200, "a query string is ignored"


def test_other_paths_are_404_and_other_methods_405(endpoint: HealthServer) -> None:
    for path in ("/", "/health", "/metrics/", "/healthz/x"):
        assert request(endpoint, path)[0] == 404, path
    status, headers, _ = request(endpoint, "/healthz", "POST")
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    assert request(endpoint, "/metrics", "DELETE")[0] == 405


def test_stop_closes_the_port(health: Health) -> None:
    server = HealthServer("127.0.0.1:0", health.healthy, health.metrics)
    server.start()
    port = server.port
    assert request(server, "/healthz")[0] == 200
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.stop()  # twice is harmless


def test_non_loopback_addresses_are_refused_unless_allowed(health: Health) -> None:
    for listen in ("0.0.0.0:9750", "192.0.2.1:9750", "[::]:9750", "example.org:9750"):
        with pytest.raises(HealthError, match="not a loopback address"):
            HealthServer(listen, health.healthy, health.metrics)
    server = HealthServer("192.0.2.1:9750", health.healthy, health.metrics, allow_remote=True)
    assert server.address == ("192.0.2.1", 9750)  # allowed; not started


def test_a_port_in_use_is_a_clear_error(health: Health) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(f"127.0.0.1:{port}", health.healthy, health.metrics)
        with pytest.raises(HealthError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            server.start()


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9750", ("127.0.0.1", 9750)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9750", ("::1", 9750)),
    ],
)
def test_listen_addresses_parse(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected
    assert is_loopback(expected[0])


@pytest.mark.parametrize("listen", ["9750", "127.0.0.1", ":9750", "127.0.0.1:x", "::1:9750", "h:70000"])
def test_bad_listen_addresses_are_errors(listen: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(listen))):
        parse_listen(listen)


def test_health_section_of_the_settings_file(tmp_path: Path) -> None:
    def load(health: object) -> HealthConfig | None:
        path = write_settings(tmp_path / "settings.yaml", "sqlite:///x.db", health=health)
        return load_config(path).health

    assert load(None) is None, "no section: no endpoint"
    enabled = load({})
    assert enabled is not None
    assert (enabled.listen, enabled.allow_remote) == ("127.0.0.1:9750", False)
    with pytest.raises(ConfigError, match=r"settings.yaml:\d+: health.*not a loopback address"):
        load({"listen": "0.0.0.0:9750"})
    assert load({"listen": "0.0.0.0:9750", "allow_remote": True}) is not None
    with pytest.raises(ConfigError, match=r"health\.listen: .*is not host:port"):
        load({"listen": "9750"})
    with pytest.raises(ConfigError, match=r"health\.port"):
        load({"port": 9750})


def test_a_health_config_section_sets_the_server(tmp_path: Path, health: Health) -> None:
    path = write_settings(
        tmp_path / "settings.yaml", "sqlite:///x.db", health={"listen": "0.0.0.0:0", "allow_remote": True}
    )
    section = load_config(path).health
    assert section is not None
    server = HealthServer(section, health.healthy, health.metrics)  # allow_remote taken from the section
    assert server.address == ("0.0.0.0", 0)


# -- status --------------------------------------------------------------------------------------


@pytest.fixture
def polled(http_server: LoopbackServer, store: Store, database_url: str, tmp_path: Path) -> Poller:
    """A settings file with a working feed (one hit) and one answering 500, polled once at T0."""
    ok = http_server.route("/wire.xml", Reply(200, rss(PUTIN_VISIT, OSLO).encode(), RSS_TYPE))
    broken = http_server.route("/broken.xml", Reply(500, b"oops"))
    settings = write_settings(tmp_path / "settings.yaml", database_url, {"wire": ok, "broken": broken})
    poller = Poller(settings, store, Clock())
    summary = poller()
    assert (summary.count("ok"), summary.count("error"), summary.hits) == (1, 1, 1)
    return poller


def test_status_report_from_the_store(polled: Poller) -> None:
    rules = RuleSet(())
    found = status_report(polled.store, rules, T0 + timedelta(minutes=1))
    assert found.last_poll == T0
    assert (found.feeds, found.feeds_ok, found.feeds_unpolled) == (2, 1, 0)
    (failing,) = found.failing
    assert (failing.name, failing.outcome, failing.failures, failing.gone) == ("broken", "error", 1, False)
    assert failing.error is not None
    assert failing.error.startswith("HTTP 500")
    assert (found.hits, found.hits_since) == (1, T0 + timedelta(minutes=1) - timedelta(hours=24))
    assert status_report(polled.store, rules, T0 + timedelta(days=1, minutes=1)).hits == 0  # a day on
    assert found.deliveries == {"pending": 0, "failed": 0, "dead": 0, "sent": 0}
    assert (found.rules, found.rule_errors) == (0, ())
    assert found.problems == ("1 failing feed",)
    assert not found.healthy
    assert found.status_line() == "feeds 1 ok, 1 failing; 1 hit; 0 deliveries waiting, 0 dead; 0 rules"

    invalid = RulesError([Problem(Path("r.yaml"), 3, "match", "required")])
    found = status_report(polled.store, invalid, T0)
    assert (found.rules, found.rule_errors) == (None, ("r.yaml:3: match: required",))
    assert found.problems == ("1 failing feed", "rules invalid: 1 error")


def test_status_command_shows_a_failing_feed_and_exits_1(polled: Poller, run_cli: RunCli) -> None:
    result = run_cli("--config", polled.settings, "status")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "last poll: 2025-12-01T09:00:00Z"  # T0
    assert lines[1] == "feeds: 1 ok, 1 failing"
    assert re.fullmatch(r"  broken: HTTP 500 .*\(1 failure in a row, last success never\)", lines[2])
    assert re.fullmatch(r"hits: 0 since \S+", lines[3])  # the hit (at T0) is older than a day by now
    assert lines[4:] == [
        "deliveries: 0 pending, 0 failed, 0 dead, 0 sent",
        "rules: 5 loaded, 5 enabled",
        "needs attention: 1 failing feed",
    ]

    result = run_cli("--config", polled.settings, "status", "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["healthy"] is False
    assert data["problems"] == ["1 failing feed"]
    assert data["last_poll"] == T0.isoformat()
    assert {k: data["feeds"][k] for k in ("total", "ok", "unpolled")} == {"total": 2, "ok": 1, "unpolled": 0}
    (failing,) = data["feeds"]["failing"]
    assert {k: failing[k] for k in ("name", "outcome", "failures", "gone", "last_success")} == {
        "name": "broken",
        "outcome": "error",
        "failures": 1,
        "gone": False,
        "last_success": None,
    }
    assert failing["error"].startswith("HTTP 500")
    assert data["hits"]["count"] == 0
    assert data["deliveries"] == {"pending": 0, "failed": 0, "dead": 0, "sent": 0}
    assert data["rules"] == {"loaded": 5, "enabled": 5, "errors": []}


def test_status_is_0_when_all_is_well_and_1_for_a_dead_delivery(
    http_server: LoopbackServer, store: Store, database_url: str, tmp_path: Path, run_cli: RunCli
) -> None:
    ok = http_server.route("/wire.xml", Reply(200, rss(PUTIN_VISIT).encode(), RSS_TYPE))
    settings = write_settings(tmp_path / "settings.yaml", database_url, {"wire": ok})
    Poller(settings, store, Clock())()

    result = run_cli("--config", settings, "status")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "feeds: 1 ok, 0 failing"
    assert result.stdout.splitlines()[-1] == "all well"
    assert json.loads(run_cli("--config", settings, "status", "--format", "json").stdout)["healthy"] is True

    assert store.create_alert("putin-visit-india", ["mail"], T0) is not None
    delivery = store.claim_delivery(T0, timedelta(minutes=1), "test")
    assert delivery is not None
    store.record_delivery(delivery.id, T0, error="SMTP refused", retry_at=None)

    result = run_cli("--config", settings, "status")
    assert result.exit_code == 1, result.output
    assert "deliveries: 0 pending, 0 failed, 1 dead, 0 sent" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "needs attention: 1 dead delivery"
    data = json.loads(run_cli("--config", settings, "status", "--format", "json").stdout)
    assert (data["healthy"], data["deliveries"]["dead"]) == (False, 1)


def test_status_flags_deliveries_waiting_for_a_target_the_settings_no_longer_define(
    http_server: LoopbackServer, store: Store, database_url: str, tmp_path: Path, run_cli: RunCli
) -> None:
    ok = http_server.route("/wire.xml", Reply(200, rss(PUTIN_VISIT).encode(), RSS_TYPE))
    settings = write_settings(tmp_path / "settings.yaml", database_url, {"wire": ok})
    Poller(settings, store, Clock())()
    assert store.create_alert("putin-visit-india", ["stdout", "old-mail"], T0) is not None

    result = run_cli("--config", settings, "status")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == (
        "needs attention: 1 delivery waiting for target 'old-mail', which the settings no longer define: "
        "they can never be sent"
    )
    data = json.loads(run_cli("--config", settings, "status", "--format", "json").stdout)
    assert data["orphaned_deliveries"] == {"old-mail": 1}


def test_status_with_invalid_rules_lists_the_first_errors_and_exits_1(
    store: Store, database_url: str, tmp_path: Path, run_cli: RunCli
) -> None:
    rules = tmp_path / "rules"
    for n in range(7):
        write_file(rules, f"broken{n}.yaml", "id: broken\nmatch: [\n")
    settings = write_settings(tmp_path / "settings.yaml", database_url, {}, rules=str(rules))

    result = run_cli("--config", settings, "status")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "last poll: never"
    at = lines.index("rules invalid: 7 errors")
    assert all(line.startswith(f"  {rules}/broken") for line in lines[at + 1 : at + 6])
    assert lines[at + 6] == "  ... (`summit-watch rules check` lists them all)"
    assert lines[-1] == "needs attention: rules invalid: 7 errors"

    data = json.loads(run_cli("--config", settings, "status", "--format", "json").stdout)
    assert data["rules"]["loaded"] is None
    assert len(data["rules"]["errors"]) == 7
    assert data["problems"] == ["rules invalid: 7 errors"]


def test_a_client_hanging_up_before_the_answer_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    """Probes with short timeouts hang up early; the answer then meets a reset connection."""
    hung_up = threading.Event()

    def healthy() -> tuple[bool, str]:
        hung_up.wait(5)  # answer only once the client is gone
        return True, "ok"

    with HealthServer("127.0.0.1:0", healthy, lambda: "") as server:
        for _ in range(3):
            hung_up.clear()
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # a reset, not a polite FIN
            hung_up.set()
        hung_up.set()
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as reply:
            assert reply.status == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err
