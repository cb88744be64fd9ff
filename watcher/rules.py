"""Watch rules: the schema (single source of truth, exported as JSON Schema) and loading.

A rule file holds one rule (its ``id`` defaults to the file stem) or a list of rules (each with
an explicit ``id``, so reordering a file never renames a rule's hit history). Loading a file or
a directory reports every error at once, each as ``path:line: field: message``.
"""

import difflib
import importlib
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from watcher.errors import Problem, RulesError
from watcher.schema import (
    ID_PATTERN,
    Duration,
    Flag,
    Names,
    StrictModel,
    Templates,
    TimeZoneName,
    one_or_list,
    one_or_many,
)
from watcher.termlists import LIST_NAME, TermLists, lists_directory, load_lists
from watcher.text import normalise
from watcher.yamlfile import YamlDocument, field_name, load_yaml, validation_problems

if TYPE_CHECKING:
    import regex  # imported when a rule has a /regex/ term: checking rules without one starts faster
    from pydantic import TypeAdapter

RULE_FILE_SUFFIXES = (".yaml", ".yml")
FieldName = Literal["title", "summary", "content"]
NotifyOn = Literal["hit", "date_change"]  # what a rule alerts on
FIELDS: tuple[FieldName, ...] = ("title", "summary", "content")
_ESCAPE = re.compile(r"\\.")  # \S, \W, \B...: a regex's escapes may be capitals
# Python's own parser of regular expressions (private, but the one ``re.compile`` uses): its tree
# of a term is what the backtracking check reads, and its errors are those of ``re``.
_PARSER: Final = importlib.import_module("re._parser")
_OPS: Final = importlib.import_module("re._constants")
_UNBOUNDED_REPEATS: Final = (_OPS.MAX_REPEAT, _OPS.MIN_REPEAT)  # greedy and lazy, not possessive
_ONE_CHARACTER: Final = (_OPS.LITERAL, _OPS.NOT_LITERAL, _OPS.ANY, _OPS.IN)
_Item = tuple[Any, Any]  # (opcode, argument): one node of the parser's tree
_CATEGORIES: Final = {
    getattr(_OPS, f"CATEGORY_{name}"): re.compile(pattern)
    for name, pattern in (
        ("DIGIT", r"\d"),
        ("NOT_DIGIT", r"\D"),
        ("SPACE", r"\s"),
        ("NOT_SPACE", r"\S"),
        ("WORD", r"\w"),
        ("NOT_WORD", r"\W"),
        ("LINEBREAK", r"\n"),
        ("NOT_LINEBREAK", r"[^\n]"),
    )
}
# Characters tried when asking whether two character classes overlap: ASCII, and letters and
# digits of other scripts (normalised text keeps those that do not fold to ASCII).
_PROBES: Final = "".join(map(chr, range(128))) + "\u00df\u03bb\u0436\u05d0\u0663\u4e2d"


def is_regex(term: str) -> bool:
    """Whether a term is written ``/regex/``."""
    return len(term) >= 2 and term.startswith("/") and term.endswith("/")


def compile_regex(term: str) -> "regex.Pattern[str]":
    """A ``/regex/`` term compiled with the ``regex`` package (VERSION0: the syntax of ``re``),
    whose searches take a timeout and let other threads run."""
    import regex

    return regex.compile(term[1:-1], regex.VERSION0)


def check_term(term: str) -> str:
    """A term as written, or ``ValueError`` saying what is wrong with it."""
    if is_regex(term):
        import regex

        try:
            tree = _PARSER.parse(term[1:-1])
            compile_regex(term)
        except (re.error, regex.error) as e:
            raise ValueError(f"bad regular expression {term}: {e}") from e
        if any(char.isupper() for char in _ESCAPE.sub("", term)):
            raise ValueError(f"{term} has capitals, but regular expressions see lower-case text")
        risk = _backtracking(tree, repeated=False)
        if risk is not None:
            raise ValueError(
                f"{term} can take exponential time on some texts (catastrophic backtracking): it has "
                f"{risk}; write it so that a text can be matched in one way only, e.g. a+ rather than "
                "(a+)+ or (a|aa)+, or make the inner quantifier possessive, e.g. (\\w++ ?)*"
            )
        return term
    return _check_plain_term(term)


