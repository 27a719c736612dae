"""The server-side SSLContext for a ``tls_server_config``, with the toolkit's meaning of each key."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import warnings
from collections.abc import Iterator

from exporter.web import native
from exporter.web.webconfig import CURVES, TLS12_CIPHERS, TLSSettings, WebConfigError

VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
WHERE = "tls_server_config"
_native_checked: set[bool] = set()  # the unverified-certificate modes that passed their self-check


@contextlib.contextmanager
def _pem_file(text: str) -> Iterator[str]:
    """A path OpenSSL can read an inline PEM from; on Linux the bytes never reach a disk."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("web-config-pem")
        try:
            os.write(fd, text.encode())
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    handle, path = tempfile.mkstemp(suffix=".pem")  # mode 0600
    try:
        os.write(handle, text.encode())
        os.close(handle)
        yield path
    finally:
        os.unlink(path)


@contextlib.contextmanager
def _cert_and_key(settings: TLSSettings) -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        cert = settings.cert_file or stack.enter_context(_pem_file(settings.cert or ""))
        key = settings.key_file or stack.enter_context(_pem_file(settings.key or ""))
        yield cert, key


def _load_certificate(context: ssl.SSLContext, settings: TLSSettings) -> None:
    which = "cert_file/key_file" if settings.cert_file or settings.key_file else "cert/key"
    try:
        with _cert_and_key(settings) as (cert, key):
            context.load_cert_chain(cert, key)
    except OSError as exc:  # ssl.SSLError is an OSError too
        detail = getattr(exc, "reason", None) or exc.strerror or str(exc)
        path = exc.filename or ""
        raise WebConfigError(
            f"{WHERE}.{which}: cannot load the certificate and key {path}: {detail}"
        ) from None


def _load_client_cas(context: ssl.SSLContext, settings: TLSSettings) -> None:
    try:
        if settings.client_ca_file:
            context.load_verify_locations(cafile=settings.client_ca_file)
        elif settings.client_ca:
            context.load_verify_locations(cadata=settings.client_ca)
        else:  # as Go does with no ClientCAs: the system's roots
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    except (OSError, ValueError) as exc:
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise WebConfigError(f"{WHERE}.client_ca_file: cannot load the client CA: {detail}") from None


def _ciphers(context: ssl.SSLContext, settings: TLSSettings, low_versions: bool) -> None:
    names = [TLS12_CIPHERS[name] for name in settings.cipher_suites if name in TLS12_CIPHERS]
    spec = ":".join(names) if names else "DEFAULT"
    # OpenSSL 3 refuses TLS 1.0 and 1.1 below security level 0; asking for them means accepting that.
    spec += ":@SECLEVEL=0" if low_versions else ""
    try:
        context.set_ciphers(spec)
    except ssl.SSLError:
        raise WebConfigError(f"{WHERE}.cipher_suites: OpenSSL accepts none of them") from None
    available = {cipher["name"] for cipher in context.get_ciphers()}
    for go_name in settings.cipher_suites:
        if go_name in TLS12_CIPHERS and TLS12_CIPHERS[go_name] not in available:
            raise WebConfigError(f"{WHERE}.cipher_suites: {go_name} is not available in this OpenSSL")


def _client_auth(context: ssl.SSLContext, settings: TLSSettings) -> None:
    mode = settings.client_auth_type
    if mode in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        _load_client_cas(context, settings)
        context.verify_mode = ssl.CERT_OPTIONAL if mode == "VerifyClientCertIfGiven" else ssl.CERT_REQUIRED
        return
    if settings.client_ca_file or settings.client_ca:
        _load_client_cas(context, settings)  # loaded but unused, as in Go: the file must still be valid
    if mode in ("RequestClientCert", "RequireAnyClientCert"):
        require = mode == "RequireAnyClientCert"
        try:
            native.accept_unverified_client_certificates(context, require=require)
            if require not in _native_checked:
                _self_check(settings, require)
                _native_checked.add(require)
        except native.NativeTLSError as exc:
            raise WebConfigError(f"{WHERE}.client_auth_type: {mode} cannot be served here: {exc}") from None


def _self_check(settings: TLSSettings, require: bool) -> None:
    """Prove on a real handshake that an unverified client certificate is taken (and, if required, needed)."""

    def server() -> ssl.SSLContext:
        context = _base_context(settings)
        native.accept_unverified_client_certificates(context, require=require)
        return context

    def client(with_certificate: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if with_certificate:  # the server's own pair: a certificate no configured CA vouches for
            with _cert_and_key(settings) as (cert, key):
                context.load_cert_chain(cert, key)
        return context

    failure = native.handshake(server(), client(True))
    if failure is not None:
        raise native.NativeTLSError(f"self-check: a client certificate was refused ({failure})")
    if require and native.handshake(server(), client(False)) is None:
        raise native.NativeTLSError("self-check: a client without a certificate was let in")


def _base_context(settings: TLSSettings) -> ssl.SSLContext:
    """Versions, suites, curves and the server certificate: everything but the client-certificate policy."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLS 1.0 and 1.1 are deprecated, and here only when asked for
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = VERSIONS[settings.min_version]
        context.maximum_version = VERSIONS[settings.max_version]
    _ciphers(context, settings, settings.min_version in ("TLS10", "TLS11"))
    if settings.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if settings.curve_preferences:
        try:
            native.set_groups(context, [CURVES[name] for name in settings.curve_preferences])
        except (native.NativeTLSError, ValueError, ssl.SSLError) as exc:
            raise WebConfigError(f"{WHERE}.curve_preferences: cannot be set here: {exc}") from None
    context.set_alpn_protocols(["http/1.1"])  # the server speaks HTTP/1.1 only
    _load_certificate(context, settings)
    return context


def build_context(settings: TLSSettings) -> ssl.SSLContext:
    """A server SSLContext for ``settings``; WebConfigError names the key when a file or value is unusable."""
    context = _base_context(settings)
    _client_auth(context, settings)
    return context
