"""The SSLContext a tls_server_config builds: the five client_auth_type values, versions, suites, curves."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

from exporter.web.tls import build_context
from exporter.web.webconfig import WebConfigError, parse_web_config
from tests.support.tls import Pki, make_pki, tls_server_config


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def server_context(pki: Pki, **tls: Any) -> ssl.SSLContext:
    import yaml

    config = parse_web_config(
        yaml.safe_dump({"tls_server_config": tls_server_config(pki, **tls)}), "/x/web.yml"
    )
    assert config.tls is not None
    return build_context(config.tls)


def client_context(
    pki: Pki, cert: tuple[Path, Path] | None = None, **versions: ssl.TLSVersion
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki.ca_file))
    if "maximum_version" in versions and versions["maximum_version"] < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so a refusal is the server's, not this client's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1, on purpose
        for name, value in versions.items():
            setattr(context, name, value)
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def peer_sans(side: ssl.SSLObject) -> tuple[object, ...]:
    """The subjectAltName entries of the certificate the other side presented."""
    peer = side.getpeercert()
    assert peer is not None, "the other side presented no certificate"
    sans = peer["subjectAltName"]
    assert isinstance(sans, tuple)
    return sans


def connect(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """A handshake in memory; returns the server's side, or raises the SSLError of whichever side failed."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    done: set[str] = set()
    for _ in range(10):
        for name, side in (("client", cli), ("server", srv)):
            if name not in done:
                try:
                    side.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if len(done) == 2:
            return srv
    raise AssertionError("handshake did not finish")


def refused(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    with pytest.raises(ssl.SSLError) as exc:
        connect(server, client)
    return str(exc.value)


def trusted(pki: Pki) -> tuple[Path, Path]:
    return pki.client_cert, pki.client_key


def test_no_client_cert_asks_for_none(pki: Pki) -> None:
    server = connect(server_context(pki), client_context(pki, trusted(pki)))
    assert server.getpeercert() is None


def test_request_client_cert_takes_any_certificate_or_none(pki: Pki) -> None:
    context = server_context(pki, client_auth_type="RequestClientCert")
    assert connect(context, client_context(pki, pki.foreign_client())).getpeercert(binary_form=True)
    assert connect(context, client_context(pki)).getpeercert() is None


def test_require_any_client_cert_takes_an_unverified_one_and_refuses_none(pki: Pki) -> None:
    context = server_context(pki, client_auth_type="RequireAnyClientCert")
    server = connect(context, client_context(pki, pki.foreign_client()))
    # Taken although no CA vouches for it (which is why client_allowed_sans refuses this mode).
    assert ("DNS", "intruder.example.com") in peer_sans(server)
    assert "CERTIFICATE" in refused(context, client_context(pki))


def test_verify_client_cert_if_given(pki: Pki) -> None:
    context = server_context(pki, client_auth_type="VerifyClientCertIfGiven", client_ca_file=str(pki.ca_file))
    assert connect(context, client_context(pki)).getpeercert() is None
    assert connect(context, client_context(pki, trusted(pki))).getpeercert()
    assert "CERTIFICATE_VERIFY_FAILED" in refused(context, client_context(pki, pki.foreign_client()))


def test_require_and_verify_client_cert(pki: Pki) -> None:
    context = server_context(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.ca_file)
    )
    assert ("DNS", pki.client_san) in peer_sans(connect(context, client_context(pki, trusted(pki))))
    assert "CERTIFICATE" in refused(context, client_context(pki))
    assert "CERTIFICATE_VERIFY_FAILED" in refused(context, client_context(pki, pki.foreign_client()))


def test_inline_cert_key_and_client_ca(pki: Pki) -> None:
    context = build_context(
        parse_web_config(
            "tls_server_config:\n"
            + "".join(
                f"  {key}: |\n" + "".join(f"    {line}\n" for line in path.read_text().splitlines())
                for key, path in (
                    ("cert", pki.server_cert),
                    ("key", pki.server_key),
                    ("client_ca", pki.ca_file),
                )
            )
            + "  client_auth_type: RequireAndVerifyClientCert\n",
            "/x/web.yml",
        ).tls  # type: ignore[arg-type]
    )
    assert connect(context, client_context(pki, trusted(pki))).getpeercert()
    assert "CERTIFICATE" in refused(context, client_context(pki))


def test_min_version_tls12_refuses_tls11(pki: Pki) -> None:
    context = server_context(pki, min_version="TLS12")
    old = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_1, minimum_version=ssl.TLSVersion.TLSv1_1)
    assert "UNSUPPORTED_PROTOCOL" in refused(context, old)
    assert connect(context, client_context(pki)).version() == "TLSv1.3"


def test_min_version_tls11_lets_tls11_in(pki: Pki) -> None:
    context = server_context(pki, min_version="TLS11")
    old = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_1, minimum_version=ssl.TLSVersion.TLSv1_1)
    assert connect(context, old).version() == "TLSv1.1"


def test_max_version_and_cipher_suites(pki: Pki) -> None:
    context = server_context(
        pki, max_version="TLS12", cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
    )
    server = connect(context, client_context(pki))
    assert server.version() == "TLSv1.2"
    assert server.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"  # type: ignore[index]
    cbc_only = client_context(pki)
    cbc_only.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    assert "NO_SHARED_CIPHER" in refused(context, cbc_only)


def test_prefer_server_cipher_suites(pki: Pki) -> None:
    assert server_context(pki).options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert (
        not server_context(pki, prefer_server_cipher_suites=False).options & ssl.OP_CIPHER_SERVER_PREFERENCE
    )


def test_curve_preferences(pki: Pki) -> None:
    p384_client = client_context(pki)
    p384_client.set_ecdh_curve("secp384r1")
    assert "NO_SUITABLE_KEY_SHARE" in refused(server_context(pki, curve_preferences=["X25519"]), p384_client)
    assert connect(server_context(pki, curve_preferences=["X25519", "CurveP384"]), p384_client)
    assert connect(server_context(pki, curve_preferences=["CurveP384"]), p384_client)


def test_a_missing_certificate_file_is_named(pki: Pki) -> None:
    with pytest.raises(WebConfigError) as exc:
        server_context(pki, cert_file=str(pki.root / "absent.crt"))
    assert "tls_server_config.cert_file/key_file" in str(exc.value)


def test_unverified_modes_refuse_to_start_when_the_native_call_cannot_be_made(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exporter.web import native, tls

    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise native.NativeTLSError("libssl functions not reachable")

    monkeypatch.setattr(native, "accept_unverified_client_certificates", unavailable)
    with pytest.raises(WebConfigError) as exc:
        server_context(pki, client_auth_type="RequestClientCert")
    assert str(exc.value).startswith("tls_server_config.client_auth_type: RequestClientCert cannot be served")
    monkeypatch.undo()
    monkeypatch.setattr(tls, "_native_checked", set())
    monkeypatch.setattr(native, "handshake", lambda *_args: "server: PEER_DID_NOT_RETURN_A_CERTIFICATE")
    with pytest.raises(WebConfigError) as exc:
        server_context(pki, client_auth_type="RequireAnyClientCert")
    assert "self-check: a client certificate was refused" in str(exc.value)


def test_the_self_check_runs_once_per_mode(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter.web import native, tls

    monkeypatch.setattr(tls, "_native_checked", set())
    calls: list[object] = []
    real = native.handshake

    def counting(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
        calls.append((server, client))
        return real(server, client)

    monkeypatch.setattr(native, "handshake", counting)
    for _ in range(3):
        server_context(pki, client_auth_type="RequireAnyClientCert")
    assert len(calls) == 2  # with a certificate, and without one: once
