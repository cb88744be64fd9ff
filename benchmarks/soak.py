"""Soak: one daemon (``summit-watch run``) on 1,000 real feeds for half an hour; does it stay
healthy? Memory, file descriptors, alert latency and duplicate alerts, sampled as it runs.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--feeds 1000] [--rules 200] [--interval 60]
        [--new-per-minute 60] [--warmup MINUTES] [--database sqlite|postgresql] [--corpus DIR]

    quick check: .venv/bin/python benchmarks/soak.py --minutes 3 --feeds 200

Feeds: the 200 files of the real-feed corpus (../shared/corpora/real-feeds), each served at
``--feeds / 200`` paths (feed k is file k mod 200), from a loopback HTTP server in a subprocess
with bench_poll.py's server: ETag, Last-Modified, gzip when asked, 304 on matching validators.
New items appear as the run goes: ``--new-per-minute`` items in all, spread evenly, each put in
a random RSS or Atom feed (RSS 1.0, JSON and HTML files stay as they are; a feed shows its 20
newest). A new item is made of other real entries: the title of one and three 20-word slices of
others' summaries (news to the story grouping, not a copy of an item already stored), with a
unique guid and link (https://soak.example/item/N). About half of them match a rule (picked
with the real Matcher), the rest not. The server reports when each item became visible.

Rules: ``--rules`` generated from the corpus' words, half as bench_match.py generates them, half
one-word topic rules (see ``write_rules``), plus the example rules of rules/. Settings: every
feed at ``--interval``, ``group_wait: 0s``, one target (``pace: 0``): an aiosmtpd server in this
process. SMTP is fine as the target here: a loopback send takes a few milliseconds, far below a
poll interval, and it is the path a real deployment takes (Apprise, its e-mail plugin, an SMTP
conversation).

Sampled every 10 s: the resident memory (VmRSS) of the daemon and its children, their open file
descriptors (/proc/PID/fd) and the daemon's CPU time. For each new item alerted, the latency
from the moment the server made it visible to the moment its alert mail arrived. Duplicates are
(new item, rule) pairs received more than once. The last ``interval + 20 s`` publish nothing, so
the items published before have time to arrive.

Printed: RSS after the warm-up (median of the samples of the minute after ``--warmup``, default
5 minutes or a third of the run) against the end (median of the last minute's samples): growth,
target < 10%; descriptors at the same two moments, target: no growth beyond the 8 worker
threads' sockets in flight; p50/p99 latency, alerts, duplicates (target 0), polls/s and the
time between two polls of a feed as the feed server saw it. Exit 1 when a target is missed, 2
when the corpus is missing. ``--keep`` keeps the temporary directory (daemon.log, the database).

No naive baseline: a soak compares the daemon with itself over time. The reference printed for
latency is the floor a poller at this interval cannot beat: an item waits for its feed's next
poll, uniformly 0 to ``interval`` (p50 interval/2, p99 0.99 interval), plus the outbox's 2 s tick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

# bench_poll's feed server (ETag, Last-Modified, gzip, 304) serves the feeds here too. summit-watch
# itself is imported where it is used: the server subprocess needs none of it.
from bench_poll import Document, FeedHandler, FeedServer, document, read_index

if TYPE_CHECKING:
    from watcher.items import Item

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "real-feeds"
EXAMPLE_RULES = REPO / "rules"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LINK = "https://soak.example/item/"
SAMPLE_EVERY = 10.0  # seconds
MAX_RSS_GROWTH = 0.10
FD_SLACK = 8  # the daemon's worker threads: each may hold a poll's socket at the moment of a sample
KEEP_INJECTED = 20  # new items a feed keeps showing (older ones scroll out, as in a real feed)
SLICE_WORDS = 20  # words of a summary slice
DISPATCH_TICK = 2.0  # the daemon's outbox runs every 2 s


# -- feeds: kinds, new entries, documents (shared by both processes) ---------------------------------

_RSS_ITEM = re.compile(rb"<item[\s>]")
_ATOM_ENTRY = re.compile(rb"<entry[\s>]")


def feed_kind(body: bytes) -> str | None:
    """ "rss" or "atom" when new entries can be put into the document; None for other formats."""
    head = body[:4096].lower()
    if b"<rss" in head and (_RSS_ITEM.search(body) or b"</channel>" in body):
        return "rss"
    if b"<feed" in head and (_ATOM_ENTRY.search(body) or b"</feed>" in body):
        return "atom"
    return None


def entry_xml(kind: str, injection: dict[str, Any], when: float) -> bytes:
    """One new entry in the feed's format; non-ASCII as character references, so it fits a
    document in any ASCII-compatible encoding."""
    title, summary, link = escape(injection["title"]), escape(injection["summary"]), injection["link"]
    n = injection["n"]
    if kind == "rss":
        text = (
            f"<item><title>{title}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">soak-{n}</guid><description>{summary}</description>'
            f"<pubDate>{formatdate(when, usegmt=True)}</pubDate></item>\n"
        )
    else:
        stamp = datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")
        text = (
            f"<entry><title>{title}</title><link href={quoteattr(link)}/>"
            f"<id>urn:summit-watch:soak:{n}</id><updated>{stamp}</updated>"
            f"<summary>{summary}</summary></entry>\n"
        )
    return text.encode("ascii", "xmlcharrefreplace")


def with_entries(body: bytes, kind: str, entries: list[bytes]) -> bytes:
    """The document with ``entries`` put before its first entry (or at the end of its channel)."""
    found = (_RSS_ITEM if kind == "rss" else _ATOM_ENTRY).search(body)
    at = found.start() if found else body.rfind(b"</channel>" if kind == "rss" else b"</feed>")
    return body[:at] + b"".join(entries) + body[at:]


# -- the feed server (a subprocess: ``soak.py --serve PLAN``) ---------------------------------------


class _TimedHandler(FeedHandler):
    """bench_poll's handler, noting the time between two requests of one feed (the interval the
    daemon really keeps)."""

    server: _SoakServer

    def do_GET(self) -> None:
        self.server.polled(urlsplit(self.path).path)
        super().do_GET()


class _SoakServer(FeedServer):
    def __init__(self, documents: dict[str, Document]) -> None:
        super().__init__(documents, use_gzip=True)
        self.RequestHandlerClass = _TimedHandler
        self.last: dict[str, float] = {}
        self.gaps: list[tuple[float, float]] = []  # (when, seconds since the feed's last request)
        self._gaps_lock = threading.Lock()

    def polled(self, path: str) -> None:
        now = time.time()
        with self._gaps_lock:
            if path in self.last:
                self.gaps.append((now, now - self.last[path]))
            self.last[path] = now


def serve(plan_path: Path) -> int:
    """Serve the plan's feeds; on "go" (stdin), publish its new items on time, printing a JSON line
    for each as it becomes visible, and request counts every 10 s; stop at the end of stdin."""
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    corpus = Path(plan["corpus"])
    originals = {file: (corpus / file).read_bytes() for _, file in plan["feeds"]}
    mtimes = {file: int((corpus / file).stat().st_mtime) for file in originals}
    documents = {path: document(originals[file], mtimes[file]) for path, file in plan["feeds"]}
    files = dict(plan["feeds"])
    server = _SoakServer(documents)
    output = threading.Lock()

    def say(**line: Any) -> None:
        with output:
            print(json.dumps(line), flush=True)

    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    if sys.stdin.readline().strip() != "go":
        server.shutdown()
        return 0
    stop = threading.Event()

    def stop_at_eof() -> None:
        sys.stdin.read()
        stop.set()

    def report_counts() -> None:
        while not stop.wait(SAMPLE_EVERY):
            say(type="counts", t=time.time(), requests=server.requests, not_modified=server.not_modified)

    threading.Thread(target=stop_at_eof, daemon=True).start()
    threading.Thread(target=report_counts, daemon=True).start()
    started = time.monotonic()
    shown: dict[str, list[bytes]] = {}
    for injection in plan["injections"]:
        if stop.wait(max(0.0, started + injection["at"] - time.monotonic())):
            break
        path = injection["path"]
        file = files[path]
        now = time.time()
        entries = shown.setdefault(path, [])
        entries.insert(0, entry_xml(injection["kind"], injection, now))
        del entries[KEEP_INJECTED:]
        documents[path] = document(with_entries(originals[file], injection["kind"], entries), int(now))
        say(type="published", n=injection["n"], t=time.time())
    stop.wait()
    server.shutdown()
    say(type="counts", t=time.time(), requests=server.requests, not_modified=server.not_modified)
    say(type="gaps", gaps=server.gaps)
    return 0


@dataclass
class FeedServerProcess:
    """The feed server subprocess and what it reported (read by a thread)."""

    process: subprocess.Popen[str]
    port: int
    published: dict[int, float] = field(default_factory=dict)  # item n -> when visible (time.time())
    counts: list[tuple[float, int, int]] = field(default_factory=list)  # (t, requests, 304s)
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (t, seconds since the last poll)

    @classmethod
    def start(cls, plan: Path) -> FeedServerProcess:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(plan)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            process.kill()
            raise SystemExit(f"the feed server did not start (said {line!r})")
        server = cls(process, int(line))
        threading.Thread(target=server._read, daemon=True).start()
        return server

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = json.loads(line)
            if event["type"] == "published":
                self.published[event["n"]] = event["t"]
            elif event["type"] == "gaps":
                self.gaps = [(t, gap) for t, gap in event["gaps"]]
            else:
                self.counts.append((event["t"], event["requests"], event["not_modified"]))

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def requests_between(self, start: float, end: float) -> tuple[int, float]:
        """Requests answered between two times (from the 10 s counts nearest inside), and the span."""
        inside = [count for count in self.counts if start <= count[0] <= end]
        if len(inside) < 2:
            return 0, 0.0
        return inside[-1][1] - inside[0][1], inside[-1][0] - inside[0][0]


# -- the plan: feeds, rules, new items --------------------------------------------------------------


@dataclass(frozen=True)
class Injection:
    n: int
    path: str
    kind: str
    at: float  # seconds after "go"
    title: str
    summary: str
    matches: bool  # by the Matcher here, on the same rules as the daemon's


def corpus_items(corpus: Path) -> list[Item]:
    from watcher.parse import parse_feed

    return [
        item for path in sorted((corpus / "feeds").iterdir()) for item in parse_feed(path.read_bytes()).items
    ]


def write_rules(directory: Path, items: list[Item], count: int) -> None:
    """``count`` generated rules in one file, beside the example rules: half as bench_match.py
    generates them (an item's words in all/any/none: each matches one corpus entry or a few,
    exercising the matcher's every path), half topic rules (one word found in 2 to 4 of the
    corpus' entries), so that new items made of random text match some rules, as news does.

    Broader rules (two words found in up to 0.25% of the entries: 1,228 of the 6,555 entries
    hit, 12,000 hits over the 1,000 feeds) made the first poll CPU-bound in story joins for over
    5 minutes, with the outbox starved; this load keeps the soak about steady state."""
    import yaml
    from bench_match import _words, generate_rules

    directory.mkdir()
    for example in EXAMPLE_RULES.glob("*.yaml"):
        shutil.copy(example, directory)
    specific = count - count // 2
    rules = [rule.model_dump(mode="json", exclude_defaults=True) for rule in generate_rules(items, specific)]
    frequency = Counter(word for item in items for word in set(_words(item)) if len(word) >= 5)
    topics = sorted(word for word, n in frequency.items() if 2 <= n <= 4)
    rng = random.Random(7)
    for n, word in enumerate(rng.sample(topics, count // 2)):
        rules.append({"id": f"topic-{n}", "match": {"any": [word]}})
    (directory / "generated.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")


class _Pool:
    """Pieces of text drawn at random, each used once (until all are used, then all again)."""

    def __init__(self, pieces: list[str], rng: random.Random) -> None:
        self._all, self._left, self._rng = pieces, list(pieces), rng
        self.refills = 0

    def pick(self) -> int:
        if not self._left:
            self._left, self.refills = list(self._all), self.refills + 1
        return self._rng.randrange(len(self._left))

    def text(self, index: int) -> str:
        return self._left[index]

    def use(self, indices: list[int]) -> None:
        for index in sorted(set(indices), reverse=True):
            self._left[index] = self._left[-1]
            self._left.pop()


def plan_injections(
    items: list[Item], rules: Path, feeds: list[tuple[str, str | None]], count: int, seconds: float
) -> list[Injection]:
    """``count`` new items over ``seconds`` into random RSS/Atom feeds, every other one picked so
    that a rule matches it.

    A new item is the title of one corpus entry and, as its summary, three slices of
    ``SLICE_WORDS`` words from the summaries of others, each title and slice used once while
    there are unused ones. An item sharing a whole summary with a stored entry would join that
    entry's story (the story fingerprint reads the first 70 words) and alert nothing; a slice is
    too little of it.
    """
    from watcher.items import Item as NewItem
    from watcher.matcher import Matcher
    from watcher.rules import load_rules

    matcher = Matcher(load_rules(rules))
    rng = random.Random(2026)
    titles = _Pool(sorted({item.title.strip() for item in items if item.title.strip()}), rng)
    slices = []
    for item in items:
        words = item.summary.split()
        if len(words) >= 2 * SLICE_WORDS:
            slices.extend(
                " ".join(words[at : at + SLICE_WORDS])
                for at in range(0, len(words) - SLICE_WORDS + 1, SLICE_WORDS)
            )
    summaries = _Pool(sorted(set(slices)), rng)
    open_feeds = [(path, kind) for path, kind in feeds if kind is not None]
    planned = []
    for n in range(count):
        want_match = n % 2 == 0
        for _ in range(200):  # then take what comes
            title = titles.pick()
            parts = [summaries.pick() for _ in range(3)]
            summary = " … ".join(summaries.text(part) for part in parts)
            matches = bool(matcher.match(NewItem(f"soak-{n}", titles.text(title), summary)))
            if matches == want_match:
                break
        planned.append(
            Injection(
                n,
                *rng.choice(open_feeds),  # type: ignore[arg-type]
                at=seconds * (n + rng.random()) / count,
                title=titles.text(title),
                summary=summary,
                matches=matches,
            )
        )
        titles.use([title])
        summaries.use(parts)
    if titles.refills or summaries.refills:
        print(f"note: titles or summary slices of the corpus used more than once ({count} new items)")
    return sorted(planned, key=lambda injection: injection.at)


# -- the target: aiosmtpd in this process -------------------------------------------------------------


@dataclass
class Inbox:
    """Alert mails: arrival time, rule (from the subject), the new items they lead with (link lines)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    mails: int = 0
    first: dict[tuple[int, str], float] = field(default_factory=dict)  # (item n, rule) -> arrival
    duplicates: Counter[tuple[int, str]] = field(default_factory=Counter)
    unparsed: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        found = re.match(r"\[summit-watch\] (.*?)(?: digest)?: ", str(message["Subject"] or ""))
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        items = [int(line[len(LINK) :]) for line in body.splitlines() if re.fullmatch(rf"{LINK}\d+", line)]
        with self.lock:
            self.mails += 1
            if found is None:
                self.unparsed += 1
                return "250 OK"
            for n in items:
                key = (n, found.group(1))
                if key in self.first:
                    self.duplicates[key] += 1
                else:
                    self.first[key] = arrived
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- the daemon and its samples -------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the parser pool's forkserver and workers, if any)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the daemon started
    rss_mb: float  # the daemon and its children
    fds: int  # the daemon and its children
    cpu: float  # the daemon's CPU seconds (user + system)
    processes: int


def sample(pid: int, started: float) -> Sample | None:
    rss = fds = 0
    pids = process_tree(pid)
    for current in pids:
        try:
            status = Path(f"/proc/{current}/status").read_text()
            rss += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            fds += sum(1 for _ in Path(f"/proc/{current}/fd").iterdir())
        except (OSError, StopIteration):
            continue
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return Sample(time.monotonic() - started, rss / 1024, fds, cpu, len(pids))


def window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.t < end]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- the run -------------------------------------------------------------------------------------------


