"""History: what ``summit-watch hits`` and ``stories`` ask, listings streamed in constant memory;
and what ``stats`` and ``rules test --stored`` (the backtest) read."""

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Final, Literal

from sqlalchemy import Connection, Row, bindparam, exists, func, literal_column, or_, text, update
from sqlalchemy import select as core_select
from sqlmodel import select

from watcher.history import period_bounds
from watcher.items import FeedRef
from watcher.records import HitDetail, HitQuery, HitRecord, Mark, RecordedHit, StoredItem, StorySummary
from watcher.store._base import StoreBase, _check_aware
from watcher.store._tables import _DELIVERY, _FEED, _HIT, _ITEM, _deliveries, _stored_hit, _stored_item

_YIELD_PER: Final = 1000  # rows fetched at a time by a streamed listing
_BATCH: Final = 1000  # rows fetched at a time by a streamed backtest
_STORY_BATCH: Final = 500  # stories whose items and rules are read by one query
# From how many items the feeds of `hits --feed` are worth finding by walking hits in time order
# (the rows read before ``limit`` are found shrink as the feeds' share grows) rather than by sorting
# all their hits: below it, sorting is quick.
_DENSE_FEED_ITEMS: Final = 2000
_HIT_COLUMNS: Final = (
    _HIT.c.id,
    _HIT.c.rule_id,
    _HIT.c.score,
    _HIT.c.terms,
    _HIT.c.created_at,
    _HIT.c.item_id,
    _ITEM.c.feed,
    _ITEM.c.title,
    _ITEM.c.link,
    _ITEM.c.source,
    _ITEM.c.published,
    _ITEM.c.story_id,
    _HIT.c.alert_id,
)


