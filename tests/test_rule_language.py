"""The rule language (README "The rule language"): entries as mappings (near/within, in, at_least, label),
the lead and ``topical``, blocks, scoped exclusions, labels; its errors located by ``rules check``; its
JSON Schema."""

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import RunCli, WriteFile
from pydantic import ValidationError

from watcher.items import Item
from watcher.matcher import Match, Matcher
from watcher.rules import Rule, json_schema, load_rules
from watcher.text import sentence_ends


def make_rule(match: Any, **keys: Any) -> Rule:
    return Rule.model_validate({"id": "r", "match": match, **keys})


def match_item(
    match: Any, title: str = "", summary: str = "", content: str = "", **keys: Any
) -> Match | None:
    """The match of one rule against one item, or None."""
    found = Matcher([make_rule(match, **keys)]).match(
        Item(id="item", title=title, summary=summary, content=content)
    )
    assert len(found) <= 1
    return found[0] if found else None


def fires(match: Any, title: str = "", summary: str = "", content: str = "", **keys: Any) -> bool:
    return match_item(match, title, summary, content, **keys) is not None


def words(count: int) -> str:
    """``count`` filler words that no rule here matches."""
    return " ".join(["word"] * count)


def near(within: int | str | None = None) -> dict[str, Any]:
    """Putin must stand near Modi (``within`` words, the default 10 when None, or ``sentence``)."""
    entry: dict[str, Any] = {"terms": ["Putin"], "near": "modi"}
    if within is not None:
        entry["within"] = within
    return {"all": [{"terms": ["Modi"], "label": "modi"}, entry]}


# -- near / within: N words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("within", "title", "expected"),
    [
        pytest.param(3, "Modi greets Putin", True, id="one-word-between"),
        pytest.param(3, "Modi and then Putin", True, id="two-words-between"),
        pytest.param(3, "Modi a b c Putin", True, id="three-words-between"),
        pytest.param(3, "Modi a b c d Putin", False, id="four-words-between"),
        pytest.param(3, "Putin a b c Modi", True, id="either-order"),
        pytest.param(3, "Putin a b c d Modi", False, id="either-order-too-far"),
        pytest.param(1, "Modi, Putin", True, id="adjacent"),
        pytest.param(1, "Modi met with Putin", False, id="within-1"),
        pytest.param(None, f"Modi {words(10)} Putin", True, id="default-10"),
        pytest.param(None, f"Modi {words(11)} Putin", False, id="default-10-exceeded"),
        pytest.param(3, "Modi a b c d Putin, then Modi hugs Putin", True, id="one-close-pair-is-enough"),
    ],
)
def test_near_within_words(within: int | None, title: str, expected: bool) -> None:
    assert fires(near(within), title) is expected


def test_near_counts_the_words_between_phrases() -> None:
    match = {
        "all": [
            {"terms": ["Narendra Modi"], "label": "modi"},
            {"terms": ["Vladimir Putin"], "near": "modi", "within": 2},
        ]
    }
    assert fires(match, "Narendra Modi and the Vladimir Putin")
    assert not fires(match, "Narendra Modi and then the Vladimir Putin")


def test_near_only_in_one_field() -> None:
    assert fires(near(5), "Modi meets Putin")
    assert not fires(near(5), "Modi", summary="Putin")
    assert not fires(near(5), "Modi arrives", summary="Putin arrives", content="nothing")
    assert fires(near(5), "Modi arrives", summary="Modi and Putin")


def test_without_near_the_terms_may_be_anywhere() -> None:
    assert fires({"all": ["Modi", "Putin"]}, f"Modi {words(30)} Putin")
    assert not fires(near(), f"Modi {words(30)} Putin")


def test_near_an_entry_of_several_terms() -> None:
    match = {
        "all": [
            {"terms": ["Putin", "Kremlin"], "label": "russia"},
            {"terms": ["India", "Delhi"], "near": "russia", "within": 2},
        ]
    }
    assert fires(match, "Kremlin envoy in Delhi")
    assert not fires(match, "Kremlin envoy arrives late in Delhi")