def _backtracking(items: Any, *, repeated: bool) -> str | None:
    """Why a parsed regex may backtrack exponentially, or None. Inside a group repeated without
    bound (``repeated``), two things can match a text in exponentially many ways: another unbounded
    quantifier, as in (a+)+, and alternatives that can match the same text, as in (a|aa)+.

    An early warning, not a proof: the search timeout is the guarantee. Possessive quantifiers
    (a++) never give back what they matched, so they are safe inside and outside.
    """
    for op, value in items:
        inside_repeated = repeated
        if op in _UNBOUNDED_REPEATS:
            unbounded = value[1] == _OPS.MAXREPEAT
            if repeated and unbounded:
                return "an unbounded quantifier inside a group repeated without bound, as in (a+)+"
            parts, inside_repeated = [value[2]], repeated or unbounded
        elif op is _OPS.BRANCH:
            if repeated and _alternatives_overlap(value[1]):
                return "alternatives that can match the same text, repeated without bound, as in (a|aa)+"
            parts = value[1]
        elif op is _OPS.POSSESSIVE_REPEAT:
            parts = [value[2]]
        elif op in (_OPS.SUBPATTERN, _OPS.ASSERT, _OPS.ASSERT_NOT):
            parts = [value[-1]]
        elif op is _OPS.ATOMIC_GROUP:
            parts = [value]
        elif op is _OPS.GROUPREF_EXISTS:
            parts = [branch for branch in value[1:] if branch is not None]
        else:
            continue
        for part in parts:
            found = _backtracking(part, repeated=inside_repeated)
            if found is not None:
                return found
    return None


def _alternatives_overlap(branches: list[Any]) -> bool:
    """Whether an alternative that is a fixed run of characters (or empty) can also be the start of
    another: (a|aa), (ab|a|b). What follows a quantifier or a group is not compared."""
    heads = [list(_leading_characters(branch)) for branch in branches]
    for whole, (branch, head) in enumerate(zip(branches, heads, strict=True)):
        if len(head) != len(branch):
            continue
        for other, other_head in enumerate(heads):
            if other != whole and len(other_head) >= len(head) and all(map(_classes_meet, head, other_head)):
                return True
    return False


def _leading_characters(branch: Any) -> Iterator[_Item]:
    """The items that each match one character at the start of an alternative."""
    for op, value in branch:
        if op not in _ONE_CHARACTER:
            return
        yield op, value


def _classes_meet(first: _Item, second: _Item) -> bool:
    """Whether some character matches both one-character items."""
    probes = _PROBES + _literals(first) + _literals(second)
    return any(_matches(first, char) and _matches(second, char) for char in probes)


def _literals(item: _Item) -> str:
    """The characters an item names, to try besides ``_PROBES``."""
    op, value = item
    if op in (_OPS.LITERAL, _OPS.NOT_LITERAL):
        return chr(value)
    if op is _OPS.RANGE:
        return chr(value[0]) + chr(value[1])
    if op is _OPS.IN:
        return "".join(map(_literals, value))
    return ""


def _matches(item: _Item, char: str) -> bool:
    """Whether a one-character item (or a member of a class) matches ``char``."""
    op, value = item
    code = ord(char)
    if op is _OPS.LITERAL:
        return code == int(value)
    if op is _OPS.NOT_LITERAL:
        return code != int(value)
    if op is _OPS.ANY:
        return char != "\n"
    if op is _OPS.RANGE:
        return int(value[0]) <= code <= int(value[1])
    if op is _OPS.CATEGORY:
        return _CATEGORIES[value].fullmatch(char) is not None
    if op is _OPS.IN:
        negated = bool(value) and value[0][0] is _OPS.NEGATE
        return negated != any(_matches(member, char) for member in (value[1:] if negated else value))
    return False


def _parse_fuzziness(value: object) -> object:
    if value in ("auto", "off"):
        return value
    if value is False:
        return "off"
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return "off" if value == 0 else value
    raise ValueError("must be auto, off, 0, 1 or 2")


