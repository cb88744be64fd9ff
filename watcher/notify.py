"""Alert targets: an Apprise URL (email, Slack, ...) or stdout, each sending a rendered ``Message``.

Each target owns one ``apprise.Apprise`` object holding exactly one service, so its outcome is
the ``AppriseResult`` status (never log text) and one target's failure never touches another.
Nothing shown to a person holds a secret: descriptions are Apprise's ``url(privacy=True)`` with
custom header and parameter values masked too, and every part of a URL that this masking hides
is scrubbed from log lines and exception text before they become a failure reason.

Priorities: Apprise has no "low", so ``low`` and ``normal`` alerts are sent as ``info`` and
``high`` ones as ``warning`` (services that show types give those a colour or an icon).

How long a send may take is bounded by Apprise's socket timeouts, per socket operation: email
15 s (``cto=`` in the URL; smtplib applies it to the connection and to every read and write,
so a server that stops answering fails the send 15 s later), HTTP services 4 s to connect and
4 s between reads (``cto=``, ``rto=``). A server trickling its answer byte by byte is not
bounded; the outbox never waits on one (see ``Outbox.dispatch``).
"""

import html
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import unquote

import apprise
from apprise.plugins import N_MGR

from watcher.alerts import Format, Message, Priority, SendResult
from watcher.config import Config, TargetConfig
from watcher.messages import DEFAULT_LIMITS, Limits, limits_for
from watcher.schema import Templates

_NOTIFY_TYPE: dict[Priority, apprise.NotifyType] = {
    "low": apprise.NotifyType.INFO,
    "normal": apprise.NotifyType.INFO,
    "high": apprise.NotifyType.WARNING,
}
_BODY_FORMAT: dict[Format, apprise.NotifyFormat] = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Apprise URLs are split on these to find the parts (user, password, tokens, path, values).
_DELIMITERS = re.compile(r"[/:@?&=#,;\s]+")
_QUERY_KEY = re.compile(r"([?&])[^=&#]*=")
_PORT = re.compile(r"^([^/?#]*?):\d{1,5}(?=[/?#]|$)")  # after the scheme is removed
# ``+Header=``, ``-param=`` and ``:field=`` values of json://, form://, xml:// often hold tokens,
# and ``url(privacy=True)`` leaves them as they are.
_CUSTOM_VALUE = re.compile(r"([?&](?:%2B|%2D|%3A|[+:-])[^=&#]*=)[^&#]*", re.IGNORECASE)
_MASK = "****"


@dataclass(frozen=True, eq=False)
class Target(ABC):
    """Where alerts go: messages are rendered in ``format`` within ``limits`` and handed to ``send``."""

    name: str
    format: Format
    description: str  # what logs and the CLI may show: a masked URL, never a secret
    templates: Templates | None  # the target's own message templates, over the rule's
    limits: Limits

    @abstractmethod
    def send(self, message: Message) -> SendResult:
        """Deliver ``message``; failures are returned, not raised (the outbox retries them)."""


@dataclass(frozen=True, eq=False)
class AppriseTarget(Target):
    """A target configured by an Apprise URL."""

    _apprise: apprise.Apprise = field(repr=False)
    _secrets: tuple[str, ...] = field(repr=False)

    @classmethod
    def from_config(cls, config: TargetConfig) -> "AppriseTarget":
        """Build the target; ``ValueError`` (without secrets) when Apprise cannot use the URL."""
        service = _Service.load(config.url)
        if config.pace is not None:  # Apprise sleeps this long between two sends of one service
            service.plugin.request_rate_per_sec = config.pace.total_seconds()
        scheme = service.masked.partition("://")[0]  # the service's own: https://hooks.slack.com is slack
        return cls(
            name=config.name,
            format=config.format,
            description=service.masked,
            templates=config.templates,
            limits=limits_for(scheme),
            _apprise=apprise.Apprise(service.plugin),
            _secrets=service.secrets,
        )

    def send(self, message: Message) -> SendResult:
        try:
            result = self._apprise.notify(
                body=message.body,
                title=message.title,
                notify_type=_NOTIFY_TYPE[message.priority],
                body_format=_BODY_FORMAT[message.format],
            )
        except Exception as e:  # Apprise reports failed services in its result: this is a plugin bug
            return SendResult(ok=False, reason=_scrub(f"{type(e).__name__}: {e}", self._secrets))
        with result:  # releases the log capture
            if result:
                return SendResult(ok=True)
            return SendResult(ok=False, reason=_scrub(_reason(result), self._secrets))


