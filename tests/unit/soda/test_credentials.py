"""API key credentials from values or files: rotation is seen, and errors never show a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.soda.credentials import CredentialsError, CredentialSource
from exporter.soda.errors import SodaError


def test_values_are_handed_out_as_given_and_the_repr_hides_the_secret() -> None:
    creds = CredentialSource(key_id="id-1", key_secret="secret-1").get()
    assert (creds.key_id, creds.key_secret) == ("id-1", "secret-1")
    assert "secret-1" not in repr(creds)


def test_files_are_read_again_when_they_rotate(tmp_path: Path) -> None:
    key_id, key_secret = tmp_path / "id", tmp_path / "secret"
    key_id.write_text("id-1\n")
    key_secret.write_text("secret-1\n")
    source = CredentialSource(key_id_file=str(key_id), key_secret_file=str(key_secret))
    assert source.get().key_secret == "secret-1"
    key_secret.write_text("secret-two\n")
    assert (source.get().key_id, source.get().key_secret) == ("id-1", "secret-two")


def test_a_file_that_goes_away_is_an_error_not_the_old_key(tmp_path: Path) -> None:
    key_secret = tmp_path / "secret"
    key_secret.write_text("secret-1")
    source = CredentialSource(key_id="id-1", key_secret_file=str(key_secret))
    assert source.get().key_secret == "secret-1"
    key_secret.unlink()
    with pytest.raises(CredentialsError, match="cannot read API key secret file") as raised:
        source.get()
    assert "secret-1" not in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_secret": "s"}, "no API key id: set SODA_API_KEY_ID or --soda.api-key-id-file"),
        ({"key_id": "i"}, "no API key secret: set SODA_API_KEY_SECRET or --soda.api-key-secret-file"),
    ],
)
def test_a_missing_half_names_its_variable_and_flag(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError) as raised:
        CredentialSource(**kwargs).get()
    assert str(raised.value) == message


def test_an_unreadable_key_is_a_soda_error_with_the_credentials_reason(tmp_path: Path) -> None:
    # One exception for "no usable key", whoever reads it: the poller, the dataset names, the Cloud client.
    source = CredentialSource(key_id="id-1", key_secret_file=str(tmp_path / "absent"))
    with pytest.raises(SodaError) as raised:
        source.get()
    assert isinstance(raised.value, CredentialsError) and raised.value.reason == "credentials"


def test_secrets_are_the_current_pair_for_the_log_redaction(tmp_path: Path) -> None:
    key_secret = tmp_path / "secret"
    key_secret.write_text("secret-1")
    source = CredentialSource(key_id="id-1", key_secret_file=str(key_secret))
    assert source.secrets() == ["id-1", "secret-1"]
    key_secret.write_text("secret-rotated")
    assert source.secrets() == ["id-1", "secret-rotated"]
