"""Near-duplicate items from different outlets: one story, one alert entry ("also reported by").

Two outlets write the same event in different words, so the test is the overlap of salient
words, not of text: an item's ``Fingerprint`` is the set of words of its title and lede (news
puts the event first; a long article's later paragraphs are background that any story on the
topic shares), without stop words and very common news words, each weighed by how much it
says about the event: a number or a word that is no English word (most names: Modi, Lavrov)
weighs most, a word the text capitalises mid-sentence (Putin, Kremlin) more than others.

``similarity`` is the weighted Dice coefficient of two fingerprints (not containment, so a
short item never "fits inside" a long one by sharing only the topic's big names), with a prior
weight so that two very short items need more than a name or two in common. The caller
compares only items that hit the same rule within ``STORY_WINDOW`` and come from different
feeds, so the bar is "same event", not "same text". Calibrated on ../shared/corpora/real-feeds
(see tests/test_stories.py).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from watcher.items import Item
from watcher.text import plain_text, word_spans
from watcher.wordset import known_word_set

STORY_WINDOW = timedelta(hours=48)  # the caller compares only items this close in time
SAME_STORY = 0.4  # the similarity from which two items are one story
LEAD_WORDS = 70  # the words of the text (after the title) that make a fingerprint
_LEAD_CHARS = LEAD_WORDS * 40  # the text read to find them: never the whole of a long article
RARE_WEIGHT = 3.0  # a word that is no English word: mostly names (Modi, Lavrov, Jerí)
NAME_WEIGHT = 2.0  # a word the text capitalises mid-sentence (Putin, Kremlin), a number (73rd, 34)
COMMON_WEIGHT = 1.0  # any other word, and a year
PRIOR_WEIGHT = 8.0  # added to the weight of both items: two short items sharing a few names are not enough
_YEAR = re.compile(r"(?:19|20)\d\d")
# What precedes a capital letter that starts a sentence (or a quote), not a name: "" is the start.
_SENTENCE_ENDS = frozenset(".!?:;\"'()[]")
# Function words and words common in any news text: they say nothing about which event it is.
_STOP_WORDS = """
    a about above after again against ago all almost also although always am among an and another any are
    around as at away back be became because become been before being below between both but by can cannot
    could did do does doing done down during each either else enough even ever every few for from further get
    gets getting got had has have having he her here hers herself him himself his how however i if in into is
    it its itself just last least less like made make makes many may me might more most much must my myself
    near need never new next no nor not now of off often on once one only or other others our ours ourselves
    out over own per perhaps put quite rather said same say says see seen she should since so some still such
    than that the their theirs them themselves then there these they this those though through thus to too
    toward towards two under until up upon us very via was we well were what when where whether which while
    who whom whose why will with within without would yet you your yours yourself
    three four five six seven eight nine ten first second third
    year years month months week weeks day days today yesterday tomorrow time times people way ways part
    take took taken told tell according including include includes included use used using want wants go goes
    going went come comes came know known think thing things lot lots good great big small long high low old
    latest news report reports reported read show shows set sets help give given gave look looking keep kept
    let lets work works working world
    president presidents minister ministers prime pm government governments official officials leader leaders
    country countries state states nation nations national international chief secretary
    mr mrs ms re ve ll http https www com
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Fingerprint:
    """The salient words of an item's title and lede, each with its weight."""

    weights: Mapping[str, float] = field(hash=False)
    total: float


def fingerprint(title: str, text: str) -> Fingerprint:
    """The fingerprint of an item: ``title`` and the first ``LEAD_WORDS`` words of ``text``.

    ``text`` is the item's body (its content, else its summary), plain text or HTML.
    """
    found: set[str] = set()
    names: set[str] = set()
    for part, is_title in ((title, True), (text[:_LEAD_CHARS], False)):
        plain = plain_text(part)
        spans = word_spans(plain)
        for word, start, _ in spans if is_title else spans[:LEAD_WORDS]:
            if word in STOP_WORDS or (len(word) < 2 and not word.isdigit()):
                continue
            found.add(word)
            # Headlines capitalise every word: only the text tells a name from a word.
            if not is_title and plain[start].isupper() and not _starts_sentence(plain, start):
                names.add(word)
    weights = {word: _weight(word, word in names) for word in found}
    return Fingerprint(MappingProxyType(weights), sum(weights.values()))


def item_fingerprint(item: Item) -> Fingerprint:
    """The fingerprint of a feed item: its title and the lede of its content, else of its summary."""
    return fingerprint(item.title, item.content or item.summary)


def _starts_sentence(plain: str, start: int) -> bool:
    before = plain[max(0, start - 8) : start].rstrip()[-1:]
    return not before or before in _SENTENCE_ENDS


def _weight(word: str, is_name: bool) -> float:
    if not word.isalpha():
        return COMMON_WEIGHT if _YEAR.fullmatch(word) else NAME_WEIGHT
    if word not in known_word_set():
        return RARE_WEIGHT
    return NAME_WEIGHT if is_name else COMMON_WEIGHT


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Weighted Dice coefficient: the weight of the shared words over all the weight (plus a prior)."""
    shared = a.weights.keys() & b.weights.keys()
    return sum(a.weights[word] + b.weights[word] for word in shared) / (a.total + b.total + PRIOR_WEIGHT)


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two items (from different feeds, within ``STORY_WINDOW``) report the same event."""
    return similarity(a, b) >= SAME_STORY


def find_story(fp: Fingerprint, candidates: Sequence[tuple[int, Fingerprint]]) -> int | None:
    """The id of the candidate most similar to ``fp`` if it is the same story (the first on a tie)."""
    best_id, best = None, SAME_STORY
    for story_id, candidate in candidates:
        score = similarity(fp, candidate)
        if score > best or (best_id is None and score >= best):
            best_id, best = story_id, score
    return best_id
