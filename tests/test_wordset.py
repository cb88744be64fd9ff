"""Word sets: the native one (watcher/_wordset.c) must answer exactly as the Python one and as
``text.words``, on real feed text and on generated text full of the characters that are hard."""

# Look-alike characters (curly quotes, modifier apostrophes, ligatures) are what these tests are about.
# ruff: noqa: RUF001

import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from watcher import wordset
from watcher.parse import parse_feed
from watcher.text import known_words, plain_text, word_offsets, words
from watcher.wordset import NativeWordSet, PythonWordSet, word_bounds

needs_native = pytest.mark.skipif(not wordset.NATIVE, reason="watcher._wordset was not built")

# Apostrophes and possessives, accents and ligatures that fold to ASCII, letters that do not
# (other scripts), combining marks, digits, underscores and punctuation.
_HARD = [*"aAsSzZ09 _-'`’‘ʼ′´éÉßﬁİ½Σπ\u0301\u00a0…—", "Путин", "Putin", "s", "'s", "’S", "Ω"]
_TEXTS = st.one_of(st.lists(st.sampled_from(_HARD), max_size=40).map("".join), st.text(max_size=60))


def _positions(text: str, selected: set[str]) -> dict[str, list[int]]:
    """What ``outside``/``inside`` should say: where each selected word of ``text.words`` is."""
    found: dict[str, list[int]] = {}
    for index, word in enumerate(words(text)):
        if word in selected:
            found.setdefault(word, []).append(index)
    return found


@pytest.fixture(scope="module")
def corpus_texts(shared: Path) -> list[str]:
    """The plain title and summary of every entry of the real-feed corpus."""
    texts = []
    for path in sorted((shared / "corpora" / "real-feeds" / "feeds").iterdir()):
        for item in parse_feed(path.read_bytes()).items:
            texts += [plain_text(item.title), plain_text(item.summary)]
    return texts


def test_the_native_word_set_is_built_where_a_compiler_is() -> None:
    """The extension is optional at install; with a C compiler here, it must have been built."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the pure-Python word set is used")
    assert wordset.NATIVE
    assert wordset.word_set is NativeWordSet


@needs_native
@settings(max_examples=500, deadline=None)
@given(text=_TEXTS)
@example(text="Putin's visit")
@example(text="Putin’S ʼs aʼsb 'sé x's_ y`s")
@example(text="Café ﬁne Straße İstanbul")
@example(text="Путин в Индии")
@example(text="x" * 300 + " supercalifragilistic")
def test_native_and_python_word_sets_answer_alike(text: str) -> None:
    known = ["putin", "s", "cafe", "supercalifragilistic", "x" * 300]
    native, python = NativeWordSet(known), PythonWordSet(known)
    field_words = set(words(text))
    assert native.outside(text) == python.outside(text) == _positions(text, field_words - set(known))
    assert native.inside(text) == python.inside(text) == _positions(text, field_words & set(known))


@needs_native
@pytest.mark.slow
def test_native_and_python_word_sets_answer_alike_on_real_feeds(corpus_texts: list[str]) -> None:
    known = known_words()
    native, python = NativeWordSet(known), PythonWordSet(known)
    differing = [text[:80] for text in corpus_texts if native.outside(text) != python.outside(text)]
    assert differing == []


@settings(max_examples=500, deadline=None)
@given(text=_TEXTS)
@example(text="Putin’s visit to New Delhi")
@example(text="½ Путин")
def test_word_bounds_are_where_the_words_stand(text: str) -> None:
    assert word_bounds(text) == [bound for span in word_offsets(text) for bound in span]


@pytest.mark.slow
def test_word_bounds_on_real_feeds(corpus_texts: list[str]) -> None:
    differing = [
        text[:80]
        for text in corpus_texts
        if word_bounds(text) != [bound for span in word_offsets(text) for bound in span]
    ]
    assert differing == []


@pytest.mark.parametrize("make", [PythonWordSet, pytest.param(NativeWordSet, marks=needs_native)])
def test_a_word_set_holds_what_was_added(make: wordset.WordSetFactory) -> None:
    added = [f"word{n}" for n in range(20_000)] + ["a", "abcdefgh", "abcdefghi", "ünïcode", "x" * 200]
    words_set = make(added[:10])
    for word in added[10:]:
        words_set.add(word)
    words_set.add("a")  # twice: still one
    assert len(words_set) == len(added)
    assert all(word in words_set for word in added)
    absent = ["", "word20000", "abcdefg", "abcdefghij", "unicode", "x" * 199, "b", 42, "\ud800"]
    assert not any(word in words_set for word in absent)


@needs_native
def test_the_native_word_set_refuses_what_is_not_a_word() -> None:
    native = NativeWordSet()
    with pytest.raises(TypeError, match="str"):
        native.add(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        native.add("a\0b")
