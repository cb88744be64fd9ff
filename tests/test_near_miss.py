"""``rules test --near-miss``: the items that miss a rule by one entry, grouped, with suggested terms."""

import json
from pathlib import Path

from conftest import RunCli, WriteFile

from watcher.items import Item
from watcher.matcher import Matcher
from watcher.nearmiss import near_misses
from watcher.rules import Rule

CALL = Rule.model_validate(
    {
        "id": "call",
        "match": {
            "all": [
                {"terms": ["Modi"], "label": "india"},
                {"terms": ["Putin"], "label": "russia"},
                {"terms": ["phone", "call"], "label": "call", "near": "russia", "within": 4},
            ]
        },
    }
)
MISSES = {
    "c1": "Modi and Putin hold telephonic conversation on Ukraine",
    "c2": "Modi, Putin discuss ties in telephonic talks",
    "c3": "Putin and Modi: a telephonic exchange",
    "r1": "Modi speaks with the Kremlin by phone",  # no Putin: misses the russia entry
    "two": "Modi visits Paris",  # misses two entries: not a near miss
    "hit": "Modi calls Putin",  # matches: not a near miss
}


def items() -> list[Item]:
    return [Item(id=key, title=title) for key, title in MISSES.items()]


def test_items_missing_one_entry_are_grouped_by_it_with_the_words_found_there() -> None:
    report = near_misses(Matcher([CALL]), CALL, items())
    assert report.items == len(MISSES)
    groups = {group.entry: group for group in report.groups}
    assert set(groups) == {"call", "russia"}
    assert [item.id for item in groups["call"].items] == ["c1", "c2", "c3"]
    assert [item.id for item in groups["russia"].items] == ["r1"]
    assert report.groups[0].entry == "call", "the largest group first"
    suggested = {s.word: s.items for s in groups["call"].suggestions}
    assert suggested["telephonic"] == 3, "the word near Putin in all three"
    assert "modi" not in suggested, "a rule's own words are never suggested"
    assert "putin" not in suggested
    assert "and" not in suggested, "nor function words"


def test_a_word_outside_the_proximity_window_is_not_suggested() -> None:
    far = Item(
        id="far", title="Putin met ministers, and later, after many hours of meetings, Modi telephonic"
    )
    close = [Item(id=f"n{i}", title=f"Modi and Putin telephonic chat {i}") for i in range(2)]
    report = near_misses(Matcher([CALL]), CALL, [far, *close])
    [group] = report.groups
    assert {s.word: s.items for s in group.suggestions}.get("telephonic") == 2


def test_near_miss_on_a_jsonl_file_from_the_command_line(
    run_cli: RunCli, write_rule: WriteFile, write_input: WriteFile
) -> None:
    rules = write_rule(
        "call.yaml", json.dumps(CALL.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    )
    lines = "".join(json.dumps({"id": key, "title": title}) + "\n" for key, title in MISSES.items())
    path = write_input("items.jsonl", lines)
    result = run_cli("rules", "test", "--rules", rules, "--near-miss", "call", path)
    assert result.exit_code == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "rule call: 6 items read, 4 miss it by one condition"
    assert "  entry 'call' missing: 3 items" in out
    assert any(line.startswith("    suggested terms: telephonic (+3)") for line in out)
    result = run_cli("rules", "test", "--rules", rules, "--near-miss", "call", "--json", path)
    groups = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(g["entry"], g["items"]) for g in groups] == [("call", ["c1", "c2", "c3"]), ("russia", ["r1"])]
    assert groups[0]["suggestions"][0] == {"term": "telephonic", "adds": 3}


def test_near_miss_of_an_unknown_rule_is_a_usage_error(
    run_cli: RunCli, write_rule: WriteFile, write_input: WriteFile, tmp_path: Path
) -> None:
    rules = write_rule("call.yaml", "match: {all: [Modi]}\n")
    result = run_cli("rules", "test", "--rules", rules, "--near-miss", "cal", write_input("a.txt", "Modi"))
    assert result.exit_code == 2
    assert "no rule 'cal'" in result.stderr
