"""Regenerate watcher/data/lists/countries.yaml: a named term list per country, for rules' ``@name`` terms.

Run it from the project root after changing its data (or on a new pycountry release):

    /work/main/.venv/bin/pip install pycountry && .venv/bin/python scripts/build_lists.py

Where the data comes from:

- pycountry (ISO 3166-1): every country, with its name and, where it has them, its official and
  common names. A build-time dependency only: the ``watcher`` package never imports it.
- scripts/data/country-extras.yaml, hand-maintained: what pycountry lacks. Common names the news
  uses ("Russia" for the Russian Federation), aliases (Burma, Cape Verde), demonyms (Indian,
  Peruvian), capitals (New Delhi, Lima), the G20 members, and lists for what ISO 3166-1 does not
  have (the European Union, Kosovo). Its top comment explains the choices made for ambiguous names.

Each country's list is named by a slug of its common name (india, united-states, south-korea) and
holds the common name, the official name, the aliases, the demonyms and the capitals. The list of a
G20 member also includes ``@<slug>-officials``.

watcher/data/lists/officials.yaml (office holders and seats of government) and events.yaml (visit,
phone-call, talks...) are hand-maintained, not generated: this script only checks that the
``@<slug>-officials`` lists it refers to are defined there, and that no list name is defined twice.

The output is deterministic (lists sorted by name): running the script twice writes the same file.
"""

import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import pycountry
import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
EXTRAS: Final = ROOT / "scripts" / "data" / "country-extras.yaml"
LISTS: Final = ROOT / "watcher" / "data" / "lists"
TARGET: Final = LISTS / "countries.yaml"

LIST_NAME: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
G20_SIZE: Final = 20  # 19 countries and the European Union
_ENTRY_FIELDS: Final = frozenset({"name", "official", "aliases", "demonyms", "capitals", "exclude", "exact"})
# A pycountry name written inverted or with a note ("Korea, Republic of", "Saint Martin (French
# part)") is not how the news writes it: never listed.
_NOT_A_NAME: Final = re.compile(r"[,()]")
# A scalar that YAML reads back as the same string when written unquoted: starts with a letter,
# letters, digits, spaces and ' . - inside; not a YAML 1.1 boolean or null.
_PLAIN: Final = re.compile(r"[^\W\d_][\w .'-]*")
_YAML_WORDS: Final = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


class ListsError(Exception):
    """The data is wrong: the message says where."""


@dataclass(frozen=True)
class CountryList:
    """One generated list: its name, the country code it is for, and its terms in order."""

    name: str
    code: str
    source: str  # pycountry's name, for the comment
    terms: tuple[str, ...]


def fold(text: str) -> str:
    """Lower case, accents removed: ``Türkiye`` -> ``turkiye``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def slug(name: str) -> str:
    """A list name from a country name: ``South Korea`` -> ``south-korea``."""
    return "-".join(re.findall(r"[a-z0-9]+", fold(name).replace("'", "")))


def term_key(term: str) -> str:
    """What two terms that match the same text share: the folded words, quotes ignored.

    ``Türkiye`` and ``Turkiye`` are one term, ``U.S.`` and ``"US"`` are not (the matcher reads
    "U.S." as the words "u s").
    """
    return " ".join(re.findall(r"[a-z0-9]+", fold(term.strip('"'))))


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back the same, else single-quoted."""
    if _PLAIN.fullmatch(text) and not text.endswith((" ", "-")) and text.casefold() not in _YAML_WORDS:
        return text
    return "'" + text.replace("'", "''") + "'"


