"""Configuration of the Alertmanager webhook: flags, variables, token and actions file, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config.actions import ActionsFileError, parse_actions
from exporter.config.arguments import parse_args
from exporter.soda.cloud import IncidentUpdate

TOKEN = "webhook-token-for-tests-7c1d"
KEYS = {"SODA_API_KEY_ID": "id-0000", "SODA_API_KEY_SECRET": "secret-0000"}


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--webhook.enable"], {}, "needs a bearer token"),
        (["--webhook.enable"], {"SODA_EXPORTER_WEBHOOK_TOKEN": "short"}, "at least 16 characters"),
        (
            ["--webhook.enable", "--webhook.token-file", "/nonexistent/token"],
            {},
            "cannot read webhook token file",
        ),
        (
            ["--webhook.enable", "--webhook.actions-file", "ACTIONS"],
            {"SODA_EXPORTER_WEBHOOK_TOKEN": TOKEN},
            "status 'done'",
        ),
        (["--webhook.queue-size", "0"], {}, "--webhook.queue-size"),
        ([], {"SODA_EXPORTER_WEBHOOK_ENABLE": "maybe"}, "SODA_EXPORTER_WEBHOOK_ENABLE"),
    ],
)
def test_webhook_configuration_errors_exit_2_with_one_line(
    argv: list[str], env: dict[str, str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    actions = tmp_path / "actions.yml"
    actions.write_text("actions:\n  close:\n    status: done\n")
    argv = [str(actions) if a == "ACTIONS" else a for a in argv]
    with pytest.raises(SystemExit) as exited:
        parse_args(argv, {**KEYS, **env})
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_token_file_env_switches_and_defaults(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    config = parse_args(
        [],
        {**KEYS, "SODA_EXPORTER_WEBHOOK_ENABLE": "true", "SODA_EXPORTER_WEBHOOK_TOKEN_FILE": str(token_file)},
    )
    assert config.webhook.enabled and not config.webhook.dry_run and config.webhook.queue_size == 100
    assert config.webhook.token is not None and config.webhook.token.matches(f"Bearer {TOKEN}")
    assert set(config.webhook.actions) == {"escalate", "investigate"}
    assert TOKEN not in repr(config)
    assert not parse_args([], KEYS).webhook.enabled


def test_token_matching_wants_the_bearer_scheme_and_the_exact_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token = parse_args(["--webhook.enable", "--webhook.token-file", str(token_file)], KEYS).webhook.token
    assert token is not None
    assert token.matches(f"Bearer {TOKEN}") and token.matches(f"bearer  {TOKEN} ")
    for header in (None, "", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", f"Bearer {TOKEN[:-1]}"):
        assert not token.matches(header), header
    rotated = "rotated-token-0123456789"
    token_file.write_text(rotated + "\n")
    assert token.matches(f"Bearer {rotated}") and not token.matches(f"Bearer {TOKEN}")
    token_file.write_text("short")  # a rotation that went wrong keeps the last good token
    assert token.matches(f"Bearer {rotated}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"escalate": {"severity": "critical"}}, "expected a mapping with an 'actions' mapping"),
        ({"actions": {"Bad Name": {"status": "fixing"}}}, "names are lower-case"),
        ({"actions": {"close": {}}}, "expected a mapping of fields"),
        ({"actions": {"close": {"state": "resolved"}}}, "unknown field(s) state"),
        ({"actions": {"close": {"status": 3}}}, "every value must be a string"),
        ({"actions": {"close": {"severity": "blocker"}}}, "severity 'blocker'"),
        ({"actions": {}, "extra": 1}, "unknown top-level key(s): extra"),
    ],
)
def test_actions_documents_are_validated(document: object, message: str) -> None:
    with pytest.raises(ActionsFileError) as caught:
        parse_actions(document, "actions file x.yml")
    assert message in str(caught.value) and "x.yml" in str(caught.value)


def test_actions_file_overrides_and_extends_the_built_in_ones(tmp_path: Path) -> None:
    actions = tmp_path / "actions.yml"
    actions.write_text("actions:\n  escalate:\n    severity: major\n  note:\n    resolution_notes: seen\n")
    env = {**KEYS, "SODA_EXPORTER_WEBHOOK_TOKEN": TOKEN}
    config = parse_args(["--webhook.enable", "--webhook.actions-file", str(actions)], env)
    assert dict(config.webhook.actions) == {
        "escalate": IncidentUpdate(severity="major"),
        "investigate": IncidentUpdate(status="investigating"),
        "note": IncidentUpdate(resolution_notes="seen"),
    }
