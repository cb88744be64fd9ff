"""Rule files: loading, every error as ``path:line: field: message``, ``rules check`` and ``rules schema``."""

import json
import re
import shutil
import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLE_RULES, RULES, RunCli, WriteFile
from pydantic import ValidationError

from watcher.errors import RulesError
from watcher.rules import Rule, load_rules
from watcher.yamlfile import load_yaml

_ALLOWED_KEYS = (
    "cooldown, description, digest, enabled, feeds, fields, fuzziness, group_wait, id, lead, match, name, "
    "notify, notify_on, priority, quiet_hours, templates, topical"
)

# (file name, content, expected stderr lines with {path} for the file's path)
INVALID_FILES = [
    pytest.param(
        "enabled-no.yaml",
        """\
        match: {all: [Putin]}
        enabled: no
        """,
        ["{path}:2: enabled: expected true or false"],
        id="enabled-no-is-not-false",
    ),
    pytest.param(
        "unknown.yaml",
        """\
        match:
          all: [Putin]
        matchh:
          all: [x]
        """,
        ["{path}:3: matchh: unknown key; did you mean 'match'?"],
        id="unknown-key-hint",
    ),
    pytest.param(
        "nested.yaml",
        """\
        match:
          alll: [x]
        """,
        ["{path}:2: match.alll: unknown key; did you mean 'all'?"],
        id="unknown-nested-key-hint",
    ),
    pytest.param(
        "nested2.yaml",
        """\
        match:
          all: [Putin]
          nonee: [film]
        quiet_hours:
          start: 22:00
          ende: 07:00
        """,
        [
            "{path}:3: match.nonee: unknown key; did you mean 'none'?",
            "{path}:4: quiet_hours.end: required key is missing",
            "{path}:6: quiet_hours.ende: unknown key; did you mean 'end'?",
        ],
        id="several-nested-typos",
    ),
    pytest.param(
        "notify-on.yaml",
        """\
        match:
          all: [Putin]
        notify_on: [hit, date_changes]
        """,
        ["{path}:3: notify_on[1]: input should be 'hit' or 'date_change'"],
        id="notify-on-unknown-event",
    ),
    pytest.param(
        "realret.yaml",
        """\
        match:
          all: [Putin]
        realret: 5m
        """,
        [f"{{path}}:3: realret: unknown key; allowed keys: {_ALLOWED_KEYS}"],
        id="unknown-key-no-close-match",
    ),
    pytest.param(
        "types.yaml",
        """\
        match:
          all: [Putin]
        enabled: maybe
        priority: urgent
        fields: [title, body]
        name: [a, b]
        """,
        [
            "{path}:3: enabled: expected true or false",
            "{path}:4: priority: input should be 'low', 'normal' or 'high'",
            "{path}:5: fields[1]: input should be 'title', 'summary' or 'content'",
            "{path}:6: name: expected a string",
        ],
        id="wrong-types",
    ),
    pytest.param(
        "empty-match.yaml",
        "match: {}\n",
        ["{path}:1: match: needs at least one term under 'all' or 'any'"],
        id="empty-match",
    ),
    pytest.param(
        "none-only.yaml",
        "match:\n  none: [film]\n",
        ["{path}:1: match: needs at least one term under 'all' or 'any'"],
        id="match-with-only-none",
    ),
    pytest.param(
        "null-match.yaml",
        "match:\n",
        ["{path}:1: match: expected a mapping (key: value)"],
        id="match-left-empty",
    ),
    pytest.param(
        "no-match.yaml",
        "name: x\n",
        ["{path}:1: match: required key is missing"],
        id="missing-match",
    ),
    pytest.param(
        "bad-regex.yaml",
        """\
        match:
          all: ["/(unclosed/"]
        """,
        [
            "{path}:2: match.all[0]: bad regular expression /(unclosed/: "
            "missing ), unterminated subpattern at position 0"
        ],
        id="bad-regex",
    ),
    pytest.param(
        "regex-capitals.yaml",
        """\
        match:
          all: ['/Putin\\s+visit/']
        """,
        [
            "{path}:2: match.all[0]: /Putin\\s+visit/ has capitals, "
            "but regular expressions see lower-case text"
        ],
        id="regex-with-capitals",
    ),
    pytest.param(
        "no-letters.yaml",
        """\
        match:
          all: [Putin, "--"]
        """,
        ["{path}:2: match.all[1]: term '--' has no letters or digits to match"],
        id="term-without-letters",
    ),
    pytest.param(
        "dup-key.yaml",
        """\
        match:
          all: [Putin]
        name: a
        name: b
        """,
        ["{path}:4: name: duplicate key"],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "syntax.yaml",
        """\
        match:
          all: [Putin
        name: x
        """,
        ["{path}:3: YAML syntax error: expected ',' or ']', but got ':' while parsing a flow sequence"],
        id="yaml-syntax-error",
    ),
    pytest.param(
        "tab.yaml",
        "match:\n\tall: [x]\n",
        [
            "{path}:2: YAML syntax error: found character '\\t' that cannot start any token "
            "while scanning for the next token"
        ],
        id="yaml-tab",
    ),
    pytest.param(
        "fuzz.yaml",
        """\
        match:
          all: [Putin]
        fuzziness: 3
        """,
        ["{path}:3: fuzziness: must be auto, off, 0, 1 or 2"],
        id="fuzziness-3",
    ),
    pytest.param(
        "duration.yaml",
        """\
        match:
          all: [Putin]
        cooldown: 5 minutes
        """,
        ["{path}:3: cooldown: '5 minutes' is not a duration such as 30s, 10m, 2h or 1d"],
        id="bad-duration",
    ),
    pytest.param(
        "tz.yaml",
        """\
        match:
          all: [Putin]
        quiet_hours: {start: 22:00, end: 07:00, timezone: Mars/Olympus}
        """,
        [
            "{path}:3: quiet_hours.timezone: unknown time zone 'Mars/Olympus' "
            "(use an IANA name such as Asia/Kolkata)"
        ],
        id="unknown-time-zone",
    ),
    pytest.param(
        "hour.yaml",
        """\
        match: {all: [x]}
        quiet_hours: {start: 25:00, end: 07:00}
        """,
        ["{path}:2: quiet_hours.start: expected a time of day such as 22:00"],
        id="bad-time-of-day",
    ),
    pytest.param(
        "list.yaml",
        """\
        - id: a1
          match: {all: [x]}
        - match: {all: [y]}
        """,
        ["{path}:3: id: required key is missing"],
        id="list-rule-without-id",
    ),
    pytest.param(
        "list-bad.yaml",
        """\
        - id: ok1
          match: {all: [x]}
        - id: bad2
          match: {all: [y]}
          colour: red
        - just text
        """,
        [
            f"{{path}}:5: colour: unknown key; allowed keys: {_ALLOWED_KEYS}",
            "{path}:6: expected a rule (a mapping of keys)",
        ],
        id="list-with-bad-entries",
    ),
    pytest.param(
        "empty-list.yaml", "[]\n", ["{path}:1: the file holds an empty list of rules"], id="empty-list"
    ),
    pytest.param(
        "empty.yaml", "", ["{path}:1: expected a rule (a mapping) or a list of rules"], id="empty-file"
    ),
    pytest.param(
        "scalar.yaml",
        "just a string\n",
        ["{path}:1: expected a rule (a mapping) or a list of rules"],
        id="not-a-mapping",
    ),
    pytest.param(
        "bad name.yaml",
        "match: {all: [Putin]}\n",
        ["{path}:1: id: file name 'bad name' is not a valid rule id; set 'id:' explicitly"],
        id="file-name-not-an-id",
    ),
    pytest.param(
        "redos.yaml",
        """\
        match:
          all: [Putin]
          any: ["/(a+)+$/"]
        """,
        [
            "{path}:3: match.any[0]: /(a+)+$/ can take exponential time on some texts (catastrophic "
            "backtracking): it has an unbounded quantifier inside a group repeated without bound, as in "
            "(a+)+; write it so that a text can be matched in one way only, e.g. a+ rather than (a+)+ or "
            "(a|aa)+, or make the inner quantifier possessive, e.g. (\\w++ ?)*"
        ],
        id="regex-nested-quantifiers",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), INVALID_FILES)
