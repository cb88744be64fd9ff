"""The one exception hierarchy of summit-watch.

Expected failures the user can fix (a broken rule file, an unreadable input) are ``WatcherError``
subclasses carrying a message fit to print and the exit code it means. Anything else is a bug
and is allowed to crash loudly.
"""

from dataclasses import dataclass
from pathlib import Path


class WatcherError(Exception):
    """A failure the user can act on; its message names the file, feed or target at fault."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One error in a user's file, located as ``path:line: field: message``."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InvalidFileError(WatcherError):
    """Files of the user's that cannot be used as they are; holds every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RulesError(InvalidFileError):
    """Rule files with errors."""


class InputError(InvalidFileError):
    """Input files (items to test rules on) that cannot be read."""
