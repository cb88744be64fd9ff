"""``summit-watch rules test``: the example rules over the seeds, every input format, unreadable inputs."""

# Look-alike characters (curly quotes, dashes, full-width letters) are what these tests are about.
# ruff: noqa: RUF001

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import RULES, RunCli, WriteFile

from watcher.inputs import read_items

# The example rules the second seed matches: every one but modi-visit-russia (no visit to Russia in it).
SECOND_SEED_RULES = {
    "putin-visit-india",
    "lavrov-visit-india",
    "modi-putin-call",
    "india-russia-defence-commission",
}


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def matched_rules(records: list[dict[str, object]]) -> dict[object, set[object]]:
    found: dict[object, set[object]] = {}
    for record in records:
        found.setdefault(record["item"], set()).add(record["rule"])
    return found


# -- the seed articles --------------------------------------------------------------------------


def assert_seeds_match_the_expected_rules(run_cli: RunCli, seeds: list[Path]) -> None:
    result = run_cli("rules", "test", "--rules", RULES, *seeds, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    records = json_lines(result.stdout)
    assert matched_rules(records) == {
        seeds[0].name: {"putin-visit-india", "modi-putin-call"},
        seeds[1].name: SECOND_SEED_RULES,
    }
    assert len(records) == 6, "one line per (item, rule) match"
    for record in records:
        assert set(record) == {"item", "rule", "score", "matched", "entries"}
        assert isinstance(record["score"], int)
        assert 0 <= record["score"] <= 100
        assert isinstance(record["matched"], list)
        assert record["matched"]
        assert all(isinstance(term, str) for term in record["matched"])


def assert_second_seed_matches_name_the_rule_terms(run_cli: RunCli, second: Path) -> None:
    records = json_lines(run_cli("rules", "test", "--rules", RULES, "--json", second).stdout)
    by_rule = {record["rule"]: record for record in records}
    assert {"Putin", "India", "annual summit"} <= set(by_rule["putin-visit-india"]["matched"])
    assert {"Lavrov", "New Delhi"} <= set(by_rule["lavrov-visit-india"]["matched"])
    assert {"Modi", "Putin"} <= set(by_rule["modi-putin-call"]["matched"])
    assert "IRIGC" in by_rule["india-russia-defence-commission"]["matched"]


def test_seeds_match_the_expected_rules(run_cli: RunCli, seeds: list[Path]) -> None:
    assert_seeds_match_the_expected_rules(run_cli, seeds)


def test_seed_matches_name_the_rule_terms(run_cli: RunCli, seeds: list[Path]) -> None:
    assert_second_seed_matches_name_the_rule_terms(run_cli, seeds[1])


def test_the_real_seed_articles_match_as_the_written_ones(run_cli: RunCli, real_seeds: list[Path]) -> None:
    """The seeds were written from the facts of the two real articles (../shared/seeds): the rules
    match the originals as they match them, with the same terms."""
    assert_seeds_match_the_expected_rules(run_cli, real_seeds)
    assert_second_seed_matches_name_the_rule_terms(run_cli, real_seeds[1])


def test_human_output_is_a_table(run_cli: RunCli, seeds: list[Path]) -> None:
    as_json = json_lines(run_cli("rules", "test", "--rules", RULES, "--json", *seeds).stdout)
    result = run_cli("rules", "test", "--rules", RULES, *seeds)
    assert result.exit_code == 0
    header, *lines = result.stdout.splitlines()
    assert header.split()[:4] == ["ITEM", "RULE", "SCORE", "MATCHED"]
    rows = [line.split(maxsplit=3) for line in lines if line.split()[0] in {seed.name for seed in seeds}]

    def found(record: dict[str, Any]) -> str:
        """Each entry: its name, the texts it matched, the fields."""
        return "; ".join(
            f"{e['entry']}: {', '.join(dict.fromkeys(' '.join(h['text'].split()) for h in e['hits']))} "
            f"({', '.join(dict.fromkeys(h['field'] for h in e['hits']))})"
            for e in record["entries"]
        )

    assert sorted(rows) == sorted(
        [str(r["item"]), str(r["rule"]), str(r["score"]), found(r)] for r in as_json
    )
    assert len(lines) == len(rows) + 1
    assert lines[-1] == "2 items, 2 matched, 6 matches"


def test_nothing_matched(run_cli: RunCli, write_input: WriteFile) -> None:
    path = write_input("quiet.txt", "Nothing about diplomacy here.\n")
    result = run_cli("rules", "test", "--rules", RULES, path)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["1 item, 0 matched, 0 matches"]
    assert run_cli("rules", "test", "--rules", RULES, "--json", path).stdout == ""


# -- input formats ------------------------------------------------------------------------------

JSONL = """\
{"id": "a1", "title": "Putin to visit India in December", "source": "wire", "extra": "ignored"}

{"id": "a2", "title": "Rasputin biopic", "summary": "A film about Rasputin in India"}
{"id": 3, "summary": "<p>Modi <b>dialled</b> Putin</p>", "content": "They spoke by phone."}
{"id": "a4", "title": "Lavrov", "content": "Sergei Lavrov will travel to New Delhi", "link": "https://x.example/4",
 "published": "2025-10-07T10:00:00Z"}
""".replace("\n ", " ")

RSS = """\
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://example.com/</link>
<description>d</description>
<item><guid isPermaLink="false">rss-1</guid><title>Putin&#8217;s visit to India confirmed</title>
<description>&lt;p&gt;The Kremlin said &lt;b&gt;Vladimir Putin&lt;/b&gt;
will travel to New Delhi.&lt;/p&gt;</description>
<link>http://example.com/1</link></item>
<item><guid isPermaLink="false">rss-2</guid><title>Rasputin biopic premieres</title>
<description>A film about Rasputin, the mystic, shown in India.</description></item>
<item><title>Modi phones Putin</title><link>http://example.com/3</link>
<description>Modi spoke by phone with Putin.</description></item>
</channel></rss>
"""

ATOM = """\
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom wire</title><id>urn:x</id>
<updated>2025-10-07T00:00:00Z</updated>
<entry><id>urn:atom:1</id><title>Lavrov to visit New Delhi next month</title>
<updated>2025-10-07T00:00:00Z</updated>
<summary type="html">&lt;p&gt;Sergei Lavrov will arrive in India&lt;/p&gt;</summary></entry>
<entry><id>urn:atom:2</id><title>Commodity prices</title><updated>2025-10-07T00:00:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Indiana <b>commodity</b> markets;
computing.</div></content>
</entry>
</feed>
"""


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param(
            "items.jsonl",
            JSONL,
            {("a1", "putin-visit-india"), ("3", "modi-putin-call"), ("a4", "lavrov-visit-india")},
            id="jsonl",
        ),
        pytest.param(
            "feed.rss",
            RSS,
            {("rss-1", "putin-visit-india"), ("http://example.com/3", "modi-putin-call")},
            id="rss",
        ),
        pytest.param("feed.atom", ATOM, {("urn:atom:1", "lavrov-visit-india")}, id="atom"),
        pytest.param("wire.xml", ATOM, {("urn:atom:1", "lavrov-visit-india")}, id="atom-any-file-name"),
        pytest.param(
            "note.txt",
            "Putin’s visit to New Delhi on December 5.\nModi dialled Putin by phone.\n",
            {("note.txt", "putin-visit-india"), ("note.txt", "modi-putin-call")},
            id="text-file-name-is-id",
        ),
        pytest.param("empty.txt", "", set(), id="empty-text"),
    ],
)
def test_inputs(
    run_cli: RunCli, write_input: WriteFile, name: str, content: str, expected: set[tuple[str, str]]
) -> None:
    path = write_input(name, content)
    result = run_cli("rules", "test", "--rules", RULES, "--json", path)
    assert result.exit_code == 0, result.stderr
    assert {(record["item"], record["rule"]) for record in json_lines(result.stdout)} == expected