def scratch_postgres(admin: str) -> tuple[str, str]:
    """A throwaway database ``sw_soak_<random>``: (its URL, its name)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"sw_soak_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin).set(database=name).render_as_string(hide_password=False), name


def drop_postgres(admin: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    parser.add_argument("--feeds", type=int, default=1000, help="feeds to serve and poll (default 1,000)")
    parser.add_argument("--rules", type=int, default=200, help="generated rules (default 200)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between polls of a feed")
    parser.add_argument("--new-per-minute", type=float, default=60.0, help="new items a minute, in all")
    parser.add_argument("--warmup", type=float, help="minutes before memory is compared (default 5)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a role allowed to create databases")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    if not (args.corpus / "index.tsv").is_file():
        print(
            f"soak.py: no real-feed corpus at {args.corpus} (index.tsv and feeds/): the shared/ directory "
            "must sit beside the repository (../shared/corpora/real-feeds), or pass --corpus DIR",
            file=sys.stderr,
        )
        return 2
    args.warmup = args.warmup if args.warmup is not None else min(5.0, args.minutes / 3)
    if not 0 < args.warmup < args.minutes:
        parser.error("--warmup must be shorter than --minutes")
    directory = Path(tempfile.mkdtemp(prefix="sw-soak-"))
    database, scratch = f"sqlite:///{directory / 'watch.db'}", None
    try:
        if args.database == "postgresql":
            database, scratch = scratch_postgres(args.postgres)
        return run(args, directory, database)
    finally:
        if scratch is not None:
            drop_postgres(args.postgres, scratch)
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Run:
    """What the run saw, beside the inbox and the feed server's reports."""

    samples: list[Sample] = field(default_factory=list)
    wall_start: float = 0.0  # time.time() when the daemon started
    exit_code: int | None = None
    died_early: bool = False
    deliveries: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)


