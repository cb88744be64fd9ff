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
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import apprise

from watcher.alerts import Format, Message, Priority, SendResult
from watcher.config import Config, TargetConfig
from watcher.messages import DEFAULT_LIMITS, Limits, limits_for
from watcher.schema import Templates
from watcher.urls import Service, scrub

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
        service = Service.load(config.url)
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
            return SendResult(ok=False, reason=scrub(f"{type(e).__name__}: {e}", self._secrets))
        with result:  # releases the log capture
            if result:
                return SendResult(ok=True)
            return SendResult(ok=False, reason=scrub(_reason(result), self._secrets))


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


def _reason(result: apprise.AppriseResult) -> str:
    """Why a send failed: the service's status from the result, with what Apprise logged as detail."""
    failed = next((service for service in result if not service), None)
    if failed is None:  # nothing was dispatched: Apprise refused the message itself
        name, status, logs = "Apprise", result.status, list(result.call_logs())
    else:
        name, status, logs = failed.name, failed.status, list(failed.logs())
    details = list(dict.fromkeys(entry.message.strip() for entry in logs))
    return f"{name}: {status.name.lower()}" + (f": {'; '.join(details)}" if details else "")