_TERM_SCHEMA = {"type": "string", "minLength": 1}
_TIME_SCHEMA = {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$"}
_LIST_REFERENCE = re.compile(f"@({LIST_NAME.pattern})")
MIN_PREFIX = 3  # letters before the * of a prefix term: "neg*" would be half the dictionary
DEFAULT_WITHIN = 10
DEFAULT_LEAD = 60


def list_reference(term: str) -> str | None:
    """The list a term names (``@india`` -> ``india``), or None for any other term."""
    found = _LIST_REFERENCE.fullmatch(term)
    return found.group(1) if found else None


def is_exact(term: str) -> bool:
    """Whether a term is written ``"in quotes"``: that word or phrase only, no forms, no typos."""
    return len(term) >= 3 and term.startswith('"') and term.endswith('"')


def _check_plain_term(term: str) -> str:
    if term.startswith("@"):
        if list_reference(term) is None:
            raise ValueError(f"{term!r} is no list name: @ then lower-case letters, digits and hyphens")
        return term
    text = term[1:-1] if is_exact(term) else term
    if not normalise(text):
        raise ValueError(f"term {term!r} has no letters or digits to match")
    for word in re.findall(r"([^\W_]*)\*", text):
        if len(normalise(word)) < MIN_PREFIX:
            raise ValueError(
                f"{term!r}: a prefix needs at least {MIN_PREFIX} letters before its * (negotiat*)"
            )
    return term


def _one_or_many_terms(value: object) -> object:
    """A term alone (a string or a labelled term's mapping) where a list of terms is expected."""
    return (value,) if isinstance(value, str | int | dict) and not isinstance(value, bool) else value


def _term_kind(value: object) -> str:
    return "labelled" if isinstance(value, dict | LabelledTerm) else "plain"


def _within_words(value: object) -> object:
    """A number of words from 1 to 200, or ``sentence``: one message for anything else."""
    if value == "sentence" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 200):
        return value
    raise ValueError("must be a number of words from 1 to 200, or sentence")


Term = Annotated[str, Field(min_length=1), AfterValidator(check_term)]
Label = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\s].*$")]
TimeOfDay = Annotated[time, WithJsonSchema(_TIME_SCHEMA)]
Fuzziness = Annotated[
    Literal["auto", "off", 1, 2],
    BeforeValidator(_parse_fuzziness),
    WithJsonSchema({"enum": ["auto", "off", 0, 1, 2]}),
]
Within = Annotated[
    int | Literal["sentence"],
    Field(description="Words between the two terms at most (1-200), or sentence: in one sentence."),
    BeforeValidator(_within_words),
]


class LabelledTerm(StrictModel):
    """A term with a short label, shown instead of it (a long pattern), or marked exact."""

    term: Term
    label: Label | None = Field(default=None, description="Shown in rules test, hits and alerts.")
    exact: Flag = Field(default=False, description="This word or phrase only: no other forms, no typos.")

    @property
    def text(self) -> str:
        """The term as the matcher reads it: quoted when exact."""
        return f'"{self.term}"' if self.exact and not is_exact(self.term) else self.term


AnyTerm = Annotated[
    Annotated[Term, Tag("plain")] | Annotated[LabelledTerm, Tag("labelled")],
    Discriminator(_term_kind),
]
# JSON Schema: a term is a string or a LabelledTerm mapping; lists of them may be written as one
# (``json_schema`` writes these shorthands, which pydantic cannot see through the validators).
_ANY_TERM_SCHEMA = {"anyOf": [_TERM_SCHEMA, {"$ref": "#/$defs/LabelledTerm"}]}
Terms = Annotated[tuple[AnyTerm, ...], BeforeValidator(_one_or_many_terms)]
Alternatives = Annotated[tuple[AnyTerm, ...], BeforeValidator(_one_or_many_terms), Field(min_length=1)]
Where = Literal["title", "lead", "text"]


def term_text(term: "str | LabelledTerm") -> str:
    """A term as the matcher reads it."""
    return term if isinstance(term, str) else term.text


def term_label(term: "str | LabelledTerm") -> str:
    """A term as people are shown it: its label, else as written."""
    return term if isinstance(term, str) else term.label or term.term


