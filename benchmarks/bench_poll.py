"""Poll throughput: the real feeds served over loopback HTTP, polled by ``watcher.pipeline.poll``.

    .venv/bin/python benchmarks/bench_poll.py [--corpus ../shared/corpora/real-feeds] [--feeds 1000]
                                              [--database sqlite|postgresql] [--no-gzip] [--no-baseline]
                                              [--profile N]

The 200 files of the real-feed corpus (``feeds/*``, their original URLs in ``index.tsv``) are
served as ``--feeds`` feeds (default 1,000) from a threaded ``http.server`` on 127.0.0.1: feed k
is file k mod 200 at its own path, ``/feeds/<k>/<file>``, so each file is served under about
N / 200 paths. Each path has a Content-Type sniffed from the document (RSS, Atom, RDF, JSON Feed,
HTML...), a strong ETag of its own (a hash of the body, then the feed's number: two paths never
share a validator, as two publishers would not), Last-Modified (the file's mtime), gzip when the client
asks for it (compressed once per file at start-up, as a caching server would) and 304 Not Modified
on a matching If-None-Match (or, without one, a satisfied If-Modified-Since). The server runs in a
subprocess, so that the peak RSS of this process is the poller's alone; its own peak is shown but
counted nowhere.

The copies of a file are distinct feeds with the same items. That does not make the first poll
cheaper than N distinct feeds of the same sizes would be: deduplication is per feed (``seen`` is
keyed by feed and entry), so every copy's body is fetched, parsed, its items stored and matched,
and its hits stored, exactly as for a feed never seen before. The one thing the copies change is
story grouping: an item hit in several copies finds its near-duplicates from the other copies
(as a wire story republished by several outlets would), which costs a few queries per hit; the
example rules hit a handful of items, so this is noise. The re-poll (b) is a conditional GET per
feed whatever the bodies are.

Measured in one run, one after the other:

(a) a first poll of all N feeds into a fresh database with the example rules of ``rules/``: fetch,
    parse (in the pipeline's 2-process pool), store, match. SQLite (a file in a temporary
    directory), or with ``--database postgresql`` a scratch PostgreSQL database ``sw_bench_<random>``
    created on the server named by ``--postgres`` and dropped WITH (FORCE) at the end;
(b) a second poll of all N feeds: conditional GETs, answered 304 wherever (a) stored validators
    (run three times; the median is reported and compared: the ratio (b) / (a) is printed). The
    corpus's one malformed document (5 feeds of 1,000) is no feed, so its validators are not
    kept and it is fetched and parsed again each time, as it would be in the wild;
(c) a naive baseline: ``feedparser.parse(url)`` on each URL in turn (feedparser's own fetching,
    default options); ``--no-baseline`` skips it.

Times are wall-clock; CPU times are shown beside them. Entries/s is items stored per second for
(a) and entries parsed per second for (c). Database creation (migrations) and rule compilation
happen before (a) and are shown apart.

Memory: ``getrusage``'s high-water marks, RUSAGE_SELF read right after (b) (the poller process:
event loop, HTTP client, storage, matching), and RUSAGE_CHILDREN once the parser pool's
forkserver has been stopped and reaped (the largest of the forkserver and the workers it
reaped; the HTTP server subprocess is reaped only after that reading). Those are per-process
peaks, so the footprint of the whole poll (poller + forkserver + workers at the same moment) is
also sampled from /proc during (a) and (b): RSS every 50 ms (``/proc/PID/status``, ~20 µs a
process), PSS (shared pages divided among the processes sharing them) every 500 ms, since
``smaps_rollup`` walks a process's page tables (~6 ms for the poller's 250 MB: read every 50 ms,
it cost ~20% of a core inside the poller, about 0.4 s of a 1.5 s re-poll).

Note: with the forkserver start method, each worker re-runs the ``__main__`` script (Python <
3.13.8 never preloads it, CPython gh-126631), so a worker imports what the main script imports:
this script's imports here, ``watcher.cli``'s under the CLI.

Targets: (a) faster than (c); (b) at most 5% of (a) (issue 15: a re-poll of 1,000 feeds all
answering 304); peak RSS under 300 MB, both for the poller process and for the sampled footprint
of the poll (RSS). Each is printed PASS or MISS; the exit status is 0 either way (a benchmark on
a shared machine is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
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
from collections.abc import Iterator
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
DEFAULT_FEEDS = 1000
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


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


def feed_path(k: int, file: str) -> str:
    """The URL path of feed ``k``, which serves corpus file ``file`` (``feeds/<hash>``)."""
    return f"/feeds/{k}/{Path(file).name}"


def load_documents(corpus: Path, files: list[str], count: int) -> dict[str, Document]:
    """``count`` feeds by URL path, ready to serve: feed k is ``files[k % len(files)]``, with ETags
    of its own. The copies of a file share its bodies (read and compressed once)."""
    originals = {}
    for file in files[:count]:
        path = corpus / file
        originals[file] = document(path.read_bytes(), int(path.stat().st_mtime))
    documents = {}
    for k in range(count):
        file = files[k % len(files)]
        original = originals[file]
        documents[feed_path(k, file)] = dataclasses.replace(
            original,
            etag=f'"{original.etag.strip(chr(34))}-{k}"',
            gzip_etag=f'"{original.gzip_etag.strip(chr(34))}-{k}"',
        )
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


def serve(corpus: Path, count: int, *, use_gzip: bool) -> int:
    """Serve ``count`` feeds of the corpus until stdin closes; print the port first, and counts at the end."""
    documents = load_documents(corpus, [file for file, _ in read_index(corpus)], count)
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
    def start(cls, corpus: Path, count: int, *, use_gzip: bool) -> ServerProcess:
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--serve", "--corpus", str(corpus), "--feeds", str(count)]
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


def feed_configs(corpus: Path, port: int, count: int) -> list[FeedConfig]:
    """``count`` feeds, feed k serving corpus file k mod 200, named after the file's original
    host (and k), at its loopback URL."""
    from watcher.config import FeedConfig

    index = read_index(corpus)
    feeds = []
    for k in range(count):
        file, url = index[k % len(index)]
        host = (urlsplit(url).hostname or "feed").removeprefix("www.")
        name = f"{host}-{Path(file).name[:6]}-{k}"
        feeds.append(FeedConfig(name=name, url=f"http://127.0.0.1:{port}{feed_path(k, file)}"))
    return feeds


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


class TreeSampler:
    """Samples the summed RSS (every ``interval`` seconds) and PSS (every ``pss_every`` samples)
    of this process and its descendants (the parser pool's forkserver and workers), leaving out
    ``exclude`` (the HTTP server): the footprint of a poll at one moment, which per-process peaks
    (getrusage) cannot give. RSS counts a page shared by several processes in each; PSS divides
    it among them. RSS comes from ``/proc/PID/status`` (cheap); PSS from ``smaps_rollup``, which
    walks the page tables, so it is read less often: its peak may miss a short spike."""

    def __init__(self, exclude: int, interval: float = 0.05, pss_every: int = 10) -> None:
        self.peak_rss_mb = self.peak_pss_mb = 0.0
        self._exclude = exclude
        self._interval = interval
        self._pss_every = pss_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        samples = 0
        while True:
            with_pss = samples % self._pss_every == 0
            rss, pss = self._sample(with_pss=with_pss)
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
            if with_pss:
                self.peak_pss_mb = max(self.peak_pss_mb, pss)
            samples += 1
            if self._stop.wait(self._interval):
                return

    def _sample(self, *, with_pss: bool) -> tuple[float, float]:
        rss = pss = 0
        pending = [os.getpid()]
        while pending:
            pid = pending.pop()
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                if with_pss:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
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
    parser.add_argument(
        "--feeds", type=int, default=DEFAULT_FEEDS, metavar="N", help="feeds served and polled (default 1000)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip (c), the naive feedparser loop")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help="with --database postgresql: a role allowed to create databases",
    )
    parser.add_argument("--no-gzip", action="store_true", help="serve every body uncompressed")
    parser.add_argument("--profile", type=int, metavar="N", help="profile (a) and (b) here, N rows")
    parser.add_argument("--sort", default="cumulative", help="profile order (cumulative, tottime...)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.feeds < 1:
        parser.error("--feeds must be at least 1")
    if args.serve:
        return serve(args.corpus, args.feeds, use_gzip=not args.no_gzip)

    logging.getLogger("watcher").setLevel(logging.ERROR)  # malformed feeds are counted below instead
    server = ServerProcess.start(args.corpus, args.feeds, use_gzip=not args.no_gzip)
    try:
        return run_benchmark(args, server)
    finally:
        if server.process.poll() is None:
            server.process.kill()


@dataclass(frozen=True)
class Naive:
    seconds: float
    cpu: float
    entries: int
    failed: int  # documents not served 200


@dataclass
class Results:
    first: Timed
    second: Timed
    seconds_polls: list[float]  # the wall times of the (b) runs, in order
    stored: dict[str, int]
    naive: Naive | None  # None: skipped (--no-baseline)
    poller_rss: float  # MB, RUSAGE_SELF after (b)
    after_naive_rss: float  # MB, RUSAGE_SELF after (c)
    workers_rss: float | None  # MB, RUSAGE_CHILDREN after the forkserver is reaped
    workers_cpu: float
    footprint_rss: float  # MB, sampled sum over this process and its descendants during (a) and (b)
    footprint_pss: float
    server_rss: float | None
    requests: int
    answered_304: int


@contextlib.contextmanager
def fresh_database(kind: str, postgres: str) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in a temporary directory, or a scratch
    PostgreSQL database created on ``postgres`` (a role allowed to create databases), dropped after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"sw_bench_{os.urandom(4).hex()}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def measure(args: argparse.Namespace, server: ServerProcess, feeds: list[FeedConfig]) -> Results:
    from watcher.config import Config
    from watcher.matcher import Matcher
    from watcher.rules import load_rules
    from watcher.store import Store

    with fresh_database(args.database, args.postgres) as url:
        config = Config(database=url, rules=RULES, feeds=tuple(feeds))
        start = time.perf_counter()
        store = Store.open(config.database)
        opened = time.perf_counter() - start
        start = time.perf_counter()
        rules = load_rules(config.rules)
        matcher = Matcher(rules)
        compiled = time.perf_counter() - start
        kind = "SQLite" if args.database == "sqlite" else "PostgreSQL"
        print(f"setup (not timed): fresh {kind} database {opened:.2f} s, {len(rules)} rules {compiled:.2f} s")
        profiles = (cProfile.Profile(), cProfile.Profile()) if args.profile else (None, None)
        try:
            with TreeSampler(exclude=server.process.pid) as sampler:
                first = timed_poll(config, store, matcher, profiles[0])
                # The second poll is short and shares two cores with the server: its median of
                # three (each one a full cycle of N conditional GETs) is what is compared.
                repeats = [timed_poll(config, store, matcher, profiles[1]) for _ in range(SECOND_POLLS)]
                second = sorted(repeats, key=lambda timed: timed.seconds)[SECOND_POLLS // 2]
                seconds_polls = [timed.seconds for timed in repeats]
            stored = store.counts()
        finally:
            store.close()
    poller_rss = peak_rss_mb(resource.RUSAGE_SELF)
    naive = None if args.no_baseline else Naive(*naive_loop([feed.url for feed in feeds]))
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
        seconds_polls=seconds_polls,
        stored=stored,
        naive=naive,
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
    """Print the figures and each target's PASS or MISS; return whether every target is met."""
    a, b = r.first.seconds, r.second.seconds
    ratio = b / a
    print(
        f"(a) first poll:  {a:6.2f} s  {r.first.summary.new_items / a:6,.0f} entries/s  "
        f"({describe(r.first.summary)}; poller CPU {r.first.cpu:.2f} s)"
    )
    errors = [feed for feed in r.first.summary.reports if feed.error]
    for feed in errors[:10]:
        print(f"      {feed.outcome} {feed.feed}: {feed.error[:100] if feed.error else ''}")
    if len(errors) > 10:
        print(f"      ... and {len(errors) - 10} more")
    runs = ", ".join(f"{seconds:.2f}" for seconds in r.seconds_polls)
    print(
        f"(b) second poll: {b:6.2f} s  ratio (b)/(a) {ratio:.2%}  "
        f"({describe(r.second.summary)}; poller CPU {r.second.cpu:.2f} s; runs {runs} s)"
    )
    naive = r.naive
    if naive is None:
        print("(c) naive loop:  skipped (--no-baseline)")
    else:
        print(
            f"(c) naive loop:  {naive.seconds:6.2f} s  {naive.entries / naive.seconds:6,.0f} entries/s  "
            f"({naive.entries:,} entries parsed, {naive.failed} responses not 200; CPU {naive.cpu:.2f} s)"
        )
    speed = "" if naive is None else f"(a) is {naive.seconds / a:.2f}x as fast as (c); "
    print(
        f"{speed}database: {r.stored['items']:,} items, "
        f"{r.stored['hits']} hits; parser pool CPU {r.workers_cpu:.2f} s; "
        f"server: {r.requests} requests, {r.answered_304} answered 304"
    )
    workers = "unknown (cannot stop the forkserver)" if r.workers_rss is None else f"{r.workers_rss:.0f} MB"
    bound = r.poller_rss + 2 * (r.workers_rss or 0)
    print(
        f"peak RSS: poller (this process, RUSAGE_SELF after (b)) {r.poller_rss:.0f} MB; largest parser "
        f"worker (RUSAGE_CHILDREN) {workers}; poller + 2 workers at most {bound:.0f} MB"
    )
    after_naive = "" if naive is None else f"this process after (c) {r.after_naive_rss:.0f} MB; "
    print(
        f"          poller + forkserver + workers sampled together every 50 ms: {r.footprint_rss:.0f} MB "
        f"(PSS, every 500 ms: {r.footprint_pss:.0f} MB); {after_naive}"
        f"server (subprocess, not counted) {r.server_rss or 0:.0f} MB"
    )
    checks = {
        f"(b) at most {MAX_SECOND_POLL:.0%} of (a): {ratio:.2%}": ratio <= MAX_SECOND_POLL,
        f"poller peak RSS under {MAX_RSS_MB} MB": r.poller_rss < MAX_RSS_MB,
        f"poll footprint (poller + pool, sampled) under {MAX_RSS_MB} MB": r.footprint_rss < MAX_RSS_MB,
    }
    if naive is not None:
        checks = {"(a) faster than (c)": a < naive.seconds} | checks
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'MISS'} {name}")
    return all(checks.values())


def run_benchmark(args: argparse.Namespace, server: ServerProcess) -> int:
    feeds = feed_configs(args.corpus, server.port, args.feeds)
    served = "gzip when asked" if not args.no_gzip else "uncompressed"
    print(
        f"{len(feeds)} feeds ({min(len(feeds), len(read_index(args.corpus)))} files of {args.corpus}), "
        f"served on 127.0.0.1:{server.port} ({served}) by a subprocess (pid {server.process.pid}); "
        f"at most {MAX_CONNECTIONS} connections"
    )
    ok = report(measure(args, server, feeds))
    print("targets met" if ok else "targets missed (see MISS above)")
    return 0  # a measurement, not a test: a missed target is printed, never an exit status


if __name__ == "__main__":
    sys.exit(main())
