"""The ``summit-watch`` command line. Thin: parse arguments, call the package, print results.

Exit codes: 0 success, 1 an operational failure, 2 invalid usage, rules or input files.
"""

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from watcher import __version__
from watcher.errors import WatcherError
from watcher.inputs import read_items
from watcher.matcher import Matcher
from watcher.rules import json_schema, load_rules

DEFAULT_RULES = Path("rules")


class _Group(click.Group):
    """Turns ``WatcherError`` into its message on stderr and its exit code: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WatcherError as e:
            click.echo(str(e), err=True)
            ctx.exit(e.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="summit-watch")
def cli() -> None:
    """Watch news feeds for the diplomatic events you care about."""


@cli.group(cls=_Group)
def rules() -> None:
    """Check, try out and describe watch rules."""


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_RULES)
def rules_check(path: Path) -> None:
    """Validate the rule files at PATH (a file or a directory; default ./rules).

    Every error is printed on stderr as path:line: field: message; exit status 2 if any.
    """
    ruleset = load_rules(path)
    files = len({loaded.path for loaded in ruleset.rules})
    disabled = len(ruleset) - len(ruleset.enabled)
    note = f", {disabled} disabled" if disabled else ""
    click.echo(f"{path}: {_count(len(ruleset), 'rule')} in {_count(files, 'file')}: valid{note}")


@rules.command("test")
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_RULES,
    show_default=True,
    help="Rule file or directory.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per (item, rule) match.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_test(rules_path: Path, as_json: bool, inputs: Sequence[Path]) -> None:
    """Run the rules over INPUT files and show what matches.

    An INPUT is a JSON Lines file of items (.jsonl: id, title, summary, content, link,
    published, source), an RSS/Atom file, or a text file (its content is the item, its name
    the id).
    """
    matcher = Matcher(load_rules(rules_path))
    items = read_items(list(inputs))
    rows = [(match, item) for item in items for match in matcher.match(item)]
    if as_json:
        for match, _ in rows:
            record = {
                "item": match.item_id,
                "rule": match.rule_id,
                "score": match.score,
                "matched": match.terms,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    table = [(m.item_id, m.rule_id, str(m.score), ", ".join(m.terms)) for m, _ in rows]
    _print_table(("ITEM", "RULE", "SCORE", "MATCHED"), table)
    matched_items = len({m.item_id for m, _ in rows})
    click.echo(
        f"{_count(len(items), 'item')}, {matched_items} matched, {_count(len(rows), 'match', 'matches')}"
    )


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor autocompletion and validation)."""
    click.echo(json.dumps(json_schema(), indent=2))


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="summit-watch")