def run(args: argparse.Namespace, directory: Path, database: str) -> int:
    started_setup = time.perf_counter()
    items = corpus_items(args.corpus)
    files = [file for file, _ in read_index(args.corpus)]
    write_rules(directory / "rules", items, args.rules)
    kinds = {file: feed_kind((args.corpus / file).read_bytes()) for file in files}
    feeds = [
        (f"/soak/{k:04d}/{Path(files[k % len(files)]).name}", files[k % len(files)])
        for k in range(args.feeds)
    ]
    seconds = args.minutes * 60
    publishing = max(seconds - (args.interval + 20), seconds / 2)
    count = round(args.new_per_minute * publishing / 60)
    injections = plan_injections(
        items, directory / "rules", [(path, kinds[file]) for path, file in feeds], count, publishing
    )
    plan = directory / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "corpus": str(args.corpus),
                "feeds": feeds,
                "injections": [{**dataclasses.asdict(i), "link": f"{LINK}{i.n}"} for i in injections],
            }
        ),
        encoding="utf-8",
    )
    server = FeedServerProcess.start(plan)
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = write_settings(
        directory, database, server.port, [path for path, _ in feeds], smtp_port=smtp.port, args=args
    )
    print(
        f"{args.feeds} feeds ({sum(kinds[file] is not None for _, file in feeds)} RSS/Atom taking new "
        f"items) every {args.interval:g} s; {args.rules} generated rules + the examples; {count} new "
        f"items over {publishing / 60:.1f} min ({sum(i.matches for i in injections)} matching a rule); "
        f"database {args.database}; setup {time.perf_counter() - started_setup:.0f} s; "
        f"run {args.minutes:g} min, warm-up {args.warmup:g} min",
        flush=True,
    )
    measured = Run()
    log = (directory / "daemon.log").open("w", encoding="utf-8")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run"],
        env={**os.environ, "SUMMIT_WATCH_CONFIG": str(settings)},
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    measured.wall_start = time.time()
    server.go()
    try:
        watch(args, daemon, started, server=server, inbox=inbox, measured=measured)
        measured.stored, measured.deliveries = final_counts(database)
        daemon.send_signal(signal.SIGTERM)
        try:
            measured.exit_code = daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("the daemon did not stop within 60 s of SIGTERM: killed")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
        server.stop()
        smtp.stop()
    figures = Figures.of(args, measured, server, inbox, injections)
    return report(args, figures, directory / "daemon.log")


