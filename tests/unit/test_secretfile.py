"""The one secret-file reloader: reads, re-reads on rotation, refuses bad values, keeps the last good one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.secretfile import SecretFile, SecretFileError, file_stamp, read_secret_file


def refuse_short(value: str) -> None:
    if len(value) < 8:
        raise SecretFileError("too short")


def test_the_value_is_read_without_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  s3cret-value \n")
    assert SecretFile(str(path), "thing").current() == "s3cret-value"
    assert read_secret_file(str(path), "thing") == "s3cret-value"


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("first")
    secret = SecretFile(str(path), "thing")
    assert secret.current() == "first"
    path.write_text("second-value")
    assert secret.current() == "second-value"


def test_a_file_swapped_through_a_symlink_is_read_again(tmp_path: Path) -> None:
    # How Kubernetes rotates a mounted secret: a new file, and the link moved onto it.
    (tmp_path / "v1").write_text("one-value")
    (tmp_path / "v2").write_text("two-value")
    link = tmp_path / "secret"
    link.symlink_to(tmp_path / "v1")
    secret = SecretFile(str(link), "thing")
    assert secret.current() == "one-value"
    swap = tmp_path / "secret.new"
    swap.symlink_to(tmp_path / "v2")
    os.replace(swap, link)
    assert secret.current() == "two-value"


def test_a_file_with_the_same_stamp_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("value-one")
    secret = SecretFile(str(path), "thing")
    assert secret.current() == "value-one"
    before = path.stat()
    # Same inode, size and mtime: only a cached value can still say "value-one".
    path.write_text("value-two")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file_stamp(str(path)) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert secret.current() == "value-one"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read API key id file {path}: No such file"), ("  \n", "API key id file {path} is empty")],
)
def test_errors_name_the_file_and_never_a_value(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SecretFileError) as raised:
        SecretFile(str(path), "API key id").current()
    assert str(raised.value).startswith(message.format(path=path))
    assert isinstance(raised.value, ValueError)  # the flag parser turns it into one error line


def test_a_refused_rotation_keeps_the_last_good_value_and_a_later_fix_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("long-enough")
    secret = SecretFile(str(path), "token", refuse_short)
    assert secret.last_good() == "long-enough"
    path.write_text("short")
    with pytest.raises(SecretFileError, match="too short"):
        secret.current()
    assert secret.last_good() == "long-enough"
    path.unlink()
    assert secret.last_good() == "long-enough"
    path.write_text("fixed-and-long")
    assert secret.last_good() == "fixed-and-long"


def test_last_good_is_none_before_any_good_read(tmp_path: Path) -> None:
    assert SecretFile(str(tmp_path / "absent"), "token").last_good() is None
    assert file_stamp(str(tmp_path / "absent")) is None


def test_repr_shows_the_path_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("do-not-show-me")
    secret = SecretFile(str(path), "token")
    secret.current()
    assert "do-not-show-me" not in repr(secret) and str(path) in repr(secret)