# -- within: sentence -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param(f"Modi {words(30)} Putin.", True, id="far-apart-in-one-sentence"),
        pytest.param("Modi spoke. Putin listened.", False, id="two-sentences"),
        pytest.param("Modi spoke! Putin listened.", False, id="exclamation-mark"),
        pytest.param("Did Modi call? Putin says yes.", False, id="question-mark"),
        pytest.param('Modi spoke." Putin listened.', False, id="quote-after-the-full-stop"),
        pytest.param("Modi spoke\nPutin listened", False, id="line-break"),
        pytest.param("Putin met Mr. Modi today.", True, id="mr"),
        pytest.param("Mr. Modi met Putin.", True, id="mr-first"),
        pytest.param("Putin called the U.S. President and Modi.", True, id="u-s"),
        pytest.param("Putin met Dr. Singh and Modi.", True, id="dr"),
        pytest.param("Putin met N. Modi in Delhi.", True, id="initial"),
        pytest.param("Modi spoke at 3.5 per cent growth and Putin listened.", True, id="decimal"),
        pytest.param("Modi spoke. then Putin listened.", True, id="lower-case-after-full-stop"),
    ],
)
def test_within_sentence(title: str, expected: bool) -> None:
    assert fires(near("sentence"), title) is expected


def test_within_sentence_only_in_one_field() -> None:
    assert not fires(near("sentence"), "Modi", summary="Putin")


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        pytest.param("One. Two.", ["One. "], id="full-stop"),
        pytest.param("One! Two? Three.", ["One! ", "One! Two? "], id="marks"),
        pytest.param("Mr. Modi met the U.S. President. Then he left.", ["Mr. Modi met the U.S. President. "]),
        pytest.param("S. Jaishankar spoke.", [], id="initial"),
        pytest.param("line one\nline two", ["line one\n"], id="line-break"),
        pytest.param("version 2.0 is out", [], id="no-capital-after"),
    ],
)
def test_sentence_ends(text: str, ends: list[str]) -> None:
    assert sentence_ends(text) == [len(end) for end in ends]


# -- in: title, in: lead, lead ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "item", "expected"),
    [
        pytest.param("title", {"title": "Modi arrives"}, True, id="title-in-title"),
        pytest.param("title", {"title": "Arrival", "summary": "Modi arrives"}, False, id="title-not-summary"),
        pytest.param("title", {"title": "Arrival", "content": "Modi arrives"}, False, id="title-not-content"),
        pytest.param("lead", {"title": "Modi arrives"}, True, id="lead-title"),
        pytest.param("lead", {"title": "x", "summary": f"{words(59)} Modi"}, True, id="lead-60th-word"),
        pytest.param("lead", {"title": "x", "summary": f"{words(60)} Modi"}, False, id="lead-61st-word"),
        pytest.param("lead", {"title": "x", "content": f"{words(59)} Modi"}, True, id="lead-of-content"),
        pytest.param("lead", {"title": "x", "content": f"{words(60)} Modi"}, False, id="lead-content-61st"),
        pytest.param("text", {"title": "x", "content": f"{words(500)} Modi"}, True, id="text-anywhere"),
    ],
)
def test_in(where: str, item: dict[str, str], expected: bool) -> None:
    match = {"all": [{"terms": ["Modi"], "in": where}]}
    assert fires(match, **item, topical=False) is expected


def test_the_lead_key_sets_the_words_of_the_lead() -> None:
    match = {"all": [{"terms": ["Modi"], "in": "lead"}]}
    summary = f"{words(70)} Modi"
    assert not fires(match, "x", summary, topical=False)
    assert fires(match, "x", summary, topical=False, lead=71)
    assert not fires(match, "x", f"{words(5)} Modi", topical=False, lead=5)
    assert fires(match, "x", f"{words(4)} Modi", topical=False, lead=5)


def test_an_entry_in_the_title_with_others_anywhere() -> None:
    match = {"all": [{"terms": ["summit"], "in": "title"}, "Modi"]}
    assert fires(match, "Annual summit opens", f"{words(10)} Modi attends")
    assert not fires(match, "Modi attends", "the annual summit opens")


# -- topical ------------------------------------------------------------------------------------


