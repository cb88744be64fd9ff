"""The daemon (``summit-watch run``): the scheduler, live reloads, signals and systemd's protocol.

An APScheduler 3 ``BackgroundScheduler`` runs one job per feed at its interval (with jitter;
coalesced; never two polls of one feed at once), the outbox dispatcher, a watch on the rule files
and the daily housekeeping, in a small thread pool. The main thread only waits for signals:
SIGHUP reloads the settings and the rules, SIGTERM and SIGINT stop the scheduler, let in-flight
work finish within ``STOP_DEADLINE`` and exit 0. Everything the daemon has not finished is in
the database (due feeds, pending hits and deliveries), so a stop or a crash loses nothing.

What a reload swaps is one frozen ``_Loaded`` value (settings, rules, matcher, targets, outbox):
jobs read it once per run, so a job never sees half of an old load and half of a new one.
"""

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Final

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.claims import OWNER, owner_gone
from watcher.config import Config, FeedConfig, load_config
from watcher.dblock import DatabaseLock
from watcher.display import when
from watcher.errors import ConfigError, RulesError, StorageError, WatcherError
from watcher.events import catch_up
from watcher.health import HealthServer
from watcher.matcher import Matcher
from watcher.metrics import Metrics
from watcher.notify import Target, build_targets
from watcher.outages import DatabaseWatch
from watcher.outbox import Outbox
from watcher.pipeline import join_storyless, poll
from watcher.rules import RuleSet, load_rules, watched_files
from watcher.sdnotify import Notifier
from watcher.store import Store

log = logging.getLogger(__name__)

STOP_DEADLINE: Final = 25.0  # seconds for in-flight polls and sends after SIGTERM (the unit allows 45)
DISPATCH_EVERY: Final = timedelta(seconds=2)
RULES_CHECK_EVERY: Final = timedelta(seconds=2)
HOUSEKEEPING_EVERY: Final = timedelta(hours=6)
STATUS_EVERY: Final = 30.0  # seconds between STATUS= lines to systemd
# A claimed poll not recorded by then is due again for any daemon: longer than a poll takes (the
# fetch's total timeout is 60 s), short enough that another host takes over a dead one's feeds
# soon. Daemons of the same host free a dead one's claims within RECLAIM_EVERY.
POLL_LEASE: Final = timedelta(minutes=3)
RECLAIM_EVERY: Final = timedelta(seconds=5)
# /healthz fails when no feed job has finished for twice the shortest interval, but at least this.
STALL_FLOOR: Final = 30.0
MAX_JITTER: Final = timedelta(seconds=30)
WORKERS: Final = 8  # threads for feed polls
SERVICE_WORKERS: Final = 3  # threads of their own for dispatch, reclaim, rules and housekeeping


@dataclass(frozen=True)
class _Loaded:
    """Everything a reload replaces, replaced at once."""

    config: Config
    rules: RuleSet
    matcher: Matcher
    targets: dict[str, Target]
    outbox: Outbox
    rules_signature: tuple[tuple[str, int, int], ...]


def _now() -> datetime:
    return datetime.now(UTC)


def _target_names(config: Config) -> list[str]:
    return [target.name for target in config.targets]


def _rules_signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """The rule and list files with their modification times and sizes: a change means "reload"."""
    found = []
    for file in watched_files(path):
        try:
            status = file.stat()
        except OSError:
            continue
        found.append((str(file), status.st_mtime_ns, status.st_size))
    return tuple(found)


