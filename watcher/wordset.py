"""Sets of normalised words that tell which words of a text they lack or hold: the matcher's filter.

Every field of every item goes through this: of its ~250 words, the matcher needs only the few
that are neither known English words nor already judged (``watcher.matcher``). Splitting the text
into strings, making a set of them and subtracting costs most of a match in Python, so the word
set is native when the ``watcher._wordset`` extension was built (``pyproject.toml``: optional, it
needs a C compiler at install). It reads a plain text once, folding, hashing and looking up each
word in place, and makes strings only of the words it returns. ``PythonWordSet`` gives the same
answers without it, about half as fast (``benchmarks/bench_match.py`` prints both).
"""

from collections.abc import Callable, Iterable
from functools import cache
from typing import Protocol

from watcher import text

try:
    from watcher import _wordset
except ImportError:  # installed without a C compiler
    _wordset = None  # type: ignore[assignment]
else:
    _wordset.set_folder(text.fold_char)


Positions = dict[str, list[int]]
"""Words of a text, each with where it occurs: its indexes in ``text.words`` of the text."""


class WordSet(Protocol):
    """A growing set of normalised words, asked about the words of plain texts."""

    def add(self, word: str) -> None: ...

    def __contains__(self, word: object) -> bool: ...

    def __len__(self) -> int: ...

    def outside(self, plain: str) -> Positions:
        """The words of a plain text that are not in the set, and where they occur."""
        ...

    def inside(self, plain: str) -> Positions:
        """The words of a plain text that are in the set, and where they occur."""
        ...


class PythonWordSet:
    """A word set on a Python ``set``."""

    def __init__(self, initial: Iterable[str] = ()) -> None:
        self._words = set(initial)

    def add(self, word: str) -> None:
        self._words.add(word)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def __len__(self) -> int:
        return len(self._words)

    def outside(self, plain: str) -> Positions:
        field_words = text.words(plain)
        return _positions(field_words, set(field_words) - self._words)

    def inside(self, plain: str) -> Positions:
        field_words = text.words(plain)
        return _positions(field_words, self._words.intersection(field_words))


def _positions(field_words: list[str], selected: Iterable[str]) -> Positions:
    """Where each selected word occurs in ``field_words`` (``list.index`` scans in C)."""
    found: Positions = {}
    for word in selected:
        at = found[word] = []
        index = -1
        try:
            while True:
                index = field_words.index(word, index + 1)
                at.append(index)
        except ValueError:
            pass
    return found


class NativeWordSet:
    """A word set in C (``watcher/_wordset.c``), reading a text without splitting it."""

    def __init__(self, initial: Iterable[str] = ()) -> None:
        if _wordset is None:
            raise RuntimeError("watcher._wordset was not built (no C compiler at install)")
        self._words = _wordset.WordSet(initial)

    def add(self, word: str) -> None:
        self._words.add(word)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def __len__(self) -> int:
        return len(self._words)

    def outside(self, plain: str) -> Positions:
        found = self._words.outside(plain)
        return self._words.outside_words(text.words(plain)) if found is None else found

    def inside(self, plain: str) -> Positions:
        found = self._words.inside(plain)
        return self._words.inside_words(text.words(plain)) if found is None else found


WordSetFactory = Callable[[Iterable[str]], WordSet]

NATIVE: bool = _wordset is not None
"""Whether the native word set was built; ``word_set`` uses it if so."""

word_set: WordSetFactory = NativeWordSet if NATIVE else PythonWordSet


@cache
def known_word_set() -> WordSet:
    """English words and names (``text.known_words``), to look up."""
    return word_set(text.known_words())


def word_bounds(plain: str) -> list[int]:
    """Where the words of ``text.words(plain)`` stand in ``plain``, flat: word i is [2i]:[2i+1].

    For highlighting; natively when built (flat: one list, not a tuple per word).
    """
    if _wordset is not None:
        bounds = _wordset.word_bounds(plain)
        if bounds is not None:
            return bounds
    return [bound for span in text.word_offsets(plain) for bound in span]
