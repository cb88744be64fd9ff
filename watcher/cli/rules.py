"""`rules check`, `rules test` and `rules schema`: the commands people run while writing rules.

`rules check` is run on every save by editors and hooks, so it imports only the rule schema
(pydantic, YAML): the matcher comes with `rules test`, the database with `rules test --stored`.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.cli._context import App, Group, no_such_rule, pass_app
from watcher.cli._output import echo_error, echo_json, print_table, shorten
from watcher.display import count

if TYPE_CHECKING:
    from watcher.errors import Problem
    from watcher.items import Item
    from watcher.matcher import Match, Matcher
    from watcher.rules import RuleSet

RULES_OPTION = click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    help="Rule file or directory (default: the settings file's rules, else ./rules).",
)
SKIPPED_LINES = 3  # `rules test`'s exit status when some input lines could not be read


@click.group("rules", cls=Group)
def rules_group() -> None:
    """Check, try out and describe watch rules."""


@rules_group.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@pass_app
def rules_check(app: App, path: Path | None) -> None:
    """Validate the rule files at PATH (a file or a directory; default: the settings file's
    rules, else ./rules).

    Every error is printed on stderr as path:line: field: message; exit status 2 if any.
    """
    from watcher.rules import load_rules

    path = path or app.default_rules()
    settings = app.settings_if_any()  # with settings, each rule's `notify` names one of their targets
    ruleset = load_rules(path, None if settings is None else [t.name for t in settings.targets])
    files = len({loaded.path for loaded in ruleset.rules})
    disabled = len(ruleset) - len(ruleset.enabled)
    note = f", {disabled} disabled" if disabled else ""
    click.echo(f"{path}: {count(len(ruleset), 'rule')} in {count(files, 'file')}: valid{note}")


@rules_group.command("test")
@RULES_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per (item, rule) match.")
@click.option(
    "--stored",
    is_flag=True,
    help="Backtest: run the rules over the items in the database instead of INPUT files, and "
    "compare with the hits recorded for them (new and lost matches).",
)
@click.option(
    "--since", metavar="WHEN", help="With --stored: items fetched since WHEN (30d, a date...; default 30d)."
)
@click.option("--until", metavar="WHEN", help="With --stored: items fetched before WHEN (default now).")
@click.option(
    "--near-miss",
    "near_miss_rule",
    metavar="RULE",
    help="Instead of the matches: the items that miss RULE by one entry, grouped by that entry, "
    "with the words most often found where it would have matched (suggested terms).",
)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@pass_app
def rules_test(
    app: App,
    *,
    rules_path: Path | None,
    as_json: bool,
    stored: bool,
    since: str | None,
    until: str | None,
    near_miss_rule: str | None,
    inputs: Sequence[Path],
) -> None:
    """Run the rules over INPUT files, or the stored items (--stored), and show what matches.

    An INPUT is a JSON Lines file of items (.jsonl: id, title, summary, content, link,
    published, source; null fields, RFC 822 dates and other keys are fine), an RSS/Atom file,
    or a text file (its content is the item, its name the id). A JSON line that cannot be read
    is skipped and reported with its number; the exit status is then 3.

    With --stored (and no INPUT) the rules run over the items fetched in the window, each
    rule's `feeds` applied, and the result is compared with the hits recorded for those items:
    "new" matches (no hit recorded) and "lost" ones (a hit recorded, no match now), per rule.
    """
    if stored and inputs:
        raise click.UsageError("--stored runs the rules over the stored items: give it no INPUT files")
    if not stored and not inputs:
        ctx = click.get_current_context()
        param = next(p for p in ctx.command.params if p.name == "inputs")
        hint = "Give INPUT files, or --stored to backtest the rules on the stored items."
        raise click.MissingParameter(hint, ctx=ctx, param=param)
    if not stored and (since or until):
        raise click.UsageError("--since and --until go with --stored")
    from watcher.matcher import Matcher
    from watcher.rules import load_rules

    ruleset = load_rules(rules_path or app.default_rules())
    matcher = Matcher(ruleset)
    if near_miss_rule is not None:
        window = (since or "30d", until) if stored else None
        _near_miss(app, ruleset, matcher, near_miss_rule, inputs, window=window, as_json=as_json)
        return
    if stored:
        from watcher.cli.backtest import backtest_stored

        backtest_stored(app, ruleset, matcher, since=since or "30d", until=until, as_json=as_json)
        return
    from watcher.inputs import read_items

    read = read_items(list(inputs))
    items = read.items
    rows = [(match, item) for item in items for match in matcher.match(item)]
    if as_json:
        for match, _ in rows:
            echo_json(
                {
                    "item": match.item_id,
                    "rule": match.rule_id,
                    "score": match.score,
                    "matched": match.terms,
                    "entries": [
                        {
                            "entry": entry.name,
                            "hits": [
                                {
                                    "term": h.term,
                                    "text": h.text,
                                    "field": h.field,
                                    "start": h.start,
                                    "edits": h.edits,
                                }
                                for h in entry.hits
                            ],
                        }
                        for entry in match.entries
                    ],
                }
            )
    else:
        table = [(m.item_id, m.rule_id, str(m.score), _entries_found(m)) for m, _ in rows]
        print_table(("ITEM", "RULE", "SCORE", "MATCHED (entry: text as found, where)"), table)
        matched_items = len({m.item_id for m, _ in rows})
        click.echo(
            f"{count(len(items), 'item')}, {matched_items} matched, {count(len(rows), 'match', 'matches')}"
        )
    if read.skipped:
        for problem in read.skipped:
            echo_error(f"{problem} (line skipped)")
        echo_error(f"{count(len(read.skipped), 'line')} skipped: the rules ran on the other items")
        raise SystemExit(SKIPPED_LINES)


def _near_miss(
    app: App,
    ruleset: "RuleSet",
    matcher: "Matcher",
    rule_id: str,
    inputs: Sequence[Path],
    *,
    window: tuple[str, str | None] | None,
    as_json: bool = False,
) -> None:
    """``--near-miss RULE``: the near misses of one rule over the input files or stored items."""
    from watcher.nearmiss import EXAMPLES, near_misses

    rule = next((r for r in ruleset if r.id == rule_id), None)
    if rule is None:
        raise no_such_rule(rule_id, (r.id for r in ruleset), "--near-miss")
    if window is not None:
        from watcher.cli._window import window as parse_window
        from watcher.history import zone

        start, end = parse_window(*window, zone(utc=False))
        stream = app.store.iter_items(start, end)
        items: Iterator[Item] = (stored.item for stored, _ in stream)
        skipped: tuple[Problem, ...] = ()
    else:
        from watcher.inputs import read_items

        read = read_items(list(inputs))
        items, skipped = iter(read.items), read.skipped
    report = near_misses(matcher, rule, items)
    missed = sum(len(group.items) for group in report.groups)
    if as_json:
        for group in report.groups:
            echo_json(
                {
                    "rule": report.rule,
                    "block": group.block + 1,
                    "entry": group.entry,
                    "items": [item.id for item in group.items],
                    "suggestions": [{"term": s.word, "adds": s.items} for s in group.suggestions],
                }
            )
    else:
        click.echo(
            f"rule {report.rule}: {count(report.items, 'item')} read, {missed} miss it by one condition"
        )
        for group in report.groups:
            block = f"block {group.block + 1}, " if len(rule.match) > 1 else ""
            click.echo(f"\n  {block}entry {group.entry!r} missing: {count(len(group.items), 'item')}")
            if group.suggestions:
                words = ", ".join(f"{s.word} (+{s.items})" for s in group.suggestions)
                click.echo(f"    suggested terms: {words}")
            for item in group.items[:EXAMPLES]:
                click.echo(f"    - {shorten(item.title or item.summary or item.content, 90)} [{item.id}]")
    for problem in skipped:
        echo_error(f"{problem} (line skipped)")
    if skipped:
        raise SystemExit(SKIPPED_LINES)


def _entries_found(match: "Match") -> str:
    """What each entry of the rule matched, and where: ``visit: arrives, visit (title, summary)``."""
    parts = []
    for entry in match.entries:
        texts = ", ".join(dict.fromkeys(" ".join(hit.text.split()) for hit in entry.hits))
        fields = ", ".join(dict.fromkeys(hit.field for hit in entry.hits))
        parts.append(f"{entry.name}: {texts} ({fields})")
    return "; ".join(parts)


@rules_group.command("backtest")
@RULES_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per match or lost hit.")
@click.option("--since", metavar="WHEN", default="30d", show_default=True, help="Items fetched since WHEN.")
@click.option("--until", metavar="WHEN", help="Items fetched before WHEN (default now).")
@pass_app
def rules_backtest(app: App, rules_path: Path | None, as_json: bool, since: str, until: str | None) -> None:
    """Run the rules (edited ones, say) over the stored items and compare with the recorded hits:
    the hits they would add (new) and remove (lost), the ones you marked good or bad first, and
    each rule's precision from your marks (`hits mark`), as recorded and as the rules would keep
    them. The same as `rules test --stored`."""
    from watcher.cli.backtest import backtest_stored
    from watcher.matcher import Matcher
    from watcher.rules import load_rules

    ruleset = load_rules(rules_path or app.default_rules())
    backtest_stored(app, ruleset, Matcher(ruleset), since=since, until=until, as_json=as_json)


@rules_group.command("show")
@click.argument("rule_id", metavar="ID")
@RULES_OPTION
@pass_app
def rules_show(app: App, rule_id: str, rules_path: Path | None) -> None:
    """Print rule ID as YAML, its @lists expanded into their terms: what the matcher looks for."""
    import yaml

    from watcher.rules import load_rules

    ruleset = load_rules(rules_path or app.default_rules())
    found = next((loaded for loaded in ruleset.rules if loaded.rule.id == rule_id), None)
    if found is None:
        raise no_such_rule(rule_id, (loaded.rule.id for loaded in ruleset.rules), "ID")
    data = found.rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    click.echo(f"# {found.path}" + (f":{found.line}" if found.line else "") + ", lists expanded")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    click.echo(text, nl=False)


@rules_group.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor autocompletion and validation)."""
    from watcher.rules import json_schema

    echo_json(json_schema(), indent=2, ensure_ascii=True)
