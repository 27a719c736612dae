"""Basic auth (cache, decoy, throttle), client SANs, headers, and reloading the web config in place."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import structlog

from exporter.config.webhook import WebhookToken
from exporter.web import basic_auth
from exporter.web.basic_auth import BasicAuth, parse_basic
from exporter.web.config_door import CHALLENGE, WebConfigDoor, certificate_sans
from tests.support.tls import Pki, bcrypt_hash, make_pki, tls_server_config, write_web_config


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def test_parse_basic() -> None:
    assert parse_basic(basic("alice", "p:w")) == ("alice", "p:w")
    assert parse_basic("basic " + base64.b64encode(b"bob:").decode()) == ("bob", "")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"no-colon").decode()) is None


def test_reasons() -> None:
    auth = BasicAuth({"alice": bcrypt_hash("right")})
    assert auth.check(basic("alice", "right")) is None
    assert auth.check(basic("alice", "wrong")) == "wrong_password"
    assert auth.check(basic("mallory", "right")) == "unknown_user"
    assert auth.check(None) == "missing"
    assert auth.check("Bearer x") == "malformed"


def test_verdicts_are_cached_so_scrapes_do_not_pay_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = BasicAuth({"alice": bcrypt_hash("right")})
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    for _ in range(5):
        assert auth.check(basic("alice", "right")) is None
        assert auth.check(basic("alice", "wrong")) == "wrong_password"
    assert len(calls) == 2
    assert b"right" not in b"".join(auth._cache)  # the cache keys are digests, not passwords


def test_unknown_users_pay_a_bcrypt_of_the_same_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = BasicAuth({"alice": bcrypt_hash("right", cost=5)})
    seen: list[bytes] = []
    real = bcrypt.checkpw

    def recording(password: bytes, hashed: bytes) -> bool:
        seen.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", recording)
    assert auth.check(basic("nobody", "x")) == "unknown_user"
    assert seen and seen[0].startswith(b"$2b$10$")  # at least the toolkit's cost 10
    auth12 = BasicAuth({"alice": "$2y$12$" + "a" * 53})
    assert auth12._decoy_cost == 12


def test_new_credentials_are_checked_at_a_bounded_rate() -> None:
    clock = Clock()
    auth = BasicAuth({"alice": bcrypt_hash("right")}, clock=clock)
    assert auth.check(basic("alice", "right")) is None  # cached from now on
    reasons = [auth.check(basic("alice", f"guess-{i}")) for i in range(int(basic_auth.CHECKS_BURST) + 3)]
    assert reasons.count("throttled") == 4 and reasons[0] == "wrong_password"
    assert auth.check(basic("alice", "right")) is None  # cached credentials never wait
    clock.now += 1.0
    assert auth.check(basic("alice", "guess-late")) == "wrong_password"


def test_long_passwords_are_cut_at_72_bytes_as_go_does() -> None:
    password = "x" * 80
    auth = BasicAuth({"alice": bcrypt_hash(password[:72])})
    assert auth.check(basic("alice", password)) is None


def door_for(
    path: Path, clock: Clock, failures: list[str] | None = None, reloads: list[bool] | None = None
) -> Any:
    return WebConfigDoor(
        str(path),
        on_failure=(failures if failures is not None else []).append,
        on_reload=(reloads if reloads is not None else []).append,
        clock=clock,
    )


def test_open_config_lets_everything_in(tmp_path: Path) -> None:
    door = door_for(write_web_config(tmp_path / "web.yml", {}), Clock())
    assert door.tls_context() is None and door.authorized(None) and door.peer_allowed(None)
    assert door.challenge() is None and door.headers() == ()


def test_failures_are_counted_by_reason(tmp_path: Path) -> None:
    failures: list[str] = []
    path = write_web_config(tmp_path / "web.yml", {"basic_auth_users": {"alice": bcrypt_hash("pw")}})
    door = door_for(path, Clock(), failures)
    assert door.challenge() == CHALLENGE
    assert door.authorized(basic("alice", "pw"))
    assert not door.authorized(basic("alice", "nope"))
    assert not door.authorized(None)
    assert failures == ["wrong_password", "missing"]


def test_a_changed_password_applies_without_restart(tmp_path: Path) -> None:
    clock, reloads = Clock(), []  # type: ignore[var-annotated]
    path = write_web_config(tmp_path / "web.yml", {"basic_auth_users": {"alice": bcrypt_hash("old")}})
    door = door_for(path, clock, reloads=reloads)
    assert door.authorized(basic("alice", "old"))
    write_web_config(path, {"basic_auth_users": {"alice": bcrypt_hash("new")}})
    assert door.authorized(basic("alice", "old"))  # checked at most once a second
    clock.now += 1.5
    assert door.authorized(basic("alice", "new"))
    assert not door.authorized(basic("alice", "old"))
    assert reloads == [True, True]


def test_a_broken_new_file_keeps_the_last_good_one_and_logs_once(tmp_path: Path) -> None:
    clock, reloads = Clock(), []  # type: ignore[var-annotated]
    path = write_web_config(tmp_path / "web.yml", {"basic_auth_users": {"alice": bcrypt_hash("pw")}})
    door = door_for(path, clock, reloads=reloads)
    path.write_text("basic_auth_users: {alice: plain-text-oops}\n")
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            clock.now += 1.5
            assert door.authorized(basic("alice", "pw"))
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(errors) == 1
    assert "is not a bcrypt hash" in errors[0]["error"] and "plain-text-oops" not in json.dumps(logs)
    assert reloads == [True, False]
    write_web_config(path, {"basic_auth_users": {"alice": bcrypt_hash("fixed")}})
    clock.now += 1.5
    assert door.authorized(basic("alice", "fixed"))
    assert reloads == [True, False, True]


def test_tls_cannot_be_switched_off_by_a_reload(pki: Pki) -> None:
    clock = Clock()
    path = write_web_config(pki.root / "web.yml", {"tls_server_config": tls_server_config(pki)})
    door = door_for(path, clock)
    assert isinstance(door.tls_context(), ssl.SSLContext)
    write_web_config(path, {})
    clock.now += 1.5
    with structlog.testing.capture_logs() as logs:
        assert isinstance(door.tls_context(), ssl.SSLContext)
    assert "TLS cannot be turned off" in logs[0]["error"]


def serving_certificate(context: ssl.SSLContext, pki: Pki) -> bytes:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=str(pki.ca_file))
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = context.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    for _ in range(6):
        for side in (cli, srv):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            s_in.write(c_out.read())
            c_in.write(s_out.read())
    der = cli.getpeercert(binary_form=True)
    assert der
    return der


def test_a_rotated_certificate_is_served_to_new_connections(pki: Pki) -> None:
    clock = Clock()
    door = door_for(
        write_web_config(pki.root / "web.yml", {"tls_server_config": tls_server_config(pki)}), clock
    )
    first = serving_certificate(door.tls_context(), pki)
    pki.rotate_server()
    clock.now += 1.5
    second = serving_certificate(door.tls_context(), pki)
    assert first != second
    assert ssl.DER_cert_to_PEM_cert(second).strip() in pki.server_cert.read_text()


def test_client_allowed_sans(pki: Pki) -> None:
    failures: list[str] = []
    tls = tls_server_config(
        pki,
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.ca_file),
        client_allowed_sans=["prometheus.example.com", "2001:db8::1"],
    )
    door = door_for(write_web_config(pki.root / "web.yml", {"tls_server_config": tls}), Clock(), failures)
    assert door.peer_allowed({"subjectAltName": (("DNS", "prometheus.example.com"),)})
    assert door.peer_allowed({"subjectAltName": (("IP Address", "2001:DB8:0:0:0:0:0:1\n"),)})
    assert not door.peer_allowed({"subjectAltName": (("DNS", "other.example.com"),)})
    assert not door.peer_allowed(None)
    assert failures == ["client_certificate", "client_certificate"]
    assert certificate_sans({"subjectAltName": (("email", "a@b"), ("othername", "x"))}) == {"a@b"}


def test_headers_come_from_the_file(tmp_path: Path) -> None:
    path = write_web_config(
        tmp_path / "web.yml", {"http_server_config": {"headers": {"X-Frame-Options": "deny"}}}
    )
    assert door_for(path, Clock()).headers() == (("X-Frame-Options", "deny"),)


def test_the_webhook_token_works_as_bearer_or_as_a_basic_password() -> None:
    token = WebhookToken("a-long-enough-webhook-token")
    assert token.matches("Bearer a-long-enough-webhook-token")
    assert token.matches(basic("alertmanager", "a-long-enough-webhook-token"))
    assert not token.matches(basic("alertmanager", "a-long-enough-webhook-tokeX"))
    assert not token.matches(basic("alertmanager", ""))
    assert not token.matches("Basic garbage")
    assert not token.matches("Token a-long-enough-webhook-token")
