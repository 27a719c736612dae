"""Parse and validate a ``--web.config.file`` in prometheus/exporter-toolkit's web configuration format."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# The toolkit still takes this older spelling of RequireAnyClientCert.
CLIENT_AUTH_ALIASES = {"": "NoClientCert", "RequireClientCert": "RequireAnyClientCert"}
# Only these modes verify the client certificate; a SAN of an unverified certificate proves nothing.
VERIFYING_CLIENT_AUTH = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
# The suites Go's tls.CipherSuites() names (the toolkit takes no others), as OpenSSL calls them.
TLS12_CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# TLS 1.3 suites are not configurable, in Go as in OpenSSL through Python: accepted, always on.
TLS13_CIPHERS = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
CURVES = {"CurveP256": "P-256", "CurveP384": "P-384", "CurveP521": "P-521", "X25519": "X25519"}
# The toolkit lets only these response headers be set, some only to fixed values.
EXTRA_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")

TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
TLS_KEYS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "curve_preferences",
)
HTTP_KEYS = ("http2", "headers")


class WebConfigError(ValueError):
    """The web configuration file is unusable; the message names the key and the problem."""


@dataclass(frozen=True)
class TLSSettings:
    """``tls_server_config``, with paths made absolute against the file's directory."""

    cert_file: str | None = None
    key_file: str | None = None
    cert: str | None = None
    key: str | None = field(default=None, repr=False)
    client_ca_file: str | None = None
    client_ca: str | None = None
    client_auth_type: str = "NoClientCert"
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """The files this configuration reads, watched for rotation."""
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)


@dataclass(frozen=True)
class WebConfig:
    """A validated web configuration: TLS (or None for plain HTTP), extra headers and users."""

    path: str
    tls: TLSSettings | None = None
    headers: tuple[tuple[str, str], ...] = ()
    users: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> tuple[str, ...]:
        """The configuration file and every file it names."""
        return (self.path, *(self.tls.files if self.tls else ()))


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice, as the toolkit's strict YAML decoding does."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise WebConfigError(f"key {key!r} is given twice (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _mapping(value: Any, where: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{where}: must be a mapping" if where else "the file must be a YAML mapping")
    if allowed is None:  # free keys (user names, header names): YAML may have read them as numbers
        return {str(key): item for key, item in value.items()}
    for key in value:
        if key not in allowed:
            raise WebConfigError(f"{where}: unknown key {key!r}" if where else f"unknown key {key!r}")
    return value


