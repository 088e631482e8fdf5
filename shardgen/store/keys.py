"""How the store lays out its keys: big-endian IDs, so cursors return rows
in ID order, and the `links` database's parent → (first child, count)."""

from __future__ import annotations

import struct

import numpy as np

LINK = struct.Struct(">QQ")  # first child id, children
LINK_KEY = struct.Struct(">BQ")  # relation code, parent id
#: The same layouts as numpy record types, to read many links at once.
LINK_ARRAY = np.dtype([("first", ">u8"), ("count", ">u8")])
LINK_KEY_ARRAY = np.dtype([("relation", "u1"), ("parent", ">u8")])
#: Rows read and decoded at a time.
BATCH = 4096


def key(record_id: int) -> bytes:
    return record_id.to_bytes(8, "big")


def span(first: int, count: int) -> bytes:
    """The keys of IDs `first` .. `first + count - 1`, joined: what
    `b"".join` gives of the keys a cursor reads there."""
    return np.arange(first, first + count, dtype=np.uint64).astype(">u8").tobytes()