@dataclass(frozen=True, eq=False)
class StdoutTarget(Target):
    """Used when no target is configured: the text rendering goes to stdout (demos, first runs)."""

    name: str = "stdout"
    format: Format = "text"
    description: str = "stdout"
    templates: Templates | None = None
    limits: Limits = DEFAULT_LIMITS

    def send(self, message: Message) -> SendResult:
        try:
            sys.stdout.write(f"{message.title}\n{'-' * len(message.title)}\n{message.body.rstrip()}\n\n")
            sys.stdout.flush()
        except OSError as e:
            return SendResult(ok=False, reason=f"cannot write to stdout: {e.strerror or e}")
        return SendResult(ok=True)


def build_targets(config: Config) -> dict[str, Target]:
    """The configured targets by name; a stdout target when none is configured."""
    if not config.targets:
        stdout = StdoutTarget()
        return {stdout.name: stdout}
    return {target.name: AppriseTarget.from_config(target) for target in config.targets}


def describe(target: Target) -> str:
    """The target's URL with its secrets masked, for the CLI and logs."""
    return target.description


def send_test(target: Target) -> SendResult:
    """Send a short test message to ``target`` (``notify test``), in the target's format."""
    text = f"This is a test alert from summit-watch to target {target.name!r}: alerts will arrive here."
    body = f"<p>{html.escape(text, quote=False)}</p>" if target.format == "html" else text
    return target.send(Message(title="summit-watch test alert", body=body, format=target.format))


def check_url(url: str) -> bool:
    """Whether ``url`` holds a secret; ``ValueError`` (naming no secret) when Apprise cannot use it.

    Config loading calls this for every target, so a bad URL is an error at start-up, not at the
    first alert; the secret flag drives the check that a file with inline secrets is private.
    """
    return bool(_Service.load(url).secrets)


@dataclass(frozen=True)
class _Service:
    """One Apprise service loaded from a URL, with what may be shown of it and what may not."""

    plugin: apprise.NotifyBase
    masked: str
    secrets: tuple[str, ...]  # parts of the URL the masked form hides, longest first

    @classmethod
    def load(cls, url: str) -> "_Service":
        found = _SCHEME.match(url.strip())
        if found is None:
            raise ValueError("not an Apprise URL such as mailto://... or slack://...")
        scheme = found.group(1).lower()
        # Apprise also accepts services' own https:// URLs (a Slack webhook, say).
        if scheme not in N_MGR and scheme not in ("http", "https"):
            raise ValueError(f"{scheme}:// is not an Apprise service")
        if scheme in N_MGR and not N_MGR[scheme].enabled:
            raise ValueError(f"the {scheme}:// service is not available on this system")
        asset = apprise.AppriseAsset(app_id="summit-watch", app_desc="summit-watch alerts")
        try:
            plugin = apprise.Apprise.instantiate(url.strip(), asset=asset, suppress_exceptions=False)
        except Exception as e:
            # Plugins quote what they reject (a token, an address): keep only the URL's scheme.
            detail = _scrub(str(e), _secret_parts(url, f"{scheme}://")).rstrip(" :.")
            raise ValueError(f"Apprise cannot use this {scheme}:// URL: {detail}") from None
        if plugin is None:
            raise ValueError(f"Apprise cannot use this {scheme}:// URL (see its page in the Apprise wiki)")
        shown: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]  # untyped in Apprise
        masked = _CUSTOM_VALUE.sub(rf"\g<1>{_MASK}", shown)
        return cls(plugin, masked, _secret_parts(url, masked))


def _reason(result: apprise.AppriseResult) -> str:
    """Why a send failed: the service's status from the result, with what Apprise logged as detail."""
    failed = next((service for service in result if not service), None)
    if failed is None:  # nothing was dispatched: Apprise refused the message itself
        name, status, logs = "Apprise", result.status, list(result.call_logs())
    else:
        name, status, logs = failed.name, failed.status, list(failed.logs())
    details = list(dict.fromkeys(entry.message.strip() for entry in logs))
    return f"{name}: {status.name.lower()}" + (f": {'; '.join(details)}" if details else "")


def _parts(text: str) -> set[str]:
    return {part for part in _DELIMITERS.split(text) if part}


def _secret_parts(url: str, shown: str) -> tuple[str, ...]:
    """The parts of ``url`` (as written and %-decoded) that ``shown`` does not show, longest first.

    The scheme, the port and query keys are never secrets (Apprise leaves out a default port).
    """
    visible = _parts(shown) | _parts(unquote(shown))
    values = _PORT.sub(r"\1", _SCHEME.sub("", _QUERY_KEY.sub(r"\1", url.strip())))
    secrets: set[str] = set()
    for part in _parts(values) - visible:
        if unquote(part) not in visible:
            secrets |= {part, unquote(part)}
    return tuple(sorted(secrets, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret masked; short ones only as whole words, so text stays readable."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, _MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", _MASK, text)
    return text
