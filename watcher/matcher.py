"""The matcher: a ruleset compiled once, then matched against items. Pure but for ``/regex/`` terms:
no I/O, and the clock only bounds regex searches (a search that runs out of time is logged).

Compiling builds an index from every normalised word form a rule can match (the word and its
inflections) to the rule terms using it, and buckets of the forms that tolerate typos by first
letter and length. Matching an item then costs time in proportion to its text, not to the
number of rules:

1. a word set (``watcher.wordset``, native when built) drops each field's known words that are
   neither indexed nor transliterations; the few words left are looked up in the index;
2. words that are neither indexed nor known English words or names are compared (rapidfuzz,
   OSA distance) with the forms of their bucket, once per distinct word for the life of the
   matcher: the answer, typo or not, is remembered;
3. only terms using a found word are checked (phrases: consecutive words), and only rules with
   every ``all`` entry (and ``any``) hit by such a term are evaluated. Rules needing no indexed
   term (``all``/``any`` entries with ``/regex/`` terms) are the exception: they are evaluated
   for every item.

Positions are computed only for rules that matched, for highlighting.

A ``/regex/`` can backtrack for minutes on a hostile text, so each search runs with a timeout
(``regex`` releases the GIL meanwhile: polls, deliveries and /healthz go on) and an item has a
budget for all of its searches; a search out of time counts as not matching.
"""

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import regex
from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

from watcher import wordset
from watcher.items import FeedRef, Item
from watcher.records import TermHit
from watcher.rules import (
    FIELDS,
    LabelledTerm,
    Rule,
    Where,
    compile_regex,
    is_exact,
    is_regex,
    term_label,
    term_text,
)
from watcher.text import (
    auto_edits,
    fixed_edits,
    inflections,
    known_words,
    plain_text,
    sentence_ends,
    word_forms,
    word_spans,
    words,
)
from watcher.wordset import Positions, WordSetFactory, known_word_set, word_bounds

