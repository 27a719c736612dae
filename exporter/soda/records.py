"""JSON decoding for the Soda clients, and incident pages decoded straight into typed records.

A Reporting API row has ~20 fields, of which the fold reads ~10. msgspec decodes a page into records
holding only those (the others are skipped, never built): about half the time of a page decoded into
dicts, and a fraction of the objects.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Generic, TypeVar

import msgspec

RecordT = TypeVar("RecordT")

# Decodes any JSON document into dicts and lists.
loads = msgspec.json.Decoder().decode


class RecordPage(msgspec.Struct, Generic[RecordT]):
    """A page's envelope, its rows decoded as records; the envelope's fields are checked by the client."""

    total: Any = None
    size: Any = None
    data: list[RecordT] | None = None


@cache
def _decoder(fields: tuple[str, ...]) -> msgspec.json.Decoder[RecordPage[Any]]:
    # Every field accepts any JSON value and defaults to None, so that no row's content can reject its
    # page: the fold's own checks decide about a row, as they do about a dict. gc=False: decoded JSON
    # holds no reference cycles, and untracked records cost the collector nothing.
    record = msgspec.defstruct("Record", [(name, Any, None) for name in fields], gc=False)
    return msgspec.json.Decoder(RecordPage[record])  # type: ignore[valid-type]


def load_records(content: bytes, fields: tuple[str, ...]) -> RecordPage[Any] | None:
    """A page whose rows are records of ``fields``, or None when it has not the shape of a page.

    A body that is not an object, or rows that are not objects (or not a list), is left to the generic
    decoder, whose result the client checks and the fold skips row by row as before.
    """
    try:
        return _decoder(fields).decode(content)
    except msgspec.DecodeError:  # also malformed JSON: decoded again, to fail as it always did
        return None