def write_settings(
    directory: Path, database: str, port: int, paths: list[str], *, smtp_port: int, args: argparse.Namespace
) -> Path:
    """Every feed at ``--interval``, the rules written here, one SMTP target, ``group_wait: 0s``."""
    import yaml

    settings = directory / "summit-watch.yaml"
    mailto = f"mailto://127.0.0.1:{smtp_port}?from=watch@example.org&to=desk@example.org"
    data = {
        "database": database,
        "rules": str(directory / "rules"),
        "feeds": [
            {"name": f"soak-{k:04d}", "url": f"http://127.0.0.1:{port}{path}"} for k, path in enumerate(paths)
        ],
        "targets": [{"name": "desk", "url": mailto, "pace": 0}],
        "defaults": {"interval": f"{args.interval:g}s", "group_wait": "0s"},
    }
    settings.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return settings


def watch(
    args: argparse.Namespace,
    daemon: subprocess.Popen[str],
    started: float,
    *,
    server: FeedServerProcess,
    inbox: Inbox,
    measured: Run,
) -> None:
    """Sample every 10 s until the end (a benchmark may sleep); a line of progress a minute."""
    end = started + args.minutes * 60
    next_line = started + 60
    while time.monotonic() < end:
        if daemon.poll() is not None:
            measured.died_early = True
            print(f"the daemon exited early, status {daemon.returncode}", flush=True)
            return
        taken = sample(daemon.pid, started)
        if taken is not None:
            measured.samples.append(taken)
            if time.monotonic() >= next_line:
                next_line += 60
                print(
                    f"[{taken.t / 60:5.1f} min] RSS {taken.rss_mb:6.1f} MB, {taken.fds} fds, "
                    f"{taken.processes} processes, CPU {taken.cpu:7.1f} s, "
                    f"{server.counts[-1][1] if server.counts else 0} requests, "
                    f"{len(server.published)} new items published, {inbox.mails} mails",
                    flush=True,
                )
        time.sleep(max(0.0, min(SAMPLE_EVERY, end - time.monotonic())))


