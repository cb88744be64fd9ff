"""Targets against real loopback servers: email through aiosmtpd, Slack webhooks through the HTTP server.

Also the settings file's side of targets: Apprise URLs checked at load, ``${NAME}`` from systemd
credentials, and the warning for an inline secret in a file others can read. No secret ever
appears in a failure reason, a description or an error message.
"""

import json
import logging
import time
from pathlib import Path

import apprise
import pytest
from apprise.plugins.slack import NotifySlack
from conftest import write_file
from httpserver import LoopbackServer, Reply
from smtpserver import RECIPIENT, SENDER, SmtpServer

from watcher.alerts import Format, Message, Priority
from watcher.config import Config, TargetConfig, load_config
from watcher.errors import ConfigError
from watcher.messages import DEFAULT_LIMITS, SLACK_LIMITS
from watcher.notify import AppriseTarget, StdoutTarget, build_targets, describe, send_test

PASSWORD = "hunter2-S3cret"
SLACK_TOKENS = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
SLACK_URL = "slack://" + "/".join(SLACK_TOKENS)
SLACK_PATH = "/services/" + "/".join(SLACK_TOKENS)


def target(url: str, format: Format = "text", name: str = "t") -> AppriseTarget:
    return AppriseTarget.from_config(TargetConfig(name=name, url=url, format=format))


@pytest.fixture
def slack_hook(http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    """Slack's webhook host pointed at the loopback server, answering ``ok`` at ``SLACK_PATH``."""
    monkeypatch.setattr(NotifySlack, "webhook_url", http_server.url("/services"))
    http_server.route(SLACK_PATH, Reply(200, b"ok"))
    return http_server


# --- email ------------------------------------------------------------------------------------------


def test_a_text_email_arrives_with_its_subject_and_body(smtp_server: SmtpServer) -> None:
    result = target(smtp_server.mailto()).send(
        Message(
            "Putin to visit India for the 23rd summit", "Lavrov arrives in New Delhi.\nMore soon.", "text"
        )
    )
    assert result.ok, result.reason
    mail = smtp_server.next_message()
    assert (mail.mail_from, mail.rcpt_tos) == (SENDER, (RECIPIENT,))
    assert mail.message["Subject"] == "Putin to visit India for the 23rd summit"
    assert mail.message.get_content_type() == "text/plain"
    assert mail.body("plain").splitlines() == ["Lavrov arrives in New Delhi.", "More soon."]


def test_an_html_email_has_the_html_and_a_plain_text_alternative(smtp_server: SmtpServer) -> None:
    body = '<p><b>Lavrov</b> arrives in <a href="https://example.org/a">New Delhi</a></p>'
    result = target(smtp_server.mailto(), "html").send(Message("Lavrov in Delhi", body, "html", "high"))
    assert result.ok, result.reason
    mail = smtp_server.next_message()
    assert mail.message["Subject"] == "Lavrov in Delhi"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert body in mail.body("html")
    assert "Lavrov arrives in New Delhi" in mail.body("plain")


def test_smtp_down_fails_quickly_without_the_password_then_recovers(smtp_server: SmtpServer) -> None:
    url = f"mailto://watch:{PASSWORD}@{smtp_server.host}:{smtp_server.port}?from={SENDER}&to={RECIPIENT}"
    smtp_server.stop()
    down = target(url)
    started = time.monotonic()
    result = down.send(Message("Summit", "body", "text"))
    assert time.monotonic() - started < 3
    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("E-Mail: failure: ")
    assert "127.0.0.1" in result.reason
    assert PASSWORD not in result.reason
    assert PASSWORD not in describe(down)
    assert "watch:****@" in describe(down)

    smtp_server.start()  # same port; a fresh target, as Apprise spaces sends of one service by 5.5 s
    assert target(smtp_server.mailto()).send(Message("Summit again", "body", "text")).ok
    assert smtp_server.next_message().message["Subject"] == "Summit again"


def test_send_test_sends_a_short_message_in_the_target_format(smtp_server: SmtpServer) -> None:
    result = send_test(target(smtp_server.mailto(), "html", name="analysts"))
    assert result.ok, result.reason
    mail = smtp_server.next_message()
    assert mail.message["Subject"] == "summit-watch test alert"
    assert "target 'analysts'" in mail.body("html")


# --- Slack ------------------------------------------------------------------------------------------


def test_slack_gets_the_message_as_a_webhook_json_payload(slack_hook: LoopbackServer) -> None:
    ops = target(SLACK_URL, "markdown", name="ops")
    result = ops.send(Message("Putin to visit India", "Lavrov in **New Delhi**", "markdown", "high"))
    assert result.ok, result.reason
    [request] = slack_hook.requests
    assert (request.method, request.path) == ("POST", SLACK_PATH)
    assert request.headers["content-type"].startswith("application/json")
    [attachment] = json.loads(request.body)["attachments"]
    assert attachment["title"] == "Putin to visit India"
    assert attachment["text"] == "Lavrov in *New Delhi*"  # Apprise turns markdown into Slack's mrkdwn
    assert attachment["color"] == apprise.AppriseAsset().color(apprise.NotifyType.WARNING)  # high priority
    assert attachment["footer"] == "summit-watch"
    assert ops.limits == SLACK_LIMITS


@pytest.mark.parametrize(
    ("priority", "kind"),
    [
        ("low", apprise.NotifyType.INFO),
        ("normal", apprise.NotifyType.INFO),
        ("high", apprise.NotifyType.WARNING),
    ],
)
def test_priorities_map_to_apprise_notify_types(
    slack_hook: LoopbackServer, priority: Priority, kind: apprise.NotifyType
) -> None:
    assert target(SLACK_URL).send(Message("t", "b", "text", priority)).ok
    [attachment] = json.loads(slack_hook.requests[0].body)["attachments"]
    assert attachment["color"] == apprise.AppriseAsset().color(kind)


def test_a_slack_error_is_a_failed_result_without_tokens(slack_hook: LoopbackServer) -> None:
    slack_hook.route(SLACK_PATH, Reply(500, b"internal error"))
    ops = target(SLACK_URL)
    result = ops.send(Message("t", "b", "text"))
    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("Slack: failure: ")
    assert "error=500" in result.reason
    for token in SLACK_TOKENS:
        assert token not in result.reason
        assert token not in describe(ops)


def test_a_slack_webhook_https_url_is_the_slack_service() -> None:
    ops = target("https://hooks.slack.com/services/" + "/".join(SLACK_TOKENS))
    assert describe(ops).startswith("slack://T...2/A...D/T...Q/")
    assert ops.limits == SLACK_LIMITS


def test_custom_header_values_are_masked_too() -> None:
    hook = target("json://127.0.0.1:9/hook?+X-Api-Token=tok3n-value")
    assert "tok3n-value" not in describe(hook)
    assert "X-Api-Token=****" in describe(hook)


# --- stdout and building ----------------------------------------------------------------------------


def test_without_targets_alerts_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    targets = build_targets(Config())
    assert list(targets) == ["stdout"]
    stdout = targets["stdout"]
    assert isinstance(stdout, StdoutTarget)
    assert (stdout.format, describe(stdout), stdout.limits) == ("text", "stdout", DEFAULT_LIMITS)
    assert stdout.send(Message("Modi and Putin spoke", "Summit around December 5.", "text")).ok
    assert (
        capsys.readouterr().out == "Modi and Putin spoke\n--------------------\nSummit around December 5.\n\n"
    )


def test_build_targets_keys_apprise_targets_by_name(smtp_server: SmtpServer) -> None:
    config = Config(
        targets=(
            TargetConfig(name="analysts", url=smtp_server.mailto(), format="html"),
            TargetConfig(name="ops", url=SLACK_URL),
        )
    )
    targets = build_targets(config)
    assert list(targets) == ["analysts", "ops"]
    assert targets["analysts"].format == "html"
    assert describe(targets["analysts"]).startswith(f"mailto://127.0.0.1:{smtp_server.port}/")


# --- the settings file ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("bogus://x", "bogus:// is not an Apprise service", id="unknown-scheme"),
        pytest.param(
            "hooks.slack.com", "not an Apprise URL such as mailto://... or slack://...", id="no-scheme"
        ),
        pytest.param(
            "slack://T1JJ3!T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
            "Apprise cannot use this slack:// URL: An invalid Slack (first) Token (****) was specified",
            id="bad-token-masked",
        ),
        pytest.param(
            "json://", "Apprise cannot use this json:// URL (see its page in the Apprise wiki)", id="no-host"
        ),
    ],
)
def test_a_url_apprise_cannot_use_is_a_config_error(tmp_path: Path, url: str, message: str) -> None:
    path = write_file(
        tmp_path,
        "c.yaml",
        f"targets:\n  - {{name: fine, url: '{SLACK_URL}'}}\n  - name: broken\n    url: '{url}'\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).splitlines() == [f"{path}:4: targets[1].url: {message}"]


def test_secrets_come_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    write_file(credentials, "SW_HOOK_TOKEN", "from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.delenv("SW_HOOK_TOKEN", raising=False)
    path = write_file(
        tmp_path, "c.yaml", "targets:\n  - {name: hook, url: 'json://127.0.0.1:9/${SW_HOOK_TOKEN}'}\n"
    )
    assert load_config(path).targets[0].url == "json://127.0.0.1:9/from-credential"

    monkeypatch.setenv("SW_HOOK_TOKEN", "from-env")  # the environment comes first
    assert load_config(path).targets[0].url == "json://127.0.0.1:9/from-env"

    monkeypatch.delenv("SW_HOOK_TOKEN")
    (credentials / "SW_HOOK_TOKEN").unlink()
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}:2: targets[0].url: environment variable SW_HOOK_TOKEN is not set"
        f" and there is no credential SW_HOOK_TOKEN in {credentials}"
    )


