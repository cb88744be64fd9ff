"""Named term lists (README "The rule language"): ``@name`` from the user's ``rules/lists/*.yaml`` and the
bundled lists, lists including lists, a user's list replacing a bundled one, every list error located by
``rules check``, labels on lists, ``RuleSet.lists`` and the files the daemon's reload watches."""

from pathlib import Path

import pytest
from conftest import RunCli, WriteFile

from watcher.errors import RulesError
from watcher.items import Item
from watcher.matcher import Match, Matcher
from watcher.rules import RuleSet, load_rules, watched_files


def write_lists(write_rule: WriteFile, name: str, text: str) -> Path:
    """A list file in ``rules/lists``."""
    return write_rule(f"lists/{name}", text)


def titles_matched(rules: RuleSet, *titles: str) -> list[str]:
    """The titles of ``titles`` that some rule of ``rules`` matches."""
    matcher = Matcher(rules)
    return [title for title in titles if matcher.match(Item(id=title, title=title))]


def match_one(rules: RuleSet, title: str) -> Match:
    [found] = Matcher(rules).match(Item(id="item", title=title))
    return found


# -- @name in matching ----------------------------------------------------------------------------


def test_a_user_list_expands_in_matching(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(write_rule, "people.yaml", "quad-leaders: [Albanese, Takaichi, Narendra Modi]\n")
    write_rule("quad.yaml", "match:\n  all: ['@quad-leaders', summit]\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(
        rules,
        "Albanese at the summit",
        "Takaichi to attend summit",
        "Narendra Modi summit",
        "Albanese at home",
        "Zelensky at the summit",
    ) == ["Albanese at the summit", "Takaichi to attend summit", "Narendra Modi summit"]


def test_list_terms_keep_word_forms_and_phrases(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(write_rule, "events.yaml", "courtesy: [courtesy call, pay respects]\n")
    write_rule("r.yaml", "match:\n  all: ['@courtesy']\nfuzziness: off\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(rules, "two courtesy calls", "paid respects", "courtesy visit", "a call") == [
        "two courtesy calls",
        "paid respects",
    ]


def test_lists_include_lists(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(
        write_rule,
        "regions.yaml",
        """\
        south-asia: ["@subcontinent", "@nepal", Dhaka]
        subcontinent: ["@core", Colombo]
        core: [Islamabad]
        """,
    )
    write_rule("r.yaml", "match:\n  all: ['@south-asia']\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(
        rules, "Islamabad talks", "Colombo port", "Kathmandu airport", "Dhaka floods", "Moscow snow"
    ) == ["Islamabad talks", "Colombo port", "Kathmandu airport", "Dhaka floods"]
    assert rules.lists is not None
    assert rules.lists.terms("subcontinent") == ("Islamabad", "Colombo")


@pytest.mark.parametrize(
    ("written", "title"),
    [
        pytest.param("@india", "Modi arrives", id="india-leader"),
        pytest.param("@india", "talks in New Delhi", id="india-capital"),
        pytest.param("@india", "Jaishankar speaks", id="india-minister"),
        pytest.param("@india", "at Rashtrapati Bhavan", id="india-seat-of-government"),
        pytest.param("@russia", "the Kremlin said", id="russia-kremlin"),
        pytest.param("@russia", "Lavrov arrives", id="russia-minister"),
        pytest.param("@phone-call", "a telephone conversation", id="phone-call-telephone-conversation"),
        pytest.param("@phone-call", "Modi dialled Putin", id="phone-call-dialled"),
        pytest.param("@visit", "Putin arrived", id="visit-arrived"),
    ],
)
def test_a_bundled_list_works(write_rule: WriteFile, tmp_path: Path, written: str, title: str) -> None:
    write_rule("r.yaml", f"match:\n  all: ['{written}']\n")
    assert titles_matched(load_rules(tmp_path / "rules"), title) == [title]


def test_a_bundled_list_does_not_match_unrelated_text(write_rule: WriteFile, tmp_path: Path) -> None:
    write_rule("r.yaml", "match:\n  all: ['@india', '@phone-call']\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(rules, "Modi phone call", "Modi arrives", "a phone call in Paris") == [
        "Modi phone call"
    ]


def test_a_user_list_includes_a_bundled_one(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(write_rule, "mine.yaml", "my-visit: ['@visit', courtesy call]\n")
    write_rule("r.yaml", "match:\n  all: ['@my-visit']\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(rules, "a courtesy call", "state visit", "budget debate") == [
        "a courtesy call",
        "state visit",
    ]


def test_a_user_list_replaces_a_bundled_one(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(write_rule, "override.yaml", "india: [Bharat]\n")
    write_rule("r.yaml", "match:\n  all: ['@india', '@phone-call']\n")
    rules = load_rules(tmp_path / "rules")
    assert titles_matched(rules, "Bharat phone call", "Modi phone call", "New Delhi phone call") == [
        "Bharat phone call"
    ]
    assert rules.lists is not None
    assert rules.lists.terms("india") == ("Bharat",)
    assert "russia" in rules.lists  # the other bundled lists are still there


# -- labels ---------------------------------------------------------------------------------------


def test_a_label_on_a_list_is_shown_for_its_terms(write_rule: WriteFile, tmp_path: Path) -> None:
    write_rule(
        "r.yaml",
        """\
        match:
          all:
            - Putin
            - [{term: "@india", label: India}]
        """,
    )
    found = match_one(load_rules(tmp_path / "rules"), "Putin meets Modi in New Delhi")
    assert found.terms == ("Putin", "India")
    assert {(hit.term, hit.text) for hit in found.hits} == {
        ("Putin", "Putin"),
        ("India", "Modi"),
        ("India", "New Delhi"),
        ("India", "Delhi"),
    }


def test_an_entry_label_names_an_entry_of_lists(write_rule: WriteFile, tmp_path: Path) -> None:
    write_rule("r.yaml", "match:\n  all:\n    - {terms: ['@india'], label: india}\n    - ['@russia']\n")
    found = match_one(load_rules(tmp_path / "rules"), "Lavrov in Delhi")
    assert found.entries[0].name == "india"
    assert [hit.text for hit in found.entries[0].hits] == ["Delhi"]


def test_an_unlabelled_entry_of_a_list_is_named_after_the_list(write_rule: WriteFile, tmp_path: Path) -> None:
    write_lists(write_rule, "people.yaml", "quad-leaders: [Albanese, Takaichi]\n")
    write_rule("r.yaml", "match:\n  all: ['@quad-leaders']\n")
    found = match_one(load_rules(tmp_path / "rules"), "Takaichi arrives")
    assert [entry.name for entry in found.entries] == ["@quad-leaders"]


# -- RuleSet.lists, expand_lists ------------------------------------------------------------------


def test_the_ruleset_exposes_the_expanded_lists(write_rule: WriteFile, tmp_path: Path) -> None:
    lists = write_lists(write_rule, "mine.yaml", "bric: ['@brazil-leaders', '@india-leaders', Lula]\n")
    write_rule("r.yaml", "match:\n  all: ['@bric']\n")
    rules = load_rules(tmp_path / "rules")
    assert rules.lists is not None
    terms = rules.lists.terms("bric")
    assert {"Lula", "Modi", "Narendra Modi", "Jaishankar"} <= set(terms)
    assert len(terms) == len(set(terms))  # Lula (in @brazil-leaders too) once
    assert not any(term.startswith("@") for term in terms)
    assert (rules.lists.lists["bric"].path, rules.lists.lists["bric"].bundled) == (lists, False)
    assert rules.lists.lists["india"].bundled
    # the rules themselves hold the plain terms
    [rule] = rules
    assert rule.match[0].all[0].terms == terms


# -- errors, by rules check -----------------------------------------------------------------------


def check(run_cli: RunCli, path: Path) -> list[str]:
    """``rules check``'s error lines (it must exit with status 2)."""
    result = run_cli("rules", "check", path)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_an_unknown_list_in_a_rule(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule(
        "r.yaml",
        """\
        match:
          all:
            - Putin
            - ["@indai", Delhi]
          any: ["@no-such-list"]
          none: [{terms: ["@russai"]}]
        """,
    )
    assert check(run_cli, path.parent) == [
        f"{path}:4: match.all[1][0]: unknown list @indai; did you mean @india?",
        f"{path}:5: match.any[0]: unknown list @no-such-list",
        f"{path}:6: match.none[0].terms[0]: unknown list @russai; did you mean @russia?",
    ]


def test_an_unknown_list_is_an_error_of_load_rules(write_rule: WriteFile, tmp_path: Path) -> None:
    path = write_rule("r.yaml", "match:\n  all: ['@indai']\n")
    with pytest.raises(RulesError) as raised:
        load_rules(tmp_path / "rules")
    assert [(p.path, p.line, p.field) for p in raised.value.problems] == [(path, 2, "match.all[0]")]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"a.yaml": "south-asia: [Dhaka, '@indai']\n"},
            ["{lists}/a.yaml:1: south-asia: unknown list @indai; did you mean @india?"],
            id="unknown-list-in-a-list",
        ),
        pytest.param(
            {"a.yaml": "one: [x]\ntwo: [y, '@three']\nthree: ['@two']\n"},
            ["{lists}/a.yaml:2: two: lists include each other: @two -> @three -> @two"],
            id="cycle",
        ),
        pytest.param(
            {"a.yaml": "one: [x]\nself: ['@self', y]\n"},
            ["{lists}/a.yaml:2: self: lists include each other: @self -> @self"],
            id="list-includes-itself",
        ),
        pytest.param(
            {"a.yaml": "one: [x]\nleaders: [Modi]\n", "b.yaml": "# again\nleaders: [Putin]\n"},
            ["{lists}/b.yaml:2: leaders: list defined twice (first in {lists}/a.yaml:2)"],
            id="defined-twice-across-files",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\nSouth_Asia: [Dhaka]\n"},
            [
                "{lists}/a.yaml:2: South_Asia: a list name is lower-case letters, digits and hyphens "
                "(india, phone-call)"
            ],
            id="bad-list-name",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\nregions: {south: Dhaka}\n"},
            ["{lists}/a.yaml:2: regions: expected a term or a non-empty list of terms"],
            id="mapping-not-a-list",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\nempty: []\n"},
            ["{lists}/a.yaml:2: empty: expected a term or a non-empty list of terms"],
            id="empty-list",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\ncodes:\n  - IN\n  - 91\n"},
            [
                '{lists}/a.yaml:4: codes: 91 is not a term: a word, a phrase, "exact", prefix*, '
                "/regex/ or @list"
            ],
            id="not-a-string",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\ncodes:\n  - [IN, RU]\n"},
            [
                "{lists}/a.yaml:3: codes: ['IN', 'RU'] is not a term: a word, a phrase, \"exact\", prefix*, "
                "/regex/ or @list"
            ],
            id="nested-list",
        ),
        pytest.param(
            {"a.yaml": "ok: [x]\nbad:\n  - good\n  - ne*\n"},
            ["{lists}/a.yaml:4: bad: 'ne*': a prefix needs at least 3 letters before its * (negotiat*)"],
            id="bad-term",
        ),
        pytest.param(
            {"a.yaml": "- India\n- Russia\n"},
            ["{lists}/a.yaml:1: expected a mapping of list names to terms"],
            id="not-a-mapping",
        ),
    ],
)
def test_list_file_errors(
    write_rule: WriteFile, run_cli: RunCli, tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    write_rule("r.yaml", "match:\n  all: [Putin]\n")
    for name, text in files.items():
        write_lists(write_rule, name, text)
    lists = tmp_path / "rules" / "lists"
    assert check(run_cli, tmp_path / "rules") == [line.format(lists=lists) for line in expected]


def test_a_list_may_be_defined_in_one_user_file_and_bundled(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule("r.yaml", "match:\n  all: ['@india']\n")
    write_lists(write_rule, "a.yaml", "india: [Bharat]\n")
    result = run_cli("rules", "check", path.parent)
    assert result.exit_code == 0, result.stderr


def test_list_errors_and_rule_errors_are_reported_together(write_rule: WriteFile, run_cli: RunCli) -> None:
    rule = write_rule("r.yaml", "match:\n  all: ['@mine', '@other']\npriority: urgent\n")
    lists = write_lists(write_rule, "a.yaml", "mine: ['@missing']\n")
    assert check(run_cli, rule.parent) == [
        f"{lists}:1: mine: unknown list @missing",
        f"{rule}:3: priority: input should be 'low', 'normal' or 'high'",
    ]


def test_lists_beside_a_single_rule_file_are_read(write_rule: WriteFile, run_cli: RunCli) -> None:
    rule = write_rule("r.yaml", "match:\n  all: ['@mine']\n")
    write_lists(write_rule, "a.yaml", "mine: [Dhaka]\n")
    rules = load_rules(rule)
    assert titles_matched(rules, "Dhaka floods") == ["Dhaka floods"]
    assert run_cli("rules", "check", rule).exit_code == 0


def test_a_label_is_not_a_list_reference(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule("r.yaml", "match:\n  all:\n    - {terms: [Modi], label: '@pm'}\n")
    result = run_cli("rules", "check", path)
    assert result.exit_code == 0, result.stderr


# -- reload -------------------------------------------------------------------------------------


def test_the_reload_watches_the_list_files(write_rule: WriteFile, tmp_path: Path) -> None:
    rule = write_rule("r.yaml", "match:\n  all: ['@mine']\n")
    first = write_lists(write_rule, "a.yaml", "mine: [Dhaka]\n")
    second = write_lists(write_rule, "b.yml", "other: [Colombo]\n")
    write_lists(write_rule, "notes.txt", "not a list file\n")
    rules = tmp_path / "rules"
    assert watched_files(rules) == [rule, first, second]
    assert watched_files(rule) == [rule, first, second]


def test_a_new_list_file_is_watched(write_rule: WriteFile, tmp_path: Path) -> None:
    rule = write_rule("r.yaml", "match:\n  all: [Putin]\n")
    assert watched_files(tmp_path / "rules") == [rule]
    added = write_lists(write_rule, "a.yaml", "mine: [Dhaka]\n")
    assert watched_files(tmp_path / "rules") == [rule, added]