def test_invalid_rule_file(
    write_rule: WriteFile, run_cli: RunCli, name: str, content: str, expected: list[str]
) -> None:
    path = write_rule(name, content)
    result = run_cli("rules", "check", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line.format(path=path) for line in expected]
    assert result.stdout == ""


def test_load_rules_raises_with_every_problem(write_rule: WriteFile) -> None:
    path = write_rule("two.yaml", "match:\n  all: [Putin]\nfuzziness: 3\npriority: urgent\n")
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert [(p.path, p.line, p.field) for p in raised.value.problems] == [
        (path, 3, "fuzziness"),
        (path, 4, "priority"),
    ]


def test_every_error_in_a_directory_is_reported_at_once(write_rule: WriteFile, run_cli: RunCli) -> None:
    one = write_rule("one.yaml", "matchh: {all: [x]}\n")
    two = write_rule("two.yaml", "match:\n  all: [Putin]\nfuzziness: 3\npriority: urgent\n")
    three = write_rule("three.yaml", "match: [\n")
    write_rule("ok.yaml", "match: {all: [fine]}\n")
    write_rule("notes.txt", "not a rule file: ignored\n")
    result = run_cli("rules", "check", one.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{one}:1: match: required key is missing",
        f"{one}:1: matchh: unknown key; did you mean 'match'?",
        f"{three}:2: YAML syntax error: expected the node content, but found '<stream end>' "
        "while parsing a flow node",
        f"{two}:3: fuzziness: must be auto, off, 0, 1 or 2",
        f"{two}:4: priority: input should be 'low', 'normal' or 'high'",
    ]


