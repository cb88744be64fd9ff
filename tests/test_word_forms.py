"""Word forms both ways, exact terms and prefixes: README "How terms match", as must-match / must-not-match
tables (``fuzziness: off``, so that only word forms can make a term match)."""

from typing import Any

import pytest
from conftest import RunCli, WriteFile

from watcher.items import Item
from watcher.matcher import Matcher
from watcher.rules import Rule
from watcher.text import inflections, word_forms


def matches(term: Any, text: str, **keys: Any) -> bool:
    """Whether a rule whose only entry is ``term`` matches an item titled ``text``."""
    rule = Rule.model_validate({"id": "r", "match": {"all": [[term]]}, "fuzziness": "off", **keys})
    return bool(Matcher([rule]).match(Item(id="item", title=text)))


# -- word forms, whichever form the rule writes ------------------------------------------------

FORMS_MATCH = [
    pytest.param("called", "Modi calls Putin", id="called-calls"),
    pytest.param("called", "Modi calling Putin", id="called-calling"),
    pytest.param("called", "a call with Putin", id="called-call"),
    pytest.param("call", "Modi called Putin", id="call-called"),
    pytest.param("spoke", "Modi speaks to Putin", id="spoke-speaks"),
    pytest.param("spoke", "Putin has spoken", id="spoke-spoken"),
    pytest.param("spoke", "leaders speak", id="spoke-speak"),
    pytest.param("speak", "Modi spoke to Putin", id="speak-spoke"),
    pytest.param("dialled", "Modi dials Putin", id="dialled-dials"),
    pytest.param("dialled", "Modi dialed Putin", id="dialled-american-dialed"),
    pytest.param("dialled", "Modi will dial Putin", id="dialled-dial"),
    pytest.param("talks", "Modi talked to Putin", id="talks-talked"),
    pytest.param("talks", "Modi will talk", id="talks-talk"),
    pytest.param("met", "Modi to meet Putin", id="met-meet"),
    pytest.param("met", "Modi meets Putin", id="met-meets"),
    pytest.param("meet", "Modi met Putin", id="meet-met"),
    pytest.param("held", "India to hold talks", id="held-hold"),
    pytest.param("hold", "talks were held", id="hold-held"),
    pytest.param("flew", "Putin will fly to Delhi", id="flew-fly"),
    pytest.param("fly", "Putin flew to Delhi", id="fly-flew"),
    pytest.param("fly", "Putin has flown to Delhi", id="fly-flown"),
    pytest.param("travelled", "Putin traveled to Delhi", id="british-term-american-text"),
    pytest.param("traveled", "Putin travelled to Delhi", id="american-term-british-text"),
    pytest.param("travelled", "Putin travels to Delhi", id="travelled-travels"),
    pytest.param("meeting", "two meetings in Delhi", id="gerund-noun-plural"),
    pytest.param("Modi", "the Modis of this world", id="name-regular-plural"),
    pytest.param("Putin", "Putin's visit", id="name-possessive"),
]

FORMS_DO_NOT_MATCH = [
    pytest.param("meeting", "Modi met Putin", id="gerund-noun-keeps-own-forms"),
    pytest.param("meeting", "Modi meets Putin", id="gerund-noun-not-the-verb"),
    pytest.param("negotiation", "India to negotiate", id="noun-not-its-verb"),
    pytest.param("Putin", "Rasputin", id="name-not-in-rasputin"),
    pytest.param("Putin", "Putinism", id="name-not-putinism"),
    pytest.param("Modi", "commodity prices", id="name-not-in-commodity"),
    pytest.param("Modi", "Modified rules", id="name-not-modified"),
    pytest.param("called", "a caller asked", id="called-not-caller"),
    pytest.param("held", "Holden arrived", id="held-not-holden"),
]


@pytest.mark.parametrize(("term", "text"), FORMS_MATCH)
def test_word_forms_match_both_ways(term: str, text: str) -> None:
    assert matches(term, text)


@pytest.mark.parametrize(("term", "text"), FORMS_DO_NOT_MATCH)
def test_word_forms_do_not_reach_other_words(term: str, text: str) -> None:
    assert not matches(term, text)


def test_word_forms_in_a_phrase() -> None:
    assert matches("held talks", "India holds talks with Russia")
    assert matches("phone call", "Modi spoke on two phone calls")
    assert not matches("held talks", "India holds many talks")


def test_a_hit_shows_the_form_found_under_the_rule_term() -> None:
    rule = Rule.model_validate({"id": "r", "match": {"all": ["spoke"]}, "fuzziness": "off"})
    [found] = Matcher([rule]).match(Item(id="item", title="Modi speaks to Putin"))
    assert found.terms == ("spoke",)
    assert [(hit.term, hit.text, hit.edits) for hit in found.hits] == [("spoke", "speaks", 0)]


# -- word_forms() directly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        pytest.param("called", {"call", "calls", "calling", "called"}, id="called"),
        pytest.param("spoke", {"speak", "speaks", "speaking", "spoke", "spoken"}, id="spoke"),
        pytest.param("dialled", {"dial", "dials", "dialed", "dialled", "dialing", "dialling"}, id="dialled"),
        pytest.param("talks", {"talk", "talks", "talked", "talking"}, id="talks"),
        pytest.param("met", {"meet", "meets", "met"}, id="met"),
        pytest.param("held", {"hold", "holds", "held", "holding"}, id="held"),
        pytest.param("flew", {"fly", "flies", "flew", "flown", "flying"}, id="flew"),
        pytest.param("travelled", {"travel", "traveled", "travelled", "travelling"}, id="travelled"),
    ],
)
def test_word_forms_of_a_word(word: str, forms: set[str]) -> None:
    assert forms <= word_forms(word)


