"""Poll throughput: the 200 real feeds served over loopback HTTP, polled by ``watcher.pipeline.poll``.

    .venv/bin/python benchmarks/bench_poll.py [--corpus ../shared/corpora/real-feeds] [--no-gzip]

The feeds of the real-feed corpus (``feeds/*``, their original URLs in ``index.tsv``) are served
from a threaded ``http.server`` on 127.0.0.1, each file at its own path (``/feeds/<file>``), with
a Content-Type sniffed from the document (RSS, Atom, RDF, JSON Feed, HTML...), a strong ETag (a
hash of the body), Last-Modified (the file's mtime), gzip when the client asks for it (compressed
once at start-up, as a caching server would) and 304 Not Modified on a matching If-None-Match (or,
without one, a satisfied If-Modified-Since). The server runs in a subprocess, so that the peak RSS
of this process is the poller's alone; its own peak is shown but counted nowhere.

Measured in one run, one after the other:

(a) a first poll of all 200 feeds into a fresh SQLite database (in a temporary directory) with the
    example rules of ``rules/``: fetch, parse (in the pipeline's 2-process pool), store, match;
(b) a second poll of all 200 feeds: conditional GETs, answered 304 wherever (a) stored validators
    (run three times; the median is reported and compared);
(c) a naive baseline: ``feedparser.parse(url)`` on each URL in turn (feedparser's own fetching,
    default options).

Times are wall-clock; CPU times are shown beside them. Entries/s is items stored per second for
(a) and entries parsed per second for (c). Database creation (migrations) and rule compilation
happen before (a) and are shown apart.

Memory: ``getrusage``'s high-water marks, RUSAGE_SELF read right after (b) (the poller process:
event loop, HTTP client, storage, matching), and RUSAGE_CHILDREN once the parser pool's
forkserver has been stopped and reaped (the largest of the forkserver and the workers it
reaped; the HTTP server subprocess is reaped only after that reading). Those are per-process
peaks, so the footprint of the whole poll (poller + forkserver + workers at the same moment) is
also sampled from /proc every 50 ms during (a) and (b), as RSS and as PSS (shared pages divided
among the processes sharing them). Note: with the forkserver start method, each worker re-runs
the ``__main__`` script (Python < 3.13.8 never preloads it, CPython gh-126631), so a worker imports
what the main script imports: this script's imports here, ``watcher.cli``'s under the CLI.

Targets: (a) faster than (c); (b) under 5% of (a); peak RSS under 300 MB, both for the poller
process and for the sampled footprint of the poll (RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import hashlib
import logging
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import feedparser

# summit-watch is imported where it is used: the parser pool's workers re-import this script
# (forkserver, Python < 3.13.8) and, like workers under the `summit-watch` command, should load
# only the parser, not the database, HTTP and CLI libraries.
if TYPE_CHECKING:
    from watcher.config import Config, FeedConfig
    from watcher.matcher import Matcher
    from watcher.records import PollSummary
    from watcher.store import Store

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "real-feeds"
RULES = REPO / "rules"
MAX_CONNECTIONS = 50  # and as many per host: every feed is on 127.0.0.1
MAX_RSS_MB = 300
MAX_SECOND_POLL = 0.05
SECOND_POLLS = 3


# -- the loopback server (runs in a subprocess: ``bench_poll.py --serve``) -------------------


@dataclass(frozen=True)
class Document:
    """A corpus file as served: identity and gzip bodies, each with its own ETag."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str
    gzip_etag: str
    mtime: int
    last_modified: str