class Service:
    """The daemon of one settings file."""

    def __init__(self, config_path: Path, *, clock: Callable[[], datetime] = _now) -> None:
        self._config_path = config_path
        self._clock = clock
        self._notifier = Notifier.from_environment()
        self._metrics = Metrics()
        self._wake = threading.Event()
        self._stop_requested = False
        self._stopped_late = False  # jobs were still running at the stop deadline
        self._crashed = False
        self._reload_requested = False
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            # Service jobs have threads of their own: a first poll of 1,000 feeds must not
            # hold back the outbox's dispatch (the alerts) behind every feed job.
            executors={
                "default": ThreadPoolExecutor(WORKERS),
                "service": ThreadPoolExecutor(SERVICE_WORKERS),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._loaded_value: _Loaded | None = None
        self._store_value: Store | None = None
        self._database = DatabaseWatch(clock)
        self._rules_problem: str | None = None  # why the rule files on disk cannot be used
        self._unsynced: Config | None = None  # feeds of a reload not yet stored (database down)
        self._last_feed_job = time.monotonic()  # when a feed job last ran to its end

    @property
    def _loaded(self) -> _Loaded:
        if self._loaded_value is None:
            raise RuntimeError("the daemon has not loaded its settings yet")
        return self._loaded_value

    @_loaded.setter
    def _loaded(self, value: _Loaded) -> None:
        self._loaded_value = value

    @property
    def _store(self) -> Store:
        if self._store_value is None:
            raise RuntimeError("the daemon has not opened its database yet")
        return self._store_value

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the exit code: 0 after a clean stop, 1 after a bug in a job."""
        self._install_signal_handlers()  # before anything slow: an early SIGHUP must not kill us
        config = load_config(self._config_path)
        rules = load_rules(config.rules, _target_names(config))
        lock = DatabaseLock(config.database)
        lock.acquire()

        def open_store() -> None:
            self._store_value = Store.open(config.database)

        try:
            opened = self._until_stored("open", open_store)
        except BaseException:
            lock.release()
            raise
        if not opened:  # stopped while waiting for the database
            lock.release()
            return 0
        store = self._store
        health: HealthServer | None = None
        try:
            self._loaded = self._load(config, rules)
            self._metrics.rules_loaded(len(rules.enabled))
            if not self._until_stored("sync_feeds", lambda: self._sync_feeds(config)):
                return 0
            loaded = self._loaded
            if not self._until_stored(
                "join_stories", lambda: join_storyless(config, store, loaded.matcher, self._clock())
            ):
                return 0
            enabled = [rule.id for rule in rules.enabled]
            if not self._until_stored("events", lambda: catch_up(store, enabled, self._clock())):
                return 0
            self._schedule_feeds(config, first=True)
            self._schedule_service_jobs()
            if config.health is not None:
                health = HealthServer(config.health, healthy=self._healthy, metrics=self._render_metrics)
                health.start()
            self._scheduler.start()
            self._notifier.ready()
            log.info(
                "daemon_ready feeds=%d rules=%d targets=%s database=%s",
                len(config.feeds),
                len(rules.enabled),
                ",".join(self._loaded.targets),
                store.name,
            )
            self._report_status()
            self._wait_for_signals()
        finally:
            self._stop()
            if health is not None:
                health.stop()
            store.close()
            lock.release()
        code = 1 if self._crashed else 0
        if self._stopped_late:
            # The pool's threads still run and would be joined at interpreter exit, past
            # systemd's TimeoutStopSec; what they had not stored is due again at the next start.
            logging.shutdown()
            os._exit(code)
        return code

    def _until_stored(self, job: str, action: Callable[[], object]) -> bool:
        """Do ``action``, again with backoff while the database cannot be reached (a daemon started
        before its database waits for it); False if a stop is asked for meanwhile."""
        while True:
            try:
                action()
            except StorageError as e:
                self._database.failed(job, str(e))
                self._notifier.status(f"waiting for the database: {e}")
                self._wake.wait(self._database.retry_in())
                self._wake.clear()
                if self._stop_requested:
                    return False
                continue
            self._database.succeeded()
            return True

    def _wait_for_signals(self) -> None:
        while True:
            self._wake.wait(STATUS_EVERY)
            self._wake.clear()
            if self._stop_requested:
                return
            if self._reload_requested:
                self._reload_requested = False
                self._reload()
            self._report_status()

    def _stop(self) -> None:
        """Stop scheduling, give in-flight jobs ``STOP_DEADLINE`` seconds, and leave the rest stored."""
        self._notifier.stopping()
        if not self._scheduler.running:
            return
        log.info("daemon_stopping deadline=%ss", STOP_DEADLINE)
        self._scheduler.pause()
        finisher = threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        finisher.start()
        finisher.join(STOP_DEADLINE)
        if finisher.is_alive():
            log.warning("daemon_stop_deadline_passed seconds=%s (unfinished work stays due)", STOP_DEADLINE)
            self._stopped_late = True
        else:
            log.info("daemon_stopped")

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            self._stop_requested = True
            self._wake.set()

        def reload(signum: int, _frame: FrameType | None) -> None:
            self._reload_requested = True
            self._wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # -- loading and reloading -------------------------------------------------------------------

    def _load(self, config: Config, rules: RuleSet, targets: dict[str, Target] | None = None) -> _Loaded:
        targets = targets if targets is not None else build_targets(config)
        outbox = Outbox(self._store, rules, config, targets, clock=self._clock)
        matcher = Matcher(rules, on_regex_timeout=self._metrics.regex_timeout)
        return _Loaded(config, rules, matcher, targets, outbox, _rules_signature(config.rules))

    def _reload(self) -> None:
        """SIGHUP: settings and rules read again; on any error the running ones stay."""
        self._notifier.reloading()
        log.info("daemon_reloading config=%s", self._config_path)
        current = self._loaded
        try:
            config = load_config(self._config_path)
        except ConfigError as e:
            for problem in e.problems:
                log.error("config_invalid %s (the running settings stay)", problem)
            self._notifier.ready()
            return
        if config.database != current.config.database:
            log.warning("config_database_changed (a new database takes effect after a restart)")
            config = config.model_copy(update={"database": current.config.database})
        rules = self._read_rules(config) or current.rules
        self._loaded = self._load(config, rules)
        self._metrics.rules_loaded(len(rules.enabled))
        self._unsynced = config  # stored by the next reclaim job, which retries while the database is down
        self._guarded(self._reclaim)()
        self._schedule_feeds(config, first=False)
        self._notifier.ready()
        log.info("daemon_reloaded feeds=%d rules=%d", len(config.feeds), len(rules.enabled))

    def _sync_feeds(self, config: Config) -> None:
        self._store.sync_feeds(
            config.feeds, {f.name: config.interval(f) for f in config.feeds}, self._clock()
        )

    def _read_rules(self, config: Config) -> RuleSet | None:
        """The rules of ``config``, or None (every error logged) when they cannot be used (a
        ``notify`` naming none of its targets too)."""
        try:
            rules = load_rules(config.rules, _target_names(config))
        except RulesError as e:
            for problem in e.problems:
                log.error("rules_invalid %s (the running rules stay)", problem)
            self._rules_problem = f"rules invalid: {e.problems[0]}" if e.problems else "rules invalid"
            return None
        self._rules_problem = None
        return rules

    def _check_rules(self) -> None:
        """Reload the rules when a rule file changed, appeared or went away."""
        current = self._loaded
        signature = _rules_signature(current.config.rules)
        if signature == current.rules_signature:
            return
        rules = self._read_rules(current.config)
        if rules is None:  # remember the broken state: its errors are logged once
            self._loaded = dataclasses.replace(current, rules_signature=signature)
            return
        self._loaded = self._load(current.config, rules, current.targets)
        self._metrics.rules_loaded(len(rules.enabled))
        log.info("rules_reloaded rules=%d path=%s", len(rules.enabled), current.config.rules)

    # -- jobs ------------------------------------------------------------------------------------

    def _schedule_feeds(self, config: Config, *, first: bool) -> None:
        """One job per feed at its interval; jobs of removed feeds go, changed ones are rescheduled."""
        wanted = {feed.name: feed for feed in config.feeds}
        for job in self._scheduler.get_jobs():
            name = job.id.removeprefix("feed:")
            if job.id.startswith("feed:") and name not in wanted:
                job.remove()
                log.info("feed_unscheduled feed=%s", name)
        for feed in wanted.values():
            self._schedule_feed(feed, config.interval(feed), first=first)

    def _schedule_feed(self, feed: FeedConfig, interval: timedelta, *, first: bool) -> None:
        job_id = f"feed:{feed.name}"
        trigger = IntervalTrigger(seconds=interval.total_seconds(), jitter=_jitter(interval), timezone=UTC)
        existing = self._scheduler.get_job(job_id)
        if existing is not None:
            if existing.trigger.interval != trigger.interval:
                existing.reschedule(trigger)
                log.info("feed_rescheduled feed=%s interval=%ss", feed.name, interval.total_seconds())
            return
        # The first run is now: the job polls only if the stored schedule says the feed is due.
        self._scheduler.add_job(
            self._guarded(self._poll_feed),
            trigger,
            args=[feed.name],
            id=job_id,
            name=job_id,
            next_run_time=self._clock(),
        )
        if not first:
            log.info("feed_scheduled feed=%s interval=%ss", feed.name, interval.total_seconds())

    def _guarded(self, job: Callable[..., None], *, storage: bool = True) -> Callable[..., None]:
        """``job`` with its failures handled: the database failing is noted once (``DatabaseWatch``)
        and the job runs again at its next time after a backoff; another expected failure is
        logged; anything else is a bug, logged with its traceback, and stops the daemon with exit
        status 1 so that systemd restarts it. ``storage``: the job uses the database."""
        name = job.__name__.strip("_")

        @functools.wraps(job)
        def guarded(*args: object) -> None:
            if storage and not self._database.may_try():
                return
            try:
                job(*args)
            except StorageError as e:
                self._database.failed(name, str(e))
            except WatcherError as e:
                log.error("job_failed job=%s error=%s", name, e)
            except Exception:
                log.exception("job_crashed job=%s (stopping: a bug)", name)
                self._crashed = self._stop_requested = True
                self._wake.set()
            else:
                if storage:
                    self._database.succeeded()

        return guarded

    def _schedule_service_jobs(self) -> None:
        now = self._clock()
        every = {"seconds": DISPATCH_EVERY.total_seconds()}
        self._scheduler.add_job(
            self._guarded(self._dispatch),
            "interval",
            **every,
            id="dispatch",
            executor="service",
            next_run_time=now,
        )
        self._scheduler.add_job(
            self._guarded(self._check_rules, storage=False),
            "interval",
            seconds=RULES_CHECK_EVERY.total_seconds(),
            id="rules",
            executor="service",
        )
        self._scheduler.add_job(
            self._guarded(self._reclaim),
            "interval",
            seconds=RECLAIM_EVERY.total_seconds(),
            id="reclaim",
            executor="service",
            next_run_time=now,
        )
        self._scheduler.add_job(
            self._guarded(self._housekeeping),
            "interval",
            seconds=HOUSEKEEPING_EVERY.total_seconds(),
            id="housekeeping",
            executor="service",
            next_run_time=now,
        )
        interval = self._notifier.watchdog_interval()
        if interval is not None:
            self._scheduler.add_job(self._notifier.watchdog, "interval", seconds=interval, id="watchdog")

    def _poll_feed(self, name: str) -> None:
        """Poll one feed if it is due by the stored schedule (backoff, Retry-After) and unclaimed;
        if it is due soon, run the job again exactly then."""
        loaded, store = self._loaded, self._store
        now = self._clock()
        if not store.claim_feed(name, now, POLL_LEASE, OWNER):
            self._follow_schedule(name, now)
        else:
            started = time.monotonic()
            try:
                summary = asyncio.run(
                    poll(loaded.config, store, loaded.matcher, self._clock, feeds=[name], sync=False)
                )
            except StorageError:
                # Nothing of this poll was stored: make the feed due again at once, if the
                # database takes even that, rather than after the lease.
                with contextlib.suppress(StorageError):
                    store.release_feed_claims({OWNER}, self._clock(), feed=name)
                raise
            for report in summary.reports:
                self._metrics.poll_done(report, time.monotonic() - started)
                if report.hits:
                    log.info("feed_hits feed=%s new_items=%d hits=%d", name, report.new_items, report.hits)
        self._last_feed_job = time.monotonic()

    def _follow_schedule(self, name: str, now: datetime) -> None:
        """Move the feed's job to the stored next poll when that comes before the job's own next
        run. The job fires an interval after its last firing, but the next poll is counted from
        when the poll was recorded (after a wait for a thread and the poll itself): without this,
        a job firing a moment early finds the feed not due and it waits a whole interval more."""
        due = self._store.next_poll(name)
        job = self._scheduler.get_job(f"feed:{name}")
        if due is None or job is None or due <= now or job.next_run_time is None:
            return
        if due < job.next_run_time:
            job.modify(next_run_time=due)

    def _reclaim(self) -> None:
        """Free the polls claimed by daemons of this host that died mid-poll, and store the feeds
        of a reload that could not be stored then."""
        store, now = self._store, self._clock()
        if self._unsynced is not None:
            self._sync_feeds(self._unsynced)
            self._unsynced = None
        gone = {owner for owner in store.feed_claimants(now) if owner_gone(owner)}
        if gone:
            released = store.release_feed_claims(gone, now)
            log.warning("feed_claims_released owners=%s feeds=%d", ",".join(sorted(gone)), released)

    def _dispatch(self) -> None:
        loaded = self._loaded
        loaded.outbox.plan()
        for done in loaded.outbox.dispatch():
            self._metrics.delivery_done(done.outcome)

    def _housekeeping(self) -> None:
        loaded, store = self._loaded, self._store
        pruned = store.prune_items(self._clock() - loaded.config.retention)
        if pruned:
            log.info("items_pruned count=%d older_than=%s", pruned, loaded.config.retention)

    # -- health ----------------------------------------------------------------------------------

    def _report_status(self) -> None:
        state = self._database.state()
        if state.failing_since is not None and not self._database.may_try():
            self._notifier.status(f"database failing since {when(state.failing_since)}")
            return
        try:
            store = self._store
            feeds = store.feeds()
            hits = store.hits_since(self._clock() - timedelta(days=1))
            deliveries = store.delivery_counts()
        except StorageError as e:
            self._database.failed("status", str(e))
            return
        self._database.succeeded()
        failing = sum(1 for f in feeds if f.consecutive_failures or f.gone)
        waiting = deliveries["pending"] + deliveries["failed"]
        self._notifier.status(
            f"{len(feeds) - failing} feeds ok, {failing} failing; {hits} hits in 24 h; "
            f"{waiting} deliveries pending, {deliveries['dead']} dead"
        )

    def _healthy(self) -> tuple[bool, str]:
        """Healthy unless: the scheduler stopped, the database failed several jobs in a row, the
        rule files are invalid, or no feed job finished for twice the shortest interval."""
        if not self._scheduler.running:
            return False, "scheduler not running"
        database = self._database.state()
        if database.unhealthy and database.failing_since is not None:
            return False, (
                f"database failing since {when(database.failing_since)} "
                f"({database.consecutive_failures} jobs failed): {database.last_error}"
            )
        if self._rules_problem is not None:
            return False, self._rules_problem
        config = self._loaded.config
        if config.feeds:
            limit = max(2 * min(config.interval(f) for f in config.feeds).total_seconds(), STALL_FLOOR)
            idle = time.monotonic() - self._last_feed_job
            if idle > limit:
                return False, f"no poll finished for {idle:.0f} s (limit {limit:.0f} s)"
        return True, "ok"

    def _render_metrics(self) -> str:
        try:
            deliveries = self._store.delivery_counts() if self._database.may_try() else None
        except StorageError:
            deliveries = None
        return self._metrics.render(deliveries, self._database.state())


def _jitter(interval: timedelta) -> float:
    """Spread polls of feeds sharing an interval: a tenth of it, at most ``MAX_JITTER``."""
    return min(interval / 10, MAX_JITTER).total_seconds()
