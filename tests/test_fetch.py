"""The fetcher against a real HTTP server on 127.0.0.1 (``http_server``, from tests/httpserver.py)."""

import asyncio
import gzip
import os
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import timedelta
from email.utils import formatdate
from pathlib import Path

import pytest
from httpserver import Exchange, LoopbackServer, Reply

from watcher.fetch import ACCEPT, Fetcher, FetchLimits, FetchRequest, _Turn
from watcher.records import FetchResult

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title>
<item><guid>1</guid><title>Putin to visit New Delhi for the annual summit</title></item>
</channel></rss>
"""


DEFAULT_LIMITS = FetchLimits()


def fetch(url: str, limits: FetchLimits = DEFAULT_LIMITS, **validators: str) -> FetchResult:
    """One fetch with a fresh fetcher, on a fresh event loop."""

    async def run() -> FetchResult:
        async with Fetcher(limits) as fetcher:
            return await fetcher.fetch(FetchRequest("test-feed", url, **validators))

    return asyncio.run(run())


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MiB of zeros, gzipped to about 200 KB."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    zeros = bytes(2**20)
    return b"".join([compressor.compress(zeros) for _ in range(200)] + [compressor.flush()])


def test_conditional_get_round_trip(http_server: LoopbackServer) -> None:
    etag, modified = '"v1"', "Tue, 07 Oct 2025 10:00:00 GMT"

    def feed(exchange: Exchange) -> Reply:
        if exchange.headers["If-None-Match"] == etag:
            return Reply(304)  # no validators: the stored ones stay
        return Reply(200, RSS, {"ETag": etag, "Last-Modified": modified})

    url = http_server.route("/feed", feed)
    first = fetch(url)
    assert (first.outcome, first.status, first.body, first.error) == ("ok", 200, RSS, None)
    assert (first.etag, first.last_modified) == (etag, modified)

    second = fetch(url, etag=first.etag or "", last_modified=first.last_modified or "")
    assert (second.outcome, second.status, second.body) == ("not_modified", 304, None)
    assert (second.etag, second.last_modified) == (etag, modified)
    sent = http_server.requests[1].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == (etag, modified)


def test_a_304_with_new_validators_replaces_the_old(http_server: LoopbackServer) -> None:
    url = http_server.route("/feed", Reply(304, headers={"ETag": '"v2"'}))
    result = fetch(url, etag='"v1"', last_modified="Tue, 07 Oct 2025 10:00:00 GMT")
    assert (result.outcome, result.etag, result.last_modified) == (
        "not_modified",
        '"v2"',
        "Tue, 07 Oct 2025 10:00:00 GMT",
    )


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as some servers send it
    ],
)
def test_compressed_responses_are_decoded(
    http_server: LoopbackServer, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    url = http_server.route("/feed", Reply(200, compress(RSS), {"Content-Encoding": encoding}))
    result = fetch(url)
    assert (result.outcome, result.body) == ("ok", RSS)
    assert http_server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def redirect(status: int, to: str) -> Reply:
    return Reply(status, headers={"Location": to})


def test_a_chain_of_permanent_redirects_is_recorded(http_server: LoopbackServer) -> None:
    start = http_server.route("/old", redirect(301, "/older"))
    http_server.route("/older", redirect(308, http_server.url("/new")))
    final = http_server.route("/new", Reply(200, RSS))
    result = fetch(start)
    assert (result.outcome, result.body, result.url) == ("ok", RSS, start)
    assert result.final_url == result.permanent_redirect == final


def test_a_temporary_redirect_in_the_chain_is_not_recorded(http_server: LoopbackServer) -> None:
    start = http_server.route("/old", redirect(301, "/moved"))
    http_server.route("/moved", redirect(302, "/new"))
    final = http_server.route("/new", Reply(200, RSS))
    result = fetch(start)
    assert (result.outcome, result.final_url, result.permanent_redirect) == ("ok", final, None)


def test_redirects_are_capped_at_max_redirects(http_server: LoopbackServer) -> None:
    for hop in range(6):
        http_server.route(f"/{hop}", redirect(302, f"/{hop + 1}"))
    http_server.route("/6", Reply(200, RSS))
    http_server.route("/5-only", redirect(302, "/2"))

    too_many = fetch(http_server.url("/0"))
    assert (too_many.outcome, too_many.error, too_many.status) == ("error", "more than 5 redirects", 302)
    assert len(http_server.requests) == 6

    five = fetch(http_server.url("/5-only"))
    assert (five.outcome, five.final_url) == ("ok", http_server.url("/6"))


def test_a_redirect_to_a_local_file_is_refused(http_server: LoopbackServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS)
    result = fetch(http_server.route("/feed", redirect(301, secret.as_uri())))
    assert result.outcome == "error"
    assert result.error == f"redirect to an unusable URL {secret.as_uri()!r}: unsupported URL scheme 'file'"


@pytest.mark.parametrize(
    ("status", "error"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
def test_http_errors(http_server: LoopbackServer, status: int, error: str) -> None:
    result = fetch(http_server.route("/feed", Reply(status, b"oops")), etag='"old"')
    assert (result.outcome, result.status, result.error, result.body) == ("error", status, error, None)
    assert result.etag == '"old"'  # a failure keeps the stored validators


def test_410_means_gone(http_server: LoopbackServer) -> None:
    result = fetch(http_server.route("/feed", Reply(410)))
    assert (result.outcome, result.status) == ("gone", 410)
    assert result.error == "HTTP 410 Gone: the publisher removed the feed"


def test_429_with_retry_after_in_seconds(http_server: LoopbackServer) -> None:
    result = fetch(http_server.route("/feed", Reply(429, headers={"Retry-After": "120"})))
    assert (result.outcome, result.error) == ("error", "HTTP 429 Too Many Requests")
    assert result.retry_after == timedelta(seconds=120)


def test_503_with_retry_after_as_an_http_date(http_server: LoopbackServer) -> None:
    # Relative to the response's own Date header (which the server adds), so clock skew cancels out.
    later = formatdate(time.time() + 90, usegmt=True)
    result = fetch(http_server.route("/feed", Reply(503, headers={"Retry-After": later})))
    assert (result.outcome, result.error) == ("error", "HTTP 503 Service Unavailable")
    assert result.retry_after is not None
    assert timedelta(seconds=85) <= result.retry_after <= timedelta(seconds=90)


def test_a_silent_server_times_out(http_server: LoopbackServer) -> None:
    def silent(exchange: Exchange) -> None:
        http_server.stopping.wait()

    limits = FetchLimits(read_timeout=0.5, total_timeout=5)  # the total is a backstop if this fails
    result = fetch(http_server.route("/feed", silent), limits)
    assert (result.outcome, result.error, result.status) == ("error", "timed out (read) after 0.5 s", None)
    assert result.elapsed < 3


def test_a_dripping_server_is_cut_by_the_total_timeout(http_server: LoopbackServer) -> None:
    def drip(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("Content-Length", "30")  # 3 s at one byte per 0.1 s
        exchange.end_headers()
        for _ in range(30):
            exchange.wfile.write(b" ")
            exchange.wfile.flush()
            if http_server.stopping.wait(0.1):
                return

    limits = FetchLimits(read_timeout=5, total_timeout=1)
    result = fetch(http_server.route("/feed", drip), limits)
    assert (result.outcome, result.error, result.status) == ("error", "timed out (total) after 1 s", 200)
    assert 0.9 < result.elapsed < 2.5


def test_an_oversized_body_is_refused(http_server: LoopbackServer) -> None:
    result = fetch(http_server.route("/feed", Reply(200, bytes(2 * 2**20))), FetchLimits(max_body=2**20))
    assert (result.outcome, result.error, result.body) == ("error", "body larger than 1 MiB", None)


def test_a_gzip_bomb_stops_at_the_cap_quickly_and_in_bounded_memory(
    http_server: LoopbackServer, gzip_bomb: bytes
) -> None:
    url = http_server.route("/feed", Reply(200, gzip_bomb, {"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        result = fetch(url)  # default limits: a 15 MiB cap
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.outcome, result.error) == ("error", "body larger than 15 MiB")
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert result.elapsed < 3


def test_an_html_page_is_still_fetched(http_server: LoopbackServer) -> None:
    page = b"<!doctype html><html><body>Not a feed</body></html>"
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Location": "/page"}
    result = fetch(http_server.route("/feed", Reply(200, page, headers)))
    assert (result.outcome, result.body) == ("ok", page)
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["content-location"] == "/page"


def test_requests_name_summit_watch_and_ask_for_feeds(http_server: LoopbackServer) -> None:
    fetch(http_server.route("/feed", Reply(200, RSS)))
    sent = http_server.requests[0].headers
    assert sent["user-agent"].startswith("summit-watch/")
    assert "https://github.com/summit-watch/summit-watch" in sent["user-agent"]
    assert sent["accept"] == ACCEPT
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_at_most_max_per_host_requests_run_at_once(http_server: LoopbackServer) -> None:
    busy = threading.Condition()
    active, peak, released = 0, 0, False

    def held(exchange: Exchange) -> Reply:
        nonlocal active, peak
        with busy:
            active += 1
            peak = max(peak, active)
            busy.notify_all()
            busy.wait_for(lambda: released or http_server.stopping.is_set(), timeout=10)
            active -= 1
        return Reply(200, RSS)

    def seen(condition: Callable[[], bool], timeout: float) -> bool:
        with busy:
            return busy.wait_for(condition, timeout)

    http_server.route("/feed", held)

    async def run() -> tuple[bool, bool, list[FetchResult]]:
        async with Fetcher(FetchLimits(max_per_host=2)) as fetcher:
            requests = [FetchRequest(f"f{n}", http_server.url(f"/feed?n={n}")) for n in range(6)]
            fetches = [asyncio.create_task(fetcher.fetch(request)) for request in requests]
            two = await asyncio.to_thread(seen, lambda: active >= 2, 5)
            # Without the limit the other four arrive within milliseconds.
            more = await asyncio.to_thread(seen, lambda: active > 2, 0.3)
            nonlocal released
            with busy:
                released = True
                busy.notify_all()
            return two, more, await asyncio.gather(*fetches)

    two, more, results = asyncio.run(run())
    assert (two, more, peak) == (True, False, 2)
    assert [result.outcome for result in results] == ["ok"] * 6


def test_a_local_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    result = fetch(path.as_uri())
    assert (result.outcome, result.status, result.body, result.error) == ("ok", None, RSS, None)
    assert result.last_modified == formatdate(path.stat().st_mtime, usegmt=True)
    assert result.final_url == path.as_uri()

    unchanged = fetch(path.as_uri(), last_modified=result.last_modified or "")
    assert (unchanged.outcome, unchanged.body) == ("not_modified", None)


def test_a_local_file_rewritten_within_the_same_second_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    second_start = 1_760_000_000 * 10**9
    path.write_bytes(RSS)
    os.utime(path, ns=(second_start, second_start))
    first = fetch(path.as_uri())
    path.write_bytes(RSS + b"<!-- edited -->")
    os.utime(path, ns=(second_start + 1000, second_start + 1000))  # same second, same Last-Modified
    second = fetch(path.as_uri(), etag=first.etag or "", last_modified=first.last_modified or "")
    assert (second.outcome, second.body) == ("ok", RSS + b"<!-- edited -->")


def test_a_missing_local_file(tmp_path: Path) -> None:
    result = fetch((tmp_path / "gone.xml").as_uri())
    assert (result.outcome, result.error) == ("error", f"no such file: {tmp_path / 'gone.xml'}")


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/feed")
    assert (result.outcome, result.error, result.status) == ("error", "connection refused", None)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.org/feed.xml", "unsupported URL scheme 'ftp'"),
        ("not a url", "not a valid URL"),
        ("http://", "not a valid URL"),
        ("http://example.org:99999/feed", "not a valid URL"),
        ("http://[::1/feed", "not a valid URL"),
        ("file:///tmp/feed%00.xml", "not a valid URL"),
        ("file://example.org/feed.xml", "file URL names another host: example.org"),
    ],
)
def test_unusable_urls(url: str, error: str) -> None:
    result = fetch(url)
    assert (result.outcome, result.error, result.final_url) == ("error", error, url)


def test_a_redirect_hop_does_not_queue_behind_other_feeds(http_server: LoopbackServer) -> None:
    """A feed's redirect keeps its slot: its next hop used to wait for a free slot behind other
    feeds' slow fetches while its own total deadline ran, and fail as "timed out (total)"."""
    final_fetched = threading.Event()

    def final(exchange: Exchange) -> Reply:
        final_fetched.set()
        return Reply(200, RSS)

    def slow(exchange: Exchange) -> Reply:
        # Longer than the total timeout, unless the redirected feed got through (then at once).
        final_fetched.wait(timeout=2.0)
        return Reply(200, RSS)

    start = http_server.route("/moved", redirect(302, "/final"))
    http_server.route("/final", final)
    http_server.route("/slow", slow)
    limits = FetchLimits(max_connections=2, max_per_host=10, total_timeout=0.75)

    async def run() -> list[FetchResult]:
        async with Fetcher(limits) as fetcher:
            requests = [FetchRequest("moved", start)]
            requests += [FetchRequest(f"slow{n}", http_server.url(f"/slow?n={n}")) for n in range(4)]
            # Tasks start in order: the redirected feed takes a slot first, the slow ones queue.
            return await asyncio.gather(*(fetcher.fetch(request) for request in requests))

    moved, *others = asyncio.run(run())
    assert (moved.outcome, moved.error, moved.final_url) == ("ok", None, http_server.url("/final"))
    assert moved.elapsed < 0.75
    assert [result.outcome for result in others] == ["ok"] * 4