def sniff_content_type(body: bytes) -> str:
    """A plausible Content-Type for a feed document, from its first bytes."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"{", b"[")):
        return "application/feed+json"
    markers = {
        b"<rss": "application/rss+xml",
        b"<feed": "application/atom+xml",
        b"<rdf:rdf": "application/rdf+xml",
        b"<html": "text/html; charset=utf-8",
        b"<!doctype html": "text/html; charset=utf-8",
        b"<svg": "image/svg+xml",
    }
    found = [(head.find(marker), kind) for marker, kind in markers.items() if marker in head]
    return min(found)[1] if found else "application/xml"


def load_documents(corpus: Path, files: list[str]) -> dict[str, Document]:
    """The corpus files by URL path, ready to serve."""
    documents = {}
    for file in files:
        path = corpus / file
        documents[f"/{file}"] = document(path.read_bytes(), int(path.stat().st_mtime))
    return documents


def document(body: bytes, mtime: int) -> Document:
    """``body`` as served: its gzip form, content type, ETags and Last-Modified."""
    digest = hashlib.sha1(body).hexdigest()[:20]
    return Document(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        content_type=sniff_content_type(body),
        etag=f'"{digest}"',
        gzip_etag=f'"{digest}-gz"',
        mtime=mtime,
        last_modified=formatdate(mtime, usegmt=True),
    )


def accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        token, _, params = part.strip().partition(";")
        if token.strip() in ("gzip", "x-gzip"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def not_modified(headers: Any, etag: str, mtime: int) -> bool:
    """RFC 9110: If-None-Match (weak comparison) decides; without it, If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: FeedServer

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        self.server.count_request()
        document = self.server.documents.get(urlsplit(self.path).path)
        if document is None:
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "10")
            self.end_headers()
            if send_body:
                self.wfile.write(b"not found\n")
            return
        zipped = self.server.gzip and accepts_gzip(self.headers.get("Accept-Encoding", ""))
        etag = document.gzip_etag if zipped else document.etag
        validators = (("ETag", etag), ("Last-Modified", document.last_modified), ("Vary", "Accept-Encoding"))
        if not_modified(self.headers, etag, document.mtime):
            self.server.count_304()
            self.send_response(304)
            for name, value in validators:
                self.send_header(name, value)
            self.end_headers()
            return
        body = document.gzipped if zipped else document.body
        self.send_response(200)
        self.send_header("Content-Type", document.content_type)
        self.send_header("Content-Length", str(len(body)))
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        for name, value in validators:
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 50 connections arrive at once; the default backlog of 5 would drop SYNs

    def __init__(self, documents: dict[str, Document], *, use_gzip: bool) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.documents = documents
        self.gzip = use_gzip
        self.requests = self.not_modified = 0
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_304(self) -> None:
        with self._lock:
            self.not_modified += 1


def serve(corpus: Path, *, use_gzip: bool) -> int:
    """Serve the corpus until stdin closes; print the port first, and counts at the end."""
    documents = load_documents(corpus, [file for file, _ in read_index(corpus)])
    server = FeedServer(documents, use_gzip=use_gzip)
    print(server.server_address[1], flush=True)

    def stop_at_eof() -> None:
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=stop_at_eof, daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    print(f"{server.requests} {server.not_modified}", flush=True)
    return 0


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int

    @classmethod
    def start(cls, corpus: Path, *, use_gzip: bool) -> ServerProcess:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", "--corpus", str(corpus)]
        if not use_gzip:
            command.append("--no-gzip")
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            process.kill()
            raise SystemExit(f"the loopback server did not start (said {line!r})")
        return cls(process, int(line))

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> tuple[int, int]:
        """Stop the server; return (requests, 304s) it answered."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        counts = self.process.stdout.read().split()
        self.process.wait(timeout=10)
        return (int(counts[0]), int(counts[1])) if len(counts) == 2 else (-1, -1)


# -- the benchmark -----------------------------------------------------------------------------


def read_index(corpus: Path) -> list[tuple[str, str]]:
    """(file, original URL) for each feed of the corpus."""
    lines = (corpus / "index.tsv").read_text().splitlines()
    return [(file, url) for file, url in (line.split("\t", 1) for line in lines[1:] if line.strip())]


def feed_configs(corpus: Path, port: int) -> list[FeedConfig]:
    from watcher.config import FeedConfig

    """One feed per corpus file, named after its original host, at its loopback URL."""
    feeds = []
    for file, url in read_index(corpus):
        host = (urlsplit(url).hostname or "feed").removeprefix("www.")
        name = f"{host}-{Path(file).name[:6]}"
        feeds.append(FeedConfig(name=name, url=f"http://127.0.0.1:{port}/{file}"))
    return feeds


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


class TreeSampler:
    """Samples, every ``interval`` seconds, the summed RSS and PSS of this process and its
    descendants (the parser pool's forkserver and workers), leaving out ``exclude`` (the HTTP
    server): the footprint of a poll at one moment, which per-process peaks (getrusage) cannot
    give. RSS counts a page shared by several processes in each; PSS divides it among them."""

    def __init__(self, exclude: int, interval: float = 0.05) -> None:
        self.peak_rss_mb = self.peak_pss_mb = 0.0
        self._exclude = exclude
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            rss, pss = self._sample()
            self.peak_rss_mb, self.peak_pss_mb = max(self.peak_rss_mb, rss), max(self.peak_pss_mb, pss)
            if self._stop.wait(self._interval):
                return

    def _sample(self) -> tuple[float, float]:
        rss = pss = 0
        pending = [os.getpid()]
        while pending:
            pid = pending.pop()
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    pending.extend(int(child) for child in children if int(child) != self._exclude)
            except (OSError, ValueError, IndexError):  # gone meanwhile, or no /proc
                continue
        return rss / 1024, pss / 1024


def stop_forkserver() -> bool:
    """Stop and reap the parser pool's forkserver, so the workers it reaped count in
    RUSAGE_CHILDREN (they are its children, not ours). Private API: False if it is missing."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is None:
        return False
    stop()
    return True


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Timed:
    seconds: float
    cpu: float  # CPU seconds of this process
    summary: PollSummary