def test_duplicate_ids_across_files_name_the_first(write_rule: WriteFile, run_cli: RunCli) -> None:
    first = write_rule("a.yaml", "match:\n  all: [Putin]\n")  # id "a" from the file name
    listed = write_rule("b.yaml", "- id: c\n  match: {all: [x]}\n- id: a\n  match: {all: [y]}\n")
    explicit = write_rule("c.yml", "id: a\nmatch: {all: [z]}\n")
    result = run_cli("rules", "check", first.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{listed}:3: id: duplicate rule id 'a' (first in {first}:1)",
        f"{explicit}:1: id: duplicate rule id 'a' (first in {first}:1)",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("missing",), "{tmp}/missing: no such file or directory", id="missing-path"),
        pytest.param(
            ("empty",), "{tmp}/empty: no rule files (*.yaml, *.yml) in this directory", id="empty-dir"
        ),
    ],
)
def test_nothing_to_check_is_an_error(
    tmp_path: Path, run_cli: RunCli, args: tuple[str], expected: str
) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("rules", "check", *(tmp_path / arg for arg in args))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [expected.format(tmp=tmp_path)]


# -- valid files --------------------------------------------------------------------------------


def test_the_test_rules_are_valid(run_cli: RunCli) -> None:
    result = run_cli("rules", "check", RULES)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "5 rules in 5 files: valid" in result.stdout


@pytest.mark.parametrize("path", sorted(EXAMPLE_RULES.glob("*.yaml")), ids=lambda path: path.name)
def test_each_example_rule_is_valid_described_and_short_without_regex(path: Path) -> None:
    """What the shipped examples promise, whatever they hold: a user copies them."""
    [loaded] = load_rules(path).rules
    assert loaded.rule.description.strip(), "each example says what it watches"
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 45, "about 40 lines"
    assert not re.search(r"['\"\s\[]/[^/\s]+.*/['\",\]\s]", text), "no regular expression"


def test_an_added_example_rule_breaks_no_test(run_cli: RunCli, tmp_path: Path) -> None:
    """The tests match with their own copy (conftest.RULES), never with rules/: a rule added to a
    copy of rules/ is checked like the others and changes nothing the tests expect."""
    assert RULES.resolve() != EXAMPLE_RULES.resolve()
    mine = tmp_path / "rules"
    shutil.copytree(EXAMPLE_RULES, mine)
    (mine / "zelensky-visit-india.yaml").write_text(
        "description: Zelensky in India\nmatch: {all: [Zelensky, '@india', '@visit']}\n", encoding="utf-8"
    )
    result = run_cli("rules", "check", mine)
    assert result.exit_code == 0, result.stderr
    assert f"{len(list(EXAMPLE_RULES.glob('*.yaml'))) + 1} rules" in result.stdout