def _strings(entry: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = entry.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ListsError(f"{where}: {field} must be a list of non-empty strings")
    return value


def _string(entry: Mapping[str, Any], field: str, where: str) -> str | None:
    value = entry.get(field)
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise ListsError(f"{where}: {field} must be a non-empty string")
    return value


def _without_article(name: str) -> str:
    """pycountry writes a few official names with a leading article: "the State of Eritrea"."""
    return name[4:] if name.startswith("the ") else name


def country_list(
    code: str, entry: Mapping[str, Any], pycountry_names: Iterable[str | None], *, source: str, g20: bool
) -> CountryList:
    """The list of one country: pycountry's names (those the news writes) and the extras' terms.

    ``source`` is pycountry's name for it (or the extras' name), for the comment of the list.
    """
    where = f"{EXTRAS.name}: {code}"
    unknown = set(entry) - _ENTRY_FIELDS
    if unknown:
        raise ListsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    names = [n for n in pycountry_names if n]
    usable = [_without_article(n) for n in names if not _NOT_A_NAME.search(n)]
    common = _string(entry, "name", where) or (usable[0] if usable else None)
    if common is None:
        raise ListsError(f"{where}: pycountry has no common name for {names[:1]}: give one (name:)")
    excluded = {term_key(t) for t in _strings(entry, "exclude", where)}
    exact = {term_key(t) for t in _strings(entry, "exact", where)}
    official = _string(entry, "official", where)
    candidates = [
        common,
        *usable,
        *([official] if official else []),
        *_strings(entry, "aliases", where),
        *_strings(entry, "demonyms", where),
        *_strings(entry, "capitals", where),
    ]
    terms: list[str] = []
    seen: set[str] = set()
    for term in candidates:
        key = term_key(term)
        if not key:
            raise ListsError(f"{where}: {term!r} has no words")
        if key in seen or key in excluded:
            continue
        seen.add(key)
        terms.append(f'"{term}"' if key in exact and not term.startswith('"') else term)
    name = slug(common)
    if not LIST_NAME.fullmatch(name):
        raise ListsError(f"{where}: list name {name!r} (from {common!r}) is not a valid list name")
    if g20:
        terms.append(f"@{name}-officials")
    return CountryList(name, code, source, tuple(terms))


def build(extras: Mapping[str, Any]) -> list[CountryList]:
    """Every country's list, sorted by name; raises ``ListsError`` for data that is wrong."""
    countries = extras.get("countries")
    others = extras.get("not-in-pycountry", {})
    g20 = extras.get("g20")
    if not isinstance(countries, dict) or not isinstance(others, dict):
        raise ListsError(f"{EXTRAS.name}: countries and not-in-pycountry must be mappings")
    if not isinstance(g20, list) or len(set(g20)) != G20_SIZE:
        raise ListsError(f"{EXTRAS.name}: g20 must list the {G20_SIZE} members' codes")
    for code, entry in {**countries, **others}.items():
        if not isinstance(code, str) or not isinstance(entry, dict):
            raise ListsError(f"{EXTRAS.name}: {code!r} must be a country code mapped to a mapping")
    by_code = {country.alpha_2: country for country in pycountry.countries}
    missing = sorted(set(by_code) - set(countries))
    unknown = sorted(set(countries) - set(by_code))
    in_both = sorted(set(others) & set(by_code))
    if missing or unknown or in_both:
        raise ListsError(
            f"{EXTRAS.name}: every pycountry code must be under countries, and only those"
            f" (missing: {missing}; unknown: {unknown}; in pycountry, so not for not-in-pycountry: {in_both})"
        )
    not_listed = sorted(set(g20) - set(countries) - set(others))
    if not_listed:
        raise ListsError(f"{EXTRAS.name}: g20 codes without a country: {not_listed}")
    lists = [
        country_list(
            code,
            countries[code],
            (
                getattr(country, "common_name", None),
                country.name,
                getattr(country, "official_name", None),
            ),
            source=country.name,
            g20=code in g20,
        )
        for code, country in by_code.items()
    ]
    lists += [
        country_list(code, entry, (), source=f"{entry.get('name')} (not in pycountry)", g20=code in g20)
        for code, entry in others.items()
    ]
    names: dict[str, list[str]] = defaultdict(list)
    for country in lists:
        names[country.name].append(country.code)
    clashes = {name: codes for name, codes in names.items() if len(codes) > 1}
    if clashes:
        raise ListsError(f"list names given to more than one country: {clashes}")
    return sorted(lists, key=lambda country: country.name)


def render(lists: Iterable[CountryList], pycountry_version: str) -> str:
    """The countries.yaml text."""

    def lines() -> Iterator[str]:
        yield f"# Generated by scripts/build_lists.py from pycountry {pycountry_version} and"
        yield "# scripts/data/country-extras.yaml. Do not edit by hand: edit the extras and run the script"
        yield "# again. To change a list for your rules, define the same name in rules/lists/*.yaml."
        for country in lists:
            yield ""
            yield f"{country.name}:  # {country.code}: {country.source}"
            yield from (f"  - {scalar(term)}" for term in country.terms)

    return "\n".join(lines()) + "\n"


def check_references(lists: list[CountryList], text: str) -> None:
    """The written file reads back as ``lists``; its ``@`` references and names agree with the
    hand-maintained list files next to it."""
    if yaml.safe_load(text) != {country.name: list(country.terms) for country in lists}:
        raise ListsError("the rendered YAML does not read back as the lists: a quoting bug")
    defined: dict[str, str] = {country.name: TARGET.name for country in lists}
    for path in sorted(LISTS.glob("*.yaml")):
        if path == TARGET:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ListsError(f"{path.name}: not a mapping of list names to terms")
        for name in data:
            if name in defined:
                raise ListsError(f"{name!r} is defined in both {defined[name]} and {path.name}")
            defined[name] = path.name
    if len(defined) == len(lists):
        print("note: no other list file yet: @...-officials references not checked", file=sys.stderr)
        return
    dangling = sorted(
        f"{country.name}: {term}"
        for country in lists
        for term in country.terms
        if term.startswith("@") and term[1:] not in defined
    )
    if dangling:
        raise ListsError(f"references to lists defined nowhere: {dangling}")


def main() -> int:
    extras = yaml.safe_load(EXTRAS.read_text(encoding="utf-8"))
    if not isinstance(extras, dict):
        print(f"{EXTRAS}: not a mapping", file=sys.stderr)
        return 1
    try:
        lists = build(extras)
        text = render(lists, version("pycountry"))
        check_references(lists, text)
    except ListsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"{len(lists)} country lists -> {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
