"""Connections kept alive between the feeds of a cycle (``watcher.fetch``): unwanted small bodies
(304, redirects, errors) are read so the connection can serve the next feed, and ``_Pool``
assigns requests to connections in one pass, never reusing a connection the server closed."""

import asyncio
import functools
import time
from collections.abc import Callable, Iterator

import httpcore
import httpx
import pytest
from httpserver import Exchange, Handler, LoopbackServer, Reply

from watcher.fetch import Fetcher, FetchLimits, FetchRequest, _keep_alive_pool, _Pool
from watcher.records import FetchResult

RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title></channel></rss>"


def conditional(ports: list[int], etag: str = '"v1"') -> Handler:
    """A feed answering 304 to its ETag; notes the client port of each request (one per connection)."""

    def answer(exchange: Exchange) -> Reply:
        ports.append(exchange.client_address[1])
        if exchange.headers.get("If-None-Match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, RSS, {"ETag": etag, "Content-Type": "application/rss+xml"})

    return answer


def fetch_all(requests: list[FetchRequest], limits: FetchLimits, pause: float = 0.0) -> list[FetchResult]:
    """Fetch ``requests`` with one fetcher: all at once, or one by one ``pause`` seconds apart."""

    async def run() -> list[FetchResult]:
        async with Fetcher(limits) as fetcher:
            if not pause:
                return list(await asyncio.gather(*(fetcher.fetch(request) for request in requests)))
            results = []
            for request in requests:
                results.append(await fetcher.fetch(request))
                await asyncio.sleep(pause)
            return results

    return asyncio.run(asyncio.wait_for(run(), timeout=30))


@pytest.fixture
def other_server() -> Iterator[LoopbackServer]:
    """A second loopback server: another origin."""
    with LoopbackServer() as server:
        yield server


def test_a_cycle_of_304s_and_redirects_reuses_its_connections(http_server: LoopbackServer) -> None:
    ports: list[int] = []
    requests = []
    for k in range(40):
        url = http_server.route(f"/feed{k}", conditional(ports))
        requests.append(FetchRequest(f"feed{k}", url, etag='"v1"'))
    for k in range(5):  # a permanent redirect (with a small body) to the same host, then a 304
        body = b"moved\n"
        http_server.route(f"/moved{k}", Reply(301, body, {"Location": f"/feed{k}"}))
        requests.append(FetchRequest(f"moved{k}", http_server.url(f"/moved{k}"), etag='"v1"'))

    results = fetch_all(requests, FetchLimits(max_connections=4, max_per_host=4))

    assert [result.outcome for result in results] == ["not_modified"] * 45
    assert len(ports) == 45
    assert len(set(ports)) <= 4, "each connection serves many feeds, not one"


def test_hosts_make_room_for_each_other_within_the_limit(
    http_server: LoopbackServer, other_server: LoopbackServer
) -> None:
    ports: list[int] = []
    requests = []
    for k in range(30):
        server = (http_server, other_server)[k % 2]
        url = server.route(f"/feed{k}", conditional(ports))
        requests.append(FetchRequest(f"feed{k}", url, etag='"v1"'))

    results = fetch_all(requests, FetchLimits(max_connections=2, max_per_host=2))

    assert [result.outcome for result in results] == ["not_modified"] * 30
    assert len(ports) == 30


def test_a_connection_the_server_closed_is_not_reused(http_server: LoopbackServer) -> None:
    """A server may close an idle keep-alive connection without saying so (its keep-alive
    timeout): the next feed must get a new connection, not an error."""
    ports: list[int] = []

    def closing(exchange: Exchange) -> Reply:
        ports.append(exchange.client_address[1])
        exchange.close_connection = True  # closed after this response, which does not say so
        return Reply(304, headers={"ETag": '"v1"'})

    url = http_server.route("/feed", closing)
    requests = [FetchRequest(f"feed{k}", url, etag='"v1"') for k in range(5)]

    results = fetch_all(requests, FetchLimits(max_connections=1, max_per_host=1), pause=0.05)

    assert [(result.outcome, result.error) for result in results] == [("not_modified", None)] * 5
    assert len(set(ports)) == 5


def test_only_small_unwanted_bodies_are_read(http_server: LoopbackServer) -> None:
    ports: list[int] = []

    def failing(size: int) -> Handler:
        def answer(exchange: Exchange) -> Reply:
            ports.append(exchange.client_address[1])
            return Reply(500, b"x" * size)

        return answer

    small = http_server.route("/small", failing(100))
    big = http_server.route("/big", failing(4 * 2**20))
    names = ["small", "small", "big", "small"]
    requests = [FetchRequest(name, {"small": small, "big": big}[name]) for name in names]

    started = time.monotonic()
    results = fetch_all(requests, FetchLimits(max_connections=1, max_per_host=1), pause=0.01)

    assert [result.error for result in results] == ["HTTP 500 Internal Server Error"] * 4
    assert time.monotonic() - started < 5
    assert ports[0] == ports[1] == ports[2], "a small error body is read: the connection serves on"
    assert ports[3] != ports[2], "a large one is not read: its connection is closed"


def test_the_single_pass_pool_replaces_only_httpcores_plain_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    async def check(client: httpx.AsyncClient) -> bool:
        async with client:
            return _keep_alive_pool(client)

    plain = httpx.AsyncClient()
    assert asyncio.run(check(plain))
    assert type(plain._transport._pool) is _Pool  # type: ignore[attr-defined]
    assert not asyncio.run(check(httpx.AsyncClient(proxy="http://127.0.0.1:9")))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert not asyncio.run(check(httpx.AsyncClient())), "a proxy from the environment keeps its pool"


# -- _Pool's assignment, on connections that do no I/O ---------------------------------------------


class FakeConnection(httpcore.AsyncConnectionInterface):
    """A connection in a given state, to one origin."""

    def __init__(self, origin: str, *, idle: bool = True, expired: bool = False) -> None:
        self.origin = httpcore.URL(origin).origin
        self.idle, self.expired, self.closed = idle, expired, False

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.idle and not self.closed

    def is_idle(self) -> bool:
        return self.idle and not self.closed

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return self.expired


def on_a_loop(test: Callable[[], None]) -> Callable[[], None]:
    """Run ``test`` inside an event loop: httpcore's pool requests need one (for their events)."""

    @functools.wraps(test)
    def run() -> None:
        async def body() -> None:
            test()

        asyncio.run(body())

    return run


def pool_with(connections: list[FakeConnection], max_connections: int) -> _Pool:
    pool = _Pool(max_connections=max_connections)
    pool._connections = list(connections)
    return pool


def queue(pool: _Pool, url: str) -> httpcore._async.connection_pool.AsyncPoolRequest:
    request = httpcore._async.connection_pool.AsyncPoolRequest(httpcore.Request("GET", url))
    pool._requests.append(request)
    return request


@on_a_loop
def test_two_queued_requests_never_get_the_same_idle_connection() -> None:
    idle = FakeConnection("http://a.example/")
    pool = pool_with([idle], max_connections=2)
    first, second = queue(pool, "http://a.example/1"), queue(pool, "http://a.example/2")
    assert pool._assign_requests_to_connections() == []
    assert first.connection is idle
    assert second.connection is not None
    assert second.connection is not idle
    assert len(pool._connections) == 2


@on_a_loop
def test_a_connection_promised_to_a_request_is_neither_reused_nor_closed() -> None:
    idle = FakeConnection("http://a.example/")
    pool = pool_with([idle], max_connections=1)
    promised = queue(pool, "http://a.example/1")
    pool._assign_requests_to_connections()
    assert promised.connection is idle  # not started on it yet: still idle
    waiting = queue(pool, "http://b.example/1")
    assert pool._assign_requests_to_connections() == [], "not closed to make room"
    assert (waiting.connection, pool._connections) == (None, [idle])


@on_a_loop
def test_an_expired_connection_is_closed_when_it_would_be_reused() -> None:
    expired, fresh = FakeConnection("http://a.example/", expired=True), FakeConnection("http://a.example/")
    pool = pool_with([expired, fresh], max_connections=2)
    request = queue(pool, "http://a.example/1")
    assert pool._assign_requests_to_connections() == [expired]
    assert request.connection is fresh
    assert pool._connections == [fresh]


@on_a_loop
def test_a_full_pool_closes_its_oldest_idle_connection_to_make_room() -> None:
    old, busy = FakeConnection("http://a.example/"), FakeConnection("http://b.example/", idle=False)
    closed = FakeConnection("http://c.example/")
    closed.closed = True
    pool = pool_with([old, busy, closed], max_connections=2)
    request = queue(pool, "http://d.example/1")
    assert pool._assign_requests_to_connections() == [old]
    assert request.connection is not None
    assert request.connection.can_handle_request(httpcore.URL("http://d.example/").origin)
    assert pool._connections == [busy, request.connection], "the closed one is dropped"


def test_idle_connections_beyond_the_keep_alive_limit_are_closed_oldest_first() -> None:
    connections = [FakeConnection(f"http://{host}.example/") for host in "abc"]
    pool = _Pool(max_connections=5, max_keepalive_connections=1)
    pool._connections = list(connections)
    assert pool._assign_requests_to_connections() == connections[:2]
    assert pool._connections == connections[2:]
