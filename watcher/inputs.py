"""Items to try rules on, read from files: JSON Lines, RSS/Atom documents or plain text."""

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from watcher.errors import InputError, Problem
from watcher.items import Item
from watcher.parse import parse_feed

JSONL_SUFFIXES = (".jsonl", ".ndjson")


class _JsonItem(BaseModel):
    """One line of a JSONL file; keys other than these are ignored (other tools add their own)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str
    title: str = ""
    summary: str = ""
    content: str = ""
    link: str | None = None
    published: datetime | None = None
    source: str | None = None

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


def read_items(paths: list[Path]) -> list[Item]:
    """Read every input; raise ``InputError`` listing every problem (nothing is half-read)."""
    items: list[Item] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            body = path.read_bytes()
        except OSError as e:
            problems.append(Problem(path, None, "", f"cannot read: {e.strerror or e}"))
            continue
        if path.suffix.lower() in JSONL_SUFFIXES:
            found, file_problems = _jsonl(path, body)
        elif _start(body) == b"<":  # RSS, Atom or RDF
            found, file_problems = _feed(path, body)
        elif _start(body) in (b"{", b"["):
            message = "a JSON document: items must be JSON Lines, one object per line, in a .jsonl file"
            found, file_problems = [], [Problem(path, None, "", message)]
        else:
            found, file_problems = _text(path, body)
        items.extend(found)
        problems.extend(file_problems)
    if problems:
        raise InputError(problems)
    return items


def _start(body: bytes) -> bytes:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def _jsonl(path: Path, body: bytes) -> tuple[list[Item], list[Problem]]:
    items: list[Item] = []
    problems: list[Problem] = []
    text = _decode(body)
    if isinstance(text, UnicodeDecodeError):
        return [], [_not_utf8(path, text)]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(path, number, "", f"invalid JSON: {e.msg} (column {e.colno})"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(path, number, "", "expected a JSON object with at least an id"))
            continue
        try:
            data = _JsonItem.model_validate(record)
        except ValidationError as e:
            for error in e.errors(include_url=False):
                field = ".".join(str(part) for part in error["loc"]) or "item"
                message = (
                    "required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
                )
                problems.append(Problem(path, number, field, message[:1].lower() + message[1:]))
            continue
        items.append(Item(**data.model_dump()))
    return items, problems


def _feed(path: Path, body: bytes) -> tuple[list[Item], list[Problem]]:
    parsed = parse_feed(body)
    if not parsed.is_feed:
        reason = f": {parsed.problem}" if parsed.problem else ""
        return [], [Problem(path, None, "", f"not an RSS or Atom feed{reason}")]
    return list(parsed.items), []


def _text(path: Path, body: bytes) -> tuple[list[Item], list[Problem]]:
    if b"\0" in body:
        return [], [Problem(path, None, "", "binary file: expected JSONL items, an RSS/Atom feed or text")]
    text = _decode(body)
    if isinstance(text, UnicodeDecodeError):
        return [], [_not_utf8(path, text)]
    return [Item(id=path.name, content=text)], []


def _decode(body: bytes) -> str | UnicodeDecodeError:
    """UTF-8 text (a BOM is allowed), or why it is not."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return e


def _not_utf8(path: Path, error: UnicodeDecodeError) -> Problem:
    return Problem(path, None, "", f"not UTF-8 text ({error.reason} at byte {error.start})")