def final_counts(database: str) -> tuple[dict[str, int], dict[str, int]]:
    from watcher.errors import StorageError
    from watcher.store import Store

    try:
        with Store.open(database) as store:
            return store.counts(), store.delivery_counts()
    except StorageError as e:
        print(f"could not read the database at the end: {e}")
        return {}, {}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass(frozen=True)
class Figures:
    """The run's figures, as printed."""

    rss_warm: float  # MB: median of the minute after the warm-up
    rss_end: float  # MB: median of the last minute
    rss_range: tuple[float, float]
    fds_warm: float
    fds_end: float
    fds_max: int
    latencies: list[float]  # seconds, every new item alerted (first alert per rule)
    settled: list[float]  # the same, for items published after the warm-up
    mails: int
    published: int
    matching: int  # published new items a rule matches (by the Matcher here)
    alerted: int  # new items alerted
    duplicates: int
    unparsed: int
    requests: int
    polls_per_second: float  # after the warm-up
    gaps: list[float]  # seconds between two polls of a feed, after the warm-up
    cpu: float  # share of a core, the daemon, after the warm-up
    run: Run

    @property
    def growth(self) -> float:
        return self.rss_end / self.rss_warm - 1

    @classmethod
    def of(
        cls,
        args: argparse.Namespace,
        measured: Run,
        server: FeedServerProcess,
        inbox: Inbox,
        injections: list[Injection],
    ) -> Figures:
        samples, warm = measured.samples, args.warmup * 60
        span = min(60.0, (args.minutes * 60 - warm) / 3)
        after = window(samples, warm, warm + span)
        last = window(samples, samples[-1].t - span, math.inf) if samples else []
        start = measured.wall_start
        visible = server.published
        latencies = [arrived - visible[n] for (n, _), arrived in inbox.first.items() if n in visible]
        settled = [
            arrived - visible[n]
            for (n, _), arrived in inbox.first.items()
            if n in visible and visible[n] >= start + warm
        ]
        requests, seconds = server.requests_between(start + warm, math.inf)
        cpu = (samples[-1].cpu - after[0].cpu) / (samples[-1].t - after[0].t) if after else math.nan
        return cls(
            rss_warm=_median([s.rss_mb for s in after]),
            rss_end=_median([s.rss_mb for s in last]),
            rss_range=(min(s.rss_mb for s in samples), max(s.rss_mb for s in samples)) if samples else (0, 0),
            fds_warm=_median([s.fds for s in after]),
            fds_end=_median([s.fds for s in last]),
            fds_max=max((s.fds for s in samples), default=-1),
            latencies=latencies,
            settled=settled,
            mails=inbox.mails,
            published=len(visible),
            matching=sum(1 for i in injections if i.matches and i.n in visible),
            alerted=len({n for n, _ in inbox.first}),
            duplicates=sum(inbox.duplicates.values()),
            unparsed=inbox.unparsed,
            requests=server.counts[-1][1] if server.counts else 0,
            polls_per_second=requests / seconds if seconds else math.nan,
            gaps=[gap for t, gap in server.gaps if t >= start + warm],
            cpu=cpu,
            run=measured,
        )


