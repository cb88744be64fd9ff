"""Feed documents over HTTP(S), or from local ``file://`` paths, within the limits a poller needs.

Every way a feed can fail (refused connection, timeout, HTTP error, oversized body, compression
bomb, redirect loop) comes back as a ``FetchResult`` with ``outcome="error"``, so one bad feed
never stops a poll; only bugs raise.

Connections are kept alive between the feeds of a cycle: a response whose body is not wanted (a
304, a redirect, an error) is read to its end when it is known to be small, since httpcore closes
a connection whose response was not read through, and a cycle of 1,000 feeds answering 304 then
opened (and the server accepted) 1,000 connections. Keeping them needs a connection pool that
does not slow down as it grows: httpcore 1.0's pool walks its connections several times per
request, once for each idle connection (``_assign_requests_to_connections``, O(n²) in the
connections; encode/httpcore#1035, still open), and probes every idle socket each time; with 50
connections kept alive that cost 5 s of CPU for 1,000 requests. ``_Pool`` replaces that one
method with a single pass (see ``_keep_alive_pool``); without it (another httpcore), connections
are not kept for unwanted bodies, as before.
"""

import asyncio
import contextlib
import os
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit
from urllib.request import url2pathname

import certifi
import httpcore
import httpx

from watcher import __version__
from watcher.records import FetchResult, Outcome

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
# Decompressed bytes produced per step: a compression bomb grows the body this much at a time
# and is stopped at the cap, instead of inflating a whole network read (~1000x) in one go.
_STEP = 64 * 1024
# Unwanted bodies (errors, redirects) up to this size are read, to keep their connection.
_DRAIN = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    """How much one fetcher may ask of the network, and of any single feed."""

    max_connections: int = 20
    max_per_host: int = 2
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body: int = 15 * 2**20
    max_redirects: int = 5
    user_agent: str = f"summit-watch/{__version__} (+https://github.com/summit-watch/summit-watch)"


@dataclass(frozen=True)
class FetchRequest:
    """One feed to fetch, with the validators stored from its last fetch (for a conditional GET)."""

    feed: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


class _Got(NamedTuple):
    """A fetch's outcome, before timing and the trace are added to make the result."""

    outcome: Outcome
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


class _Failure(Exception):
    """A feed's failure, turned into an "error" result by ``Fetcher.fetch``."""


@dataclass
class _Trace:
    """How far a fetch got, so a failure part-way still reports the last URL, status and headers."""

    url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None
    retry_after: timedelta | None = None


