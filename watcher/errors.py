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


class ConfigError(InvalidFileError):
    """A settings file that is missing or invalid."""


class HealthError(WatcherError):
    """The health endpoint cannot listen where it is told to."""

    exit_code = 1


class PlotUnavailableError(WatcherError):
    """``--png`` without matplotlib installed."""

    exit_code = 2


class DaemonRunningError(WatcherError):
    """Another daemon holds the SQLite database."""


class SchemaOutdatedError(WatcherError):
    """The database was created by an older (or newer) summit-watch: ``db upgrade`` is needed."""

    exit_code = 2


class StorageError(WatcherError):
    """The database cannot be used: unreachable, locked, full, read-only, not a database..."""

    exit_code = 1
