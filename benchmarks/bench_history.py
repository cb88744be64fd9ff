"""Hit history at scale: 1,000,000 stored hits on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_history.py [--hits 1000000] [--only sqlite|postgresql]
                                                  [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

For each database the script generates ``--hits`` hits (three quarters of as many items, a third of
them hit by two rules) over 300 feeds and 50 rules, spread evenly over the last 365 days, with
titles drawn from a small vocabulary (and a rare word in one title of 10,000). The schema is
created by ``Store.open`` (the migrations), with its search index kept by triggers (SQLite) or
a GIN index (PostgreSQL); the rows go in by the driver's bulk paths (SQLite ``executemany`` in
one transaction, PostgreSQL ``COPY``), then ANALYZE. SQLite: a file in a temporary directory.
PostgreSQL: a scratch database ``sw_bench_<random>`` created on the server and dropped WITH
(FORCE) at the end.

Then, in the same run:

- the typical ``summit-watch hits`` queries through ``Store.hits(HitQuery(...))`` with the default
  limit of 50, consuming the iterator: median of 5 runs each (target: 200 ms);
- the naive baseline: every hit with its item loaded into Python (``Store.hits`` without a limit,
  into a list), then each query's filter and sort done in Python: the load once, each filter once;
- an export of every hit, streamed to /dev/null as CSV, with the growth of resident memory
  (RSS, sampled every 10,000 rows) during it, against the naive list's (constant memory vs. all
  rows at once);
- ``stats`` grouping: ``Store.hit_counts`` over the year by local day (a count query per day on the
  created_at index) against grouping streamed (created_at, rule) rows in Python.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from watcher.history import LocalTime, bucket
from watcher.records import HitQuery, HitRecord
from watcher.store import Store
from watcher.store._tables import _HIT

TARGET_MS = 200.0
FEEDS = 300
RULES = 50
BATCH = 50_000
SEARCH_WORD = "kremlin"  # in titles only, so the naive baseline (titles) finds the same hits
RARE_WORD = "zelensky"  # in the title of one item in 10,000 (75 items of 750,000)
RARE_EVERY = 10_000
ABSENT_WORD = "taliban"  # in no item: the worst case of reading hits newest first
SUMMARY_WORDS = (
    "putin",
    "modi",
    "india",
    "russia",
    "summit",
    "visit",
    "delhi",
    "moscow",
    "lavrov",
    "jaishankar",
    "defence",
    "trade",
    "oil",
    "energy",
    "talks",
    "minister",
    "annual",
    "bilateral",
    "treaty",
    "sanctions",
    "ruble",
    "rupee",
    "pipeline",
    "missile",
    "deal",
    "bank",
    "port",
    "corridor",
    "arctic",
    "nuclear",
    "reactor",
    "fertiliser",
    "wheat",
    "tariff",
    "election",
    "parliament",
    "press",
)
WORDS = (*SUMMARY_WORDS, SEARCH_WORD)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def rows(hits: int, now: datetime) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (item rows, hit rows): item (id, feed, key, title, summary, published, fetched);
    hit (item id, rule, score, created)."""
    rng = random.Random(6)
    items = hits * 3 // 4
    doubles = hits - items  # items hit by a second rule
    start = now - timedelta(days=365)
    step = timedelta(days=365) / items
    for first in range(0, items, BATCH):
        item_rows, hit_rows = [], []
        for i in range(first, min(items, first + BATCH)):
            at = start + step * i
            title = " ".join(rng.choices(WORDS, k=8)).capitalize()
            if i % RARE_EVERY == RARE_EVERY // 2:  # not drawn: the other rows stay as they were
                title += f" {RARE_WORD}"
            summary = " ".join(rng.choices(SUMMARY_WORDS, k=20))
            item_rows.append(
                (i + 1, f"feed-{i % FEEDS:03d}", f"e{i}", title, summary, at - timedelta(minutes=5), at)
            )
            rule = i % RULES
            hit_rows.append((i + 1, f"rule-{rule:02d}", 60 + i % 41, at))
            if i % 3 == 0 and i // 3 < doubles:
                hit_rows.append((i + 1, f"rule-{(rule + 7) % RULES:02d}", 80, at))
        yield item_rows, hit_rows


def sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC DateTime in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: Path, hits: int, now: datetime) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        with connection:
            connection.executemany(
                "INSERT INTO feed (name, url, tags, active, consecutive_failures, next_poll, gone) "
                "VALUES (?, ?, '[]', 1, 0, ?, 0)",
                [(f"feed-{n:03d}", f"https://news.example/{n}.xml", sqlite_time(now)) for n in range(FEEDS)],
            )
            for item_rows, hit_rows in rows(hits, now):
                connection.executemany(
                    "INSERT INTO item (id, feed, key, entry_id, title, summary, content, published, "
                    "fetched_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)",
                    [(i, f, k, k, t, s, sqlite_time(p), sqlite_time(a)) for i, f, k, t, s, p, a in item_rows],
                )
                connection.executemany(
                    "INSERT INTO hit (item_id, rule_id, score, terms, hits, created_at) "
                    "VALUES (?, ?, ?, '[\"putin\"]', '[]', ?)",
                    [(i, r, s, sqlite_time(a)) for i, r, s, a in hit_rows],
                )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def fill_postgres(url: str, hits: int, now: datetime) -> None:
    import psycopg

    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO feed (name, url, tags, active, consecutive_failures, next_poll, gone) "
            "VALUES (%s, %s, '[]', true, 0, %s, false)",
            [(f"feed-{n:03d}", f"https://news.example/{n}.xml", now) for n in range(FEEDS)],
        )
        for item_rows, hit_rows in rows(hits, now):
            columns = "id, feed, key, entry_id, title, summary, content, published, fetched_at"
            with cursor.copy(f"COPY item ({columns}) FROM STDIN") as copy:
                for i, f, k, t, s, p, a in item_rows:
                    copy.write_row((i, f, k, k, t, s, "", p, a))
            with cursor.copy(
                "COPY hit (item_id, rule_id, score, terms, hits, created_at) FROM STDIN"
            ) as copy:
                for i, r, s, a in hit_rows:
                    copy.write_row((i, r, s, '["putin"]', "[]", a))
        cursor.execute("SELECT setval(pg_get_serial_sequence('item', 'id'), (SELECT max(id) FROM item))")
        connection.commit()
        connection.autocommit = True
        cursor.execute("ANALYZE")