def test_rules_check_defaults_to_the_rules_directory(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copytree(RULES, tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    result = run_cli("rules", "check")
    assert result.exit_code == 0, result.stderr
    assert "5 rules" in result.stdout


def test_id_defaults_to_the_file_stem(write_rule: WriteFile) -> None:
    write_rule("putin-watch.yaml", "match: {all: [Putin]}\n")
    write_rule("named.yml", "id: chosen-id\nmatch: {all: [Modi]}\n")
    write_rule("several.yaml", "- id: one\n  match: {all: [x]}\n- id: two\n  match: {all: [y]}\n")
    ruleset = load_rules(write_rule("x.yaml", "match: {all: [x]}\n").parent)
    assert sorted(rule.id for rule in ruleset) == ["chosen-id", "one", "putin-watch", "two", "x"]
    lines = {loaded.rule.id: (loaded.path.name, loaded.line) for loaded in ruleset.rules}
    assert lines["two"] == ("several.yaml", 3)


def test_yaml_1_2_scalars(write_rule: WriteFile, run_cli: RunCli) -> None:
    path = write_rule(
        "scalars.yaml",
        """\
        match: {all: [Putin]}
        fuzziness: off
        quiet_hours: {start: 22:00, end: 07:00}
        digest: {at: [08:00, 18:30]}
        enabled: false
        feeds: india
        cooldown: 90
        group_wait: 1m
        """,
    )
    assert run_cli("rules", "check", path).exit_code == 0
    (rule,) = load_rules(path)
    assert rule.fuzziness == "off"
    assert rule.quiet_hours is not None
    assert (rule.quiet_hours.start, rule.quiet_hours.end) == (time(22, 0), time(7, 0))
    assert rule.digest is not None
    assert rule.digest.at == (time(8, 0), time(18, 30))
    assert rule.enabled is False
    assert rule.feeds == ("india",)
    assert (rule.cooldown, rule.group_wait) == (timedelta(seconds=90), timedelta(minutes=1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("auto", "auto", id="auto"),
        pytest.param("off", "off", id="off"),
        pytest.param("0", "off", id="zero"),
        pytest.param("false", "off", id="false"),
        pytest.param("1", 1, id="one"),
        pytest.param("2", 2, id="two"),
    ],
)
def test_fuzziness_values(write_rule: WriteFile, value: str, expected: str | int) -> None:
    (rule,) = load_rules(write_rule("f.yaml", f"match: {{all: [Putin]}}\nfuzziness: {value}\n"))
    assert rule.fuzziness == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("30s", timedelta(seconds=30), id="seconds"),
        pytest.param("10m", timedelta(minutes=10), id="minutes"),
        pytest.param("1.5h", timedelta(minutes=90), id="fractional-hours"),
        pytest.param("1d", timedelta(days=1), id="days"),
        pytest.param("1w", timedelta(weeks=1), id="weeks"),
        pytest.param("0", timedelta(0), id="zero"),
    ],
)
def test_durations(write_rule: WriteFile, value: str, expected: timedelta) -> None:
    (rule,) = load_rules(write_rule("d.yaml", f"match: {{all: [Putin]}}\ncooldown: {value}\n"))
    assert rule.cooldown == expected


# -- the console entry point --------------------------------------------------------------------


@pytest.mark.integration
def test_console_entry_reports_invalid_file_without_traceback(write_rule: WriteFile) -> None:
    path = write_rule("broken.yaml", "match:\n  all: [Putin]\nmatchh: {}\n")
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "rules", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{path}:3: matchh: unknown key; did you mean 'match'?"]


@pytest.mark.integration
def test_console_entry_checks_example_rules() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "rules", "check", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


