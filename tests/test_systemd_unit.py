"""The systemd unit and the example production settings in systemd/.

``systemd-analyze verify`` and ``systemd-analyze security --offline=yes`` read unit files
without a running systemd (PID 1 need not be systemd: this works in a container), so they run
here as they would in CI. Options that keep them offline and about this unit alone:

- ``--recursive-errors=no``: fail (exit 1) on a warning about this unit, not about the host's
  units it names (network-online.target); without the option verify exits 0 even on warnings.
- ``--man=no``: do not run ``man`` for Documentation= pages (man pages may not be installed).
- ``--generators=no``: do not run the host's unit generators.

The one requirement is that ExecStart= names an executable file, so the test points it at this
virtual environment's ``summit-watch``.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from watcher.config import load_config

UNIT = REPO / "systemd" / "summit-watch.service"
EXAMPLE_CONFIG = REPO / "systemd" / "config.yaml"
VERIFY_OPTIONS = ("--recursive-errors=no", "--man=no", "--generators=no")

Directives = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Directives:
    """Section -> key -> values in order (keys such as LoadCredential= repeat), as systemd reads them."""
    sections: Directives = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):  # a continuation line
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"directive outside a section: {line}"
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> Directives:
    return parse_unit(UNIT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    """The systemd-analyze binary: its absence fails (CI must check the unit), it does not skip."""
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(
            "systemd-analyze is not installed, so the unit cannot be checked: install systemd "
            "(Debian/Ubuntu: apt-get install systemd; it need not be running)",
            pytrace=False,
        )
    return found


def runnable_copy(directory: Path, text: str | None = None) -> Path:
    """The unit, named as installed, with ExecStart= pointing at this venv's summit-watch script."""
    script = Path(sys.executable).parent / "summit-watch"
    assert os.access(script, os.X_OK), f"{script} is missing: install the package (pip install -e .)"
    text = UNIT.read_text(encoding="utf-8") if text is None else text
    text, count = re.subn(
        r"^ExecStart=/opt/summit-watch/bin/summit-watch ", f"ExecStart={script} ", text, flags=re.M
    )
    assert count == 1, "ExecStart=/opt/summit-watch/bin/summit-watch ... not found in the unit"
    copy = directory / UNIT.name
    copy.write_text(text, encoding="utf-8")
    return copy


def analyze(systemd_analyze: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
    return subprocess.run(
        [systemd_analyze, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.integration
def test_systemd_analyze_verify_passes_without_warnings(systemd_analyze: str, tmp_path: Path) -> None:
    copy = runnable_copy(tmp_path)
    result = analyze(systemd_analyze, "verify", *VERIFY_OPTIONS, str(copy))
    output = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    about_unit = [line for line in result.stderr.splitlines() if "summit-watch" in line]
    assert not about_unit, output


@pytest.mark.integration
def test_verify_would_catch_a_broken_unit(systemd_analyze: str, tmp_path: Path) -> None:
    """The check above is not vacuous: with these options a typo in a directive fails."""
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomme=yes")
    copy = runnable_copy(tmp_path, broken)
    result = analyze(systemd_analyze, "verify", *VERIFY_OPTIONS, str(copy))
    assert result.returncode != 0, result.stderr
    assert "Unknown key 'ProtectHomme'" in result.stderr


@pytest.mark.integration
def test_security_exposure_stays_ok(systemd_analyze: str, tmp_path: Path) -> None:
    """``systemd-analyze security`` rates the unit at most 2.0 ("OK"; 1.6 when written): a
    dropped hardening line fails here. Its threshold is the exposure times ten."""
    copy = runnable_copy(tmp_path)
    result = analyze(systemd_analyze, "security", "--offline=yes", "--threshold=20", str(copy))
    exposure = re.search(r"Overall exposure level for \S+: (\S+ \S+)", result.stdout)
    assert result.returncode == 0, f"{exposure and exposure.group(1)}\n{result.stdout}\n{result.stderr}"


def test_unit_runs_as_a_notify_service_reloaded_by_sighup(unit: Directives) -> None:
    service = unit["Service"]
    assert service["Type"] == ["notify"]  # not notify-reload: that needs systemd 253
    assert service["ExecStart"] == ["/opt/summit-watch/bin/summit-watch run"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    assert service["WatchdogSec"] == ["60"]
    assert service["TimeoutStopSec"] == ["45s"]  # the daemon's ~30 s of in-flight work, plus margin
    assert service["Environment"][0] == "SUMMIT_WATCH_CONFIG=/etc/summit-watch/config.yaml"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_has_its_directories_and_credentials(unit: Directives) -> None:
    service = unit["Service"]
    assert service["DynamicUser"] == ["yes"]
    assert service["StateDirectory"] == ["summit-watch"]
    assert service["ConfigurationDirectory"] == ["summit-watch"]
    assert service["LoadCredential"] == [
        "SMTP_PASSWORD:/etc/summit-watch/credentials/SMTP_PASSWORD",
        "SLACK_URL:/etc/summit-watch/credentials/SLACK_URL",
    ]
    assert service["UMask"] == ["0077"]


def test_unit_bounds_memory_with_a_soft_then_a_hard_limit(unit: Directives) -> None:
    """MemoryHigh= (throttle, reclaim) well above a normal peak (~350 MB), MemoryMax= (kill,
    restart) above it: see the comment in the unit for the measured figures."""
    service = unit["Service"]
    assert service["MemoryHigh"] == ["768M"]
    assert service["MemoryMax"] == ["1G"]


HARDENING = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
}


@pytest.mark.parametrize(("key", "value"), HARDENING.items(), ids=HARDENING.keys())
def test_unit_is_hardened(unit: Directives, key: str, value: str) -> None:
    assert unit["Service"].get(key) == [value]


def test_unit_keeps_the_network(unit: Directives) -> None:
    """Feeds and alerts need the network: no PrivateNetwork=, no IP address deny list."""
    for key in ("PrivateNetwork", "IPAddressDeny", "IPAddressAllow"):
        assert key not in unit["Service"]


def test_example_config_loads_with_the_service_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd/config.yaml is valid, keeps its secrets in credentials and points at the unit's directories."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "SMTP_PASSWORD").write_text("p%40ss\n", encoding="utf-8")
    slack = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    (credentials / "SLACK_URL").write_text(slack + "\n", encoding="utf-8")
    for name in ("SMTP_PASSWORD", "SLACK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    config = load_config(EXAMPLE_CONFIG)

    assert config.database == "sqlite:////var/lib/summit-watch/watch.db"
    assert config.rules == Path("/etc/summit-watch/rules")
    assert len(config.feeds) >= 3
    assert all(feed.url.startswith("https://") for feed in config.feeds)
    urls = {target.name: target.url for target in config.targets}
    assert ":p%40ss@" in urls["desk-email"]
    assert urls["ops-slack"] == slack
    raw = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "p%40ss" not in raw
    assert "hooks.slack.com/services/T" not in raw