class HistoryMixin(StoreBase):
    """``hits``, ``hit`` and ``stories`` (the history); ``hit_counts``, ``iter_items`` and
    ``recorded_hits`` (statistics and the backtest)."""

    def hits(self, query: HitQuery) -> Iterator[HitRecord]:
        """The hits ``query`` selects with their items, streamed in constant memory (a server-side
        cursor on PostgreSQL, SQLite's own row-by-row cursor), ``yield_per`` rows at a time.

        The connection stays open until the iterator is exhausted or closed: close it (or use
        ``contextlib.closing``) when stopping early.
        """
        for name in ("since", "until"):
            moment = getattr(query, name)
            if moment is not None:
                _check_aware(moment, name)
        if query.limit is not None and query.limit < 0:
            raise ValueError(f"limit must be None or >= 0, got {query.limit}")
        dense_feeds = False
        if query.feeds and query.limit is not None and self._engine.dialect.name == "sqlite":
            dense_feeds = self._feed_items(query.feeds) > _DENSE_FEED_ITEMS
        return self._stream_hits(query, dense_feeds)

    def _feed_items(self, feeds: Sequence[str]) -> int:
        query = select(func.count()).select_from(_ITEM).where(_ITEM.c.feed.in_(list(feeds)))
        with self._errors(), self._engine.connect() as connection:
            found: int = connection.execute(query).scalar_one()
        return found

    def hit(self, id: int) -> HitDetail | None:
        """The hit ``id`` with its item, its story's other items and its alert's deliveries
        (None: no such hit)."""
        query = core_select(_HIT, _ITEM).join(_ITEM, _ITEM.c.id == _HIT.c.item_id).where(_HIT.c.id == id)
        with self._errors(), self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
            if row is None:
                return None
            hit_columns = len(_HIT.c)
            hit_row = dict(zip(_HIT.c.keys(), row[:hit_columns], strict=True))
            item_row = dict(zip(_ITEM.c.keys(), row[hit_columns:], strict=True))
            story = item_row["story_id"] if item_row["story_id"] is not None else item_row["id"]
            others = (
                _ITEM.select()
                .where(or_(_ITEM.c.story_id == story, _ITEM.c.id == story), _ITEM.c.id != item_row["id"])
                .order_by(_ITEM.c.published, _ITEM.c.id)
            )
            story_items = tuple(_stored_item(other) for other in connection.execute(others).mappings())
            alert = hit_row["alert_id"]
            deliveries = (
                () if alert is None else tuple(_deliveries(connection, _DELIVERY.c.alert_id == alert))
            )
        return HitDetail(
            hit=_stored_hit(hit_row),
            item=_stored_item(item_row),
            story_id=story,
            story=story_items,
            alert_id=alert,
            deliveries=deliveries,
        )

    def stories(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        rules: Collection[str] = (),
        limit: int | None = 50,
    ) -> list[StorySummary]:
        """The stories with hits created in [since, until) (of ``rules``, if any), the one with the
        latest such hit first; at most ``limit`` (None: all). An item never grouped is a story
        of its own."""
        conditions = _hit_conditions(rules=tuple(rules), since=since, until=until)
        story = func.coalesce(_ITEM.c.story_id, _ITEM.c.id)
        latest = func.max(_HIT.c.created_at)
        grouped = (
            core_select(story, func.count(), latest)
            .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(*conditions)
            .group_by(story)
            .order_by(latest.desc(), story.desc())
        )
        if limit is not None:
            grouped = grouped.limit(limit)
        with self._errors(), self._engine.connect() as connection:
            counts: dict[int, int] = {key: count for key, count, _ in connection.execute(grouped)}
            rules_of: dict[int, set[str]] = {key: set() for key in counts}
            items_of: dict[int, list[Mapping[Any, Any]]] = {key: [] for key in counts}
            keys = list(counts)
            for start in range(0, len(keys), _STORY_BATCH):
                batch = keys[start : start + _STORY_BATCH]
                rule_query = (
                    core_select(story, _HIT.c.rule_id)
                    .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
                    .where(*conditions, or_(_ITEM.c.story_id.in_(batch), _ITEM.c.id.in_(batch)))
                    .distinct()
                )
                for key, rule in connection.execute(rule_query):
                    if key in rules_of:
                        rules_of[key].add(rule)
                item_query = (
                    _ITEM.select()
                    .where(or_(_ITEM.c.story_id.in_(batch), _ITEM.c.id.in_(batch)))
                    .order_by(_ITEM.c.fetched_at, _ITEM.c.id)
                )
                for row in connection.execute(item_query).mappings():
                    key = row["story_id"] if row["story_id"] is not None else row["id"]
                    if key in items_of:
                        items_of[key].append(row)
        return [_story_summary(key, items_of[key], count, rules_of[key]) for key, count in counts.items()]

    def _stream_hits(self, query: HitQuery, dense_feeds: bool) -> Iterator[HitRecord]:
        with self._errors(), self._engine.connect() as connection:
            items = None if not query.search else _search_candidates(connection, query.search)
            statement = _hits_statement(
                query,
                dense_feeds=dense_feeds,
                items=items,
                search_per_hit=connection.dialect.name == "sqlite",
            )
            streaming = connection.execution_options(stream_results=True, yield_per=_YIELD_PER)
            for row in streaming.execute(statement):
                yield _hit_record(row)

    # -- statistics and the backtest: ``stats`` and ``rules test --stored`` ----------------------

    def hit_counts(
        self,
        since: datetime,
        until: datetime,
        rules: Collection[str] = (),
        by: Literal["day", "week"] = "day",
        tz: tzinfo = UTC,
    ) -> list[tuple[date, str, int]]:
        """How many hits each rule (of ``rules``; empty: every rule) had in each period (a day or an
        ISO week in ``tz``) overlapping [since, until): (first day of the period, rule, count),
        by period then rule, periods without hits left out.

        The period boundaries are computed in Python (so a day is a local day, DST included, on
        either database) and each period is counted by the database with the created_at index.
        """

        _check_aware(since, "since")
        _check_aware(until, "until")
        conditions = [_HIT.c.rule_id.in_(list(rules))] if rules else []
        start, end = (
            bindparam("start", type_=_HIT.c.created_at.type),
            bindparam("end", type_=_HIT.c.created_at.type),
        )
        query = (
            select(_HIT.c.rule_id, func.count())
            .where(_HIT.c.created_at >= start, _HIT.c.created_at < end, *conditions)
            .group_by(_HIT.c.rule_id)
            .order_by(_HIT.c.rule_id)
        )
        found: list[tuple[date, str, int]] = []
        with self._errors(), self._engine.connect() as connection:
            for day, lower, upper in period_bounds(since, until, by, tz):
                rows = connection.execute(query, {"start": lower, "end": upper})
                found.extend((day, rule, count) for rule, count in rows)
        return found

    def iter_items(self, since: datetime, until: datetime) -> Iterator[tuple[StoredItem, FeedRef]]:
        """The items fetched in [since, until), oldest id first, each with its feed's name and
        stored tags; streamed in constant memory (close the iterator when stopping early)."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        query = (
            core_select(_ITEM, _FEED.c.tags.label("feed_tags"))
            .join(_FEED, _FEED.c.name == _ITEM.c.feed)
            .where(_ITEM.c.fetched_at >= since, _ITEM.c.fetched_at < until)
            .order_by(_ITEM.c.id)
        )
        return self._stream_items(query)

    def _stream_items(self, query: Any) -> Iterator[tuple[StoredItem, FeedRef]]:
        with self._errors(), self._engine.connect() as connection:
            streaming = connection.execution_options(stream_results=True, yield_per=_BATCH)
            for row in streaming.execute(query).mappings():
                yield _stored_item(row), FeedRef(row["feed"], frozenset(row["feed_tags"] or ()))

    def recorded_hits(self, since: datetime, until: datetime) -> dict[tuple[int, str], RecordedHit]:
        """The hits on the items fetched in [since, until) (those ``iter_items`` gives), by
        (item id, rule id): what a backtest of that window compares with."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        query = (
            core_select(_HIT.c.item_id, _HIT.c.rule_id, _HIT.c.score, _HIT.c.terms, _HIT.c.mark)
            .join(_ITEM, _ITEM.c.id == _HIT.c.item_id)
            .where(_ITEM.c.fetched_at >= since, _ITEM.c.fetched_at < until)
        )
        with self._errors(), self._engine.connect() as connection:
            streaming = connection.execution_options(stream_results=True, yield_per=_BATCH)
            return {
                (item, rule): RecordedHit(item, rule, score, tuple(terms), mark)
                for item, rule, score, terms, mark in streaming.execute(query)
            }

    def hit_rules(self) -> set[str]:
        """The ids of the rules that have stored hits (a rule since removed included)."""
        with self._errors(), self._engine.connect() as connection:
            return set(connection.execute(core_select(_HIT.c.rule_id).distinct()).scalars())

    def mark_hit(self, id: int, mark: Mark | None, now: datetime) -> bool:
        """Store the user's judgement of hit ``id`` (None clears it); False when there is no such hit."""
        _check_aware(now, "now")
        values = {"mark": mark, "marked_at": now if mark is not None else None}
        with self._errors(), self._engine.begin() as connection:
            return connection.execute(update(_HIT).where(_HIT.c.id == id).values(**values)).rowcount == 1