_TYPO_MEMORY_LIMIT: Final = 500_000  # words remembered as typos or not
_MIN_TYPO_LENGTH: Final = 3  # the shortest word that can be a typo (``fuzziness: 1``, 4 letters)
_MIN_TRANSLITERATED_LENGTH: Final = 5
_MIN_FILTERED_BUCKET: Final = 32  # smaller typo buckets are scored whole: filtering costs more
_NO_EDITS: Final = 0
_NOWHERE: Final[dict[int, int]] = {}  # a word key's positions in a field that lacks it (never changed)
_ANY: Final = -1  # the entry number of a block's ``any`` list (``all`` entries are 0, 1, ...)
# What a rule's word stands for in the text: its word forms, itself only ("exact"), or every
# known word it begins (prefix*).
_FORMS: Final = "forms"
_EXACT: Final = "exact"
_PREFIX: Final = "prefix"
REGEX_TIMEOUT: Final = 0.05  # seconds one /regex/ search may take; then it has not matched
REGEX_BUDGET: Final = 0.25  # seconds all /regex/ searches of one item may take together
REGEX_LOG_EVERY: Final = 60.0  # seconds between two regex_timeout log lines of one rule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EntryMatch:
    """What one entry of the rule matched: its name (label, else its first term) and where."""

    name: str
    hits: tuple[TermHit, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """A rule matching an item, with a 0-100 score (100: every term exact) and what matched."""

    item_id: str
    rule_id: str
    score: int
    terms: tuple[str, ...]
    hits: tuple[TermHit, ...]
    entries: tuple[EntryMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class NearMiss:
    """An item that misses a rule by one condition: which, and the words where it would have had
    to match (to suggest terms)."""

    item_id: str
    rule_id: str
    block: int
    entry: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Term:
    """A distinct term of the ruleset: indexed words (a phrase) or a regex on normalised text."""

    words: tuple[int, ...]  # word keys, empty for a regex
    regex: regex.Pattern[str] | None
    letters: int


@dataclass(frozen=True, slots=True)
class _RuleTerm:
    """A term as one rule wrote it (``text``: its label, else the term); ``capitals``: an exact
    term written in capitals ("US"), which matches only in capitals (not the word "us")."""

    term: int
    text: str
    capitals: bool = False


@dataclass(frozen=True, slots=True)
class _Occurrence:
    """One place a term occurs: a field, its first and last word there, the edits (typos)."""

    field: str
    first: int
    last: int
    edits: int
    term: _RuleTerm


@dataclass(frozen=True, slots=True)
class _Exclusion:
    """Terms that stop a block, anywhere (``near`` None) or near an entry's occurrences."""

    terms: tuple[_RuleTerm, ...]
    where: Where
    near: int | None  # the entry (its index in the block's ``all``) whose occurrences they cancel
    within: int | None  # words; None: the same sentence


@dataclass(frozen=True, slots=True)
class _Entry:
    terms: tuple[_RuleTerm, ...]
    name: str
    where: Where
    near: int | None  # the entry (index in the block's ``all``) whose occurrence must be near
    within: int | None  # words; None: the same sentence
    at_least: int
    exclusions: tuple[_Exclusion, ...]  # the block's exclusions near this entry


@dataclass(frozen=True, slots=True)
class _Block:
    all: tuple[_Entry, ...]
    any: tuple[_RuleTerm, ...]
    none: tuple[_Exclusion, ...]  # those that apply anywhere


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    blocks: tuple[_Block, ...]
    fields: tuple[str, ...]
    feeds: frozenset[str] | None
    lead: int  # words of each field after the title that make the item's lead
    topical: bool  # a term it matched must be in the lead


class _FieldScan:
    """One field of one item: which indexed words it has and where, which terms they satisfy.

    What only phrases, regexes and highlights need is computed when first asked (plain attributes,
    not ``cached_property``, whose lock costs more than most of these).
    """

    def __init__(self, plain: str, word_keys: dict[str, dict[int, int]], positions: Positions) -> None:
        self.plain = plain
        self.word_keys = word_keys  # surface word -> {word key: edits}
        self.positions = positions  # surface word (at least those of word_keys) -> word indexes
        self.found: dict[int, int] = {}  # indexed term -> fewest edits
        self.regex_found: dict[int, int | None] = {}
        self._by_key: dict[int, dict[int, int]] | None = None
        self._words: list[str] | None = None
        self._normalised: str | None = None
        self._bounds: list[int] | None = None
        self._sentence_ends: list[int] | None = None

    def by_key(self) -> dict[int, dict[int, int]]:
        """Where each word key of the field occurs: word index -> edits."""
        if self._by_key is None:
            self._by_key = {}
            for word, keys in self.word_keys.items():
                at = self.positions[word]
                for word_key, edits in keys.items():
                    self._by_key.setdefault(word_key, {}).update(dict.fromkeys(at, edits))
        return self._by_key

    def key_positions(self, key: int) -> dict[int, int]:
        """Where a word key occurs: word index -> edits."""
        return self.by_key().get(key, _NOWHERE)

    def words(self) -> list[str]:
        """The field's words in order."""
        if self._words is None:
            self._words = words(self.plain)
        return self._words

    def normalised(self) -> str:
        """The field as ``/regex/`` terms see it: its words joined by single spaces."""
        if self._normalised is None:
            self._normalised = " ".join(self.words())
        return self._normalised

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Where words ``first`` to ``last`` stand in ``plain``, for highlighting."""
        if self._bounds is None:
            self._bounds = word_bounds(self.plain)
        return self._bounds[2 * first], self._bounds[2 * last + 1]

    def sentence(self, word: int) -> int:
        """The number of the sentence holding word ``word`` (0 for the first)."""
        if self._sentence_ends is None:
            self._sentence_ends = sentence_ends(self.plain)
        start, _ = self.span(word, word)
        return bisect_right(self._sentence_ends, start)


class _RegexBudget:
    """What is left of one item's time for ``/regex/`` searches (``REGEX_BUDGET`` from its first
    search), and the feed it came from, for the log."""

    __slots__ = ("deadline", "feed")

    def __init__(self, feed: str) -> None:
        self.deadline: float | None = None
        self.feed = feed


def _words(within: int | str) -> int | None:
    """``within`` as words, or None for ``sentence``."""
    return within if isinstance(within, int) else None


def _entry_bit(slot: int) -> int:
    """A rule's entry as a bit: ``_ANY`` (-1) is bit 0, ``all`` entry n is bit n + 1."""
    return 1 << (slot + 1)


def _in_capitals(term: str) -> bool:
    """Whether a term is exact and written in capitals: "US" is the country, not the word us."""
    return is_exact(term) and any(c.isalpha() for c in term) and term.upper() == term


def _is_acronym(written: str) -> bool:
    return len(written) >= 2 and written.isupper()


def _pieces(form: str, edits: int) -> list[tuple[int, str]]:
    """``edits`` + 1 two-letter pieces of ``form`` after its first letter, a letter apart, with
    where each starts ([] if the form is too short).

    An edit, a transposition too, breaks at most one of them, so a word within ``edits`` edits of
    ``form`` contains one of them unbroken, moved by at most ``edits`` letters.
    """
    if len(form) < 3 * edits + 3:
        return []
    return [(1 + 3 * piece, form[1 + 3 * piece : 3 + 3 * piece]) for piece in range(edits + 1)]


class _Form(NamedTuple):
    """An indexed word form: its word keys (with 0 edits), its single-word terms, its phrases."""

    keys: dict[int, int]
    terms: dict[int, int]
    phrases: tuple[int, ...]


class _TypoBucket(NamedTuple):
    """The fuzzy forms a word of one first letter and length can be a typo of."""

    forms: tuple[str, ...]
    ids: tuple[int, ...]  # index of each form in ``Matcher._fuzzy_forms``
    max_edits: int
    # For a large bucket: its forms (and ids) by each piece (``_pieces``) and where it can stand in
    # a typo of the bucket's length, and those too short to have pieces. A word is compared only
    # with forms having a piece where it has it.
    by_piece: dict[tuple[int, str], tuple[tuple[str, ...], tuple[int, ...]]] | None
    without_pieces: tuple[tuple[str, ...], tuple[int, ...]]

    def candidates(self, word: str) -> tuple[Sequence[str], Sequence[int]]:
        """The forms ``word`` may be a typo of (a form may come twice), and their ids."""
        if self.by_piece is None:
            return self.forms, self.ids
        forms, ids = list(self.without_pieces[0]), list(self.without_pieces[1])
        for at in range(1, len(word) - 1):
            with_piece = self.by_piece.get((at, word[at : at + 2]))
            if with_piece is not None:
                forms += with_piece[0]
                ids += with_piece[1]
        return forms, ids


class Matcher:
    """A compiled ruleset. Build it once per ruleset; ``match`` items against it.

    The index is kept in tuples, dicts of atoms and word sets, which the garbage collector does
    not traverse: a full collection walking sets and lists of it took ~100 ms at 1,000 rules.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        word_sets: WordSetFactory | None = None,
        on_regex_timeout: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Compile ``rules``; ``word_sets`` makes the word sets (default ``wordset.word_set``).

        ``on_regex_timeout(rule_id)`` is called, in the matching thread, for each ``/regex/``
        search that ran out of time (a metrics counter: the log says it once a minute per rule);
        ``clock`` (seconds, monotonic) times those searches.
        """
        self._new_word_set = word_sets or wordset.word_set
        self._on_regex_timeout = on_regex_timeout
        self._clock = clock
        self._timeouts_lock = threading.Lock()
        self._timeout_logged: dict[str, float] = {}  # rule id -> when its last regex_timeout was logged
        self._timeouts_unlogged: dict[str, int] = {}  # rule id -> timeouts not logged since that line
        self._word_keys: dict[tuple[str, int, str], int] = {}  # (word, edits, kind) -> word key
        self._key_words: list[tuple[int, ...]] = []  # word key -> single-word terms of that word
        self._key_phrases: list[tuple[int, ...]] = []  # word key -> phrases starting with that word
        self._terms: list[_Term] = []
        self._term_ids: dict[tuple[tuple[int, ...], str], int] = {}
        # A unit is one block of one rule. Term -> (unit, the bit of its entry: ``_entry_bit`` of an
        # ``all`` entry or ``_ANY``).
        self._term_units: list[tuple[tuple[int, int], ...]] = []
        self._units: list[int] = []  # unit -> its rule
        self._first_unit: list[int] = []  # rule -> its first unit
        self._rules: list[_CompiledRule] = []
        self._required: list[int] = []  # per unit, the bits of the entries indexed terms must satisfy
        self._always: list[int] = []  # units that need no indexed term
        for rule in rules:
            if rule.enabled:
                self._add_rule(rule)
        self._fields = tuple(f for f in FIELDS if any(f in r.fields for r in self._rules))
        self._build_word_index()
        self._typos: dict[str, dict[int, int]] = {}  # text word -> {word key: edits}
        self._skipped_words = self._new_word_set(self._plain_words)  # and words found not to be typos

    # -- compiling ---------------------------------------------------------------------------

    def _add_rule(self, rule: Rule) -> None:
        index = len(self._rules)
        edits = rule.fuzziness
        blocks = []
        self._first_unit.append(len(self._units))
        for spec in rule.match:
            unit = len(self._units)
            self._units.append(index)

            def terms(
                written: Iterable[str | LabelledTerm], slot: int | None, unit: int = unit
            ) -> tuple[_RuleTerm, ...]:
                compiled = tuple(
                    _RuleTerm(self._term(term_text(w), edits), term_label(w), _in_capitals(term_text(w)))
                    for w in written
                )
                if slot is not None:
                    for rule_term in compiled:
                        self._term_units[rule_term.term] += ((unit, _entry_bit(slot)),)
                return compiled

            labels = {entry.label: i for i, entry in enumerate(spec.all) if entry.label}
            exclusions = [
                _Exclusion(
                    terms(x.terms, None),
                    x.in_,
                    labels[x.near] if x.near is not None else None,
                    _words(x.within),
                )
                for x in spec.none
            ]
            block = _Block(
                all=tuple(
                    _Entry(
                        terms=terms(entry.terms, slot),
                        name=entry.name,
                        where=entry.in_,
                        near=labels[entry.near] if entry.near is not None else None,
                        within=_words(entry.within),
                        at_least=entry.at_least,
                        exclusions=tuple(x for x in exclusions if x.near == slot),
                    )
                    for slot, entry in enumerate(spec.all)
                ),
                any=terms(spec.any, _ANY),
                none=tuple(x for x in exclusions if x.near is None),
            )
            blocks.append(block)

            # An entry of only indexed terms must be hit by one of them for the block to match;
            # an entry with a /regex/ can match without, so only evaluating the block can tell.
            def indexed(entry: tuple[_RuleTerm, ...]) -> bool:
                return bool(entry) and all(self._terms[t.term].regex is None for t in entry)

            required = {slot for slot, entry in enumerate(block.all) if indexed(entry.terms)}
            if indexed(block.any):
                required.add(_ANY)
            self._required.append(sum(map(_entry_bit, required)))
            if not required:
                self._always.append(unit)
        self._rules.append(
            _CompiledRule(
                rule=rule,
                blocks=tuple(blocks),
                fields=rule.fields,
                feeds=frozenset(rule.feeds) if rule.feeds is not None else None,
                lead=rule.lead,
                topical=rule.topical,
            )
        )

    def _term(self, text: str, fuzziness: str | int) -> int:
        if is_regex(text):
            identity: tuple[tuple[int, ...], str] = ((), text)
            if identity not in self._term_ids:
                self._new_term(identity, _Term((), compile_regex(text), len(text) - 2))
            return self._term_ids[identity]
        exact = is_exact(text)
        plain = plain_text(text[1:-1] if exact else text)
        spans = word_spans(plain)
        term_words = [span.word for span in spans]
        keys = []
        for span in spans:
            written = plain[span.start : span.end]
            word_edits: str | int
            if exact:
                kind, word_edits = _EXACT, "off"
            elif plain[span.end : span.end + 1] == "*":
                kind, word_edits = _PREFIX, "off"
            else:
                # A word written in capitals is an acronym (IRIGC, BRICS): a typo of one is another one.
                kind, word_edits = _FORMS, "off" if _is_acronym(written) else fuzziness
            keys.append(self._word_key(span.word, word_edits, kind))
        identity = (tuple(keys), "")
        if identity not in self._term_ids:
            term = self._new_term(identity, _Term(tuple(keys), None, sum(map(len, term_words))))
            # A phrase is checked only when its first word occurs: it is filed under that word only.
            (self._key_words if len(keys) == 1 else self._key_phrases)[keys[0]] += (term,)
        return self._term_ids[identity]

    def _new_term(self, identity: tuple[tuple[int, ...], str], term: _Term) -> int:
        self._term_ids[identity] = len(self._terms)
        self._terms.append(term)
        self._term_units.append(())
        return len(self._terms) - 1

    def _word_key(self, word: str, fuzziness: str | int, kind: str) -> int:
        edits: int
        if fuzziness == "off":
            edits = 0
        elif fuzziness == "auto":
            edits = auto_edits(word)
        else:
            edits = fixed_edits(word, int(fuzziness))
        key = self._word_keys.get((word, edits, kind))
        if key is None:
            key = self._word_keys[(word, edits, kind)] = len(self._key_words)
            self._key_words.append(())
            self._key_phrases.append(())
        return key

    def _text_forms(self, word: str, kind: str) -> Iterable[str]:
        """The text words a rule's word stands for: its forms, itself only, or a prefix's words."""
        if kind == _EXACT:
            return (word,)
        if kind == _PREFIX:
            return (known for known in known_words() if known.startswith(word))
        return word_forms(word)

    def _build_word_index(self) -> None:
        exact: dict[str, dict[int, int]] = {}
        fuzzy_forms: list[tuple[str, int, int]] = []  # (form, word key, allowed edits)
        for (word, edits, kind), key in self._word_keys.items():
            for form in self._text_forms(word, kind):
                exact.setdefault(form, {})[key] = _NO_EDITS
            # Typos are looked for in the word as written and its regular forms only: every
            # form of its lemmas too would double the forms each unknown word is compared with.
            if edits:
                fuzzy_forms.extend((form, key, edits) for form in inflections(word))
        self._fuzzy_forms = tuple(fuzzy_forms)
        # Per exact form, in one look-up: its word keys, what it satisfies outright (a dict to
        # ``update`` with: no edits) and which phrases it may start.
        self._forms = {
            form: _Form(
                keys,
                dict.fromkeys((t for key in keys for t in self._key_words[key]), _NO_EDITS),
                tuple({t for key in keys for t in self._key_phrases[key]}),
            )
            for form, keys in exact.items()
        }
        # A typo keeps the first letter ("prussia" is not "russia") and is within k edits, so a
        # form of length n allowing k edits is only compared with words of length n-k to n+k.
        buckets: dict[tuple[str, int], list[int]] = {}
        for i, (form, _, edits) in enumerate(self._fuzzy_forms):
            for length in range(max(len(form) - edits, _MIN_TYPO_LENGTH), len(form) + edits + 1):
                buckets.setdefault((form[0], length), []).append(i)
        self._typo_buckets = {where: self._typo_bucket(forms, where[1]) for where, forms in buckets.items()}
        # Typos are looked up only for words that are neither indexed nor known English words
        # (``wordset.known_word_set``), but for transliterations of names, which vary in a final
        # i/y (Sergei, Sergey).
        self._transliterations: dict[str, dict[int, int]] = {}
        for form, key, _ in self._fuzzy_forms:
            if len(form) >= _MIN_TRANSLITERATED_LENGTH and form[-1] in "iy":
                variant = form[:-1] + ("y" if form[-1] == "i" else "i")
                if variant not in exact:
                    self._transliterations.setdefault(variant, {})[key] = 1
        # Known words that are neither indexed nor transliterations need no look-up: the word set
        # of them (and of words found not to be typos) leaves only the few words of a field that do.
        # Without typos, only indexed words need one: the word set is of them, asked ``inside``.
        if self._fuzzy_forms:
            self._plain_words = tuple(frozenset(known_words()).difference(exact, self._transliterations))
        else:
            self._plain_words = ()
        self._exact_word_set = self._new_word_set(() if self._fuzzy_forms else exact)

    def _typo_bucket(self, ids: list[int], length: int) -> _TypoBucket:
        """The bucket of these fuzzy forms for words of ``length`` letters; a large one also files
        them by piece, to compare fewer.

        A typo within k edits of a form has d = (its length - the form's) more insertions than
        deletions, so an unbroken piece has moved by -(k - d) // 2 to (k + d) // 2 letters.
        """
        forms = tuple(self._fuzzy_forms[i][0] for i in ids)
        max_edits = max(self._fuzzy_forms[i][2] for i in ids)
        if len(ids) < _MIN_FILTERED_BUCKET:
            return _TypoBucket(forms, tuple(ids), max_edits, None, ((), ()))
        by_piece: dict[tuple[int, str], tuple[list[str], list[int]]] = {}
        without_pieces: tuple[list[str], list[int]] = ([], [])
        for i in ids:
            form, _, edits = self._fuzzy_forms[i]
            longer = length - len(form)
            shifts = range(-((edits - longer) // 2), (edits + longer) // 2 + 1)
            places = [
                by_piece.setdefault((start + shift, piece), ([], []))
                for start, piece in _pieces(form, edits)
                for shift in shifts
            ] or [without_pieces]
            for forms_ids in places:
                forms_ids[0].append(form)
                forms_ids[1].append(i)
        return _TypoBucket(
            forms,
            tuple(ids),
            max_edits,
            {piece: (tuple(f), tuple(i)) for piece, (f, i) in by_piece.items()},
            (tuple(without_pieces[0]), tuple(without_pieces[1])),
        )

    # -- matching ----------------------------------------------------------------------------

    def match(self, item: Item, feed: FeedRef | None = None) -> list[Match]:
        """The rules ``item`` matches, best score first. ``feed=None`` ignores rules' ``feeds``."""
        scans: dict[str, _FieldScan] = {name: self._scan(getattr(item, name)) for name in self._fields}
        budget = _RegexBudget("-" if feed is None else feed.name)
        hit_entries: dict[int, int] = {}  # unit -> bits of the entries hit
        for scan in scans.values():
            for term in scan.found:
                for unit, bit in self._term_units[term]:
                    hit_entries[unit] = hit_entries.get(unit, 0) | bit
        required = self._required
        candidates: dict[int, list[int]] = {}  # rule -> its blocks that may match
        for unit in sorted(
            {*(u for u, hit in hit_entries.items() if hit & required[u] == required[u]), *self._always}
        ):
            candidates.setdefault(self._units[unit], []).append(unit)
        matches = []
        for index, units in candidates.items():
            rule = self._rules[index]
            if (
                feed is not None
                and rule.feeds is not None
                and not (feed.name in rule.feeds or feed.tags & rule.feeds)
            ):
                continue
            first_unit = self._first_unit[index]
            for unit in units:
                found = self._evaluate(rule, rule.blocks[unit - first_unit], scans, item.id, budget)
                if found is not None:
                    matches.append(found)
                    break  # the first block that fires
        matches.sort(key=lambda m: -m.score)
        return matches

    def _scan(self, raw: str) -> _FieldScan:
        if not raw:
            return _FieldScan("", {}, {})
        plain = plain_text(raw)
        # Indexed words and, if typos are allowed, words new to the matcher, typos, transliterations.
        if self._fuzzy_forms:
            positions = self._skipped_words.outside(plain)
        else:
            positions = self._exact_word_set.inside(plain)
        word_keys: dict[str, dict[int, int]] = {}
        found: dict[int, int] = {}
        phrases: set[int] = set()
        for word in positions:
            form = self._forms.get(word)
            if form is not None:
                word_keys[word] = form.keys
                found.update(form.terms)  # no edits: never worse than a typo's
                phrases.update(form.phrases)
                continue
            typo_of = self._typos.get(word)
            if typo_of is None:
                typo_of = self._typo_of(word)
            if typo_of:
                word_keys[word] = typo_of
                for key, edits in typo_of.items():
                    for term in self._key_words[key]:
                        if edits < found.get(term, edits + 1):
                            found[term] = edits
                    phrases.update(self._key_phrases[key])
        scan = _FieldScan(plain, word_keys, positions)
        scan.found = found
        if phrases:
            self._find_phrases(scan, phrases)
        return scan

    def _typo_of(self, word: str) -> dict[int, int]:
        """The indexed words that ``word`` is a typo of, with the edits; remembered either way."""
        found = dict(self._transliterations.get(word, {}))
        bucket = self._typo_buckets.get((word[0], len(word)))
        if bucket is not None and word.isalpha() and word not in known_word_set():  # nor indexed
            forms, ids = bucket.candidates(word)
            candidates = extract(word, forms, scorer=OSA.distance, score_cutoff=bucket.max_edits, limit=None)
            for _, distance, position in candidates:
                _, key, allowed = self._fuzzy_forms[ids[position]]
                if distance <= allowed and distance < found.get(key, allowed + 1):
                    found[key] = distance
        if len(self._typos) + len(self._skipped_words) >= len(self._plain_words) + _TYPO_MEMORY_LIMIT:
            self._typos.clear()
            self._skipped_words = self._new_word_set(self._plain_words)
        if found:
            self._typos[word] = found
        else:
            self._skipped_words.add(word)
        return found

    def _find_phrases(self, scan: _FieldScan, phrases: set[int]) -> None:
        """Add to ``scan.found`` the phrases whose words occur consecutively."""
        present = scan.by_key()
        for term in phrases:
            keys = self._terms[term].words
            if all(key in present for key in keys):
                best = min((edits for _, _, edits in self._phrase_at(scan, keys)), default=None)
                if best is not None:
                    scan.found[term] = best

    def _phrase_at(self, scan: _FieldScan, keys: tuple[int, ...]) -> Iterator[tuple[int, int, int]]:
        """Each (first word, last word, edits) where the words of ``keys`` occur consecutively."""
        at = [scan.key_positions(key) for key in keys]
        for start, first_edits in sorted(at[0].items()):
            edits = first_edits
            for offset in range(1, len(keys)):
                word_edits = at[offset].get(start + offset)
                if word_edits is None:
                    break
                edits += word_edits
            else:
                yield start, start + len(keys) - 1, edits

    def _search(
        self, pattern: regex.Pattern[str], text: str, start: int, where: tuple[str, str], budget: _RegexBudget
    ) -> regex.Match[str] | None:
        """``pattern.search(text, start)`` within ``REGEX_TIMEOUT`` and the item's budget; None if
        it found nothing or ran out of time. ``where`` is (rule id, field), for the log."""
        if not text:  # an empty field: nothing to time
            return pattern.search(text, start)
        now = self._clock()
        if budget.deadline is None:
            budget.deadline = now + REGEX_BUDGET
        left = budget.deadline - now
        if left > 0:
            try:
                return pattern.search(text, start, timeout=min(REGEX_TIMEOUT, left), concurrent=True)
            except TimeoutError:
                pass
        self._regex_timed_out(pattern, where, budget.feed, "search" if left > REGEX_TIMEOUT else "item")
        return None

    def _regex_timed_out(
        self, pattern: regex.Pattern[str], where: tuple[str, str], feed: str, limit: str
    ) -> None:
        """Count a search out of time (``limit``: the search's own or the item's); log it, but once
        in ``REGEX_LOG_EVERY`` per rule, so a hostile feed cannot flood the journal."""
        rule_id, field = where
        if self._on_regex_timeout is not None:
            self._on_regex_timeout(rule_id)
        now = self._clock()
        with self._timeouts_lock:
            last = self._timeout_logged.get(rule_id)
            if last is not None and now - last < REGEX_LOG_EVERY:
                self._timeouts_unlogged[rule_id] = self._timeouts_unlogged.get(rule_id, 0) + 1
                return
            self._timeout_logged[rule_id] = now
            unlogged = self._timeouts_unlogged.pop(rule_id, 0)
        log.warning(
            "regex_timeout rule=%s term=/%s/ feed=%s field=%s limit=%s suppressed=%d "
            "(the term did not match this item)",
            rule_id,
            pattern.pattern,
            feed,
            field,
            limit,
            unlogged,
        )

    def _regex_edits(
        self, scan: _FieldScan, term: int, where: tuple[str, str], budget: _RegexBudget
    ) -> int | None:
        if term not in scan.regex_found:
            pattern = self._terms[term].regex
            assert pattern is not None
            found = self._search(pattern, scan.normalised(), 0, where, budget)
            scan.regex_found[term] = _NO_EDITS if found else None
        return scan.regex_found[term]

    def _edits(
        self, rule: _CompiledRule, scans: dict[str, _FieldScan], term: int, budget: _RegexBudget
    ) -> int | None:
        """Fewest edits with which ``term`` occurs in the rule's fields, or None."""
        is_regex = self._terms[term].regex is not None
        best: int | None = None
        for name in rule.fields:
            if is_regex:
                edits = self._regex_edits(scans[name], term, (rule.rule.id, name), budget)
            else:
                edits = scans[name].found.get(term)
            if edits is not None and (best is None or edits < best):
                best = edits
        return best

    def _quality(self, term: int, edits: int) -> float:
        return 100.0 * (1 - edits / max(self._terms[term].letters, 1))

    def _evaluate(
        self,
        rule: _CompiledRule,
        block: _Block,
        scans: dict[str, _FieldScan],
        item_id: str,
        budget: _RegexBudget,
    ) -> Match | None:
        """The match of one block of a rule, or None: every entry found where and near what it
        says (its own exclusions applied), ``any`` if given, no exclusion, a term in the lead.

        What needs no positions is checked first, as most candidates fail there: an entry none of
        whose terms is in the rule's fields, an exclusion found anywhere.
        """
        present = (
            [*(entry.terms for entry in block.all), block.any] if block.any else [e.terms for e in block.all]
        )
        for alternatives in present:
            if all(self._edits(rule, scans, t.term, budget) is None for t in alternatives):
                return None
        for exclusion in block.none:
            if exclusion.where == "text" and any(
                not t.capitals and self._edits(rule, scans, t.term, budget) is not None
                for t in exclusion.terms
            ):
                return None
        found = self._entry_occurrences(rule, block, scans, budget)
        if found is None:
            return None
        entries, any_found = found
        for exclusion in block.none:
            excluding = (
                exclusion.terms
                if exclusion.where != "text"
                else tuple(t for t in exclusion.terms if t.capitals)
            )
            if excluding and self._find(rule, excluding, exclusion.where, scans, budget):
                return None
        chosen = [*entries, any_found] if block.any else entries
        if rule.topical and not any(self._in_lead(rule, o) for occurrences in chosen for o in occurrences):
            return None
        qualities = [max(self._quality(o.term.term, o.edits) for o in occurrences) for occurrences in chosen]
        named = [*block.all, None] if block.any else block.all
        entry_matches = tuple(
            EntryMatch(
                entry.name if entry is not None else "any",
                tuple(self._term_hit(o, scans) for o in occurrences),
            )
            for entry, occurrences in zip(named, chosen, strict=True)
        )
        hits = tuple(hit for entry in entry_matches for hit in entry.hits)
        terms = tuple(dict.fromkeys(o.term.text for occurrences in chosen for o in occurrences))
        return Match(
            item_id, rule.rule.id, round(sum(qualities) / len(qualities)), terms, hits, entry_matches
        )

    def _entry_occurrences(
        self, rule: _CompiledRule, block: _Block, scans: dict[str, _FieldScan], budget: _RegexBudget
    ) -> tuple[list[list[_Occurrence]], list[_Occurrence]] | None:
        """Each entry's occurrences that count, and those of ``any``; None when one has none."""
        base = []
        for entry in block.all:
            occurrences = self._own_occurrences(rule, entry, scans, budget)
            if not occurrences:
                return None
            base.append(occurrences)
        entries = self._all_counted(block, base, scans)
        if not all(entries):
            return None
        any_found = self._find(rule, block.any, "text", scans, budget) if block.any else []
        if block.any and not any_found:
            return None
        return entries, any_found

    def _own_occurrences(
        self, rule: _CompiledRule, entry: _Entry, scans: dict[str, _FieldScan], budget: _RegexBudget
    ) -> list[_Occurrence]:
        """An entry's occurrences where it looks, less those its exclusions stand near."""
        occurrences = self._find(rule, entry.terms, entry.where, scans, budget)
        for exclusion in entry.exclusions:
            if not occurrences:
                break
            excluded = self._find(rule, exclusion.terms, exclusion.where, scans, budget)
            occurrences = [
                o for o in occurrences if not any(self._near(o, x, exclusion.within, scans) for x in excluded)
            ]
        return occurrences

    def _all_counted(
        self, block: _Block, base: list[list[_Occurrence]], scans: dict[str, _FieldScan]
    ) -> list[list[_Occurrence]]:
        """Each entry's occurrences that satisfy it: near the occurrences of its ``near`` entry
        that count themselves (so a chain A near B near C holds all along), ``at_least`` terms
        of them ([] when they do not). Entries near each other in a circle settle in a few rounds."""
        counted = list(base)
        for _ in range(len(block.all)):
            changed = False
            for i, entry in enumerate(block.all):
                if entry.near is None:
                    continue
                anchors = counted[entry.near]
                kept = [o for o in counted[i] if any(self._near(o, p, entry.within, scans) for p in anchors)]
                if len(kept) != len(counted[i]):
                    counted[i], changed = kept, True
            if not changed:
                break
        return [
            occurrences if len({o.term.term for o in occurrences}) >= entry.at_least else []
            for entry, occurrences in zip(block.all, counted, strict=True)
        ]

    # -- helping to write rules --------------------------------------------------------------

    def near_miss(self, item: Item, rule_id: str) -> NearMiss | None:
        """How ``item`` misses rule ``rule_id`` by exactly one condition, or None (it matches, or
        misses by more, or an exclusion stops it): the first such block, the condition that
        failed (an entry's name, ``any``, or ``lead`` when only ``topical`` failed) and the words
        of the item where that entry would have had to match."""
        index = next((i for i, r in enumerate(self._rules) if r.rule.id == rule_id), None)
        if index is None:
            raise KeyError(rule_id)
        rule = self._rules[index]
        scans: dict[str, _FieldScan] = {name: self._scan(getattr(item, name)) for name in FIELDS}
        budget = _RegexBudget("-")
        if any(self._evaluate(rule, block, scans, item.id, budget) for block in rule.blocks):
            return None
        for number, block in enumerate(rule.blocks):
            if any(self._find(rule, x.terms, x.where, scans, budget) for x in block.none):
                continue
            base = [self._own_occurrences(rule, entry, scans, budget) for entry in block.all]
            counted = self._all_counted(block, base, scans)
            # An entry that is only missing its near entry is not a second failure: that one is.
            failed = [
                i
                for i, (entry, own) in enumerate(zip(block.all, base, strict=True))
                if not own or (not counted[i] and (entry.near is None or bool(base[entry.near])))
            ]
            any_missing = bool(block.any) and not self._find(rule, block.any, "text", scans, budget)
            if len(failed) + any_missing != 1:
                continue
            if any_missing:
                return NearMiss(item.id, rule.rule.id, number, "any", self._lead_words(rule, scans))
            entry = block.all[failed[0]]
            if entry.near is not None and base[entry.near]:
                words = self._words_near(base[entry.near], entry.within, scans)
            elif entry.where == "title":
                words = tuple(scans["title"].words())
            else:
                words = self._lead_words(rule, scans)
            return NearMiss(item.id, rule.rule.id, number, entry.name, words)
        return None

    def _lead_words(self, rule: _CompiledRule, scans: dict[str, _FieldScan]) -> tuple[str, ...]:
        found = list(scans["title"].words())
        for name in rule.fields:
            if name != "title":
                found += scans[name].words()[: rule.lead]
        return tuple(found)

    @staticmethod
    def _words_near(
        anchors: list[_Occurrence], within: int | None, scans: dict[str, _FieldScan]
    ) -> tuple[str, ...]:
        """The words within ``within`` words (None: in the sentence) of any anchor occurrence."""
        found: dict[tuple[str, int], str] = {}
        for anchor in anchors:
            scan = scans[anchor.field]
            words = scan.words()
            if within is None:
                sentence = scan.sentence(anchor.first)
                span = range(len(words))
                places = [i for i in span if abs(i - anchor.first) <= 60 and scan.sentence(i) == sentence]
            else:
                places = list(
                    range(max(0, anchor.first - within - 1), min(len(words), anchor.last + within + 2))
                )
            for i in places:
                if not anchor.first <= i <= anchor.last:
                    found[(anchor.field, i)] = words[i]
        return tuple(found.values())

    def _find(
        self,
        rule: _CompiledRule,
        terms: tuple[_RuleTerm, ...],
        where: Where,
        scans: dict[str, _FieldScan],
        budget: _RegexBudget,
    ) -> list[_Occurrence]:
        """Every occurrence of ``terms`` where the entry looks: the title, the lead or the text."""
        fields = ("title",) if where == "title" else rule.fields
        found = []
        for term in terms:
            compiled = self._terms[term.term]
            for name in fields:
                scan = scans.get(name)
                if scan is None:
                    continue
                if compiled.regex is not None:
                    if self._regex_edits(scan, term.term, (rule.rule.id, name), budget) is None:
                        continue
                elif term.term not in scan.found:
                    continue
                for first, last, edits in self._occurrences(scan, compiled, (rule.rule.id, name), budget):
                    occurrence = _Occurrence(name, first, last, edits, term)
                    if where == "lead" and not self._in_lead(rule, occurrence):
                        continue
                    if term.capitals and not scan.plain[slice(*scan.span(first, last))].isupper():
                        continue
                    found.append(occurrence)
        return found

    @staticmethod
    def _in_lead(rule: _CompiledRule, occurrence: _Occurrence) -> bool:
        return occurrence.field == "title" or occurrence.first < rule.lead

    @staticmethod
    def _near(a: _Occurrence, b: _Occurrence, within: int | None, scans: dict[str, _FieldScan]) -> bool:
        """Whether two occurrences stand in one field at most ``within`` words apart (None: in
        one sentence)."""
        if a.field != b.field:
            return False
        if within is None:
            scan = scans[a.field]
            return scan.sentence(a.first) == scan.sentence(b.first)
        gap = max(a.first, b.first) - min(a.last, b.last) - 1
        return gap <= within

    def _term_hit(self, occurrence: _Occurrence, scans: dict[str, _FieldScan]) -> TermHit:
        scan = scans[occurrence.field]
        start, end = scan.span(occurrence.first, occurrence.last)
        return TermHit(
            occurrence.term.text, occurrence.field, start, end, scan.plain[start:end], occurrence.edits
        )

    def _occurrences(
        self, scan: _FieldScan, term: _Term, where: tuple[str, str], budget: _RegexBudget
    ) -> Iterator[tuple[int, int, int]]:
        """(first word, last word, edits) of each occurrence of a term in a field. A regex is
        searched again after each match, each search timed (``finditer``'s timeout does not bound
        all of its matches together)."""
        if term.regex is None:
            yield from self._phrase_at(scan, term.words)
            return
        normalised = scan.normalised()
        starts = []
        offset = 0
        for word in scan.words():
            starts.append(offset)
            offset += len(word) + 1
        at = 0
        while at <= len(normalised):
            found = self._search(term.regex, normalised, at, where, budget)
            if found is None:
                return
            if found.end() > found.start():
                first = bisect_right(starts, found.start()) - 1
                last = bisect_right(starts, found.end() - 1) - 1
                yield first, last, _NO_EDITS
            at = max(found.end(), found.start() + 1)
