"""--web.config.file: the toolkit's keys and meaning, and one readable line (exit 2) for each bad file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.config.arguments import parse_args
from exporter.web.config_door import load
from exporter.web.webconfig import TLS12_CIPHERS, TLS13_CIPHERS, WebConfigError, parse_web_config
from tests.support.config import CREDS, config_error
from tests.support.tls import Pki, bcrypt_hash, make_pki, tls_server_config, write_web_config


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def parse(text: str, path: str = "/etc/exporter/web.yml") -> Any:
    return parse_web_config(text, path)


def test_an_empty_file_means_plain_http_without_auth() -> None:
    config = parse("")
    assert config.tls is None and not config.users and config.headers == ()


def test_relative_paths_are_relative_to_the_file() -> None:
    config = parse("tls_server_config: {cert_file: s.crt, key_file: /abs/s.key}", "/etc/exporter/web.yml")
    assert config.tls is not None
    assert (config.tls.cert_file, config.tls.key_file) == ("/etc/exporter/s.crt", "/abs/s.key")


def test_defaults_follow_the_toolkit() -> None:
    tls = parse("tls_server_config: {cert_file: a, key_file: b}").tls
    assert (tls.min_version, tls.max_version, tls.client_auth_type) == ("TLS12", "TLS13", "NoClientCert")
    assert tls.prefer_server_cipher_suites is True


def test_every_cipher_go_names_is_accepted() -> None:
    names = [*TLS12_CIPHERS, *TLS13_CIPHERS]
    assert len(names) == 13  # Go's tls.CipherSuites(), as the toolkit's allCiphers test lists them
    tls = parse(f"tls_server_config: {{cert_file: a, key_file: b, cipher_suites: {names}}}").tls
    assert tls.cipher_suites == tuple(names)


def test_the_old_spelling_of_require_any_client_cert() -> None:
    tls = parse("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireClientCert}").tls
    assert tls.client_auth_type == "RequireAnyClientCert"


def test_headers_the_toolkit_allows() -> None:
    config = parse(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n"
        "    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: 1\n"
        "    Content-Security-Policy: \"default-src 'self'\"\n"
    )
    assert dict(config.headers) == {
        "X-Frame-Options": "deny",
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": "max-age=31536000",
        "X-XSS-Protection": "1",
        "Content-Security-Policy": "default-src 'self'",
    }


HASH = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"
BAD_FILES = [
    ("unknown_top", "tls_server_conf: {}", "unknown key 'tls_server_conf'"),
    ("unknown_tls", "tls_server_config: {cert_file: a, key_file: b, client_ca: x, bogus: 1}", "'bogus'"),
    ("unknown_http", "http_server_config: {gzip: true}", "http_server_config: unknown key 'gzip'"),
    ("not_yaml", "tls_server_config: [", "not valid YAML"),
    ("not_a_mapping", "- a\n- b\n", "the file must be a YAML mapping"),
    ("junk", "hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n", "the file must be a YAML mapping"),
    ("twice", "basic_auth_users: {}\nbasic_auth_users: {}\n", "'basic_auth_users' is given twice"),
    ("no_cert", "tls_server_config: {key_file: b}", "missing one of cert or cert_file"),
    ("no_key", "tls_server_config: {cert_file: a}", "missing one of key or key_file"),
    ("empty_cert", "tls_server_config: {cert_file: '', key_file: b}", "missing one of cert or cert_file"),
    ("both_cert", "tls_server_config: {cert: x, cert_file: a, key_file: b}", "give cert or cert_file"),
    ("auth_type", "tls_server_config: {cert_file: a, key_file: b, client_auth_type: Always}", "'Always'"),
    (
        "ca_without_policy",
        "tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}",
        "client CA's have been configured without a Client Auth Policy",
    ),
    (
        "sans_unverified",
        "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert, "
        "client_allowed_sans: [x]}",
        "client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert",
    ),
    ("version", "tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}", "unknown TLS version"),
    ("ssl3", "tls_server_config: {cert_file: a, key_file: b, max_version: SSL30}", "'SSL30'"),
    (
        "min_above_max",
        "tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}",
        "min_version TLS13 is above max_version TLS12",
    ),
    (
        "cipher",
        "tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}",
        "unknown cipher 'TLS_RSA_WITH_RC4_128_SHA'",
    ),
    (
        "openssl_cipher_name",
        "tls_server_config: {cert_file: a, key_file: b, cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]}",
        "unknown cipher 'ECDHE-RSA-AES128-GCM-SHA256'",
    ),
    (
        "only_tls13_ciphers",
        "tls_server_config: {cert_file: a, key_file: b, max_version: TLS12, "
        "cipher_suites: [TLS_AES_128_GCM_SHA256]}",
        "no suite usable up to TLS12",
    ),
    (
        "curve",
        "tls_server_config: {cert_file: a, key_file: b, curve_preferences: [CurveP999]}",
        "unknown curve",
    ),
    (
        "prefer",
        "tls_server_config: {cert_file: a, key_file: b, prefer_server_cipher_suites: maybe}",
        "true or false",
    ),
    ("header", "http_server_config: {headers: {Server: x}}", "HTTP header 'Server' can not be configured"),
    ("frame", "http_server_config: {headers: {X-Frame-Options: allow}}", "invalid value for X-Frame-Options"),
    ("nosniff", "http_server_config: {headers: {X-Content-Type-Options: sniff}}", "X-Content-Type-Options"),
    ("http2", "http_server_config: {http2: maybe}", "http2: must be true or false"),
    ("user_plain", "basic_auth_users: {john: doe}", "the password of 'john' is not a bcrypt hash"),
    ("user_colon", f"basic_auth_users: {{'a:b': '{HASH}'}}", "contains ':'"),
    ("rate_limit", "rate_limit: {interval: 1s, burst: 5}", "rate_limit: not supported"),
    (
        "sans_type",
        "tls_server_config: {cert_file: a, key_file: b, client_allowed_sans: x}",
        "list of strings",
    ),
]


@pytest.mark.parametrize(
    ("text", "needle"), [(t, n) for _, t, n in BAD_FILES], ids=[i for i, _, _ in BAD_FILES]
)
def test_each_bad_file_is_named(text: str, needle: str) -> None:
    with pytest.raises(WebConfigError) as exc:
        parse(text)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_bad_hash_error_does_not_show_the_value() -> None:
    with pytest.raises(WebConfigError) as exc:
        parse("basic_auth_users: {john: hunter2-plain-password}")
    assert "hunter2" not in str(exc.value)


def test_a_good_users_file_parses() -> None:
    config = parse(f"basic_auth_users:\n  alice: {HASH}\n  123: {HASH}\n")
    assert set(config.users) == {"alice", "123"}


def test_blank_headers_are_unset() -> None:
    assert parse("http_server_config: {headers: {X-XSS-Protection: ''}}").headers == ()


def test_the_exporter_exits_2_naming_the_flag_and_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: Pki
) -> None:
    bad = write_web_config(tmp_path / "web.yml", {"tls_server_config": {"cert_file": "x.crt"}})
    line = config_error(capsys, ["--web.config.file", str(bad)], CREDS)
    assert line.endswith("--web.config.file: tls_server_config: missing one of key or key_file"), line
    env = {**CREDS, "SODA_EXPORTER_WEB_CONFIG_FILE": str(tmp_path / "missing.yml")}
    assert "cannot read" in config_error(capsys, [], env)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"cert_file": "nope.crt"}, "cannot load the certificate and key"),
        ({"key_file": "ca.crt"}, "cannot load the certificate and key"),
        ({"client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "nope.crt"}, "client CA"),
        ({"client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "server.key"}, "client CA"),
    ],
)
def test_unusable_files_named_in_the_config_are_an_error_at_start(
    pki: Pki, capsys: pytest.CaptureFixture[str], change: dict[str, str], needle: str
) -> None:
    tls = {
        **tls_server_config(pki),
        **{k: str(pki.root / v) if "file" in k else v for k, v in change.items()},
    }
    path = write_web_config(pki.root / "web-bad.yml", {"tls_server_config": tls})
    with pytest.raises(WebConfigError) as exc:
        load(str(path))
    assert needle in str(exc.value)
    assert "--web.config.file: " in config_error(capsys, ["--web.config.file", str(path)], CREDS)


def test_a_good_file_is_accepted_and_kept_in_the_config(pki: Pki) -> None:
    path = write_web_config(
        pki.root / "web.yml",
        {"tls_server_config": tls_server_config(pki), "basic_auth_users": {"prometheus": bcrypt_hash("pw")}},
    )
    config = parse_args(["--web.config.file", str(path)], CREDS)
    assert config.web_config_file == str(path)
    assert parse_args([], CREDS).web_config_file is None
