"""Safe YAML loading that remembers the line of every value, and validation errors located there.

Rule and config files are validated by pydantic models; this module turns each validation error
into a ``Problem`` (``path:line: field: message``) so a user sees every mistake at once, at the
line where it is. YAML is read with a safe loader using YAML 1.2 scalars: ``off``, ``no`` and
``22:00`` stay strings instead of becoming ``False`` and ``1320``.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from watcher.errors import Problem

Loc = tuple[str | int, ...]
LineMap = dict[Loc, int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and integers (no yes/no/on/off, no sexagesimal)."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
    list("-+0123456789"),
)


class YamlDocument:
    """A parsed YAML file: its data and the line where each value (by location) starts."""

    def __init__(self, path: Path, data: Any, lines: LineMap, problems: list[Problem]) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.problems = problems

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known location on ``loc`` (pydantic adds type names to locs)."""
        found: Loc = ()
        for part in loc:
            if (*found, part) in self.lines:
                found = (*found, part)
        return self.lines.get(found)


def load_yaml(path: Path) -> YamlDocument:
    """Parse a YAML file; syntax errors and duplicate keys are returned as problems, not raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return YamlDocument(path, None, {}, [Problem(path, None, "", f"cannot read file: {reason}")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(str(part) for part in (e.problem, e.context) if part)
        return YamlDocument(path, None, {}, [Problem(path, line, "", f"YAML syntax error: {message}")])
    except yaml.YAMLError as e:
        return YamlDocument(path, None, {}, [Problem(path, None, "", f"YAML error: {e}")])
    finally:
        loader.dispose()
    lines: LineMap = {}
    problems: list[Problem] = []
    if node is not None:
        _index_lines(path, node, (), lines, problems)
    return YamlDocument(path, data, lines, problems)


def _index_lines(path: Path, node: yaml.Node, loc: Loc, lines: LineMap, problems: list[Problem]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(path, key_node.start_mark.line + 1, field_name((*loc, key)), "duplicate key")
                )
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_lines(path, value_node, (*loc, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(path, item, (*loc, index), lines, problems)


def field_name(loc: Sequence[str | int]) -> str:
    """``('match', 'all', 0)`` -> ``match.all[0]``."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def validation_problems(
    doc: YamlDocument, error: ValidationError, model: type[BaseModel], prefix: Loc = ()
) -> list[Problem]:
    """Turn a pydantic error on ``model`` (validated from ``doc.data`` at ``prefix``) into problems."""
    problems = []
    for detail in error.errors(include_url=False):
        loc = _data_loc(doc, prefix, tuple(detail["loc"]), detail["type"] == "missing")
        problems.append(
            Problem(doc.path, doc.line_of((*prefix, *loc)), field_name(loc), _message(detail, model, loc))
        )
    return problems


def _data_loc(doc: YamlDocument, prefix: Loc, loc: Loc, missing: bool) -> Loc:
    """The part of a pydantic loc that names the user's keys, without pydantic's type tags."""
    found: Loc = ()
    for index, part in enumerate(loc):
        if (*prefix, *found, part) in doc.lines or (missing and index == len(loc) - 1):
            found = (*found, part)
    return found


# pydantic's wording speaks Python ("a valid tuple"); a rule author thinks in YAML.
_PLAIN_MESSAGES = {
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "time_type": "expected a time of day such as 22:00",
    "time_parsing": "expected a time of day such as 22:00",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "must start with a letter or digit, then letters, digits, '.', '_' or '-'",
}


def _message(detail: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = detail["type"]
    if kind == "extra_forbidden":
        allowed = _keys_at(model, loc[:-1])
        import difflib  # only for a misspelt key

        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; allowed keys: {', '.join(allowed)}"
        return f"unknown key{suggestion}"
    if kind == "missing":
        return "required key is missing"
    if kind in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[kind]
    message = detail["msg"]
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


def _keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys a model accepts at a nested location, following fields that are models."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = _keys(current).get(str(part))
        nested = _model_in(field.annotation) if field else None
        if nested is None:
            return []
        current = nested
    return sorted(_keys(current))


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key a file writes for them (its alias: ``in`` for ``in_``)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
