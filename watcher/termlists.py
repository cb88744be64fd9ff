"""Named term lists: a list defined once, used in any rule as ``@name``.

A list file is a YAML mapping of list names to terms; a term may be ``@other`` (lists include
lists). The lists bundled with summit-watch (``watcher/data/lists``: every country, the G20's
office holders, kinds of events) come first; a user's files in ``lists/`` beside the rules add
lists or replace a bundled one of the same name. Every list is expanded once, when rules load:
the matcher only ever sees plain terms.
"""

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

from watcher.errors import Problem
from watcher.yamlfile import YamlDocument, load_yaml

LIST_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
LISTS_DIRECTORY = "lists"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class TermList:
    """One list as written: its terms (``@name`` for an included list) and where it is defined."""

    name: str
    terms: tuple[str, ...]
    path: Path
    line: int | None
    bundled: bool


@dataclass(frozen=True)
class TermLists:
    """Every list known to a set of rules, and each one's terms with its included lists expanded."""

    lists: Mapping[str, TermList]
    expanded: Mapping[str, tuple[str, ...]]

    def __contains__(self, name: object) -> bool:
        return name in self.expanded

    def terms(self, name: str) -> tuple[str, ...]:
        """The plain terms of a list (included lists expanded, each term once, in order)."""
        return self.expanded[name]

    def suggestion(self, name: str) -> str:
        """``; did you mean @x?`` for a misspelt list name, else ``""``."""
        return _suggestion(name, self.expanded)


def _suggestion(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
    return f"; did you mean @{close[0]}?" if close else ""


def lists_directory(rules: Path) -> Path:
    """Where a user's lists live: ``lists/`` in the rules directory (beside a single rule file)."""
    return (rules if rules.is_dir() else rules.parent) / LISTS_DIRECTORY


def load_lists(
    directory: Path | None, check_term: Callable[[str], object], *, bundled: bool = True
) -> tuple[TermLists, list[Problem]]:
    """The bundled lists (unless ``bundled`` is false), then the files of ``directory`` (if it
    exists); every problem found.

    ``check_term`` is the rules' check of a term (it raises ``ValueError`` for a bad one).
    """
    problems: list[Problem] = []
    lists: dict[str, TermList] = {}
    shipped = files("watcher") / "data" / "lists"
    for resource in sorted(shipped.iterdir() if bundled else (), key=lambda r: r.name):
        if resource.name.endswith(_SUFFIXES):
            with as_file(resource) as path:
                for found in _read(_load_bundled(path), check_term, bundled=True, problems=problems):
                    lists[found.name] = found
    if directory is not None and directory.is_dir():
        mine: dict[str, TermList] = {}
        for path in sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file()):
            for found in _read(load_yaml(path), check_term, bundled=False, problems=problems):
                first = mine.setdefault(found.name, found)
                if first is not found:
                    where = f"{first.path}:{first.line}" if first.line else str(first.path)
                    problems.append(
                        Problem(found.path, found.line, found.name, f"list defined twice (first in {where})")
                    )
        lists.update(mine)
    expanded: dict[str, tuple[str, ...]] = {}
    for name in lists:
        _expand(name, lists, expanded, (), problems)
    return TermLists(lists, expanded), problems


def _load_bundled(path: Path) -> YamlDocument:
    """A list file of the package: parsed by libyaml when it is there, ten times faster than the
    line-tracking loader of users' files (the package's own files need no line numbers)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return YamlDocument(path, yaml.load(path.read_text(encoding="utf-8"), Loader=loader), {}, [])


def _read(
    doc: YamlDocument, check_term: Callable[[str], object], *, bundled: bool, problems: list[Problem]
) -> Iterator[TermList]:
    problems.extend(doc.problems)
    if doc.problems or doc.data is None:
        return
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(doc.path, doc.line_of(()) or 1, "", "expected a mapping of list names to terms")
        )
        return
    for name, value in doc.data.items():
        line = doc.line_of((name,))
        if not isinstance(name, str) or not LIST_NAME.fullmatch(name):
            message = "a list name is lower-case letters, digits and hyphens (india, phone-call)"
            problems.append(Problem(doc.path, line, str(name), message))
            continue
        terms = (value,) if isinstance(value, str) else value
        if not isinstance(terms, list | tuple) or not terms:
            problems.append(Problem(doc.path, line, name, "expected a term or a non-empty list of terms"))
            continue
        bad = False
        for i, term in enumerate(terms):
            reason = _term_problem(term, check_term)
            if reason is not None:
                bad = True
                problems.append(Problem(doc.path, doc.line_of((name, i)) or line, name, reason))
        if not bad:
            yield TermList(name, tuple(terms), doc.path, line, bundled)


def _term_problem(term: object, check_term: Callable[[str], object]) -> str | None:
    if not isinstance(term, str) or not term:
        return f'{term!r} is not a term: a word, a phrase, "exact", prefix*, /regex/ or @list'
    try:
        check_term(term)
    except ValueError as e:
        return str(e)
    return None


def _expand(
    name: str,
    lists: Mapping[str, TermList],
    expanded: dict[str, tuple[str, ...]],
    path: tuple[str, ...],
    problems: list[Problem],
) -> tuple[str, ...]:
    if name in expanded:
        return expanded[name]
    defined = lists[name]
    if name in path:
        cycle = " -> ".join(f"@{n}" for n in (*path[path.index(name) :], name))
        problems.append(Problem(defined.path, defined.line, name, f"lists include each other: {cycle}"))
        return ()
    terms: dict[str, None] = {}
    for term in defined.terms:
        included = term[1:] if term.startswith("@") else None
        if included is None:
            terms[term] = None
        elif included not in lists:
            hint = _suggestion(included, lists)
            problems.append(Problem(defined.path, defined.line, name, f"unknown list {term}{hint}"))
        else:
            terms.update(dict.fromkeys(_expand(included, lists, expanded, (*path, name), problems)))
    expanded[name] = tuple(terms)
    return expanded[name]
