"""Text normalisation shared by rules and items.

Rules and feed items must be normalised by exactly the same code, or a term could never match
its own text. Normalising is two steps:

1. ``plain_text``: HTML tags removed, entities decoded, Unicode NFC. This is the text a person
   reads; match positions are offsets into it, so alerts can highlight them.
2. ``words`` / ``word_spans``: NFKC, case-folded, accents removed, curly quotes unified,
   punctuation and hyphens split words ("India-Russia" -> india, russia) and a possessive 's
   dropped ("Putin's" -> putin).
"""

import codecs
import html
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from importlib.resources import files
from typing import Final, NamedTuple

_HIDDEN_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.DOTALL | re.IGNORECASE)
_HAS_HIDDEN_MARKUP = re.compile(r"<(?:script|style)\b|<!--", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")  # only what looks like a tag: "a < b" stays text
_BLOCK_TAG = re.compile(r"<(?:p|br|div|li|h[1-6]|tr|blockquote)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_LINE_BREAK = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")
# Common non-ASCII punctuation of news text, and what it becomes: blanking it changes no word,
# and the text is then often ASCII, which is tokenised several times faster.
_APOSTROPHES = "\u2019\u2018\u02bc\u2032\u00b4"
_PUNCTUATION = (
    *((quote, "'") for quote in _APOSTROPHES),
    *((mark, " ") for mark in "\u201c\u201d\u2014\u2013\u2026\u00a0\u00ab\u00bb\u2022\u00b7\u200b\u202f"),
)
# A word is a run of letters and digits. "'s" not followed by a letter is a possessive and dropped
# (blanked, so offsets stay valid): "Putin's" -> putin, but "O'Sullivan" -> o, sullivan.
_WORD = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"'[sS](?![^\W_])")  # a literal first: searched fast
_ASCII_WORD = re.compile(rb"[^ ]+")
_ASCII_WORD_BYTES = bytes(byte if chr(byte).isalnum() and byte < 128 else 32 for byte in range(256)).lower()


class WordSpan(NamedTuple):
    """A normalised word and where it stands in the plain text."""

    word: str
    start: int
    end: int


def plain_text(markup: str) -> str:
    """Return the readable text of an HTML fragment (or of plain text, unchanged but NFC)."""
    if "<" in markup:
        if _HAS_HIDDEN_MARKUP.search(markup):  # scripts, styles, comments: not text
            markup = _HIDDEN_MARKUP.sub(" ", markup)
        markup = _TAG.sub(" ", markup)
    if "&" in markup:
        markup = html.unescape(markup)
    return markup if markup.isascii() else unicodedata.normalize("NFC", markup)


def readable_text(markup: str) -> str:
    """Feed HTML as text to store and show: ``plain_text`` with paragraphs kept, spaces tidied."""
    if "<" in markup:
        markup = _BLOCK_TAG.sub("\n", markup)
    text = _LINE_BREAK.sub("\n", _SPACES.sub(" ", plain_text(markup)))
    return _BLANK_LINES.sub("\n\n", text).strip()


