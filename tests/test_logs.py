"""Log lines: an event name and ``key=value`` fields, each value one token even with spaces in it."""

import io
import logging
from collections.abc import Iterator

import pytest

from watcher.logs import FieldFormatter, quote_value


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FieldFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def test_a_value_with_spaces_is_quoted(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.warning("feed_failed feed=%s error=%s attempts=%d", "bbc", "connection refused", 3)
    assert stream.getvalue() == 'WARNING feed_failed feed=bbc error="connection refused" attempts=3\n'


def test_plain_values_and_text_outside_fields_stay_as_they_are(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.error(
        "rules_invalid %s (the running rules stay) rule=%s", "rules/a.yaml:3: bad term", "putin-visit"
    )
    assert (
        stream.getvalue()
        == "ERROR rules_invalid rules/a.yaml:3: bad term (the running rules stay) rule=putin-visit\n"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\nbreak"'),
        (42, "42"),
    ],
)
def test_quote_value(value: object, shown: str) -> None:
    assert quote_value(value) == shown


def test_a_percent_sign_does_not_shift_the_fields(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("progress 50%% feed=%s reason=%s", "tass", "not modified")
    assert stream.getvalue() == 'INFO progress 50% feed=tass reason="not modified"\n'