class Entry(StrictModel):
    """One condition of a block: one of its terms must occur (``at_least`` of them), where and
    near what it says."""

    terms: Alternatives = Field(description="Alternative terms; @name stands for a named list's terms.")
    label: Label | None = Field(default=None, description="This entry's name, for near: and in rules test.")
    in_: Where = Field(
        default="text",
        alias="in",
        description="title, lead (the title and the first words of the text: see lead) or text (any field).",
    )
    near: Label | None = Field(default=None, description="Another entry's label: a term of it must be near.")
    within: Within = DEFAULT_WITHIN
    at_least: int = Field(default=1, ge=1, description="Distinct terms of this entry that must occur.")

    @property
    def name(self) -> str:
        """The entry's label, else its first term."""
        return self.label or term_label(self.terms[0])


class Exclusion(StrictModel):
    """Terms that stop a block from firing: anywhere, or only near an entry's terms."""

    terms: Alternatives
    label: Label | None = None
    in_: Where = Field(default="text", alias="in")
    near: Label | None = Field(
        default=None, description="An entry's label: only its terms near these are excluded."
    )
    within: Within = DEFAULT_WITHIN


def _entry_kind(value: object) -> str:
    return "entry" if isinstance(value, dict | Entry) else "terms"


def _exclusion(value: object) -> object:
    """A plain term (or a labelled one) excludes anywhere: ``none: [Moscow]``."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return {"terms": (value,)}
    if isinstance(value, dict) and "term" in value:
        return {"terms": (value,)}
    return value


def _entry(value: object) -> object:
    """A term, a labelled term or a list of them is an entry of those terms."""
    if isinstance(value, Entry) or (isinstance(value, dict) and "term" not in value):
        return value
    return {"terms": value}


EntryValue = Annotated[Entry, BeforeValidator(_entry)]
ExclusionValue = Annotated[Exclusion, BeforeValidator(_exclusion)]


class MatchSpec(StrictModel):
    """A block: which terms must, may and must not occur."""

    all: Annotated[tuple[EntryValue, ...], BeforeValidator(_one_or_many_terms)] = Field(
        default=(),
        description="Every entry must match; an entry is a term, a list of alternative terms, or a "
        "mapping (terms, label, in, near, within, at_least).",
    )
    any: Terms = Field(default=(), description="At least one of these terms must match.")
    none: Annotated[tuple[ExclusionValue, ...], BeforeValidator(_one_or_many_terms)] = Field(
        default=(),
        description="If any of these terms matches (with near: only near that entry), the block does not.",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> "MatchSpec":
        if not self.all and not self.any:
            raise ValueError("needs at least one term under 'all' or 'any'")
        labels = [entry.label for entry in self.all if entry.label]
        for entry in self.all:
            if entry.near is not None and entry.near not in labels:
                raise ValueError(f"near: {entry.near!r} is not the label of an entry of this block")
            if entry.near is not None and entry.near == entry.label:
                raise ValueError(f"entry {entry.label!r} cannot be near itself")
        for exclusion in self.none:
            if exclusion.near is not None and exclusion.near not in labels:
                raise ValueError(f"near: {exclusion.near!r} is not the label of an entry of this block")
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"two entries of a block have the label {duplicates[0]!r}")
        return self


def _blocks(value: object) -> object:
    return value if isinstance(value, list | tuple) else (value,)


Blocks = Annotated[tuple[MatchSpec, ...], BeforeValidator(_blocks), Field(min_length=1)]


class QuietHours(StrictModel):
    """A daily window in which alerts are held (not dropped) until it ends."""

    start: TimeOfDay
    end: TimeOfDay
    timezone: TimeZoneName = "UTC"


class Digest(StrictModel):
    """Send one summary at the given times instead of an alert per hit."""

    at: Annotated[
        tuple[TimeOfDay, ...], BeforeValidator(one_or_many), Field(min_length=1), one_or_list(_TIME_SCHEMA)
    ]
    timezone: TimeZoneName = "UTC"


class Rule(StrictModel):
    """One watch rule."""

    id: Annotated[str, Field(pattern=ID_PATTERN, description="Stable identifier; defaults to the file stem.")]
    name: str | None = Field(default=None, description="Shown in alerts; defaults to the id.")
    description: str = ""
    enabled: Flag = True
    feeds: Names | None = Field(default=None, description="Feed names or tags to watch; default all feeds.")
    match: Blocks = Field(
        description="A block (all, any, none), or a list of blocks: the rule fires when any block does."
    )
    topical: Flag = Field(
        default=True,
        description="Fire only when a term the rule matched is in the item's lead (its title and first "
        "words): an item that names the event only deep in a long text is not about it.",
    )
    lead: int = Field(
        default=DEFAULT_LEAD,
        ge=1,
        le=1000,
        description="How many words of each field after the title make the lead (topical, in: lead).",
    )
    fuzziness: Fuzziness = Field(
        default="auto", description="Typo tolerance: auto (0/1/2 edits by word length), off, 1 or 2."
    )
    fields: Annotated[
        tuple[FieldName, ...],
        BeforeValidator(one_or_many),
        Field(min_length=1),
        one_or_list({"enum": list(FIELDS)}),
    ] = FIELDS
    notify: Names | None = Field(default=None, description="Target names to alert; default all targets.")
    notify_on: Annotated[
        tuple[NotifyOn, ...],
        BeforeValidator(one_or_many),
        Field(min_length=1),
        one_or_list({"enum": list(get_args(NotifyOn))}),
    ] = Field(
        default=("hit",),
        description="hit: an alert for new hits; date_change: an alert when the event's estimated date "
        "changes (summit-watch event RULE). One or a list.",
    )
    group_wait: Duration | None = None
    cooldown: Duration | None = None
    quiet_hours: QuietHours | None = None
    digest: Digest | None = None
    priority: Literal["low", "normal", "high"] = "normal"
    templates: Templates | None = Field(
        default=None, description="Message templates for this rule's alerts; a target's own override them."
    )

    @property
    def title(self) -> str:
        """The human name of the rule."""
        return self.name or self.id


@cache
def _rule_file() -> "TypeAdapter[Rule | list[Rule]]":
    """A rule file's type, built when first asked: only ``json_schema`` needs it."""
    from pydantic import TypeAdapter

    return TypeAdapter(Rule | list[Rule])