INLINE_SECRET = f"targets:\n  - {{name: mail, url: 'mailto://watch:{PASSWORD}@127.0.0.1:25?from={SENDER}&to={RECIPIENT}'}}\n"


def test_an_inline_secret_in_a_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(tmp_path, "c.yaml", INLINE_SECRET)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="watcher.config"):
        load_config(path)
    [record] = [r for r in caplog.records if r.name == "watcher.config"]
    assert record.getMessage().startswith(f"config_secret_readable path={path} target=mail mode=644 ")
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        pytest.param(INLINE_SECRET, 0o600, id="private-file"),
        pytest.param(INLINE_SECRET.replace(PASSWORD, "${SW_MAIL_PASSWORD}"), 0o644, id="secret-from-env"),
        pytest.param(
            f"targets:\n  - {{name: m, url: 'mailto://127.0.0.1:25?from={SENDER}&to={RECIPIENT}'}}\n",
            0o644,
            id="none",
        ),
    ],
)
def test_no_warning_without_a_readable_inline_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, text: str, mode: int
) -> None:
    monkeypatch.setenv("SW_MAIL_PASSWORD", PASSWORD)
    path = write_file(tmp_path, "c.yaml", text)
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="watcher.config"):
        load_config(path)
    assert [r for r in caplog.records if r.name == "watcher.config"] == []
