"""Stories: the two seed articles are one story; items about other events, even on the same topic, are not.

The threshold was calibrated on ../shared/corpora/real-feeds: of the 188,258 pairs of items from
different feeds published within 48 h of each other, 53 are one story. Read by eye, they are the
same event told by two outlets (a Peru impeachment, Jesse Jackson's death, the Taylor Swift plot
charges, Rubio in Hungary...) but for two doubtful ones: a profile of a new Bangladeshi minister
merged with the swearing-in, and the Strait of Hormuz closure with the same day's Geneva talks.
A change that moves the count is a change in behaviour: read the new merges before updating it.
"""

import bisect
from pathlib import Path

import pytest

from watcher.items import Item
from watcher.parse import parse_feed
from watcher.stories import (
    LEAD_WORDS,
    NAME_WEIGHT,
    RARE_WEIGHT,
    SAME_STORY,
    STORY_WINDOW,
    Fingerprint,
    find_story,
    fingerprint,
    item_fingerprint,
    same_story,
    similarity,
)

CORPUS_PAIRS = 188_258
CORPUS_MERGED = 53
ECONOMIST_PUTIN_VISIT = ("960551eca5b5db81", "371b913b-871d-4f89-afc4-9bf7874f77ca")


@pytest.fixture(scope="module")
def corpus(shared: Path) -> list[tuple[str, Item]]:
    """Every item of the real-feeds corpus with the name of its feed file."""
    directory = shared / "corpora" / "real-feeds" / "feeds"
    return [
        (path.name, item)
        for path in sorted(directory.iterdir())
        for item in parse_feed(path.read_bytes()).items
    ]


@pytest.fixture(params=["seeds", "real_seeds"])
def seed_prints(request: pytest.FixtureRequest) -> tuple[Fingerprint, Fingerprint]:
    """The seeds as they arrive from text files: no title, the article as content. Both the
    articles written for the tests and the real ones (where ../shared is)."""
    paths: list[Path] = request.getfixturevalue(request.param)
    first, second = (fingerprint("", path.read_text(encoding="utf-8")) for path in paths)
    return first, second


# -- fingerprints ----------------------------------------------------------------------------------


def test_salient_words_and_their_weights() -> None:
    fp = fingerprint(
        "", "On Tuesday Putin met Modi and 34 officials in 2025. Talks were held in the Kremlin."
    )
    assert dict(fp.weights) == {
        "tuesday": NAME_WEIGHT,  # capitalised mid-sentence
        "putin": NAME_WEIGHT,
        "modi": RARE_WEIGHT,  # no English word
        "met": 1.0,
        "34": NAME_WEIGHT,
        "2025": 1.0,  # a year says little
        "talks": 1.0,  # capitalised, but at the start of a sentence
        "held": 1.0,
        "kremlin": NAME_WEIGHT,
    }
    assert fp.total == sum(fp.weights.values())


def test_headline_capitals_do_not_make_names() -> None:
    assert dict(fingerprint("Putin Arrives In Delhi", "").weights) == {
        "putin": 1.0,
        "arrives": 1.0,
        "delhi": 1.0,
    }


def test_html_is_read_as_text_and_only_the_lede_counts() -> None:
    text = "<p>Lavrov <b>arrives</b></p>" + " filler" * LEAD_WORDS + " Zelensky"
    assert set(fingerprint("", text).weights) == {"lavrov", "arrives", "filler"}


def test_an_empty_item_is_like_nothing() -> None:
    empty = fingerprint("", "")
    assert empty.total == 0
    assert similarity(empty, empty) == 0
    assert not same_story(empty, fingerprint("Putin visits India", ""))


# -- the seeds -----------------------------------------------------------------------------------


def test_the_two_seed_articles_are_one_story(seed_prints: tuple[Fingerprint, Fingerprint]) -> None:
    first, second = seed_prints
    assert same_story(first, second)
    assert same_story(second, first)
    assert similarity(first, second) == similarity(second, first) >= SAME_STORY + 0.05  # not by a hair


@pytest.mark.slow
def test_the_seeds_are_no_story_of_the_corpus(
    seed_prints: tuple[Fingerprint, Fingerprint], corpus: list[tuple[str, Item]]
) -> None:
    merged = [
        (name, item.title)
        for name, item in corpus
        for seed in seed_prints
        if same_story(seed, item_fingerprint(item))
    ]
    assert merged == []


@pytest.mark.slow  # parses the whole corpus to find one item
def test_the_putin_visit_story_is_not_the_phone_call(
    seed_prints: tuple[Fingerprint, Fingerprint], corpus: list[tuple[str, Item]]
) -> None:
    """The hardest neighbour: same leaders, same topic (the December visit), another event."""
    visit = next(item for name, item in corpus if (name, item.id) == ECONOMIST_PUTIN_VISIT)
    for seed in seed_prints:
        assert similarity(seed, item_fingerprint(visit)) < SAME_STORY - 0.1


# -- finding the story of a new hit ----------------------------------------------------------------

CALL = fingerprint(
    "Modi calls Putin on his 73rd birthday",
    "Prime Minister Narendra Modi called Vladimir Putin on Tuesday to wish him on his 73rd birthday "
    "and invited him to the 23rd India-Russia annual summit in December.",
)
SAME_CALL = fingerprint(
    "PM Modi dials Putin, greets him on birthday",
    "Narendra Modi greeted Vladimir Putin on his 73rd birthday on Tuesday; the leaders discussed the "
    "23rd annual summit, which Putin will attend in New Delhi in December.",
)
OTHER_EVENT = fingerprint(
    "Lavrov to visit New Delhi",
    "Russian foreign minister Sergey Lavrov will travel to New Delhi next month to prepare the visit.",
)


def test_find_story_picks_the_same_event() -> None:
    assert same_story(CALL, SAME_CALL)
    assert not same_story(CALL, OTHER_EVENT)
    assert find_story(CALL, [(1, OTHER_EVENT), (2, SAME_CALL)]) == 2


def test_find_story_without_a_match() -> None:
    assert find_story(CALL, []) is None
    assert find_story(CALL, [(1, OTHER_EVENT)]) is None


def test_find_story_prefers_the_most_similar_then_the_first() -> None:
    assert find_story(CALL, [(1, SAME_CALL), (2, CALL), (3, CALL)]) == 2


# -- calibration over the real-feeds corpus ---------------------------------------------------------


@pytest.mark.slow
def test_merges_in_the_real_feeds_stay_few(corpus: list[tuple[str, Item]]) -> None:
    dated = sorted(
        (
            (item.published, name, item, item_fingerprint(item))
            for name, item in corpus
            if item.published is not None
        ),
        key=lambda entry: entry[0],
    )
    times = [published for published, *_ in dated]
    pairs = 0
    merged: list[tuple[str, str]] = []
    for index, (published, name, item, fp) in enumerate(dated):
        end = bisect.bisect_right(times, published + STORY_WINDOW)
        for _, other_name, other, other_fp in dated[index + 1 : end]:
            if other_name == name:
                continue
            pairs += 1
            if same_story(fp, other_fp):
                merged.append((item.title, other.title))
    assert pairs == CORPUS_PAIRS
    assert len(merged) == CORPUS_MERGED, "\n".join(f"{a!r} | {b!r}" for a, b in merged)
    assert (
        "Australia won't repatriate 34 women and children from Syria",
        "Australia won't repatriate 34 women and children linked to IS from Syria",
    ) in merged