def fold(text: str) -> str:
    """Case-fold and strip accents: NFKC, casefold, drop combining marks."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))


_fold_word = lru_cache(maxsize=65536)(fold)


class _NotFoldableToAscii(Exception):
    """Raised inside the encoder when a character has no ASCII word equivalent."""


def _ascii_folder(one_for_one: bool) -> Callable[[UnicodeError], tuple[str, int]]:
    """A codec error handler: other punctuation becomes a space, accented letters their base.

    ``one_for_one`` also refuses letters that fold into several (German sharp s -> ss), so the
    ASCII text keeps the offsets of the original.
    """

    def fold_to_ascii(error: UnicodeError) -> tuple[str, int]:
        assert isinstance(error, UnicodeEncodeError)
        replacement = []
        for char in error.object[error.start : error.end]:
            folded = fold_char(char)
            if folded is None or (one_for_one and len(folded) != 1):
                raise _NotFoldableToAscii
            replacement.append(folded)
        return "".join(replacement), error.end

    return fold_to_ascii


codecs.register_error("summit-watch-fold", _ascii_folder(one_for_one=False))
codecs.register_error("summit-watch-fold-in-place", _ascii_folder(one_for_one=True))


def words(plain: str) -> list[str]:
    """The normalised words of a plain text, in order; the same words as ``word_spans``.

    Most news text is ASCII but for punctuation and accents: it is folded to ASCII
    (``ascii_fold``) and split with bytes operations.
    """
    folded = ascii_fold(plain)
    if folded is None:  # other scripts: fold word by word
        folded_words = list(map(_fold_word, _WORD.findall(_prepare(plain))))
        if all(map(str.isalnum, folded_words)):
            return folded_words
        return _WORD.findall(" ".join(folded_words))  # the words of each folded word, in one search
    return folded.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii").split()


def ascii_fold(plain: str) -> str | None:
    """The text folded to ASCII, or None for text of other scripts (Cyrillic, Chinese...).

    Its words, ``words(plain)``, are then its runs of ASCII letters and digits, lower-cased: what
    the native word set (``watcher.wordset``) reads. Folding is done by the encoder, in C,
    calling back only for non-ASCII runs.
    """
    prepared = _prepare(plain)
    if prepared.isascii():
        return prepared
    try:
        return prepared.encode("ascii", errors="summit-watch-fold").decode("ascii")
    except _NotFoldableToAscii:
        return None


def fold_char(char: str) -> str | None:
    """What ``ascii_fold`` makes of one non-ASCII character: "'" (an apostrophe), " " (not a
    letter or digit), its ASCII letters and digits, or None (a letter of another script).

    The encoder's error handler and the native word set both fold characters with it.
    """
    if char in _APOSTROPHES:
        return "'"
    if not char.isalnum():
        return " "
    folded = _fold_word(char)
    return folded if folded.isascii() and folded.isalnum() else None


def word_spans(plain: str) -> list[WordSpan]:
    """The normalised words of a plain text with their offsets (``words`` and ``word_offsets``)."""
    return [
        WordSpan(word, start, end)
        for word, (start, end) in zip(words(plain), word_offsets(plain), strict=True)
    ]


def word_offsets(plain: str) -> list[tuple[int, int]]:
    """Where each word of ``words(plain)`` stands in ``plain`` (cheaper than ``word_spans``)."""
    prepared = _prepare(plain)
    try:
        data = prepared.encode("ascii", errors="summit-watch-fold-in-place")
    except _NotFoldableToAscii:
        return _unicode_word_offsets(prepared)
    return list(map(re.Match.span, _ASCII_WORD.finditer(data.translate(_ASCII_WORD_BYTES))))


def _prepare(text: str) -> str:
    """Unify apostrophes, blank common punctuation and possessives; one character for one."""
    if not text.isascii():
        for mark, replacement in _PUNCTUATION:
            if mark in text:
                text = text.replace(mark, replacement)
    if "`" in text:
        text = text.replace("`", "'")
    if "'" in text:
        text = _POSSESSIVE.sub("  ", text)
    return text


def _unicode_word_offsets(prepared: str) -> list[tuple[int, int]]:
    tokens = list(_WORD.finditer(prepared))
    folded = list(map(_fold_word, map(re.Match.group, tokens)))
    if all(map(str.isalnum, folded)):
        return list(map(re.Match.span, tokens))
    # compatibility forms can fold into several words (the fraction one-half -> 1, 2)
    return [token.span() for word, token in zip(folded, tokens, strict=True) for _ in _WORD.findall(word)]


def normalise(text: str) -> str:
    """The normalised form of a text: its words separated by single spaces."""
    return " ".join(words(plain_text(text)))


# The end of a sentence: . ! or ? (closing quotes or brackets after it), then a space and an
# upper-case letter, a digit or an opening quote; or a line break. Abbreviations that take a
# capital after them (Mr. Modi, U.S. President) do not end one.
_SENTENCE_END = re.compile("[.!?]+[\"'\u201d\u2019)\\]]*\\s+(?=[A-Z0-9\"'\u201c\u2018(\\[])|\n+")
_NOT_SENTENCE_ENDS = frozenset((
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "st", "jr", "sr",
    "no", "nos", "vol", "inc", "ltd", "co", "corp", "vs", "etc", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.u",
))  # fmt: skip


def sentence_ends(plain: str) -> list[int]:
    """Where each sentence of a plain text ends (offsets, in order), for "in the same sentence"."""
    ends = []
    for found in _SENTENCE_END.finditer(plain):
        before = plain[: found.start()].rsplit(None, 1)
        last_word = before[-1].lower().rstrip(".") if before else ""
        if plain[found.start()] == "." and (last_word in _NOT_SENTENCE_ENDS or len(last_word) == 1):
            continue  # an abbreviation or an initial (S. Jaishankar)
        ends.append(found.end())
    return ends


_VOWELS = frozenset("aeiou")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
# Past forms of common irregular verbs, most of them frequent in diplomatic news ("talks were
# held", "Lavrov flew to Delhi"). Their regular "-ed" form is not generated ("see" -> "seed").
_IRREGULAR_PAST = {
    verb: tuple(forms.split())
    for verb, forms in {
        "arise": "arose arisen", "begin": "began begun", "break": "broke broken", "bring": "brought",
        "build": "built", "buy": "bought", "choose": "chose chosen", "come": "came", "deal": "dealt",
        "draw": "drew drawn", "drive": "drove driven", "fall": "fell fallen", "feel": "felt",
        "fight": "fought", "find": "found", "fly": "flew flown", "forbid": "forbade forbidden",
        "forget": "forgot forgotten", "freeze": "froze frozen", "get": "got gotten",
        "give": "gave given", "go": "went gone", "grow": "grew grown", "have": "had",
        "hear": "heard", "hide": "hid hidden", "hold": "held", "keep": "kept", "know": "knew known",
        "lead": "led", "leave": "left", "lend": "lent", "lose": "lost", "make": "made",
        "mean": "meant", "meet": "met", "pay": "paid", "ride": "rode ridden", "rise": "rose risen",
        "run": "ran", "say": "said", "see": "saw seen", "seek": "sought", "sell": "sold",
        "send": "sent", "shake": "shook shaken", "shoot": "shot", "show": "showed shown",
        "sing": "sang sung", "sit": "sat", "speak": "spoke spoken", "spend": "spent",
        "stand": "stood", "steal": "stole stolen", "strike": "struck", "swear": "swore sworn",
        "take": "took taken", "teach": "taught", "tell": "told", "think": "thought",
        "throw": "threw thrown", "understand": "understood", "undertake": "undertook undertaken",
        "wear": "wore worn", "win": "won", "withdraw": "withdrew withdrawn", "write": "wrote written",
    }.items()
}  # fmt: skip


def inflections(word: str) -> frozenset[str]:
    """A word and its English inflections: visit -> visits, visited, visiting; meet -> met.

    A missing form is a missed alert, while a form that never occurs costs nothing, so where
    spelling varies both forms are produced (travelled, traveled; visited, visitted).
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
    # -ing and -ed
    past: tuple[str, ...]
    if last == "e":
        if word.endswith("ie"):
            forms.add(word[:-2] + "ying")
        else:
            forms.add(word + "ing" if word.endswith(("ee", "ye", "oe")) else word[:-1] + "ing")
        past = (word + "d",)
    elif consonant_y:
        forms.add(word + "ing")
        past = (word[:-1] + "ied",)
    elif (
        last not in _VOWELS
        and last not in "wxy"
        and before in _VOWELS
        and (word[-3] not in _VOWELS or last == "l")
    ):
        # A final consonant after a single vowel doubles: always in one syllable (stop ->
        # stopped; "hoped" is another word), by stress or spelling in longer words (visited,
        # committed); a final l doubles in British spelling (travelled, dialled, fuelled).
        forms.add(word + last + "ing")
        past = (word + last + "ed",)
        if len(_VOWEL_GROUPS.findall(word)) > 1 or last == "l":
            forms.add(word + "ing")
            past += (word + "ed",)
    else:
        forms.add(word + "ing")
        past = (word + "ed",)
    forms.update(_IRREGULAR_PAST.get(word, past))
    return frozenset(forms)


