"""The settings file: database, rules, feeds, alert targets and defaults.

Validated like rule files (every error at once, as ``path:line: field: message``; unknown keys
are errors). ``${NAME}`` in any string is replaced by the environment variable NAME, else by the
systemd credential NAME (``$CREDENTIALS_DIRECTORY/NAME``), else ``${NAME:-default}``'s default,
so secrets stay out of the file. Target URLs must be usable by Apprise; a file with a secret
written inline is warned about unless only its owner can read it. Relative paths (rules, a SQLite
file) are relative to the file's directory, so a config works wherever it is run from.
"""

import ipaddress
import logging
import os
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, model_validator

from watcher.errors import ConfigError, Problem
from watcher.schema import ID_PATTERN, Duration, Flag, Names, StrictModel, Templates
from watcher.yamlfile import YamlDocument, field_name, load_yaml, validation_problems

log = logging.getLogger(__name__)

CONFIG_ENV = "SUMMIT_WATCH_CONFIG"
SYSTEM_CONFIG = Path("/etc/summit-watch/config.yaml")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_FEED_SCHEMES = ("http", "https", "file")
DEFAULT_LISTEN = "127.0.0.1:9750"


def _check_feed_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in _FEED_SCHEMES:
        raise ValueError(f"{url!r} is not an http://, https:// or file:// URL")
    if parts.scheme != "file" and not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    return url


GroupBy = Literal["story", "rule"]


class FeedConfig(StrictModel):
    """A feed to poll."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    url: Annotated[str, AfterValidator(_check_feed_url)]
    tags: Names = ()
    interval: Duration | None = Field(
        default=None, description="Time between polls; default defaults.interval."
    )


class TargetConfig(StrictModel):
    """Where alerts go: an Apprise URL (secrets from ${ENV}, never written in the file)."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    url: str
    format: Literal["text", "markdown", "html"] = "text"
    templates: Templates | None = Field(
        default=None, description="Message templates; override those of the rules alerting here."
    )
    pace: Duration | None = Field(
        default=None,
        description="Least time between two messages to this target; default Apprise's for the "
        "service (5.5 s for email, 1.2 s for Slack). A local mail relay can take 0.",
    )
    group_by: GroupBy | None = Field(
        default=None,
        description="story: one message for the rules that fired on the same story at once; "
        "rule: a message per rule. Default defaults.group_by.",
    )


class Defaults(StrictModel):
    """Values for feeds and rules that do not set their own."""

    interval: Duration = timedelta(minutes=10)
    group_wait: Duration = timedelta(minutes=1)
    cooldown: Duration = timedelta(0)
    group_by: GroupBy = Field(
        default="story",
        description="Per target, one message for several rules' alerts on the same story (story) "
        "or one per rule (rule).",
    )


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (an IPv6 host in brackets: ``[::1]:9750``) -> (host, port); ValueError if not."""
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{value!r} is not host:port (such as {DEFAULT_LISTEN} or [::1]:9750)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)  # a ValueError names the bad address
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, such as [::1]:9750")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"{value!r}: port {port} is out of range (0-65535)")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (no name is looked up)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_listen(value: str) -> str:
    parse_listen(value)
    return value


class HealthConfig(StrictModel):
    """The optional HTTP endpoint serving /healthz and Prometheus /metrics."""

    listen: Annotated[str, AfterValidator(_check_listen)] = Field(
        default=DEFAULT_LISTEN, description="host:port to listen on ([::1]:9750 for IPv6)."
    )
    allow_remote: Flag = Field(
        default=False,
        description="Allow a non-loopback listen address: the endpoint has no authentication.",
    )

    @model_validator(mode="after")
    def _loopback_only(self) -> Self:
        if not self.allow_remote and not is_loopback(parse_listen(self.listen)[0]):
            raise ValueError(
                f"listen {self.listen!r} is not a loopback address; the endpoint has no authentication, "
                "so set allow_remote: true to listen there"
            )
        return self


class Config(StrictModel):
    """The whole settings file."""

    database: str = "sqlite:///summit-watch.db"
    rules: Path = Path("rules")
    feeds: tuple[FeedConfig, ...] = ()
    targets: tuple[TargetConfig, ...] = ()
    defaults: Defaults = Defaults()
    health: HealthConfig | None = Field(default=None, description="/healthz and /metrics; none by default.")
    retention: Duration = Field(
        default=timedelta(days=30),
        description="Items no rule hit are deleted this long after they were fetched (hits are kept).",
    )

    def interval(self, feed: FeedConfig) -> timedelta:
        """How often ``feed`` is polled."""
        return feed.interval or self.defaults.interval

    def group_by(self, target: str) -> GroupBy:
        """Whether ``target`` gets one message per story or per rule (a target not in the file:
        the default)."""
        for configured in self.targets:
            if configured.name == target and configured.group_by is not None:
                return configured.group_by
        return self.defaults.group_by


def search_path() -> tuple[Path, ...]:
    """Where a settings file is looked for, after ``--config`` and $SUMMIT_WATCH_CONFIG: the
    current directory, the user's configuration directory (XDG), the system's."""
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return (Path("summit-watch.yaml"), user / "summit-watch" / "config.yaml", SYSTEM_CONFIG)


def find_config(explicit: Path | None = None) -> Path:
    """The settings file: ``--config``, then $SUMMIT_WATCH_CONFIG, ./summit-watch.yaml,
    $XDG_CONFIG_HOME/summit-watch/config.yaml, /etc/summit-watch/config.yaml."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    places = search_path()
    for candidate in places:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(place) for place in places)
    message = (
        f"no settings file found (looked at --config, ${CONFIG_ENV}, {looked}); "
        f"point at one with --config FILE or {CONFIG_ENV}=FILE "
        "(the demo's is examples/summit-watch.yaml; `make run` links it as ./summit-watch.yaml)"
    )
    raise ConfigError([Problem(places[0], None, "", message)])