def test_topical_by_default_a_term_must_be_in_the_lead() -> None:
    deep = f"{words(60)} Modi meets Putin"
    assert not fires({"all": ["Modi", "Putin"]}, "Markets today", deep)
    assert fires({"all": ["Modi", "Putin"]}, "Markets today", deep, topical=False)
    assert fires({"all": ["Modi", "Putin"]}, "Markets today", f"{words(59)} Modi meets Putin")


def test_topical_one_term_in_the_lead_is_enough() -> None:
    assert fires({"all": ["Modi", "Putin"]}, "Modi in the news", f"{words(200)} Putin")


def test_topical_follows_the_lead_key() -> None:
    assert fires({"all": ["Modi"]}, "x", f"{words(80)} Modi", lead=100)
    assert not fires({"all": ["Modi"]}, "x", f"{words(10)} Modi", lead=10)


# -- at_least -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param("Modi arrives", False, id="one-term"),
        pytest.param("Modi meets Putin", True, id="two-terms"),
        pytest.param("Modi, Putin and Xi", True, id="three-terms"),
        pytest.param("Modi greets Modi", False, id="one-term-twice"),
        pytest.param("Modi and Modis", False, id="two-forms-of-one-term"),
    ],
)
def test_at_least(title: str, expected: bool) -> None:
    match = {"all": [{"terms": ["Modi", "Putin", "Xi"], "at_least": 2}]}
    assert fires(match, title) is expected


def test_at_least_counts_only_terms_near_the_other_entry() -> None:
    match = {
        "all": [
            {"terms": ["summit"], "label": "summit"},
            {"terms": ["Modi", "Putin"], "near": "summit", "within": 3, "at_least": 2},
        ]
    }
    assert fires(match, "Modi and Putin at summit")
    assert not fires(match, f"Modi {words(20)} Putin at summit")


# -- blocks -------------------------------------------------------------------------------------

BLOCKS = [
    {"all": ["Putin", "India"], "none": ["film"]},
    {"all": ["annual summit", "Russia"]},
]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param("Putin in India", True, id="first-block"),
        pytest.param("Russia hosts the annual summit", True, id="second-block"),
        pytest.param("Putin in Russia", False, id="neither"),
        pytest.param("Putin in India: the film", False, id="first-block-none"),
        pytest.param("Russia annual summit film", True, id="none-only-of-its-block"),
        pytest.param("Putin India film at the Russia annual summit", True, id="other-block-fires"),
    ],
)
def test_blocks(title: str, expected: bool) -> None:
    assert fires(BLOCKS, title) is expected


def test_a_rule_fires_once_for_the_first_block_that_matches() -> None:
    found = Matcher([make_rule(BLOCKS)]).match(Item(id="item", title="Putin in India, Russia annual summit"))
    assert [(m.rule_id, m.terms) for m in found] == [("r", ("Putin", "India"))]


def test_each_block_has_its_own_labels() -> None:
    blocks = [
        {"all": [{"terms": ["Modi"], "label": "x"}, {"terms": ["Putin"], "near": "x", "within": 1}]},
        {"all": [{"terms": ["Xi"], "label": "x"}, {"terms": ["Lula"], "near": "x", "within": 1}]},
    ]
    assert fires(blocks, "Xi and Lula")
    assert not fires(blocks, "Modi and Lula")


# -- exclusions -----------------------------------------------------------------------------------

SCOPED = {
    "all": [{"terms": ["Modi", "Jaishankar"], "label": "india-leader"}, "Russia"],
    "none": [{"terms": ["Moscow", "Kremlin"], "near": "india-leader", "within": 5}],
}


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        pytest.param("Modi in Moscow for Russia talks", "", False, id="modi-in-moscow"),
        pytest.param("Jaishankar at the Kremlin, Russia", "", False, id="every-term-of-the-exclusion"),
        pytest.param("Russia talks: Modi in Moscow", "Modi at home in Delhi", True, id="modi-elsewhere"),
        pytest.param(f"Russia: Modi {words(6)} Moscow", "", True, id="exclusion-too-far"),
        pytest.param("Modi talks Russia", "Moscow responds", True, id="exclusion-in-another-field"),
        pytest.param("Modi talks Russia", "", True, id="no-exclusion"),
    ],
)
def test_a_scoped_exclusion_drops_only_the_occurrences_near_it(
    title: str, summary: str, expected: bool
) -> None:
    assert fires(SCOPED, title, summary) is expected