# -- rules schema -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.protocols.Validator:
    from click.testing import CliRunner

    from watcher.cli import cli

    result = CliRunner().invoke(cli, ["rules", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _errors(validator: jsonschema.protocols.Validator, data: object) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


def test_schema_describes_rule_keys(schema_validator: jsonschema.protocols.Validator) -> None:
    schema = schema_validator.schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    text = json.dumps(schema)
    for key in ("match", "fuzziness", "quiet_hours", "feeds", "notify", "priority", "templates"):
        assert f'"{key}"' in text


@pytest.mark.parametrize("path", sorted(EXAMPLE_RULES.glob("*.yaml")), ids=lambda path: path.name)
def test_example_rule_files_validate_against_schema(
    schema_validator: jsonschema.protocols.Validator, path: Path
) -> None:
    assert _errors(schema_validator, load_yaml(path).data) == []


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("id: x\nmatch: {all: [[Putin]]}\n", id="explicit"),
        pytest.param(
            "match:\n  all: Putin\n  any: [Modi, /x/]\n  none: film\nfields: title\n", id="shorthands"
        ),
        pytest.param("- id: a\n  match: {any: [x]}\n- id: b\n  match: {all: [y, [z, w]]}\n", id="list"),
        pytest.param(
            "match: {all: [x]}\nfuzziness: off\nquiet_hours: {start: 22:00, end: 07:00}\n"
            "digest: {at: 08:00}\n"
            "feeds: india\ncooldown: 90\ngroup_wait: 1m\n",
            id="yaml-1.2-scalars",
        ),
        pytest.param(
            "match: {all: [x]}\ntemplates: {title: '$rule: $count', entry: \"$headline\\n$snippet\"}\n",
            id="templates",
        ),
    ],
)
def test_valid_rule_files_validate_against_schema(
    schema_validator: jsonschema.protocols.Validator, write_rule: WriteFile, content: str
) -> None:
    path = write_rule("valid.yaml", content)
    load_rules(path)  # summit-watch accepts it, so the schema must too
    assert _errors(schema_validator, load_yaml(path).data) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "id: x\nmatch: {all: [Putin]}\nrealret: 5m\n",
            "Additional properties are not allowed ('realret' was unexpected)",
            id="unknown-key",
        ),
        pytest.param(
            "match: {all: [Putin]}\nfuzziness: 3\n",
            "3 is not one of ['auto', 'off', 0, 1, 2]",
            id="fuzziness",
        ),
        pytest.param(
            "match: {alll: [x]}\n",
            "Additional properties are not allowed ('alll' was unexpected)",
            id="nested",
        ),
        pytest.param(
            "- match: {all: [x]}\n",
            "'id' is a required property",
            id="list-without-id",
        ),
    ],
)
def test_invalid_rule_files_do_not_validate(
    schema_validator: jsonschema.protocols.Validator, write_rule: WriteFile, content: str, message: str
) -> None:
    path = write_rule("invalid.yaml", content)
    with pytest.raises(RulesError):
        load_rules(path)
    best = jsonschema.exceptions.best_match(schema_validator.iter_errors(load_yaml(path).data))
    assert best is not None
    messages = [best.message, *(error.message for error in best.context)]
    assert message in messages


# -- regexes that can backtrack catastrophically ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a+)+$", "unbounded quantifier"),
        (r"(a*)*", "unbounded quantifier"),
        (r"(\w+\s?)*", "unbounded quantifier"),
        (r"(a+){2,}", "unbounded quantifier"),
        (r"(?:putin \w+?)*", "unbounded quantifier"),
        (r"(?=(a+)+)b", "unbounded quantifier"),
        (r"(a|aa)+", "alternatives"),
        (r"(a|a)+$", "alternatives"),
        (r"(ab|a|b)+$", "alternatives"),
        (r"(?:the |)+", "alternatives"),
        (r"(?:[^ ]|x)*$", "alternatives"),
    ],
)
def test_regexes_that_can_backtrack_catastrophically_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(ValidationError) as raised:
        make({"any": [f"/{pattern}/"]})
    assert "catastrophic backtracking" in str(raised.value)
    assert why in str(raised.value)


@pytest.mark.parametrize(
    "pattern",
    [
        r"putin (visit|trip)",
        r"23rd (annual )?summit",
        r"(foo|far)+",
        r"(cat|dog)+",
        r"(a|b)+",
        r"(ab?)+$",
        r"(a++)+$",
        r"(\w++ ?)*",
        r"(.|\n)*",
        r"(a{1,3})+",
        r"\bputin\b \w+ visit",
    ],
)
def test_regexes_with_one_way_to_match_are_accepted(pattern: str) -> None:
    make({"any": [f"/{pattern}/"]})


def make(match: dict[str, Any]) -> Rule:
    return Rule.model_validate({"id": "r", "match": match})
