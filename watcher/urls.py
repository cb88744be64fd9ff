"""Apprise URLs: what Apprise can use, what may be shown of one, and which parts are secrets.

The settings check every target URL with ``check_url`` when they load, so a bad URL is an error
at start-up; ``notify`` builds its targets from the same ``Service``. Nothing shown to a person
holds a secret: ``masked`` is Apprise's ``url(privacy=True)`` with custom header and parameter
values masked too, and ``scrub`` hides every part that masking hid from log lines and errors.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

import apprise
from apprise.plugins import N_MGR

SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Apprise URLs are split on these to find the parts (user, password, tokens, path, values).
_DELIMITERS = re.compile(r"[/:@?&=#,;\s]+")
_QUERY_KEY = re.compile(r"([?&])[^=&#]*=")
_PORT = re.compile(r"^([^/?#]*?):\d{1,5}(?=[/?#]|$)")  # after the scheme is removed
# ``+Header=``, ``-param=`` and ``:field=`` values of json://, form://, xml:// often hold tokens,
# and ``url(privacy=True)`` leaves them as they are.
_CUSTOM_VALUE = re.compile(r"([?&](?:%2B|%2D|%3A|[+:-])[^=&#]*=)[^&#]*", re.IGNORECASE)
MASK = "****"


def check_url(url: str) -> bool:
    """Whether ``url`` holds a secret; ``ValueError`` (naming no secret) when Apprise cannot use it.

    Config loading calls this for every target, so a bad URL is an error at start-up, not at the
    first alert; the secret flag drives the check that a file with inline secrets is private.
    """
    return bool(Service.load(url).secrets)


@dataclass(frozen=True)
class Service:
    """One Apprise service loaded from a URL, with what may be shown of it and what may not."""

    plugin: apprise.NotifyBase
    masked: str
    secrets: tuple[str, ...]  # parts of the URL the masked form hides, longest first

    @classmethod
    def load(cls, url: str) -> "Service":
        found = SCHEME.match(url.strip())
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
            detail = scrub(str(e), _secret_parts(url, f"{scheme}://")).rstrip(" :.")
            raise ValueError(f"Apprise cannot use this {scheme}:// URL: {detail}") from None
        if plugin is None:
            raise ValueError(f"Apprise cannot use this {scheme}:// URL (see its page in the Apprise wiki)")
        shown: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]  # untyped in Apprise
        masked = _CUSTOM_VALUE.sub(rf"\g<1>{MASK}", shown)
        return cls(plugin, masked, _secret_parts(url, masked))


def _parts(text: str) -> set[str]:
    return {part for part in _DELIMITERS.split(text) if part}


def _secret_parts(url: str, shown: str) -> tuple[str, ...]:
    """The parts of ``url`` (as written and %-decoded) that ``shown`` does not show, longest first.

    The scheme, the port and query keys are never secrets (Apprise leaves out a default port).
    """
    visible = _parts(shown) | _parts(unquote(shown))
    values = _PORT.sub(r"\1", SCHEME.sub("", _QUERY_KEY.sub(r"\1", url.strip())))
    secrets: set[str] = set()
    for part in _parts(values) - visible:
        if unquote(part) not in visible:
            secrets |= {part, unquote(part)}
    return tuple(sorted(secrets, key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret masked; short ones only as whole words, so text stays readable."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text