def _string(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise WebConfigError(f"{where}: must be a string")
    return str(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise WebConfigError(f"{where}: must be a list of strings")
    return tuple(_string(item, f"{where}[{i}]") for i, item in enumerate(value))


def _path(value: Any, where: str, base_dir: str) -> str | None:
    text = _string(value, where) if value is not None else ""
    return os.path.join(base_dir, text) if text else None


def _inline(value: Any, where: str) -> str | None:
    return (_string(value, where) or None) if value is not None else None


def _choice(value: Any, where: str, choices: tuple[str, ...], what: str) -> str:
    text = _string(value, where)
    if text not in choices:
        raise WebConfigError(f"{where}: unknown {what} {text!r} (one of {', '.join(choices)})")
    return text


def _tls(raw: dict[str, Any], base_dir: str) -> TLSSettings | None:
    where = "tls_server_config"
    cert_file = _path(raw.get("cert_file"), f"{where}.cert_file", base_dir)
    key_file = _path(raw.get("key_file"), f"{where}.key_file", base_dir)
    ca_file = _path(raw.get("client_ca_file"), f"{where}.client_ca_file", base_dir)
    cert, key, ca = (_inline(raw.get(k), f"{where}.{k}") for k in ("cert", "key", "client_ca"))
    auth = CLIENT_AUTH_ALIASES.get(str(raw.get("client_auth_type") or ""), raw.get("client_auth_type"))
    if not any((cert_file, key_file, ca_file, cert, key, ca, raw.get("client_auth_type"))):
        return None  # as in the toolkit: no TLS field set means plain HTTP
    for inline, path, name in ((cert, cert_file, "cert"), (key, key_file, "key"), (ca, ca_file, "client_ca")):
        if inline and path:
            raise WebConfigError(f"{where}: give {name} or {name}_file, not both")
    if not (cert or cert_file):
        raise WebConfigError(f"{where}: missing one of cert or cert_file")
    if not (key or key_file):
        raise WebConfigError(f"{where}: missing one of key or key_file")
    auth = _choice(auth, f"{where}.client_auth_type", CLIENT_AUTH_TYPES, "client_auth_type")
    if (ca or ca_file) and auth == "NoClientCert":
        raise WebConfigError(f"{where}: client CA's have been configured without a Client Auth Policy")
    sans = _strings(raw.get("client_allowed_sans"), f"{where}.client_allowed_sans")
    if sans and auth not in VERIFYING_CLIENT_AUTH:
        raise WebConfigError(
            f"{where}.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert or "
            f"VerifyClientCertIfGiven, not {auth} (an unverified certificate's SANs prove nothing)"
        )
    versions = TLS_VERSIONS
    min_version = _choice(raw.get("min_version", "TLS12"), f"{where}.min_version", versions, "TLS version")
    max_version = _choice(raw.get("max_version", "TLS13"), f"{where}.max_version", versions, "TLS version")
    if versions.index(min_version) > versions.index(max_version):
        raise WebConfigError(f"{where}: min_version {min_version} is above max_version {max_version}")
    known_ciphers = (*TLS12_CIPHERS, *TLS13_CIPHERS)
    ciphers = tuple(
        _choice(name, f"{where}.cipher_suites", known_ciphers, "cipher")
        for name in _strings(raw.get("cipher_suites"), f"{where}.cipher_suites")
    )
    if ciphers and max_version != "TLS13" and not any(c in TLS12_CIPHERS for c in ciphers):
        raise WebConfigError(f"{where}.cipher_suites: no suite usable up to {max_version}")
    curves = tuple(
        _choice(name, f"{where}.curve_preferences", tuple(CURVES), "curve")
        for name in _strings(raw.get("curve_preferences"), f"{where}.curve_preferences")
    )
    prefer = raw.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise WebConfigError(f"{where}.prefer_server_cipher_suites: must be true or false")
    return TLSSettings(
        cert_file=cert_file,
        key_file=key_file,
        cert=cert,
        key=key,
        client_ca_file=ca_file,
        client_ca=ca,
        client_auth_type=auth,
        client_allowed_sans=sans,
        min_version=min_version,
        max_version=max_version,
        cipher_suites=ciphers,
        prefer_server_cipher_suites=prefer,
        curve_preferences=curves,
    )


def _headers(raw: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    http2 = raw.get("http2", True)
    if not isinstance(http2, bool):
        raise WebConfigError("http_server_config.http2: must be true or false")
    headers = _mapping(raw.get("headers"), "http_server_config.headers", None)
    out = []
    for name, value in headers.items():
        if name not in EXTRA_HEADERS:
            raise WebConfigError(f"http_server_config.headers: HTTP header {name!r} can not be configured")
        text = "" if value is None else _string(value, f"http_server_config.headers.{name}")
        if not text:
            continue  # "unset if blank"
        allowed = EXTRA_HEADERS[name]
        if allowed and text not in allowed:
            raise WebConfigError(
                f"http_server_config.headers: invalid value for {name}: {text!r} "
                f"(one of {', '.join(allowed)})"
            )
        if "\r" in text or "\n" in text:
            raise WebConfigError(f"http_server_config.headers.{name}: must be one line")
        out.append((name, text))
    return tuple(out)


def _users(raw: dict[str, Any]) -> dict[str, str]:
    users = {}
    for name, hashed in raw.items():
        if ":" in name:
            raise WebConfigError(f"basic_auth_users: user name {name!r} contains ':', which Basic can't send")
        text = "" if hashed is None else _string(hashed, f"basic_auth_users.{name}")
        match = BCRYPT_HASH.match(text)
        if match is None or not 4 <= int(match.group(1)) <= 31:
            # The value is a secret (or a password pasted by mistake): name the user, never the value.
            raise WebConfigError(f"basic_auth_users: the password of {name!r} is not a bcrypt hash")
        users[name] = text
    return users


def parse_web_config(text: str, path: str) -> WebConfig:
    """Validate the YAML ``text`` of the file at ``path``; raise WebConfigError naming what is wrong."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise WebConfigError(f"not valid YAML{at}") from None
    top = _mapping(document, "", TOP_KEYS)
    if top.get("rate_limit") is not None:
        raise WebConfigError("rate_limit: not supported by this exporter")
    base_dir = os.path.dirname(os.path.abspath(path))
    return WebConfig(
        path=path,
        tls=_tls(_mapping(top.get("tls_server_config"), "tls_server_config", TLS_KEYS), base_dir),
        headers=_headers(_mapping(top.get("http_server_config"), "http_server_config", HTTP_KEYS)),
        users=_users(_mapping(top.get("basic_auth_users"), "basic_auth_users", None)),
    )


def load_web_config(path: str) -> WebConfig:
    """Read and validate the web configuration file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_web_config(text, path)
