"""The key pair the exporter presents to its embedded simulator in --demo (the simulator's own default)."""

from __future__ import annotations

from exporter.simulator.auth import DEMO_KEY_ID, DEMO_KEY_SECRET
from exporter.soda.credentials import CredentialSource

__all__ = ["DEMO_KEY_ID", "DEMO_KEY_SECRET", "demo_credentials"]


def demo_credentials() -> CredentialSource:
    """Credentials the embedded simulator accepts."""
    return CredentialSource(key_id=DEMO_KEY_ID, key_secret=DEMO_KEY_SECRET)
