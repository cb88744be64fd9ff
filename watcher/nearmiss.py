"""Help writing a rule: the items that miss it by one condition, and the terms that would catch them.

``rules test --near-miss RULE`` runs this over the user's own items (stored, or a file). Each item
that fails the rule by exactly one entry (``Matcher.near_miss``) is grouped under that entry; the
words that most often stand where the entry would have had to match (near the entry it must be
near, in the title, or in the lead) are the suggested terms, each with how many of the group's
items it would add. Pure: items in, a report out.
"""

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from watcher.items import Item
from watcher.matcher import Matcher
from watcher.rules import Rule, is_regex, term_text
from watcher.text import normalise, plain_text, word_forms, words

SUGGESTIONS = 8  # suggested terms shown per group
EXAMPLES = 3  # items shown per group
# Words that stand near anything: never suggested. English function words and the reporting
# verbs and time words of news copy.
_COMMON_WORDS = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves said says say saying told according
news report reports reported reporting new also amid after its one two three first last year
years month months week weeks day days today monday tuesday wednesday thursday friday saturday
sunday mr mrs ms via per
"""
_COMMON = frozenset(_COMMON_WORDS.split())


@dataclass(frozen=True)
class Suggestion:
    """A word to add to an entry, and how many of its group's items it would then catch."""

    word: str
    items: int


@dataclass(frozen=True)
class MissGroup:
    """The items that miss the rule only by one entry of one block."""

    block: int
    entry: str
    items: tuple[Item, ...]
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True)
class NearMissReport:
    rule: str
    items: int  # items read
    groups: tuple[MissGroup, ...]  # the largest first


def near_misses(matcher: Matcher, rule: Rule, items: Iterable[Item]) -> NearMissReport:
    """Group the items that miss ``rule`` by one condition, with suggested terms for each group."""
    known = _rule_words(rule)
    groups: dict[tuple[int, str], list[tuple[Item, frozenset[str]]]] = {}
    read = 0
    seen_in = Counter[str]()  # items whose title or summary has the word: common words rank low
    for item in items:
        read += 1
        seen_in.update(set(words(plain_text(f"{item.title}\n{item.summary}"))))
        miss = matcher.near_miss(item, rule.id)
        if miss is None:
            continue
        found = frozenset(w for w in miss.words if _suggestible(w) and w not in known)
        groups.setdefault((miss.block, miss.entry), []).append((item, found))
    report = []
    for (block, entry), members in groups.items():
        counts = Counter(word for _, found in members for word in found)
        # A word telling of the group: frequent in it, rare in the items at large (tf-idf).
        ranked = sorted(
            (w for w, n in counts.items() if n > 1),
            key=lambda w: (-counts[w] * math.log((read + 1) / (seen_in[w] + 1)), w),
        )
        suggestions = tuple(Suggestion(w, counts[w]) for w in ranked[:SUGGESTIONS])
        report.append(MissGroup(block, entry, tuple(item for item, _ in members), suggestions))
    report.sort(key=lambda g: (-len(g.items), g.block, g.entry))
    return NearMissReport(rule.id, read, tuple(report))


def _suggestible(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word not in _COMMON


def _rule_words(rule: Rule) -> frozenset[str]:
    """Every form of every word the rule already has: suggesting one would add nothing."""
    found: set[str] = set()
    for block in rule.match:
        terms = [t for e in block.all for t in e.terms] + list(block.any)
        terms += [t for x in block.none for t in x.terms]
        for term in terms:
            text = term_text(term)
            if is_regex(text):
                continue
            for word in normalise(text.strip('"').replace("*", "")).split():
                found.update(word_forms(word))
    return frozenset(found)
