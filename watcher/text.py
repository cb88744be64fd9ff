"""Text normalisation shared by rules and items.

Rules and feed items must be normalised by exactly the same code, or a term could never match
its own text. Normalising is two steps:

1. ``plain_text``: HTML tags removed, entities decoded, Unicode NFC. This is the text a person
   reads; match positions are offsets into it, so alerts can highlight them.
2. ``words`` / ``word_spans``: NFKC, case-folded, accents removed, curly quotes unified,
   punctuation and hyphens split words ("India-Russia" -> india, russia) and a possessive 's
   dropped ("Putin's" -> putin).
"""

import html
import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib.resources import files
from typing import NamedTuple

_MARKUP = re.compile(
    r"<(script|style)\b.*?</\1\s*>"  # scripts and styles: their content is not text
    r"|<!--.*?-->"
    r"|<[A-Za-z/!?][^>]*>",  # only what looks like a tag: "a < b" stays text
    re.DOTALL | re.IGNORECASE,
)
_APOSTROPHES = re.compile("[\u2019\u2018\u02bc\u2032\u00b4`]")
_NON_ASCII_PUNCTUATION = re.compile(r"[^\w\x00-\x7f]")
# A word is a run of letters and digits; "'s" right after a word is its possessive and dropped.
_WORD = re.compile(r"([^\W_]+)(?:'[sS](?![^\W_]))?")


class WordSpan(NamedTuple):
    """A normalised word and where it stands in the plain text."""

    word: str
    start: int
    end: int


def plain_text(markup: str) -> str:
    """Return the readable text of an HTML fragment (or of plain text, unchanged but NFC)."""
    if "<" in markup:
        markup = _MARKUP.sub(" ", markup)
    if "&" in markup:
        markup = html.unescape(markup)
    return markup if markup.isascii() else unicodedata.normalize("NFC", markup)


def fold(text: str) -> str:
    """Case-fold and strip accents: NFKC, casefold, drop combining marks."""
    if text.isascii():
        return text.lower()
    return _fold_unicode(text)


@lru_cache(maxsize=65536)
def _fold_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))


def words(plain: str) -> list[str]:
    """The normalised words of a plain text, in order; the same words as ``word_spans``."""
    if plain.isascii():
        return _WORD.findall(plain.lower().replace("`", "'"))
    # News text is mostly ASCII but for its punctuation (curly quotes, dashes, no-break spaces):
    # blanking non-ASCII punctuation changes no word and often allows the ASCII path.
    plain = _NON_ASCII_PUNCTUATION.sub(" ", _APOSTROPHES.sub("'", plain))
    if plain.isascii():
        return _WORD.findall(plain.lower())
    found: list[str] = []
    for token in _WORD.findall(plain):
        folded = token.lower() if token.isascii() else _fold_unicode(token)
        if folded.isalnum():
            found.append(folded)
        else:
            found.extend(_WORD.findall(folded))
    return found


def word_spans(plain: str) -> list[WordSpan]:
    """The normalised words of a plain text with their offsets; same words as ``words``."""
    return list(_iter_word_spans(plain))


def _iter_word_spans(plain: str) -> Iterator[WordSpan]:
    # Apostrophes are replaced one character for one, so offsets stay valid.
    for found in _WORD.finditer(_APOSTROPHES.sub("'", plain)):
        start, end = found.span(1)
        folded = fold(found.group(1))
        if folded.isalnum():
            yield WordSpan(folded, start, end)
        else:  # compatibility forms can fold into several words (the fraction one-half -> 1, 2)
            for part in _WORD.findall(folded):
                yield WordSpan(part, start, end)


def normalise(text: str) -> str:
    """The normalised form of a text: its words separated by single spaces."""
    return " ".join(words(plain_text(text)))


_VOWELS = frozenset("aeiou")


def inflections(word: str) -> frozenset[str]:
    """A word and its regular English inflections: visit -> visits, visited, visiting.

    Over-generating is harmless here ("putin" -> "putined" never occurs in text), while a
    missing form is a missed alert, so doubled and undoubled consonants are both produced.
    """
    forms = {word}
    if len(word) < 3 or not word.isalpha():
        return frozenset(forms)
    last, before = word[-1], word[-2]
    consonant_y = last == "y" and before not in _VOWELS
    # -s
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(word + "es")
    elif consonant_y:
        forms.add(word[:-1] + "ies")
    else:
        forms.add(word + "s")
    # -ed and -ing
    if last == "e":
        forms.add(word + "d")
        if word.endswith("ie"):
            forms.add(word[:-2] + "ying")
        if word.endswith(("ee", "ye", "oe")):
            forms.add(word + "ing")
        else:
            forms.add(word[:-1] + "ing")
    elif consonant_y:
        forms.update((word[:-1] + "ied", word + "ing"))
    else:
        forms.update((word + "ed", word + "ing"))
        if last not in _VOWELS and last not in "wxy" and before in _VOWELS:
            forms.update((word + last + "ed", word + last + "ing"))
    return frozenset(forms)


def auto_edits(word: str) -> int:
    """Typo tolerance of ``fuzziness: auto``: none up to 4 letters, 1 up to 8, else 2."""
    if not word.isalpha() or len(word) <= 4:
        return 0
    return 1 if len(word) <= 8 else 2


def fixed_edits(word: str, edits: int) -> int:
    """Typo tolerance of ``fuzziness: 1`` or ``2``, capped so short words stay distinct."""
    if not word.isalpha() or len(word) <= 2:
        return 0
    return min(edits, 1 if len(word) <= 4 else edits)


@cache
def known_words() -> frozenset[str]:
    """English words and names (SCOWL, folded): a different real word is never a typo."""
    data = files("watcher") / "data" / "english-words.txt"
    return frozenset(data.read_text(encoding="utf-8").split())