def timed_poll(config: Config, store: Store, matcher: Matcher, profile: cProfile.Profile | None) -> Timed:
    names = [feed.name for feed in config.feeds]

    from watcher.fetch import FetchLimits
    from watcher.pipeline import poll

    limits = FetchLimits(max_connections=MAX_CONNECTIONS, max_per_host=MAX_CONNECTIONS)

    def run() -> PollSummary:
        return asyncio.run(poll(config, store, matcher, now, feeds=names, limits=limits))

    cpu, start = time.process_time(), time.perf_counter()
    summary = profile.runcall(run) if profile else run()
    return Timed(time.perf_counter() - start, time.process_time() - cpu, summary)


def naive_loop(urls: list[str]) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, entries, documents not served 200) for feedparser.parse(url) in turn."""
    entries = failed = 0
    cpu, start = time.process_time(), time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        entries += len(parsed.entries)
        failed += parsed.get("status") != 200
    return time.perf_counter() - start, time.process_time() - cpu, entries, failed


def describe(summary: PollSummary) -> str:
    outcomes = ", ".join(
        f"{summary.count(outcome)} {outcome}"
        for outcome in ("ok", "not_modified", "error", "gone")
        if summary.count(outcome)
    )
    return f"{outcomes}; {summary.new_items:,} new items, {summary.hits} hits"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-gzip", action="store_true", help="serve every body uncompressed")
    parser.add_argument("--profile", type=int, metavar="N", help="profile (a) and (b) here, N rows")
    parser.add_argument("--sort", default="cumulative", help="profile order (cumulative, tottime...)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.corpus, use_gzip=not args.no_gzip)

    logging.getLogger("watcher").setLevel(logging.ERROR)  # malformed feeds are counted below instead
    server = ServerProcess.start(args.corpus, use_gzip=not args.no_gzip)
    try:
        return run_benchmark(args, server)
    finally:
        if server.process.poll() is None:
            server.process.kill()


@dataclass
class Results:
    first: Timed
    second: Timed
    stored: dict[str, int]
    naive_seconds: float
    naive_cpu: float
    naive_entries: int
    naive_failed: int
    poller_rss: float  # MB, RUSAGE_SELF after (b)
    after_naive_rss: float  # MB, RUSAGE_SELF after (c)
    workers_rss: float | None  # MB, RUSAGE_CHILDREN after the forkserver is reaped
    workers_cpu: float
    footprint_rss: float  # MB, sampled sum over this process and its descendants during (a) and (b)
    footprint_pss: float
    server_rss: float | None
    requests: int
    answered_304: int


def measure(args: argparse.Namespace, server: ServerProcess, feeds: list[FeedConfig]) -> Results:
    from watcher.config import Config
    from watcher.matcher import Matcher
    from watcher.rules import load_rules
    from watcher.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        config = Config(database=f"sqlite:///{tmp}/bench.db", rules=RULES, feeds=tuple(feeds))
        start = time.perf_counter()
        store = Store.open(config.database)
        opened = time.perf_counter() - start
        start = time.perf_counter()
        rules = load_rules(config.rules)
        matcher = Matcher(rules)
        compiled = time.perf_counter() - start
        print(f"setup (not timed): fresh SQLite database {opened:.2f} s, {len(rules)} rules {compiled:.2f} s")
        profiles = (cProfile.Profile(), cProfile.Profile()) if args.profile else (None, None)
        try:
            with TreeSampler(exclude=server.process.pid) as sampler:
                first = timed_poll(config, store, matcher, profiles[0])
                # The second poll is short and shares two cores with the server: its median of
                # three (each one a full cycle of 200 conditional GETs) is what is compared.
                repeats = [timed_poll(config, store, matcher, profiles[1]) for _ in range(SECOND_POLLS)]
                second = sorted(repeats, key=lambda timed: timed.seconds)[SECOND_POLLS // 2]
            stored = store.counts()
        finally:
            store.close()
    poller_rss = peak_rss_mb(resource.RUSAGE_SELF)
    naive_seconds, naive_cpu, naive_entries, naive_failed = naive_loop([feed.url for feed in feeds])
    after_naive_rss = peak_rss_mb(resource.RUSAGE_SELF)
    reaped = stop_forkserver()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_rss = server.peak_rss_mb()
    requests, answered_304 = server.stop()
    for label, profile in zip(("(a)", "(b)"), profiles, strict=True):
        if profile is not None:
            print(f"profile of {label} in this process (the parser workers are not profiled):")
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.profile)
    return Results(
        first=first,
        second=second,
        stored=stored,
        naive_seconds=naive_seconds,
        naive_cpu=naive_cpu,
        naive_entries=naive_entries,
        naive_failed=naive_failed,
        poller_rss=poller_rss,
        after_naive_rss=after_naive_rss,
        workers_rss=children.ru_maxrss / 1024 if reaped else None,
        workers_cpu=children.ru_utime + children.ru_stime,
        footprint_rss=sampler.peak_rss_mb,
        footprint_pss=sampler.peak_pss_mb,
        server_rss=server_rss,
        requests=requests,
        answered_304=answered_304,
    )


def report(r: Results) -> bool:
    """Print the figures; return whether every target is met."""
    a, b = r.first.seconds, r.second.seconds
    print(
        f"(a) first poll:  {a:6.2f} s  {r.first.summary.new_items / a:6,.0f} entries/s  "
        f"({describe(r.first.summary)}; poller CPU {r.first.cpu:.2f} s)"
    )
    for feed in r.first.summary.reports:
        if feed.error:
            print(f"      {feed.outcome} {feed.feed}: {feed.error[:100]}")
    print(
        f"(b) second poll: {b:6.2f} s  {b / a:6.1%} of (a)  "
        f"({describe(r.second.summary)}; poller CPU {r.second.cpu:.2f} s)"
    )
    print(
        f"(c) naive loop:  {r.naive_seconds:6.2f} s  {r.naive_entries / r.naive_seconds:6,.0f} entries/s  "
        f"({r.naive_entries:,} entries parsed, {r.naive_failed} responses not 200; CPU {r.naive_cpu:.2f} s)"
    )
    print(
        f"(a) is {r.naive_seconds / a:.2f}x as fast as (c); database: {r.stored['items']:,} items, "
        f"{r.stored['hits']} hits; parser pool CPU {r.workers_cpu:.2f} s; "
        f"server: {r.requests} requests, {r.answered_304} answered 304"
    )
    workers = "unknown (cannot stop the forkserver)" if r.workers_rss is None else f"{r.workers_rss:.0f} MB"
    bound = r.poller_rss + 2 * (r.workers_rss or 0)
    print(
        f"peak RSS: poller (this process, RUSAGE_SELF after (b)) {r.poller_rss:.0f} MB; largest parser "
        f"worker (RUSAGE_CHILDREN) {workers}; poller + 2 workers at most {bound:.0f} MB"
    )
    print(
        f"          poller + forkserver + workers sampled together every 50 ms: {r.footprint_rss:.0f} MB "
        f"(PSS {r.footprint_pss:.0f} MB); "
        f"this process after (c) {r.after_naive_rss:.0f} MB; "
        f"server (subprocess, not counted) {r.server_rss or 0:.0f} MB"
    )
    checks = {
        "(a) faster than (c)": a < r.naive_seconds,
        f"(b) under {MAX_SECOND_POLL:.0%} of (a)": b < MAX_SECOND_POLL * a,
        f"poller peak RSS under {MAX_RSS_MB} MB": r.poller_rss < MAX_RSS_MB,
        f"poll footprint (poller + pool, sampled) under {MAX_RSS_MB} MB": r.footprint_rss < MAX_RSS_MB,
    }
    for name, ok in checks.items():
        print(f"  {'ok    ' if ok else 'MISSED'} {name}")
    return all(checks.values())


def run_benchmark(args: argparse.Namespace, server: ServerProcess) -> int:
    feeds = feed_configs(args.corpus, server.port)
    served = "gzip when asked" if not args.no_gzip else "uncompressed"
    print(
        f"{len(feeds)} feeds from {args.corpus}, served on 127.0.0.1:{server.port} ({served}) by a "
        f"subprocess (pid {server.process.pid}); at most {MAX_CONNECTIONS} connections"
    )
    ok = report(measure(args, server, feeds))
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