@pytest.mark.parametrize(
    ("word", "not_forms"),
    [
        pytest.param("meeting", {"met", "meet", "meets"}, id="meeting-is-a-noun"),
        pytest.param("negotiation", {"negotiate", "negotiated"}, id="noun-not-its-verb"),
        pytest.param("called", {"caller", "recall"}, id="no-derived-words"),
    ],
)
def test_word_forms_stay_within_the_word(word: str, not_forms: set[str]) -> None:
    assert not (not_forms & word_forms(word))


def test_meeting_keeps_its_plural() -> None:
    assert word_forms("meeting") == {"meeting", "meetings"}


@pytest.mark.parametrize("name", ["modi", "putin", "jaishankar"])
def test_a_name_gets_the_regular_inflections_only(name: str) -> None:
    assert word_forms(name) == inflections(name)
    assert name + "s" in word_forms(name)


@pytest.mark.parametrize("word", ["us", "g20", "a1"])
def test_short_words_and_words_with_digits_are_only_themselves(word: str) -> None:
    assert word_forms(word) == {word}


# -- exact terms ----------------------------------------------------------------------------------

EXACT = [
    pytest.param('"called"', "Modi called Putin", True, id="quoted-as-written"),
    pytest.param('"called"', "Modi calls Putin", False, id="quoted-no-other-form"),
    pytest.param('"called"', "Modi call Putin", False, id="quoted-no-base-form"),
    pytest.param('"called"', "Modi CALLED Putin", True, id="quoted-case-folded"),
    pytest.param({"term": "called", "exact": True}, "Modi called Putin", True, id="mapping-as-written"),
    pytest.param({"term": "called", "exact": True}, "Modi calls Putin", False, id="mapping-no-other-form"),
    pytest.param('"US"', "US officials arrive", True, id="capitals-in-capitals"),
    pytest.param('"US"', "let us talk", False, id="capitals-not-lower-case"),
    pytest.param('"US"', "Us and them", False, id="capitals-not-title-case"),
    pytest.param({"term": "US", "exact": True}, "US officials arrive", True, id="mapping-capitals"),
    pytest.param({"term": "US", "exact": True}, "let us talk", False, id="mapping-capitals-not-lower"),
    pytest.param('"New Delhi"', "NEW DELHI talks", True, id="quoted-phrase"),
]


@pytest.mark.parametrize(("term", "text", "expected"), EXACT)
def test_exact_terms(term: str | dict[str, Any], text: str, expected: bool) -> None:
    assert matches(term, text) is expected


def test_exact_terms_tolerate_no_typos() -> None:
    assert matches("Lavrov", "Lavorv arrives", fuzziness="auto")
    assert not matches('"Lavrov"', "Lavorv arrives", fuzziness="auto")


def test_an_unquoted_term_matches_every_form_where_a_quoted_one_does_not() -> None:
    assert matches("US", "let us talk")
    assert matches("called", "Modi calls Putin")


def test_an_exact_term_mapping_is_an_entry_of_all() -> None:
    rule = Rule.model_validate({"id": "r", "match": {"all": [{"term": "called", "exact": True}]}})
    matcher = Matcher([rule])
    assert matcher.match(Item(id="1", title="Modi called Putin"))
    assert not matcher.match(Item(id="2", title="Modi calls Putin"))


# -- prefixes -------------------------------------------------------------------------------------

PREFIX = [
    pytest.param("negotiat*", "negotiators meet", True, id="negotiators"),
    pytest.param("negotiat*", "a negotiation", True, id="negotiation"),
    pytest.param("negotiat*", "India to negotiate", True, id="negotiate"),
    pytest.param("negotiat*", "renegotiation", False, id="not-inside-a-word"),
    pytest.param("negotiat*", "negotiat", False, id="not-a-word-itself"),
    pytest.param("Putin*", "Putinism", False, id="names-not-expanded"),
]


@pytest.mark.parametrize(("term", "text", "expected"), PREFIX)
def test_prefixes(term: str, text: str, expected: bool) -> None:
    assert matches(term, text) is expected


def test_without_the_star_the_word_matches_its_own_forms_only() -> None:
    assert not matches("negotiat", "negotiators meet")


@pytest.mark.parametrize(
    ("term", "message"),
    [
        pytest.param("ne*", "'ne*': a prefix needs at least 3 letters before its * (negotiat*)", id="two"),
        pytest.param("n*", "'n*': a prefix needs at least 3 letters before its * (negotiat*)", id="one"),
        pytest.param(
            "new ne*", "'new ne*': a prefix needs at least 3 letters before its * (negotiat*)", id="phrase"
        ),
    ],
)
def test_a_short_prefix_is_a_rules_check_error(
    write_rule: WriteFile, run_cli: RunCli, term: str, message: str
) -> None:
    path = write_rule("prefix.yaml", f"match:\n  all:\n    - Putin\n    - '{term}'\n")
    result = run_cli("rules", "check", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{path}:4: match.all[1]: {message}"]


def test_a_three_letter_prefix_is_valid(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule("prefix.yaml", "match:\n  all: ['neg*']\n")
    result = run_cli("rules", "check", path)
    assert result.exit_code == 0, result.stderr
