"""Value types shared by the YAML schemas (rules and config): strict models, durations, names."""

import re
from datetime import timedelta
from string import Template
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    WithJsonSchema,
)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class StrictModel(BaseModel):
    """Frozen, and unknown keys are errors: a typo such as ``realret:`` is never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def parse_duration(value: object) -> object:
    """``90``, ``"30s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1w"`` -> timedelta; the rest is pydantic's."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 2h or 1d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if not found:
            raise ValueError(f"{value!r} is not a duration such as 30s, 10m, 2h or 1d")
        return timedelta(seconds=float(found.group(1)) * _DURATION_UNITS[found.group(2)])
    return value


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Kolkata)") from e
    return name


def one_or_many(value: object) -> object:
    """Accept a single value where a list is expected: ``feeds: india`` = ``feeds: [india]``."""
    return (value,) if isinstance(value, str | int) and not isinstance(value, bool) else value


def one_or_list(item: dict[str, Any]) -> WithJsonSchema:
    """JSON Schema of a value written either alone or as a non-empty list."""
    return WithJsonSchema({"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]})


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "integer"], "pattern": r"^\d+(\.\d+)?(s|m|h|d|w)$"}),
]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Names = Annotated[tuple[str, ...], BeforeValidator(one_or_many), one_or_list({"type": "string"})]
# true or false only: YAML 1.2 reads `no` and `off` as strings, and they must not pass as false.
Flag = Annotated[bool, Strict()]


# The placeholders each message template may use (``watcher.messages`` fills exactly these).
_MESSAGE_PLACEHOLDERS = frozenset({"rule", "priority", "count", "stories"})
TEMPLATE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "title": _MESSAGE_PLACEHOLDERS | {"title"},
    "header": _MESSAGE_PLACEHOLDERS,
    "entry": frozenset(
        {
            "rule",
            "rules",
            "priority",
            "title",
            "headline",
            "source",
            "published",
            "link",
            "matched",
            "snippet",
            "also",
        }
    ),
    "footer": _MESSAGE_PLACEHOLDERS,
}


def _check_template(text: str, info: ValidationInfo) -> str:
    """Reject what ``string.Template`` would fail on at send time: unknown names, a stray ``$``."""
    allowed = TEMPLATE_PLACEHOLDERS[str(info.field_name)]
    valid = ", ".join(f"${name}" for name in sorted(allowed))
    template = Template(text)
    for found in template.pattern.finditer(text):
        if found.group("invalid") is not None:
            written = text[found.start() :].split(maxsplit=1)[0]
            raise ValueError(
                f"bad placeholder {written!r} (write $$ for a literal $); valid placeholders: {valid}"
            )
    unknown = [name for name in template.get_identifiers() if name not in allowed]
    if unknown:
        raise ValueError(f"unknown placeholder ${unknown[0]}; valid placeholders: {valid}")
    return text


MessageTemplate = Annotated[str, AfterValidator(_check_template)]


class Templates(StrictModel):
    """``string.Template`` texts replacing parts of the default alert message (unset: the default).

    Each part takes the placeholders ``TEMPLATE_PLACEHOLDERS`` names. ``$rule`` is the rule's name, or
    in a message for several rules all their names (``A, B``; ``A + B`` in the title); an entry's
    ``$rules`` names the rules that fired on its story in such a message (empty otherwise), and its
    ``$matched`` the terms matched, as found and where (``Putin (title), speaks ~ spoke (summary)``).
    """

    title: MessageTemplate | None = Field(
        default=None, description="The message title (email subject); one line."
    )
    header: MessageTemplate | None = Field(default=None, description="The first lines of the body.")
    entry: MessageTemplate | None = Field(
        default=None,
        description="One story. $rules: the rules that fired on it, in a message for several rules; "
        "$matched: the terms matched, as found and where.",
    )
    footer: MessageTemplate | None = Field(default=None, description="The last lines of the body.")