def json_schema() -> dict[str, Any]:
    """JSON Schema of a rule file (one rule or a list), for editors' autocompletion."""
    schema = _rule_file().json_schema()
    # ``id`` defaults to the file stem; only a file holding a list must name each rule.
    listed = schema["$defs"]["Rule"]
    schema["$defs"]["ListedRule"] = listed
    schema["$defs"]["Rule"] = {**listed, "required": [key for key in listed["required"] if key != "id"]}
    for branch in schema["anyOf"]:
        if branch.get("type") == "array":
            branch["items"] = {"$ref": "#/$defs/ListedRule"}
    _shorthands(schema["$defs"])
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "summit-watch rule file"
    return schema


def _shorthands(defs: dict[str, Any]) -> None:
    """Write into the schema what the validators accept besides the models: a list of terms as
    one term, an entry as a term or a list, an exclusion as a term, ``match`` as one block."""

    def one_or_many(item: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}

    term = {"anyOf": [_TERM_SCHEMA, {"$ref": "#/$defs/LabelledTerm"}]}
    entry = {
        "anyOf": [*term["anyOf"], {"type": "array", "items": term, "minItems": 1}, {"$ref": "#/$defs/Entry"}]
    }
    exclusion = {"anyOf": [*term["anyOf"], {"$ref": "#/$defs/Exclusion"}]}
    within = {
        "description": defs["Entry"]["properties"]["within"].get("description", ""),
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 200}, {"const": "sentence"}],
        "default": DEFAULT_WITHIN,
    }
    for model in ("Entry", "Exclusion"):
        properties = defs[model]["properties"]
        description = properties["terms"].get("description")
        properties["terms"] = {**({"description": description} if description else {}), **one_or_many(term)}
        properties["within"] = within
    block = defs["MatchSpec"]["properties"]
    block["all"] = {"description": block["all"]["description"], **one_or_many(entry)}
    block["any"] = {"description": block["any"]["description"], **one_or_many(term)}
    block["none"] = {"description": block["none"]["description"], **one_or_many(exclusion)}
    for rule in ("Rule", "ListedRule"):
        match = defs[rule]["properties"]["match"]
        defs[rule]["properties"]["match"] = {
            "description": match["description"],
            **one_or_many({"$ref": "#/$defs/MatchSpec"}),
        }


@dataclass(frozen=True)
class LoadedRule:
    """A rule and where it was defined, for error messages and reloads."""

    rule: Rule
    path: Path
    line: int | None
    notify_line: int | None = None  # where its `notify:` is, to point at an unknown target