def rss() -> int:
    """This process's resident memory now, in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def median_ms(run: Callable[[], object], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, (time.perf_counter() - start) * 1000


def queries(now: datetime) -> dict[str, tuple[HitQuery, Callable[[list[HitRecord]], list[HitRecord]]]]:
    """Each query, and the same done naively in Python over every loaded hit."""
    week, month = now - timedelta(days=7), now - timedelta(days=30)

    def newest(found: list[HitRecord]) -> list[HitRecord]:
        return sorted(found, key=lambda h: (h.created_at, h.id), reverse=True)[:50]

    return {
        "no filter (newest 50)": (HitQuery(limit=50), newest),
        "--rule": (
            HitQuery(rules=("rule-07",), limit=50),
            lambda a: newest([h for h in a if h.rule == "rule-07"]),
        ),
        "--feed": (
            HitQuery(feeds=("feed-123",), limit=50),
            lambda a: newest([h for h in a if h.feed == "feed-123"]),
        ),
        "--since 7d": (
            HitQuery(since=week, limit=50),
            lambda a: newest([h for h in a if h.created_at >= week]),
        ),
        "--rule --since 30d": (
            HitQuery(rules=("rule-07",), since=month, limit=50),
            lambda a: newest([h for h in a if h.rule == "rule-07" and h.created_at >= month]),
        ),
        f"--search {SEARCH_WORD}": (
            HitQuery(search=SEARCH_WORD, limit=50),
            lambda a: newest([h for h in a if SEARCH_WORD in h.title.lower()]),
        ),
        f"--search {RARE_WORD}": (
            HitQuery(search=RARE_WORD, limit=50),
            lambda a: newest([h for h in a if RARE_WORD in h.title.lower()]),
        ),
        f"--search {ABSENT_WORD}": (
            HitQuery(search=ABSENT_WORD, limit=50),
            lambda a: newest([h for h in a if ABSENT_WORD in h.title.lower()]),
        ),
        "oldest first": (
            HitQuery(order="oldest", limit=50),
            lambda a: sorted(a, key=lambda h: (h.created_at, h.id))[:50],
        ),
    }


def bench(name: str, url: str, hits: int, fill: Callable[[], None]) -> None:
    print(f"\n== {name}: {hits:,} hits ==")
    now = datetime.now(UTC)
    with Store.open(url) as store:
        _, ms = timed(fill)
        counts = store.counts()
        made = f"{counts['items']:,} items and {counts['hits']:,} hits"
        print(f"generated {made} in {ms / 1000:.1f} s (with ANALYZE)")

        print(f"\n{'query (limit 50)':<24} {'median of 5':>12} {'target':>8}")
        for label, (query, _) in queries(now).items():
            ms = median_ms(lambda q=query: list(store.hits(q)))
            verdict = "ok" if ms < TARGET_MS else "SLOW"
            print(f"{label:<24} {ms:>9.1f} ms {TARGET_MS:>5.0f} ms  {verdict}")

        start_rss = peak_rss = rss()
        with Path("/dev/null").open("w", newline="") as sink:
            writer = csv.writer(sink)

            def export() -> int:
                nonlocal peak_rss
                n = 0
                for hit in store.hits(HitQuery(order="oldest", limit=None)):
                    writer.writerow(
                        (hit.id, hit.rule, hit.score, hit.created_at.isoformat(), hit.feed, hit.title)
                    )
                    n += 1
                    if n % 10_000 == 0:
                        peak_rss = max(peak_rss, rss())
                return n

            exported, ms = timed(export)
        print(
            f"\nexport of {exported:,} hits streamed to /dev/null (CSV): {ms / 1000:.1f} s, "
            f"RSS {start_rss / 2**20:.0f} MiB before, peak {peak_rss / 2**20:.0f} MiB during "
            f"(+{(peak_rss - start_rss) / 2**20:.0f} MiB)"
        )

        tz = LocalTime()
        year = now - timedelta(days=365)
        found, ms = timed(lambda: store.hit_counts(year, now, (), "day", tz))
        print(
            f"stats by day over the year (Store.hit_counts): {ms:.0f} ms, {len(found):,} (day, rule) counts"
        )
        _, ms = timed(lambda: store.hit_counts(year, now, (), "week", tz))
        print(f"stats by week over the year (Store.hit_counts): {ms:.0f} ms")

        def naive_counts() -> Counter[tuple[Any, str]]:
            grouped: Counter[tuple[Any, str]] = Counter()
            query = select(_HIT.c.created_at, _HIT.c.rule_id).where(_HIT.c.created_at >= year)
            with store._engine.connect() as connection:  # the benchmark may look inside
                streaming = connection.execution_options(stream_results=True, yield_per=10_000)
                for created_at, rule in streaming.execute(query):
                    grouped[bucket(created_at, "day", tz), rule] += 1
            return grouped

        grouped, ms = timed(naive_counts)
        assert sum(grouped.values()) == sum(count for _, _, count in found), "the same counts"
        print(f"  naive: streamed (created_at, rule) rows grouped in Python: {ms:.0f} ms")

        print("\nnaive baseline: every hit loaded into Python, then filtered and sorted there")
        before = rss()
        everything, load_ms = timed(lambda: list(store.hits(HitQuery(limit=None))))
        print(
            f"load of {len(everything):,} hits: {load_ms / 1000:.1f} s, "
            f"RSS +{(rss() - before) / 2**20:.0f} MiB for the list"
        )
        for label, (query, naive) in queries(now).items():
            expected = [h.id for h in store.hits(query)]
            result, ms = timed(lambda n=naive, a=everything: n(a))
            same = "same rows" if [h.id for h in result] == expected else "DIFFERENT ROWS"
            print(f"{label:<24} filter {ms:>8.1f} ms + load = {(load_ms + ms) / 1000:>6.1f} s  ({same})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=1_000_000, help="hits to generate (default 1,000,000)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a role allowed to create databases")
    args = parser.parse_args()
    now = datetime.now(UTC)
    started = time.perf_counter()
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="sw-bench-") as directory:
            path = Path(directory) / "history.db"
            bench("SQLite", f"sqlite:///{path}", args.hits, lambda: fill_sqlite(path, args.hits, now))
    if args.only in (None, "postgresql"):
        import psycopg
        from psycopg import sql
        from sqlalchemy.engine import make_url

        name = f"sw_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            bench("PostgreSQL", url, args.hits, lambda: fill_postgres(url, args.hits, now))
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