def _hit_conditions(
    *,
    rules: Sequence[str] = (),
    feeds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
) -> list[Any]:
    conditions: list[Any] = []
    if rules:
        conditions.append(_HIT.c.rule_id.in_(list(rules)))
    if feeds:
        conditions.append(_ITEM.c.feed.in_(list(feeds)))
    if since is not None:
        _check_aware(since, "since")
        conditions.append(_HIT.c.created_at >= since)
    if until is not None:
        _check_aware(until, "until")
        conditions.append(_HIT.c.created_at < until)
    if search:
        conditions.append(_search_condition(_ITEM, search))
    return conditions


def _search_condition(item: Any, search: str) -> Any:
    """``search`` is in ``item``'s title or summary. ILIKE on PostgreSQL, lower() LIKE lower() on
    SQLite (which folds ASCII letters only); % and _ in the text are escaped, so they match
    themselves."""
    return or_(
        item.c.title.icontains(search, autoescape=True),
        item.c.summary.icontains(search, autoescape=True),
    )


# `hits --search`: the search index (migration 4f9c2d7e1a03) gives the items whose text may hold
# the search text; up to this many, their hits are read by item id (a few milliseconds). A text
# in more items than that is common: walking the hits newest first finds ``limit`` of them soon.
_SEARCH_CANDIDATES: Final = 5000
_SEARCH_TEXT: Final = _ITEM.c.title.op("||")(literal_column("' '")).op("||")(_ITEM.c.summary)
_LIKE_SPECIALS: Final = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})
_TRIGRAM_WORD: Final = re.compile(r"[^\W_]{3}")  # three letters or digits in a row