def load_config(path: Path) -> Config:
    """Read and validate a settings file; raise ``ConfigError`` listing every problem."""
    if not path.is_file():
        raise ConfigError([Problem(path, None, "", "no such settings file")])
    doc = load_yaml(path)
    if doc.problems:
        raise ConfigError(doc.problems)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [Problem(path, 1, "", "expected a mapping of settings (database:, rules:, feeds: ...)")]
        )
    problems: list[Problem] = []
    data = _interpolate(doc, doc.data, (), problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        problems.extend(validation_problems(doc, e, Config))
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from e
    problems.extend(_duplicates(doc, "feeds", [feed.name for feed in config.feeds]))
    problems.extend(_duplicates(doc, "targets", [target.name for target in config.targets]))
    problems.extend(_check_targets(doc, config.targets, {problem.field for problem in problems}))
    if problems:
        raise ConfigError(problems)
    # Relative paths are relative to the file itself: through a link, to where it points.
    return _resolve_paths(config, path.resolve().parent)


def _interpolate(doc: YamlDocument, value: Any, loc: tuple[str | int, ...], problems: list[Problem]) -> Any:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in every string by an environment or credential value."""
    if isinstance(value, dict):
        return {key: _interpolate(doc, item, (*loc, key), problems) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(doc, item, (*loc, index), problems) for index, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(found: re.Match[str]) -> str:
        name, default = found.group(1), found.group(2)
        if name in os.environ:
            return os.environ[name]
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials:
            try:
                return (Path(credentials) / name).read_text(encoding="utf-8").removesuffix("\n")
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of(loc),
                        field_name(loc),
                        f"cannot read credential {name}: {reason}",
                    )
                )
                return ""
        if default is not None:
            return default
        missing = f"environment variable {name} is not set"
        if credentials:
            missing += f" and there is no credential {name} in {credentials}"
        problems.append(Problem(doc.path, doc.line_of(loc), field_name(loc), missing))
        return ""

    return _VARIABLE.sub(substitute, value)


def _duplicates(doc: YamlDocument, key: str, names: list[str]) -> list[Problem]:
    counts = Counter(names)
    return [
        Problem(doc.path, doc.line_of((key, index)), f"{key}[{index}].name", f"duplicate name {name!r}")
        for index, name in enumerate(names)
        if counts[name] > 1 and names.index(name) != index
    ]


def _check_targets(doc: YamlDocument, targets: tuple[TargetConfig, ...], failed: set[str]) -> list[Problem]:
    """Apprise must be able to use every target URL; a secret written inline needs a private file.

    Checked after the schema, like duplicate names: a URL whose ``${NAME}`` is unset (a field in
    ``failed``) already has its error. Apprise is imported only when there are targets.
    """
    if not targets:
        return []
    from watcher.urls import check_url  # Apprise is imported only when there are targets

    problems = []
    inline = []
    for index, target in enumerate(targets):
        field = f"targets[{index}].url"
        if field in failed:
            continue
        try:
            has_secret = check_url(target.url)
        except ValueError as e:
            problems.append(Problem(doc.path, doc.line_of(("targets", index, "url")), field, str(e)))
            continue
        if has_secret and not _VARIABLE.search(str(doc.data["targets"][index]["url"])):
            inline.append(target.name)
    if inline and (mode := doc.path.stat().st_mode & 0o777) & 0o077:
        for name in inline:
            log.warning(
                "config_secret_readable path=%s target=%s mode=%03o fix=%s",
                doc.path,
                name,
                mode,
                "put the secret in ${NAME} (environment or credential) or chmod go-rwx the file",
            )
    return problems


def _resolve_feed_path(feed: FeedConfig, base: Path) -> FeedConfig:
    """``file:sample.xml`` (no ``//``) is a path relative to the settings file's directory."""
    if not feed.url.startswith("file:") or feed.url.startswith("file://"):
        return feed
    return feed.model_copy(update={"url": (base / feed.url.removeprefix("file:")).resolve().as_uri()})


def _resolve_paths(config: Config, base: Path) -> Config:
    """Make the rules path, a relative SQLite path and relative ``file:`` feeds relative to the
    settings file's directory."""
    changes: dict[str, Any] = {}
    if not config.rules.is_absolute():
        changes["rules"] = base / config.rules
    feeds = [_resolve_feed_path(feed, base) for feed in config.feeds]
    if feeds != list(config.feeds):
        changes["feeds"] = tuple(feeds)
    prefix = "sqlite:///"
    if config.database.startswith(prefix):
        file = config.database.removeprefix(prefix)
        if file and file != ":memory:" and not Path(file).is_absolute():
            changes["database"] = prefix + str((base / file).resolve())
    return config.model_copy(update=changes) if changes else config