# Parts of speech whose lemmas give a term its word forms: a term's word is read as either ("talks":
# the noun talk and the verb talk), as the rule does not say which it means.
_LEMMA_POS: Final = ("VERB", "NOUN")


@lru_cache(maxsize=65_536)  # a reload compiles the same words again
def word_forms(word: str) -> frozenset[str]:
    """Every form of a word, found both ways: the forms of each of its base forms (lemmas).

    ``called`` -> call, calls, calling, called; ``spoke`` -> speak, speaks, spoken; ``dialled``
    -> dial, dials, dialed, dialing. Lemmas and their inflections come from lemminflect
    (dictionary-based, with British and American spellings and irregular verbs); a word it does
    not know (a name: Modi) gets the rule-based ``inflections``. Computed when a ruleset is
    compiled, never per item.
    """
    if len(word) < 3 or not word.isalpha():
        return frozenset((word,))
    from lemminflect import getAllInflections, getAllLemmas  # ~0.15 s to import: only to compile

    readings = {pos: set(getAllLemmas(word, upos=pos).get(pos, ())) for pos in (*_LEMMA_POS, "ADJ")}
    lemmas = readings["VERB"] | readings["NOUN"]
    if not lemmas:
        return inflections(word)
    if word.endswith("ing") and word in readings["NOUN"] | readings["ADJ"]:
        # A word of its own (meeting, building, timing, willing), not only a form of a verb:
        # "meeting" must not find "met", nor "timing" every "time".
        lemmas = {word}
    forms = {word, *lemmas}
    for lemma in lemmas:
        for inflected in getAllInflections(lemma).values():
            forms.update(inflected)
    return frozenset(form for form in forms if form.isalpha())


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
def known_words() -> tuple[str, ...]:
    """English words and names (SCOWL, folded): a different real word is never a typo.

    A tuple, which the garbage collector stops tracking; ``wordset.known_word_set`` to look up.
    """
    data = files("watcher") / "data" / "english-words.txt"
    return tuple(data.read_text(encoding="utf-8").split())