def _search_candidates(connection: Connection, search: str) -> list[int] | None:
    """The ids of the items whose title or summary may contain ``search`` (a superset: the query
    still tests each), found by the search index; None when it cannot say: no index (an SQLite
    without FTS5 trigrams, a PostgreSQL without pg_trgm), a text too short for trigrams (SQLite:
    under 3 characters; PostgreSQL: without 3 letters or digits in a row) or more than
    ``_SEARCH_CANDIDATES`` items. SQLite: FTS5 folds case in all of Unicode, a superset of the
    query's ASCII folding. PostgreSQL: an ILIKE on title, space and summary, a superset of an
    ILIKE on either."""
    candidates: Any
    if connection.dialect.name == "sqlite":
        index = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_search'")
        if len(search) < 3 or connection.execute(index).first() is None:
            return None
        phrase = '"' + search.replace('"', '""') + '"'  # an FTS5 string: every character as it is
        candidates = text("SELECT rowid FROM item_search WHERE item_search MATCH :phrase LIMIT :n")
        candidates = candidates.bindparams(phrase=phrase, n=_SEARCH_CANDIDATES + 1)
    else:
        index = text("SELECT to_regclass('ix_item_search')")  # on the search path, like the tables
        if not _TRIGRAM_WORD.search(search) or connection.execute(index).scalar() is None:
            return None
        pattern = f"%{search.translate(_LIKE_SPECIALS)}%"  # backslash: LIKE's default escape
        candidates = core_select(_ITEM.c.id).where(_SEARCH_TEXT.ilike(pattern)).limit(_SEARCH_CANDIDATES + 1)
    found = list(connection.execute(candidates).scalars())
    return None if len(found) > _SEARCH_CANDIDATES else found


def _hits_statement(
    query: HitQuery,
    *,
    dense_feeds: bool = False,
    items: Sequence[int] | None = None,
    search_per_hit: bool = False,
) -> Any:
    """The SELECT of ``Store.hits``. ``dense_feeds``: the feeds asked for have many items, so
    SQLite had better walk the hits in the order asked and keep those of the feeds until it has
    ``limit`` of them than read every hit of the feeds and sort them (what its planner does
    without the hint: ``feed || ''`` is no indexed column). PostgreSQL's planner weighs both.
    ``items``: the only items that may match ``query.search`` (``_search_candidates``), whose
    hits are read by item id then sorted, rather than all hits walked in order.
    ``search_per_hit`` (SQLite, walking the hits): ``query.search`` is tested on each hit's item
    in a correlated EXISTS, so the walk stops at ``limit`` hits found. As a condition on the
    joined item, SQLite (3.38+) would first build a Bloom filter of the items it holds for, which
    reads the text of every item: 0.3 s for 225,000 items, whatever the limit."""
    conditions = _hit_conditions(
        rules=query.rules,
        feeds=() if dense_feeds else query.feeds,
        since=query.since,
        until=query.until,
    )
    if dense_feeds:
        conditions.append((_ITEM.c.feed + "").in_(list(query.feeds)))
    if query.search:
        if items is not None:
            conditions.append(_HIT.c.item_id.in_(list(items)))
        if search_per_hit and items is None:
            searched = _ITEM.alias("searched")
            conditions.append(
                exists().where(searched.c.id == _HIT.c.item_id, _search_condition(searched, query.search))
            )
        else:
            conditions.append(_search_condition(_ITEM, query.search))
    order: tuple[Any, ...]
    if query.order == "newest":
        order = (_HIT.c.created_at.desc(), _HIT.c.id.desc())
    elif query.order == "oldest":
        order = (_HIT.c.created_at.asc(), _HIT.c.id.asc())
    else:
        order = (_HIT.c.score.desc(), _HIT.c.created_at.desc(), _HIT.c.id.desc())
    statement = (
        core_select(*_HIT_COLUMNS)
        .join_from(_HIT, _ITEM, _ITEM.c.id == _HIT.c.item_id)
        .where(*conditions)
        .order_by(*order)
    )
    return statement if query.limit is None else statement.limit(query.limit)


def _hit_record(row: Row[Any]) -> HitRecord:
    return HitRecord(
        id=row.id,
        rule=row.rule_id,
        score=row.score,
        terms=tuple(row.terms),
        created_at=row.created_at,
        item_id=row.item_id,
        feed=row.feed,
        title=row.title,
        link=row.link,
        source=row.source,
        published=row.published,
        story_id=row.story_id,
        alert_id=row.alert_id,
    )


def _story_summary(
    key: int, items: Sequence[Mapping[Any, Any]], hits: int, rules: Collection[str]
) -> StorySummary:
    """A story from its items (first fetched first), its hit count and rules."""
    first = next((row for row in items if row["id"] == key), items[0] if items else None)
    return StorySummary(
        id=key,
        headline=first["title"] if first is not None else "",
        outlets=tuple(dict.fromkeys(row["source"] or row["feed"] for row in items)),
        feeds=tuple(dict.fromkeys(row["feed"] for row in items)),
        first_seen=min(row["fetched_at"] for row in items),
        last_seen=max(row["fetched_at"] for row in items),
        hits=hits,
        rules=tuple(sorted(rules)),
    )
