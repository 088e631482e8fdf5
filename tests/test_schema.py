"""The records and events as the store holds them: msgpack arrays, a tagged union."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from shardgen.schema import (
    BATCH_DECODERS,
    DECODERS,
    ENCODER,
    EVENT_DECODER,
    RELATIONS,
    TABLES,
    RunFailed,
    RunPromoted,
    array_header,
    to_builtins,
)
from shardgen.store import Store


def test_records_are_arrays_and_decode_one_by_one_or_in_batches(small_store: Path) -> None:
    with Store.open(small_store) as store:
        for table in TABLES:
            records = list(store.scan(table))
            encoded = [ENCODER.encode(r) for r in records]
            assert all(
                msgspec.msgpack.decode(e)[0] == r.id for e, r in zip(encoded, records, strict=True)
            )
            assert [DECODERS[table].decode(e) for e in encoded] == records
            joined = array_header(len(encoded)) + b"".join(encoded)
            assert BATCH_DECODERS[table].decode(joined) == records


@pytest.mark.parametrize("n", [0, 1, 15, 16, 65_535, 65_536, 70_000])
def test_array_header_is_msgpacks(n: int) -> None:
    assert array_header(n) == msgspec.msgpack.encode([None] * n)[: len(array_header(n))]
    assert msgspec.msgpack.decode(array_header(n) + b"\xc0" * n) == [None] * n


def test_events_are_a_tagged_union() -> None:
    events = [RunPromoted(1.5, "ab" * 16, 2.0, 3, 4, 5), RunFailed(2.5, "boom")]
    for event in events:
        assert EVENT_DECODER.decode(ENCODER.encode(event)) == event
    assert to_builtins(events[1]) == {"type": "run_failed", "at": 2.5, "error": "boom"}
    with pytest.raises(msgspec.ValidationError):
        EVENT_DECODER.decode(msgspec.msgpack.encode({"type": "no_such_event"}))


def test_relations_name_real_tables() -> None:
    codes = [code for code, _, _ in RELATIONS.values()]
    assert sorted(codes) == [1, 2, 3]
    assert all(parent in TABLES and child in TABLES for _, parent, child in RELATIONS.values())
