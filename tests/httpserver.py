"""A real HTTP/1.1 server on 127.0.0.1 for integration tests: routes set per test, requests recorded.

Registered as a pytest plugin by ``tests/conftest.py``, so every test can ask for ``http_server``::

    def test_feed(http_server: LoopbackServer) -> None:
        url = http_server.route("/feed.xml", Reply(200, RSS, {"Content-Type": "application/rss+xml"}))
        ...  # fetch url
        assert http_server.requests[0].headers["user-agent"].startswith("summit-watch/")

A route is a ``Reply`` (status, headers, body; Content-Length is added) or a callable taking the
``Exchange`` (a ``BaseHTTPRequestHandler``) for special behaviour: it returns a ``Reply``, or writes
the response itself with ``send_response``/``wfile`` and returns None (the connection is then
closed, which ends a body sent without a length). Callables that block should wait on
``http_server.stopping``, which is set at teardown. Unknown paths get a 404. An exception in a
callable fails the test at teardown; a client hanging up mid-response is not an error.
"""

import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    """A canned response. Headers may repeat when given as pairs."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """A request the server received; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[["Exchange"], Reply | None]


class Exchange(BaseHTTPRequestHandler):
    """One request: recorded, then answered by its route."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    server: "LoopbackServer"

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_POST(self) -> None:
        self._serve(send_body=True)

    def _serve(self, *, send_body: bool) -> None:
        body = self._request_body()
        self.server.requests.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        route = self.server.routes.get(self.path) or self.server.routes.get(self.path.split("?")[0])
        try:
            reply = route(self) if callable(route) else route or Reply(404, b"no route\n")
            if reply is None:
                self.close_connection = True
            else:
                self._send(reply, send_body=send_body)
        except ConnectionError:  # the client hung up: often the behaviour under test
            self.close_connection = True
        except Exception as exc:
            self.server.errors.append(exc)
            self.close_connection = True

    def _request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, reply: Reply, *, send_body: bool) -> None:
        self.send_response(reply.status)
        headers = list(reply.headers.items() if isinstance(reply.headers, Mapping) else reply.headers)
        for name, value in headers:
            self.send_header(name, value)
        bodiless = reply.status in (204, 304) or reply.status < 200
        if not bodiless and not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if send_body and not bodiless:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on ``requests`` instead."""


class LoopbackServer(ThreadingHTTPServer):
    """The server, on 127.0.0.1 and a free port, serving from a background thread while entered."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Exchange)
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[Seen] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, name="loopback-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, answer: Reply | Handler) -> str:
        """Serve ``answer`` at ``path`` (replacing any earlier route there); returns its URL."""
        self.routes[path] = answer
        return self.url(path)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Disconnects while reading a request are normal; anything else is recorded."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, ConnectionError):
            self.errors.append(exc)

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A loopback server for this test; fails the test if one of its route callables raised."""
    with LoopbackServer() as server:
        yield server
    if server.errors:
        pytest.fail(f"the loopback server's handlers raised: {server.errors!r}", pytrace=False)
