"""Matching quality on real news: precision, recall and F1 per rule, against plain substring search.

    .venv/bin/python benchmarks/bench_quality.py [--labelled DIR] [--rules DIR]... [--misses]

The labelled set is ``../shared/labelled/topics`` beside the clone: 6,555 real feed entries
(``items.jsonl``, read as ``rules test`` reads it: null fields, RFC 822 dates), each with the ids
of the rules whose author would want it alerted, and the eight rules as their authors wrote them
(``rules/``). Each ``--rules`` directory is measured on the same items: by default the rules as
written and the rewritten ones in ``benchmarks/rules/`` (written as a user would, with the README
and ``rules test --near-miss``; each change is explained in the file).

The baseline, measured on the same rules, is a plain substring search: a rule matches when, for
every ``all`` entry, one of its terms occurs in the item's title or summary (HTML stripped) as a
case-insensitive substring, one ``any`` term does if there are any, and no ``none`` term does.
It is what a user gets from grep or a feed reader's filter. Regular-expression terms are searched
as regular expressions; lists are expanded and blocks tried in turn, but where and near what a
term stands (``in``, ``near``, scoped exclusions, ``topical``) a substring search cannot say: it
uses the same words anywhere.

Figures are micro-averaged over (rule, item) pairs: a pair is a true positive when the rule
matches an item labelled with it. ``--misses`` lists the false negatives and false positives of
each ruleset (titles only), to read what real wording the matcher misses.
"""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watcher.inputs import read_items
from watcher.items import Item
from watcher.matcher import Matcher
from watcher.rules import Rule, load_rules, term_text
from watcher.text import plain_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LABELLED = REPO.parent / "shared" / "labelled" / "topics"
REWRITTEN = REPO / "benchmarks" / "rules"


@dataclass
class Score:
    """True positives, false positives and false negatives of one rule or one ruleset."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Score") -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def cell(self) -> str:
        return f"{self.f1:.3f} (P {self.precision:.3f} R {self.recall:.3f})"


def score(
    rule_ids: Iterable[str],
    items: list[Item],
    labels: dict[str, frozenset[str]],
    matched: Callable[[Item], set[str]],
) -> tuple[dict[str, Score], list[tuple[str, str, Item]]]:
    """Per rule, how ``matched`` (item -> ids of the rules it matches) agrees with the labels;
    and the disagreements as (kind, rule, item), kind ``missed`` or ``wrong``."""
    scores = {rule: Score() for rule in rule_ids}
    errors = []
    for item in items:
        found = matched(item)
        wanted = labels.get(item.id, frozenset())
        for rule, s in scores.items():
            if rule in found and rule in wanted:
                s.tp += 1
            elif rule in found:
                s.fp += 1
                errors.append(("wrong", rule, item))
            elif rule in wanted:
                s.fn += 1
                errors.append(("missed", rule, item))
    return scores, errors


def read_labels(path: Path) -> dict[str, frozenset[str]]:
    """Item id -> the ids of the rules it is labelled with."""
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return {r["id"]: frozenset(r.get("labels") or ()) for r in records}


def substring_matcher(rules: list[Rule]) -> Callable[[Item], set[str]]:
    """Plain case-insensitive substring search of each rule's terms (lists expanded, quotes and
    a prefix's * dropped): every entry's terms somewhere in the title or summary (``at_least``
    of them), an ``any`` term, no exclusion. What a substring search cannot say (``in``,
    ``near``, an exclusion near an entry, ``topical``) is left out: grep with the same words."""
    compiled = []
    for rule in rules:
        blocks = []
        for block in rule.match:
            blocks.append(
                (
                    [([_searcher(term_text(t)) for t in entry.terms], entry.at_least) for entry in block.all],
                    [_searcher(term_text(t)) for t in block.any],
                    [_searcher(term_text(t)) for x in block.none if x.near is None for t in x.terms],
                )
            )
        compiled.append((rule.id, blocks))

    def match(item: Item) -> set[str]:
        text = plain_text(f"{item.title}\n{item.summary}").lower()
        return {
            rule
            for rule, blocks in compiled
            if any(
                all(sum(f(text) for f in entry) >= at_least for entry, at_least in all_)
                and (not any_ or any(f(text) for f in any_))
                and not any(f(text) for f in none)
                for all_, any_, none in blocks
            )
        }

    return match


def _searcher(term: str) -> Callable[[str], bool]:
    if len(term) > 2 and term.startswith("/") and term.endswith("/"):
        pattern = re.compile(term[1:-1], re.IGNORECASE)
        return lambda text: pattern.search(text) is not None
    needle = term.strip('"').replace("*", "").lower()
    return lambda text: needle in text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labelled", type=Path, default=DEFAULT_LABELLED)
    parser.add_argument("--rules", type=Path, action="append", help="rule directories (repeatable)")
    parser.add_argument("--misses", action="store_true", help="list false negatives and positives")
    args = parser.parse_args()
    if not (args.labelled / "items.jsonl").is_file():
        print(f"no labelled set at {args.labelled} (items.jsonl): give --labelled DIR", file=sys.stderr)
        return 2
    read = read_items([args.labelled / "items.jsonl"])
    items = list(read.items)
    labels = read_labels(args.labelled / "items.jsonl")
    directories = args.rules or [args.labelled / "rules", *([REWRITTEN] if REWRITTEN.is_dir() else [])]
    print(f"{len(items)} labelled items ({len(read.skipped)} lines skipped), {args.labelled}")
    for directory in directories:
        ruleset = load_rules(directory)
        rules = list(ruleset.enabled)
        start = time.process_time()
        matcher = Matcher(rules)
        compile_s = time.process_time() - start
        start = time.process_time()
        results = {item.id: {m.rule_id for m in matcher.match(item)} for item in items}
        per_second = len(items) / (time.process_time() - start)
        ours, errors = score([r.id for r in rules], items, labels, lambda item, found=results: found[item.id])
        theirs = score([r.id for r in rules], items, labels, substring_matcher(rules))[0]
        print(f"\n{directory} ({len(rules)} rules; {per_second:,.0f} items/s, compiled in {compile_s:.2f} s)")
        print(f"  {'rule':<26} {'summit-watch F1':<30} {'plain substring F1':<30}")
        total, naive_total = Score(), Score()
        for rule in rules:
            total.add(ours[rule.id])
            mine = ours[rule.id].cell()
            naive_total.add(theirs[rule.id])
            other = theirs[rule.id].cell()
            print(f"  {rule.id:<26} {mine:<30} {other:<30}")
        print(f"  {'all (micro)':<26} {total.cell():<30} {naive_total.cell():<30}")
        if args.misses:
            for kind, rule, item in sorted(errors, key=lambda e: (e[1], e[0])):
                print(f"    {kind:<6} {rule:<24} {item.id:<14} {plain_text(item.title)[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