def report(args: argparse.Namespace, f: Figures, log: Path) -> int:
    """Print the figures; 0 when every target is met, else 1."""
    events = Counter(
        found.group(1)
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if (found := re.search(r"(?:WARNING|ERROR|CRITICAL) \S+: (\w+)", line))
    )
    print()
    print(
        f"memory (RSS, daemon + children): after warm-up {f.rss_warm:.1f} MB, at the end {f.rss_end:.1f} MB: "
        f"{f.growth:+.1%} (range {f.rss_range[0]:.0f}-{f.rss_range[1]:.0f} MB, {len(f.run.samples)} samples)"
    )
    print(f"file descriptors: after warm-up {f.fds_warm:g}, at the end {f.fds_end:g} (max {f.fds_max})")
    for label, values in (("all new items", f.latencies), ("published after warm-up", f.settled)):
        if values:
            print(
                f"latency, item visible -> alert received, {label}: p50 {percentile(values, 0.5):.1f} s, "
                f"p99 {percentile(values, 0.99):.1f} s, max {max(values):.1f} s ({len(values)} alerts)"
            )
    floor = (args.interval / 2 + DISPATCH_TICK / 2, 0.99 * args.interval + DISPATCH_TICK)
    print(
        f"  floor at a {args.interval:g} s interval (wait for the next poll, then the 2 s outbox tick): "
        f"p50 ~{floor[0]:.0f} s, p99 ~{floor[1]:.0f} s"
    )
    print(
        f"alerts: {f.mails} mails; new items: {f.published} published, {f.matching} matching a rule, "
        f"{f.alerted} alerted; duplicates {f.duplicates}; mails not understood {f.unparsed}"
    )
    if f.gaps:
        print(
            f"polls: {f.requests} requests; after warm-up {f.polls_per_second:.1f}/s (interval says "
            f"{args.feeds / args.interval:.1f}/s); time between two polls of a feed: p10 "
            f"{percentile(f.gaps, 0.1):.0f} s, p50 {percentile(f.gaps, 0.5):.0f} s, p90 "
            f"{percentile(f.gaps, 0.9):.0f} s; daemon CPU {f.cpu:.0%} of a core"
        )
    print(f"database at the end: {f.run.stored}; deliveries {f.run.deliveries}")
    print(
        f"daemon: exit status {f.run.exit_code} after SIGTERM; warnings logged: {dict(events.most_common(6))}"
    )
    checks = {
        f"RSS growth after warm-up under {MAX_RSS_GROWTH:.0%}": f.growth < MAX_RSS_GROWTH,
        f"no fd growth (at most {FD_SLACK} more: sockets of polls in flight)": f.fds_end
        <= f.fds_warm + FD_SLACK,
        "no duplicate alert": f.duplicates == 0,
        "new items alerted": f.alerted > 0,
        "the daemon ran to the end and stopped cleanly": not f.run.died_early and f.run.exit_code == 0,
    }
    for name, ok in checks.items():
        print(f"  {'ok    ' if ok else 'MISSED'} {name}")
    print("targets met" if all(checks.values()) else "TARGETS MISSED")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