class Fetcher:
    """Fetches feeds concurrently: at most ``max_connections`` at once and ``max_per_host`` per host.

    Use it as ``async with Fetcher() as fetcher:``; leaving the block closes its connections.
    """

    def __init__(self, limits: FetchLimits = FetchLimits()) -> None:
        self._limits = limits
        self._client = httpx.AsyncClient(
            verify=_tls_context(),
            follow_redirects=False,  # followed by hand, to spot permanent moves and cap the chain
            limits=httpx.Limits(
                max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections
            ),
            timeout=httpx.Timeout(
                connect=limits.connect_timeout,
                read=limits.read_timeout,
                write=limits.read_timeout,
                pool=limits.connect_timeout,
            ),
            headers={
                "User-Agent": limits.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
        )
        self._keep_alive = _keep_alive_pool(self._client)
        # Our own queue for the global limit too, so time spent waiting for a turn is not
        # charged to a feed's timeouts (httpx's pool wait is).
        self._all = asyncio.Semaphore(limits.max_connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one feed; failures are results with ``outcome="error"``, never exceptions."""
        started = time.monotonic()
        trace = _Trace(request.url)
        try:
            if request.url[:5].lower() == "file:":
                got = await self._fetch_file(request, trace)
            else:
                got = await self._fetch_http(request, trace)
        except _Failure as failure:
            got = _Got("error", error=str(failure))
        etag, last_modified = got.etag, got.last_modified
        if got.outcome != "ok":  # keep the stored validators unless the server sent new ones
            etag, last_modified = etag or request.etag, last_modified or request.last_modified
        return FetchResult(
            feed=request.feed,
            url=request.url,
            outcome=got.outcome,
            status=trace.status,
            body=got.body,
            headers=trace.headers,
            etag=etag,
            last_modified=last_modified,
            final_url=trace.url,
            permanent_redirect=trace.permanent_redirect,
            retry_after=trace.retry_after,
            error=got.error,
            elapsed=time.monotonic() - started,
        )

    async def _fetch_http(self, request: FetchRequest, trace: _Trace) -> _Got:
        url = _http_url(request.url)
        # Bytes, because httpx refuses non-ASCII str values and a stored validator may hold some.
        validators = ((b"If-None-Match", request.etag), (b"If-Modified-Since", request.last_modified))
        conditions = {name: value.encode() for name, value in validators if value}
        all_permanent = True
        redirects = 0
        turn = _Turn(self._all, self._host_slot, self._limits.total_timeout)
        try:
            while True:
                deadline = await turn.take(url.host)
                async with (
                    asyncio.timeout_at(deadline),
                    self._client.stream("GET", url, headers=conditions) as response,
                ):
                    trace.url, trace.status = str(url), response.status_code
                    trace.headers = {key.lower(): value for key, value in response.headers.items()}
                    trace.retry_after = _retry_after(response.headers)
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or location is None:
                        if redirects and all_permanent:
                            trace.permanent_redirect = trace.url
                        return await self._outcome(response)
                    await self._drain(response)
                if redirects == self._limits.max_redirects:
                    raise _Failure(f"more than {redirects} redirects")
                redirects += 1
                all_permanent = all_permanent and response.status_code in _PERMANENT
                try:
                    url = _http_url(str(url.join(location)))
                except (_Failure, httpx.InvalidURL) as exc:
                    raise _Failure(f"redirect to an unusable URL {location!r}: {exc}") from None
        except TimeoutError:
            raise _Failure(f"timed out (total) after {self._limits.total_timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Failure(self._describe(exc, url)) from None
        finally:
            turn.release()

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        """The semaphore bounding requests to ``host``."""
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self._limits.max_per_host)
        return self._hosts[host]

    async def _outcome(self, response: httpx.Response) -> _Got:
        status = response.status_code
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        if status == 304 or not response.is_success:
            await self._drain(response)
        if status == 304:
            return _Got("not_modified", None, etag, last_modified)
        if status == 410:
            return _Got("gone", error="HTTP 410 Gone: the publisher removed the feed")
        if not response.is_success:
            reason = response.reason_phrase or _phrase(status)
            return _Got("error", error=f"HTTP {status} {reason}".rstrip())
        return _Got("ok", await self._read_body(response), etag, last_modified)

    async def _drain(self, response: httpx.Response) -> None:
        """Read the rest of a response whose body is not wanted, so that its connection can serve
        the next feed: only with ``_Pool``, and only a body known to be small (a 304 has none at
        all, and reading it reads nothing from the socket). A body of unknown length, or a large
        one, is left unread and its connection closed, rather than a failing feed kept waiting."""
        if not self._keep_alive:
            return
        status, length = response.status_code, response.headers.get("content-length")
        bodiless = status in (204, 304) or status < 200
        if not bodiless and (length is None or not length.isdigit() or int(length) > _DRAIN):
            return
        with contextlib.suppress(httpx.HTTPError):  # the connection broke: httpcore drops it
            async for _ in response.aiter_raw():
                pass

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The decompressed body, read raw and inflated here in bounded steps (httpx would inflate
        each network read whole: 64 KiB of gzipped zeros is 64 MiB), stopped past ``max_body``."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise _Failure(f"unsupported content-encoding {encoding!r}")
        inflate = _Inflater(raw_deflate_fallback=encoding == "deflate") if encoding != "identity" else None
        pieces: list[bytes] = []
        size = 0
        try:
            async for raw in response.aiter_raw():
                for piece in inflate.feed(raw) if inflate else (raw,):
                    size += len(piece)
                    if size > self._limits.max_body:
                        raise _Failure(f"body larger than {self._limits.max_body / 2**20:g} MiB")
                    pieces.append(piece)
        except zlib.error as exc:
            raise _Failure(f"cannot decompress the {encoding} body: {exc}") from None
        return b"".join(pieces)

    def _describe(self, exc: httpx.TransportError, url: httpx.URL) -> str:
        """One line for a network failure: the kind of timeout, or the root cause httpx wraps."""
        limits = self._limits
        if isinstance(exc, httpx.ConnectTimeout):
            return f"timed out (connect) after {limits.connect_timeout:g} s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"timed out (read) after {limits.read_timeout:g} s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"timed out (write) after {limits.read_timeout:g} s"
        if isinstance(exc, httpx.PoolTimeout):
            return f"timed out (waiting for a connection) after {limits.connect_timeout:g} s"
        cause = _root_cause(exc)
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host {url.host}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"protocol error: {exc}"
        return f"network error: {str(exc) or type(exc).__name__}"

    async def _fetch_file(self, request: FetchRequest, trace: _Trace) -> _Got:
        try:
            parts = urlsplit(request.url)
        except ValueError:
            raise _Failure("not a valid URL") from None
        if parts.netloc not in ("", "localhost"):
            raise _Failure(f"file URL names another host: {parts.netloc}")
        path = Path(url2pathname(parts.path))
        got = await asyncio.to_thread(_read_file, path, request, self._limits.max_body)
        validators = (("etag", got.etag), ("last-modified", got.last_modified))
        # A file has no media type: it is read as the XML it is, not reported "malformed" for
        # lacking a Content-Type (feedparser's complaint about servers that send none).
        trace.headers = {"content-type": "application/xml"} | {k: v for k, v in validators if v}
        return got


class _Turn:
    """The concurrency slots one fetch holds, from its first request to its last redirect hop.

    The first request waits for a slot of its host, then a global one: a feed queued behind a busy
    host must not hold a global slot meanwhile. A redirect keeps the global slot, so a feed's hops
    never queue again behind other feeds (they used to, while the feed's total deadline ran, and
    timed out as "total"): to the same host it keeps both slots, to another host it takes that
    host's slot when one is free. Only a hop to a host that is busy gives the global slot back and
    queues as a first request does, since holding a global slot while waiting for a host could
    deadlock with first requests that hold that host's slots and wait for a global one.

    The total timeout counts only time with the slots held: waiting in a queue is not the feed's
    fault.
    """

    def __init__(
        self, everyone: asyncio.Semaphore, host_slot: Callable[[str], asyncio.Semaphore], budget: float
    ) -> None:
        self._all = everyone
        self._host_slot = host_slot
        self._left = budget  # seconds of the total timeout not used up before the last re-queue
        self._host: str | None = None  # the host whose slot is held
        self._global = False
        self._deadline = 0.0

    async def take(self, host: str) -> float:
        """Hold the slots for a request to ``host``; return its deadline (the event loop's clock)."""
        if host == self._host:
            return self._deadline
        self._release_host()
        slot = self._host_slot(host)
        if self._global and not slot.locked():
            await slot.acquire()  # a free slot: returns without yielding
            self._host = host
            return self._deadline
        loop = asyncio.get_running_loop()
        if self._global:
            self._left = max(self._deadline - loop.time(), 0.0)
            self._global = False
            self._all.release()
        await slot.acquire()
        self._host = host
        await self._all.acquire()
        self._global = True
        self._deadline = loop.time() + self._left
        return self._deadline

    def release(self) -> None:
        """Give back whatever is held (after the last hop, or on a failure or cancellation)."""
        self._release_host()
        if self._global:
            self._global = False
            self._all.release()

    def _release_host(self) -> None:
        if self._host is not None:
            self._host_slot(self._host).release()
            self._host = None


class _Inflater:
    """Inflates a gzip or zlib stream (or raw deflate, which some servers send as "deflate")
    in steps of at most ``_STEP`` bytes."""

    def __init__(self, *, raw_deflate_fallback: bool) -> None:
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        self._fallback = raw_deflate_fallback

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                piece = self._zlib.decompress(data, _STEP)
            except zlib.error:
                if not self._fallback:
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._fallback = False
                continue
            self._fallback = False
            yield piece
            data = self._zlib.unconsumed_tail
            # A full step may leave output pending inside zlib even with no input left.
            if not data and len(piece) < _STEP:
                return


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's connection pool, with its assignment of requests to connections in one pass.

    httpcore calls ``_assign_requests_to_connections`` (under its lock) whenever a request is
    queued or a response closed; the original is O(n²) in the connections (it counts all
    connections once per idle one) and probes each idle socket for expiry (``has_expired``: a
    poll() and several lookups) each time. This one does the same job in one pass over the
    connections plus one over the queued requests:

    - connections closed (by us, or failed to connect) are dropped;
    - idle connections beyond ``max_keepalive_connections`` are closed, oldest first (the
      original compared the count of all connections, not of the idle ones, with that limit);
    - each queued request, in order, gets an idle connection to its origin, else a new
      connection if there is room, else room made by closing the oldest idle connection, else
      waits. A connection is checked for expiry (keep-alive timeout, or closed by the server)
      only when it is about to be reused; an expired one is closed and the next one tried;
    - a connection assigned to a request that has not started on it yet is not idle: it is
      neither given to another request nor closed (encode/httpcore#1110).

    HTTP/1.1 only (the fetcher never asks for HTTP/2): one request per connection at a time.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        connections = [connection for connection in self._connections if not connection.is_closed()]
        reserved = {id(request.connection) for request in self._requests if request.connection is not None}
        idle = [c for c in connections if id(c) not in reserved and c.is_idle()]
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            closing, idle = idle[:surplus], idle[surplus:]
        available = [connection for connection in idle if connection.is_available()]
        for request in self._requests:
            if not request.is_queued():
                continue
            origin = request.request.url.origin
            connection = None
            while available and connection is None:
                candidates = [c for c in available if c.can_handle_request(origin)]
                if not candidates:
                    break
                candidate = candidates[0]
                available.remove(candidate)
                idle.remove(candidate)
                if candidate.has_expired():
                    closing.append(candidate)
                else:
                    connection = candidate
            if connection is None:
                if len(connections) - len(closing) >= self._max_connections:
                    if not idle:
                        continue  # no room: the request waits for a connection to be released
                    oldest = idle.pop(0)
                    if oldest in available:
                        available.remove(oldest)
                    closing.append(oldest)
                connection = self.create_connection(origin)
                connections.append(connection)
            request.assign_to_connection(connection)
        dropped = {id(connection) for connection in closing}
        self._connections = [connection for connection in connections if id(connection) not in dropped]
        return closing


def _keep_alive_pool(client: httpx.AsyncClient) -> bool:
    """Give ``client``'s connection pool the single-pass assignment of ``_Pool``. False (the
    client is left as it is, and unwanted bodies are not read) unless every pool of the client is
    httpcore 1.0's plain pool: not with a proxy from the environment (HTTP_PROXY...), whose pools
    are another class."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    pools = [getattr(transport, "_pool", None) for transport in transports if transport is not None]
    if (
        not pools
        or not httpcore.__version__.startswith("1.0.")
        or any(type(pool) is not httpcore.AsyncConnectionPool for pool in pools)
    ):
        return False
    for pool in pools:
        pool.__class__ = _Pool  # a subclass adding no state: the pool httpx built, one method replaced
    return True


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs more than a whole 304 poll."""
    return ssl.create_default_context(cafile=certifi.where())


def _http_url(text: str) -> httpx.URL:
    """``text`` as an http(s) URL with a host and a usable port, else a failure saying why not."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise _Failure("not a valid URL") from None
    if url.scheme and url.scheme not in ("http", "https"):
        raise _Failure(f"unsupported URL scheme {url.scheme!r}")
    if not url.scheme or not url.host or (url.port is not None and not 0 < url.port < 65536):
        raise _Failure("not a valid URL")
    return url


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _retry_after(headers: httpx.Headers) -> timedelta | None:
    """Retry-After as a delay: seconds, or an HTTP date taken relative to the response's own Date
    header when it has one (so the server's clock skew cancels out)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        try:
            return timedelta(seconds=int(value))
        except OverflowError:
            return None
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(headers.get("date", "")) or datetime.now(UTC)
    return max(when - now, timedelta(0))


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception below httpx's and anyio's wrappers (e.g. ConnectionRefusedError)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _read_file(path: Path, request: FetchRequest, max_body: int) -> _Got:
    """Read a local feed, with validators from its stat: Last-Modified from the mtime, and an ETag
    of the mtime in nanoseconds and the size, so a rewrite within the same second is still seen."""
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            last_modified = formatdate(stat.st_mtime, usegmt=True)
            etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            unchanged = request.etag == etag if request.etag else request.last_modified == last_modified
            if unchanged:
                return _Got("not_modified", None, etag, last_modified)
            body = file.read(max_body + 1)
    except FileNotFoundError:
        raise _Failure(f"no such file: {path}") from None
    except IsADirectoryError:
        raise _Failure(f"not a file: {path}") from None
    except ValueError:  # a NUL byte in the path
        raise _Failure("not a valid URL") from None
    except OSError as exc:
        raise _Failure(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > max_body:
        raise _Failure(f"body larger than {max_body / 2**20:g} MiB")
    return _Got("ok", body, etag, last_modified)