def test_a_hop_to_another_host_keeps_the_global_slot_when_that_host_is_free() -> None:
    async def run() -> tuple[list[str], float, float]:
        everyone = asyncio.Semaphore(1)
        hosts: dict[str, asyncio.Semaphore] = {}

        def host_slot(host: str) -> asyncio.Semaphore:
            return hosts.setdefault(host, asyncio.Semaphore(1))

        order: list[str] = []
        turn = _Turn(everyone, host_slot, budget=10.0)
        first = await turn.take("a.example")

        async def other() -> None:  # another feed, queued for the one global slot
            async with host_slot("c.example"), everyone:
                order.append("other")

        queued = asyncio.create_task(other())
        await asyncio.sleep(0)  # let it queue
        second = await turn.take("b.example")  # free: taken at once, the global slot kept
        order.append("hop")
        assert (hosts["a.example"].locked(), hosts["b.example"].locked()) == (False, True)
        turn.release()
        await queued
        return order, first, second

    order, first, second = asyncio.run(run())
    assert order == ["hop", "other"]
    assert first == second  # one deadline for the whole chain


def test_a_hop_to_a_busy_host_queues_without_holding_a_global_slot_or_spending_its_budget() -> None:
    """Holding the global slot while waiting for a busy host could deadlock against a feed that
    holds that host's slot and waits for the global one; so the hop queues as a first request."""

    async def run() -> tuple[float, float]:
        everyone = asyncio.Semaphore(1)
        hosts = {"a.example": asyncio.Semaphore(1), "b.example": asyncio.Semaphore(1)}
        loop = asyncio.get_running_loop()
        turn = _Turn(everyone, hosts.__getitem__, budget=10.0)
        await turn.take("a.example")
        await hosts["b.example"].acquire()  # a first request to b holds b's slot...

        async def first_request_to_b() -> None:  # ... and waits for the global slot
            async with everyone:
                await asyncio.sleep(0.2)
            hosts["b.example"].release()

        blocked = asyncio.create_task(first_request_to_b())
        await asyncio.sleep(0)
        asked = loop.time()
        deadline = await asyncio.wait_for(turn.take("b.example"), timeout=5)  # no deadlock
        taken = loop.time()
        turn.release()
        await blocked
        return taken - asked, deadline - taken

    waited, budget_left = asyncio.run(run())
    assert waited >= 0.2  # queued behind the first request to b
    assert budget_left > 9.9  # the time in the queue was not charged to the feed