@dataclass(frozen=True)
class RuleSet:
    """The validated rules of a file or directory, in a stable order, their ``@name`` lists
    expanded; ``lists`` holds every list they could use."""

    rules: tuple[LoadedRule, ...]
    lists: TermLists | None = None

    def __iter__(self) -> Iterator[Rule]:
        return (loaded.rule for loaded in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        """The rules that take part in matching."""
        return tuple(rule for rule in self if rule.enabled)


def rule_files(path: Path) -> list[Path]:
    """The rule files of a path: the file itself, or a directory's *.yaml/*.yml (not hidden ones)."""
    if path.is_dir():
        return sorted(
            p
            for p in path.iterdir()
            if p.suffix in RULE_FILE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        )
    return [path]


def watched_files(path: Path) -> list[Path]:
    """The files whose change changes the rules: the rule files and the user's list files."""
    lists = lists_directory(path)
    found = rule_files(path) if path.exists() else []
    if lists.is_dir():
        found += sorted(p for p in lists.iterdir() if p.suffix in RULE_FILE_SUFFIXES and p.is_file())
    return found


def load_rules(path: Path, targets: Collection[str] | None = None) -> RuleSet:
    """Load and validate every rule under ``path`` and the lists beside it (``lists/``), expand
    each ``@name``; with ``targets`` (the settings file's target names), check each rule's
    ``notify``. Raise ``RulesError`` listing every problem."""
    if not path.exists():
        raise RulesError([Problem(path, None, "", "no such file or directory")])
    files = rule_files(path)
    if not files:
        raise RulesError([Problem(path, None, "", "no rule files (*.yaml, *.yml) in this directory")])
    loaded: list[LoadedRule] = []
    declared: list[_DeclaredId] = []
    references: list[_Reference] = []
    problems: list[Problem] = []
    for file in files:
        rules, ids, refs, file_problems = _load_file(file)
        loaded.extend(rules)
        declared.extend(ids)
        references.extend(refs)
        problems.extend(sorted(file_problems, key=lambda p: p.line or 0))
    problems.extend(_duplicate_ids(declared))
    # The bundled lists (hundreds of lines of YAML) are read only when lists are used.
    directory = lists_directory(path)
    lists, list_problems = load_lists(directory, check_term, bundled=bool(references) or directory.is_dir())
    problems[:0] = list_problems
    for reference in references:
        if reference.name not in lists:
            message = f"unknown list @{reference.name}{lists.suggestion(reference.name)}"
            problems.append(Problem(reference.path, reference.line, reference.field, message))
    if targets is not None:
        problems.extend(_unknown_targets(loaded, targets))
    if problems:
        raise RulesError(problems)
    return RuleSet(tuple(replace(r, rule=expand_lists(r.rule, lists)) for r in loaded), lists)


def _unknown_targets(loaded: Iterable[LoadedRule], targets: Collection[str]) -> list[Problem]:
    """A ``notify:`` naming a target the settings file does not define: its alerts would fail
    for 48 hours before anyone noticed."""
    problems = []
    for found in loaded:
        for name in found.rule.notify or ():
            if name in targets:
                continue
            close = difflib.get_close_matches(name, list(targets), n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            elif targets:
                hint = f" (targets: {', '.join(sorted(targets))})"
            else:
                hint = " (the settings file defines no targets: alerts go to standard output)"
            message = f"unknown target {name!r}{hint}"
            problems.append(Problem(found.path, found.notify_line or found.line, "notify", message))
    return problems


@dataclass(frozen=True)
class _Reference:
    """A ``@name`` in a rule, where it is written."""

    name: str
    path: Path
    line: int | None
    field: str


def expand_lists(rule: Rule, lists: TermLists) -> Rule:
    """The rule with each ``@name`` term replaced by the list's terms (a label or ``exact`` on it
    goes to each of them)."""

    def terms(written: tuple[str | LabelledTerm, ...]) -> tuple[str | LabelledTerm, ...]:
        found: dict[str | LabelledTerm, None] = {}
        for term in written:
            name = list_reference(term if isinstance(term, str) else term.term)
            if name is None:
                found[term] = None
                continue
            for listed in lists.terms(name):
                found[listed if isinstance(term, str) else term.model_copy(update={"term": listed})] = None
        return tuple(found)

    blocks = tuple(
        block.model_copy(
            update={
                # The entry keeps the name it has as written: "@india", not the list's first term.
                "all": tuple(
                    e.model_copy(update={"terms": terms(e.terms), "label": e.name}) for e in block.all
                ),
                "any": terms(block.any),
                "none": tuple(x.model_copy(update={"terms": terms(x.terms)}) for x in block.none),
            }
        )
        for block in rule.match
    )
    return rule.model_copy(update={"match": blocks})


def _references(doc: YamlDocument, loc: tuple[str | int, ...], entry: object) -> list[_Reference]:
    """Every ``@name`` of a rule as written, at its line."""
    found = []
    for where, value in _strings(entry, ()):
        name = list_reference(value)
        if name is not None:
            line = doc.line_of((*loc, *where)) or doc.line_of(loc)
            found.append(_Reference(name, doc.path, line, field_name(("match", *where))))
    return found


def _strings(value: object, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each string in a YAML value, with where it stands."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "label":  # a label is a name, whatever it looks like
                yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


@dataclass(frozen=True)
class _DeclaredId:
    """A rule id as written (or defaulted), valid rule or not, to find duplicates."""

    id: str
    path: Path
    line: int | None


def _load_file(path: Path) -> tuple[list[LoadedRule], list[_DeclaredId], list[_Reference], list[Problem]]:
    doc = load_yaml(path)
    if doc.problems:
        return [], [], [], doc.problems
    if isinstance(doc.data, list):
        if not doc.data:
            return [], [], [], [Problem(path, 1, "", "the file holds an empty list of rules")]
        entries: list[tuple[tuple[int, ...], object, bool]] = [
            ((index,), entry, False) for index, entry in enumerate(doc.data)
        ]
    elif isinstance(doc.data, dict):
        entries = [((), doc.data, True)]
    else:
        message = "expected a rule (a mapping) or a list of rules"
        return [], [], [], [Problem(path, doc.line_of(()) or 1, "", message)]
    rules: list[LoadedRule] = []
    ids: list[_DeclaredId] = []
    references: list[_Reference] = []
    problems: list[Problem] = []
    for loc, entry, single in entries:
        rule, entry_problems = _validate(doc, loc, entry, default_id=path.stem if single else None)
        problems.extend(entry_problems)
        if rule is not None:
            match = entry.get("match") if isinstance(entry, dict) else None
            references.extend(_references(doc, (*loc, "match"), match))
        declared = entry.get("id", path.stem if single else None) if isinstance(entry, dict) else None
        if isinstance(declared, str):
            ids.append(_DeclaredId(declared, path, doc.line_of((*loc, "id")) or doc.line_of(loc)))
        if rule is not None:
            rules.append(LoadedRule(rule, path, doc.line_of(loc), doc.line_of((*loc, "notify"))))
    return rules, ids, references, problems


def _validate(
    doc: YamlDocument, loc: tuple[int, ...], entry: object, default_id: str | None
) -> tuple[Rule | None, list[Problem]]:
    if not isinstance(entry, dict):
        return None, [Problem(doc.path, doc.line_of(loc), "", "expected a rule (a mapping of keys)")]
    if default_id is not None and "id" not in entry:
        if not re.match(ID_PATTERN, default_id):
            message = f"file name {default_id!r} is not a valid rule id; set 'id:' explicitly"
            return None, [Problem(doc.path, doc.line_of(loc), "id", message)]
        entry = {"id": default_id, **entry}
    try:
        return Rule.model_validate(entry), []
    except ValidationError as e:
        return None, validation_problems(doc, e, Rule, prefix=loc)


def _duplicate_ids(declared: Iterable[_DeclaredId]) -> list[Problem]:
    first: dict[str, _DeclaredId] = {}
    problems = []
    for entry in declared:
        seen = first.setdefault(entry.id, entry)
        if seen is not entry:
            where = f"{seen.path}:{seen.line}" if seen.line else str(seen.path)
            problems.append(
                Problem(entry.path, entry.line, "id", f"duplicate rule id {entry.id!r} (first in {where})")
            )
    return problems