def test_a_scoped_exclusion_within_a_sentence() -> None:
    match = {
        "all": [{"terms": ["Modi"], "label": "india"}],
        "none": [{"terms": ["Moscow"], "near": "india", "within": "sentence"}],
    }
    assert not fires(match, f"Modi {words(20)} Moscow.")
    assert fires(match, "Modi arrives. Moscow waits.")


def test_an_exclusion_in_the_title_only() -> None:
    match = {"all": ["Modi"], "none": [{"terms": ["opinion"], "in": "title"}]}
    assert not fires(match, "Opinion: Modi")
    assert fires(match, "Modi arrives", "an opinion poll")


@pytest.mark.parametrize(
    "none",
    [
        pytest.param(["Moscow"], id="plain-term"),
        pytest.param([{"terms": ["Moscow"]}], id="mapping-without-near"),
    ],
)
def test_an_unscoped_exclusion_vetoes_anywhere(none: list[Any]) -> None:
    match = {"all": [{"terms": ["Modi"], "label": "india"}], "none": none}
    assert not fires(match, "Modi at home", content=f"{words(300)} a trip to Moscow, one day")
    assert fires(match, "Modi at home")


# -- labels ---------------------------------------------------------------------------------------


def test_an_entry_label_is_the_entry_name() -> None:
    found = match_item(
        {"all": [{"terms": ["Putin", "Kremlin"], "label": "russia"}, ["India", "Delhi"]], "any": ["visit"]},
        "Kremlin: Putin visits Delhi",
    )
    assert found is not None
    assert [(entry.name, [hit.text for hit in entry.hits]) for entry in found.entries] == [
        ("russia", ["Putin", "Kremlin"]),
        ("India", ["Delhi"]),  # no label: the first term
        ("any", ["visits"]),
    ]


def test_a_term_label_replaces_the_term() -> None:
    found = match_item(
        {
            "all": [
                [{"term": "/putin( s)? visit/", "label": "Putin's visit"}],
                [{"term": "Modi", "label": "PM"}],
            ]
        },
        "Putin's visit: Modi greets him",
    )
    assert found is not None
    assert found.terms == ("Putin's visit", "PM")
    assert [(hit.term, hit.text) for hit in found.hits] == [
        ("Putin's visit", "Putin's visit"),
        ("PM", "Modi"),
    ]
    assert [entry.name for entry in found.entries] == ["Putin's visit", "PM"]


# -- errors, by rules check -------------------------------------------------------------------------

ERRORS = [
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: india}
            - {terms: [Putin], near: indai}
        """,
        ["{path}:1: match: near: 'indai' is not the label of an entry of this block"],
        id="near-names-no-label",
    ),
    pytest.param(
        """\
        match:
          - all: [x]
          - all:
              - {terms: [Modi], label: india}
            none:
              - {terms: [Moscow], near: russia}
        """,
        ["{path}:3: match[1]: near: 'russia' is not the label of an entry of this block"],
        id="exclusion-near-names-no-label",
    ),
    pytest.param(
        """\
        match:
          - all:
              - {terms: [Modi], label: leader}
          - all:
              - {terms: [Putin], near: leader}
        """,
        ["{path}:4: match[1]: near: 'leader' is not the label of an entry of this block"],
        id="near-a-label-of-another-block",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: leader}
            - {terms: [Putin], label: leader}
        """,
        ["{path}:1: match: two entries of a block have the label 'leader'"],
        id="duplicate-label",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: leader, near: leader}
        """,
        ["{path}:1: match: entry 'leader' cannot be near itself"],
        id="near-itself",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: india}
            - {terms: [Putin], near: india, within: 0}
        """,
        ["{path}:4: match.all[1].within: must be a number of words from 1 to 200, or sentence"],
        id="within-0",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: india}
            - {terms: [Putin], near: india, within: 201}
        """,
        ["{path}:4: match.all[1].within: must be a number of words from 1 to 200, or sentence"],
        id="within-201",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: india}
            - {terms: [Putin], nearr: india}
        """,
        ["{path}:4: match.all[1].nearr: unknown key; did you mean 'near'?"],
        id="unknown-entry-key-hint",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], label: india}
          none:
            - {terms: [Moscow], naer: india}
        """,
        ["{path}:5: match.none[0].naer: unknown key; did you mean 'near'?"],
        id="unknown-exclusion-key-hint",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi, Putin], at_least: 0}
        """,
        ["{path}:3: match.all[0].at_least: input should be greater than or equal to 1"],
        id="at-least-0",
    ),
    pytest.param(
        """\
        match:
          all:
            - {terms: [Modi], in: body}
        """,
        ["{path}:3: match.all[0].in: input should be 'title', 'lead' or 'text'"],
        id="in-unknown-place",
    ),
    pytest.param(
        """\
        match:
          all:
            - {label: india}
        """,
        ["{path}:3: match.all[0].terms: required key is missing"],
        id="entry-without-terms",
    ),
    pytest.param(
        """\
        match:
          all: [Modi]
        lead: 0
        """,
        ["{path}:3: lead: input should be greater than or equal to 1"],
        id="lead-0",
    ),
    pytest.param(
        """\
        match:
          - all: [Modi]
          - none: [film]
        """,
        ["{path}:3: match[1]: needs at least one term under 'all' or 'any'"],
        id="block-without-terms",
    ),
]