def test_several_inputs_of_several_kinds(run_cli: RunCli, write_input: WriteFile, seeds: list[Path]) -> None:
    paths = [write_input("items.jsonl", JSONL), write_input("feed.rss", RSS), write_input("feed.atom", ATOM)]
    result = run_cli("rules", "test", "--rules", RULES, *paths, *seeds)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "11 items, 8 matched, 12 matches"


def test_rules_option_takes_a_single_file(run_cli: RunCli, write_input: WriteFile) -> None:
    path = write_input("items.jsonl", JSONL)
    result = run_cli("rules", "test", "--rules", RULES / "modi-putin-call.yaml", "--json", path)
    assert [(r["item"], r["rule"]) for r in json_lines(result.stdout)] == [("3", "modi-putin-call")]


def test_rules_test_with_invalid_rules(
    run_cli: RunCli, write_rule: WriteFile, write_input: WriteFile
) -> None:
    rule = write_rule("bad.yaml", "match: {all: [x]}\nfuzziness: 3\n")
    result = run_cli("rules", "test", "--rules", rule, write_input("a.txt", "x"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{rule}:2: fuzziness: must be auto, off, 0, 1 or 2"]


# -- unreadable inputs --------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param("missing.txt", None, ["{path}: cannot read: No such file or directory"], id="missing-file"),
    pytest.param("a-directory", "DIR", ["{path}: cannot read: Is a directory"], id="directory"),
    pytest.param(
        "binary.dat",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        ["{path}: binary file: expected JSONL items, an RSS/Atom feed or text"],
        id="binary",
    ),
    pytest.param(
        "latin1.txt",
        "Poutine à Delhi, café".encode("latin-1"),
        ["{path}: not UTF-8 text (invalid continuation byte at byte 8)"],
        id="not-utf8",
    ),
    pytest.param(
        "page.html",
        "<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Putin visits India</p></body></html>",
        ["{path}: not an RSS or Atom feed"],
        id="html-page",
    ),
    pytest.param(
        "feed.json",
        '{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        ["{path}: a JSON document: items must be JSON Lines, one object per line, in a .jsonl file"],
        id="json-document",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_INPUTS)
def test_unreadable_input(
    run_cli: RunCli, tmp_path: Path, name: str, content: str | bytes | None, expected: list[str]
) -> None:
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("rules", "test", "--rules", RULES, path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line.format(path=path) for line in expected]
    assert result.stdout == ""


UNREADABLE_LINES = [
    pytest.param(
        '{"id": "a1", "title": "Putin to visit India"}\n{"id": "a2", "title": \n',
        ["{path}:2: invalid JSON: Expecting value (column 23) (line skipped)"],
        id="invalid-json-line",
    ),
    pytest.param(
        '{"id": "a1", "title": "Putin to visit India"}\n{"title": "Putin visit India"}\n'
        '{"id": "", "title": "y"}\n{"id": " ", "title": "z"}\n',
        [
            "{path}:2: id: required (line skipped)",
            "{path}:3: id: must not be empty (line skipped)",
            "{path}:4: id: must not be empty (line skipped)",
        ],
        id="jsonl-without-id",
    ),
    pytest.param(
        '{"id": "a1", "title": "Putin to visit India"}\n{"id": "a2", "published": "next Tuesday"}\n',
        ["{path}:2: published: not a date (ISO 8601 or RFC 822) (line skipped)"],
        id="unreadable-date",
    ),
]


@pytest.mark.parametrize(("content", "expected"), UNREADABLE_LINES)
def test_an_unreadable_line_is_skipped_and_reported_with_its_number(
    run_cli: RunCli, write_input: WriteFile, content: str, expected: list[str]
) -> None:
    """The rules run on the lines that can be read; exit status 3 says some could not."""
    path = write_input("items.jsonl", content)
    result = run_cli("rules", "test", "--rules", RULES, "--json", path)
    assert result.exit_code == 3
    assert [r["item"] for r in json_lines(result.stdout)] == ["a1"]
    skipped = len(expected)
    assert result.stderr.splitlines() == [
        *(line.format(path=path) for line in expected),
        f"{skipped} line{'s' if skipped > 1 else ''} skipped: the rules ran on the other items",
    ]


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42", "null"])
def test_jsonl_line_that_is_not_an_object(run_cli: RunCli, write_input: WriteFile, line: str) -> None:
    path = write_input("odd.jsonl", f'{{"id": "ok"}}\n{line}\n')
    result = run_cli("rules", "test", "--rules", RULES, path)
    assert result.exit_code == 3
    message = result.stderr.splitlines()[0]
    assert message.startswith(f"{path}:2: ")
    assert "_JsonItem" not in message
    assert "object" in message


def test_real_items_load_as_they_come(run_cli: RunCli, write_input: WriteFile) -> None:
    """null fields, RFC 822 dates as RSS writes them, empty dates and keys of other tools."""
    lines = [
        {"id": "a", "title": "Putin to visit India for the annual summit", "summary": None, "link": None,
         "published": "Tue, 02 Dec 2025 10:00:00 GMT", "source": None, "labels": ["x"]},
        {"id": "b", "title": None, "summary": "Putin will visit India for the summit", "published": ""},
        {"id": 7, "title": "Putin visit to India", "published": "2025-12-02T10:00:00+05:30"},
    ]  # fmt: skip
    path = write_input("items.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    result = run_cli("rules", "test", "--rules", RULES, "--json", path)
    assert result.exit_code == 0, result.stderr
    assert {r["item"] for r in json_lines(result.stdout) if r["rule"] == "putin-visit-india"} == {
        "a",
        "b",
        "7",
    }


def test_items_read_keep_their_dates(write_input: WriteFile) -> None:
    path = write_input(
        "items.jsonl",
        '{"id": "rfc822", "published": "Tue, 02 Dec 2025 10:00:00 GMT"}\n{"id": "empty", "published": ""}\n',
    )
    read = read_items([path])
    assert read.skipped == ()
    published = {item.id: item.published for item in read.items}
    assert published["rfc822"] is not None
    assert published["rfc822"].isoformat() == "2025-12-02T10:00:00+00:00"
    assert published["empty"] is None
