"""What Python's ssl module cannot say, set on the context's SSL_CTX through ctypes, with self-checks.

Two settings: accepting a client certificate nobody verified (RequestClientCert, RequireAnyClientCert:
Python can only request a certificate it also verifies) and a list of key-exchange groups (Python sets
one curve). Both call the libssl that Python's own ``_ssl`` module is linked to.
"""

from __future__ import annotations

import ctypes
import ssl
import threading
from typing import Any

SSL_VERIFY_PEER = 0x01
SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
SSL_CTRL_SET_GROUPS_LIST = 92

_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept_any(_preverify_ok: int, _store: int | None) -> int:
    """OpenSSL's verify callback: the chain's verdict is ignored, the certificate is taken as sent."""
    return 1


_ACCEPT_ANY = _VERIFY_CALLBACK(_accept_any)


class NativeTLSError(RuntimeError):
    """The OpenSSL call could not be made safely on this Python; the message says why."""


_lock = threading.Lock()
_libssl: Any = None


def _library() -> Any:
    global _libssl
    with _lock:
        if _libssl is None:
            import _ssl

            try:  # dlsym on the _ssl module's handle also searches the libssl it was linked to
                lib = ctypes.CDLL(getattr(_ssl, "__file__", None))
                lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK]
                lib.SSL_CTX_set_verify.restype = None
                lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
                lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
                lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
                lib.SSL_CTX_get_options.restype = ctypes.c_uint64
                lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
                lib.SSL_CTX_ctrl.restype = ctypes.c_long
            except (OSError, AttributeError) as exc:
                raise NativeTLSError(
                    f"libssl functions not reachable from Python's _ssl module: {exc}"
                ) from None
            _libssl = lib
        return _libssl


def _ssl_ctx(context: ssl.SSLContext) -> int:
    """The SSL_CTX pointer of ``context``: the first field after the object header of CPython's context."""
    lib = _library()
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    # Proof that the pointer is this context's SSL_CTX: OpenSSL reads back the options Python set.
    if not pointer or lib.SSL_CTX_get_options(pointer) != int(context.options):
        raise NativeTLSError("cannot find the SSL_CTX of a Python SSLContext on this Python")
    return int(pointer)


def accept_unverified_client_certificates(context: ssl.SSLContext, *, require: bool) -> None:
    """Ask for a client certificate and take it unverified; with ``require``, refuse clients without one."""
    lib = _library()
    mode = SSL_VERIFY_PEER | (SSL_VERIFY_FAIL_IF_NO_PEER_CERT if require else 0)
    lib.SSL_CTX_set_verify(_ssl_ctx(context), mode, _ACCEPT_ANY)
    expected = ssl.CERT_REQUIRED if require else ssl.CERT_OPTIONAL
    if context.verify_mode != expected:  # Python reads the mode back from the same SSL_CTX
        raise NativeTLSError("setting the client-certificate mode through libssl did not take effect")
    # Keeps the callback (module-level anyway) tied to the context that calls it.
    context.__dict__["_soda_verify_callback"] = _ACCEPT_ANY


def set_groups(context: ssl.SSLContext, groups: list[str]) -> None:
    """Offer these key-exchange groups (OpenSSL names such as P-256, X25519), in this order."""
    if len(groups) == 1:
        context.set_ecdh_curve(
            {"P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1"}.get(groups[0], groups[0])
        )
        return
    lib = _library()
    if lib.SSL_CTX_ctrl(_ssl_ctx(context), SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(groups).encode()) != 1:
        raise NativeTLSError(f"OpenSSL refused the groups {':'.join(groups)}")


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
    """One TLS handshake between two contexts, in memory: None when both sides finish it, else why not."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    sides = {"server": server.wrap_bio(s_in, s_out, server_side=True), "client": client.wrap_bio(c_in, c_out)}
    done: set[str] = set()
    for _ in range(10):
        for name, side in sides.items():
            if name in done:
                continue
            try:
                side.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                return f"{name}: {exc.reason or exc}"
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if len(done) == 2:
            return None
    return "the handshake did not finish"
