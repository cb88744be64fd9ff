"""Items to try rules on, read from files: JSON Lines, RSS/Atom documents or plain text.

JSON Lines are taken as real tools write them: ``null`` fields, RFC 822 dates (as feeds give
them), keys of their own. A line that cannot be read is skipped and reported with its number;
a file that cannot be read at all fails the whole read (``InputError``).
"""

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

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

    @field_validator("title", "summary", "content", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("published", mode="before")
    @classmethod
    def _feed_dates(cls, value: Any) -> Any:
        """ISO 8601 or RFC 822 (``Tue, 17 Feb 2026 10:00:00 GMT``, as RSS writes it); "" is none."""
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            try:
                return parsedate_to_datetime(value)
            except (TypeError, ValueError):
                raise ValueError("not a date (ISO 8601 or RFC 822)") from None
        return value


@dataclass(frozen=True)
class ReadItems:
    """The items read, and the lines skipped because they could not be read."""

    items: tuple[Item, ...]
    skipped: tuple[Problem, ...]


def read_items(paths: list[Path]) -> ReadItems:
    """Read every input, skipping the lines that cannot be read (``skipped`` says which).

    A file that cannot be read at all raises ``InputError`` listing every problem of every file,
    so nothing is half-read when the input itself is wrong.
    """
    items: list[Item] = []
    problems: list[Problem] = []
    skipped: list[Problem] = []
    for path in paths:
        try:
            body = path.read_bytes()
        except OSError as e:
            problems.append(Problem(path, None, "", f"cannot read: {e.strerror or e}"))
            continue
        if path.suffix.lower() in JSONL_SUFFIXES:
            found, lines = _jsonl(path, body)
            file_problems = [p for p in lines if p.line is None]
            skipped.extend(p for p in lines if p.line is not None)
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
        raise InputError(problems + skipped)
    return ReadItems(tuple(items), tuple(skipped))


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