@pytest.mark.parametrize(("content", "expected"), ERRORS)
def test_rule_language_errors(
    write_rule: WriteFile, run_cli: RunCli, content: str, expected: list[str]
) -> None:
    path = write_rule("rule.yaml", content)
    result = run_cli("rules", "check", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line.format(path=path) for line in expected]
    assert result.stdout == ""


def test_within_paragraph_is_an_error(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule(
        "rule.yaml",
        """\
        match:
          all:
            - {terms: [Modi], label: india}
            - {terms: [Putin], near: india, within: paragraph}
        """,
    )
    result = run_cli("rules", "check", path)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines
    assert all(line.startswith(f"{path}:4: match.all[1].within: ") for line in lines), lines
    assert any("sentence" in line for line in lines), lines


def test_a_misspelt_in_key_suggests_in(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule("rule.yaml", "match:\n  all:\n    - {terms: [Modi], inn: title}\n")
    result = run_cli("rules", "check", path)
    assert result.stderr.splitlines() == [f"{path}:3: match.all[0].inn: unknown key; did you mean 'in'?"]


README_EXAMPLE = """\
id: putin-visit-india
description: Putin's visit to India, or the India-Russia annual summit.
match:
  - all:
      - {terms: ["@russia-leaders", Kremlin], label: russia}
      - {terms: ["@india"], label: india, near: russia, within: sentence}
      - {terms: ["@visit"], label: visit, near: russia, within: 12}
    none:
      - {terms: [Moscow, Kremlin], near: india, within: 4}
  - all:
      - {terms: [annual summit, India-Russia summit, 23rd summit], in: lead}
      - ["@india"]
      - ["@russia"]
"""


def test_the_readme_example_is_valid(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule("putin-visit-india.yaml", README_EXAMPLE)
    result = run_cli("rules", "check", path)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("title", "entries"),
    [
        pytest.param(
            "Putin arrives in New Delhi for a state visit", ["russia", "india", "visit"], id="visit"
        ),
        pytest.param("India and Russia sign deals at the annual summit", ["annual summit"], id="summit"),
        pytest.param("Modi in Moscow: Putin hosts his visit", None, id="modi-in-moscow"),
        pytest.param("Putin visits China. India watches.", None, id="india-in-another-sentence"),
    ],
)
def test_the_readme_example_matches(
    write_rule: WriteFile, tmp_path: Path, title: str, entries: list[str] | None
) -> None:
    write_rule("putin-visit-india.yaml", README_EXAMPLE)
    found = Matcher(load_rules(tmp_path / "rules")).match(Item(id="item", title=title))
    if entries is None:
        assert found == []
    else:
        [match] = found
        assert [entry.name for entry in match.entries][: len(entries)] == entries


# -- JSON Schema ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(validator: jsonschema.protocols.Validator, data: object) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


VALID_FORMS = [
    pytest.param(
        {"all": [{"terms": ["@russia-leaders", "Kremlin"], "label": "russia"}]}, id="entry-mapping-with-list"
    ),
    pytest.param(
        {
            "all": [
                {"terms": ["Modi"], "label": "india"},
                {"terms": ["Putin"], "near": "india", "within": "sentence", "in": "lead", "at_least": 1},
                {"terms": ["visit", "trip"], "near": "india", "within": 12, "at_least": 2},
            ]
        },
        id="entry-keys",
    ),
    pytest.param({"all": [{"terms": [{"term": "@india", "label": "India"}]}]}, id="labelled-term-in-entry"),
    pytest.param({"all": [["Putin", {"term": "/putin visit/", "label": "visit"}]]}, id="labelled-in-list"),
    pytest.param({"any": [{"term": "US", "exact": True}, '"called"', "negotiat*"]}, id="exact-and-prefix"),
    pytest.param(
        {
            "all": [{"terms": ["Modi"], "label": "india"}],
            "none": [{"terms": ["Moscow", "Kremlin"], "near": "india", "within": 4, "in": "title"}, "film"],
        },
        id="scoped-exclusion",
    ),
    pytest.param({"all": ["Modi"], "none": [{"term": "Moscow", "label": "M"}]}, id="labelled-exclusion"),
    pytest.param([{"all": ["Putin", "India"], "none": ["film"]}, {"all": ["annual summit"]}], id="blocks"),
]


@pytest.mark.parametrize("match", VALID_FORMS)
def test_the_schema_accepts_the_rule_language(validator: jsonschema.protocols.Validator, match: Any) -> None:
    rule = {"id": "r", "match": match, "topical": False, "lead": 30}
    make_rule(match)  # summit-watch accepts it, so the schema must too
    assert schema_errors(validator, rule) == []


@pytest.mark.parametrize(
    "match",
    [
        pytest.param({"all": [{"terms": "@india", "label": "india"}]}, id="entry"),
        pytest.param({"all": ["Modi"], "none": [{"terms": "Moscow"}]}, id="exclusion"),
    ],
)
def test_the_schema_accepts_one_term_for_terms(validator: jsonschema.protocols.Validator, match: Any) -> None:
    make_rule(match)
    assert schema_errors(validator, {"id": "r", "match": match}) == []


@pytest.mark.parametrize(
    ("match", "message"),
    [
        pytest.param(
            {"all": [{"terms": ["Putin"], "nearr": "x"}]},
            "Additional properties are not allowed ('nearr' was unexpected)",
            id="entry-unknown-key",
        ),
        pytest.param(
            {"all": ["Modi"], "none": [{"terms": ["Moscow"], "naer": "x"}]},
            "Additional properties are not allowed ('naer' was unexpected)",
            id="exclusion-unknown-key",
        ),
        pytest.param(
            {"all": [{"terms": ["Putin"], "within": "paragraph"}]},
            "'sentence' was expected",
            id="within-paragraph",
        ),
        pytest.param(
            {"all": [{"terms": ["Putin"], "at_least": 0}]},
            "0 is less than the minimum of 1",
            id="at-least-0",
        ),
        pytest.param(
            {"all": [{"terms": ["Putin"], "in": "body"}]},
            "'body' is not one of ['title', 'lead', 'text']",
            id="in-unknown-place",
        ),
    ],
)
def test_the_schema_rejects_bad_entries(
    validator: jsonschema.protocols.Validator, match: Any, message: str
) -> None:
    rule = {"id": "r", "match": match}
    with pytest.raises(ValidationError):
        make_rule(match)
    messages = [e.message for error in validator.iter_errors(rule) for e in _all_errors(error)]
    assert message in messages


def _all_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """An error and every error of its context, at any depth (``anyOf`` branches)."""
    return [error, *(e for child in error.context for e in _all_errors(child))]


def test_the_schema_describes_the_entry_keys(validator: jsonschema.protocols.Validator) -> None:
    entry = validator.schema["$defs"]["Entry"]["properties"]
    assert {"terms", "label", "in", "near", "within", "at_least"} <= set(entry)
    assert validator.schema["$defs"]["Exclusion"]["additionalProperties"] is False
