"""Record fields as columns: exact rounding, clipped and reported wide values;
a batch's integer fields read from its bytes (`_fields.c`) as from its records."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

import shardgen
from shardgen.schema import BATCH_DECODERS, TABLES
from shardgen.store import Store
from shardgen.store.keys import BATCH
from shardgen.verification.columns import (
    INT_SLOTS,
    NULL,
    WIDE,
    Decoded,
    fields,
    flags,
    int_column,
    rounded_product,
)
from shardgen.verification.report import Findings


class Row(msgspec.Struct):
    id: int
    value: Any


def test_rounded_product_rounds_half_up_and_stays_exact_when_huge() -> None:
    small = rounded_product((np.array([1, 3, 5]), np.array([50, 50, 10])), 100)
    assert small.tolist() == [1, 2, 1]  # 0.5 → 1, 1.5 → 2, 0.5 → 1
    huge = np.array([2**40], np.int64)
    assert rounded_product((huge, huge), 1).tolist() == [2 * WIDE]  # clipped, not wrapped
    exact = np.array([3 * 2**31], np.int64)
    assert rounded_product((exact, exact), 2**40).tolist() == [(9 * 2**62 + 2**39) // 2**40]


def test_int_column_stands_none_for_null_and_clips_what_is_too_wide() -> None:
    found = Findings()
    rows = [Row(1, None), Row(2, 5), Row(3, 2**41), Row(4, -(2**70))]
    column = int_column(found, "invoices", rows, "value", NULL)
    assert column.tolist() == [NULL, 5, WIDE, -WIDE]
    assert [v.id for v in found.listed] == [3, 4]
    assert found.by_rule == {"integers within ±2**40": 2}
    assert int_column(Findings(), "invoices", rows[1:2], "value").tolist() == [5]


def test_flags_are_a_boolean_array() -> None:
    assert flags(c == "b" for c in "abc").tolist() == [False, True, False]


# -- a batch's integer fields read from its bytes (`_fields.c`) -----------------------

EDGES = [0, 1, -1, 127, 128, -32, -33, 255, 256, -128, -129, 65535, 65536, -32768, -32769,
         2**32 - 1, 2**32, -(2**31), -(2**31) - 1, 2**63 - 1, -(2**63)]  # fmt: skip
#: What the reader steps over between wanted fields: every kind of msgpack value.
OTHERS = ["", "x" * 31, "y" * 40, "z" * 300, "w" * 70_000, b"", b"b" * 300, 1.5,
          [1, [2, {"a": 3}]], {"k": [None, True]}, list(range(20)), {str(i): i for i in range(20)},
          msgspec.msgpack.Ext(1, b"e"), msgspec.msgpack.Ext(2, b"e" * 16), None, False]  # fmt: skip


def test_integer_fields_are_read_from_the_bytes_as_from_the_values() -> None:
    assert fields is not None, "the field reader was not built: run ./tools/bootstrap"
    records = [
        [i, edge, OTHERS[i % len(OTHERS)], i % 3 == 0, None if i % 2 else edge]
        for i, edge in enumerate(EDGES * 5)
    ]
    packed = msgspec.msgpack.encode(records)
    read = fields.int_fields(packed, (0, 1, 3, 4))
    assert read is not None
    values = np.frombuffer(read[0], np.int64).reshape(4, len(records))
    nulls = np.frombuffer(read[1], np.bool_).reshape(4, len(records))
    assert values[0].tolist() == [r[0] for r in records]
    assert values[1].tolist() == [r[1] for r in records]
    assert values[2].tolist() == [int(r[3]) for r in records]
    assert [None if n else v for v, n in zip(values[3], nulls[3], strict=True)] == [
        r[4] for r in records
    ]
    assert not nulls[:3].any()


def test_what_is_not_an_integer_of_int64_leaves_the_columns_to_the_records() -> None:
    assert fields is not None
    for bad in (2**63, 2**64 - 1, "1", 1.0, b"1", [1]):
        assert fields.int_fields(msgspec.msgpack.encode([[1, 2], [3, bad]]), (0, 1)) is None
    assert fields.int_fields(msgspec.msgpack.encode([[1, 2], [3]]), (0, 1)) is None  # short
    good = msgspec.msgpack.encode([[1, "a", 2], [3, "b", 4]])
    assert fields.int_fields(good, (0, 2)) is not None
    assert fields.int_fields(good + b"\x00", (0, 2)) is None  # bytes after the array
    assert fields.int_fields(b"\xc1", (0,)) is None
    for end in range(len(good)):  # every truncation
        assert fields.int_fields(good[:end], (0, 2)) is None
    nested: Any = [1]
    for _ in range(40):
        nested = [nested]
    deep = msgspec.msgpack.encode([[1, nested]])
    assert fields.int_fields(deep, (0,)) is None  # nested deeper than any record


def test_columns_from_the_bytes_equal_the_records_on_generated_and_advanced_stores(
    large_store: tuple[Path, object], tmp_path: Path
) -> None:
    advanced = tmp_path / "advanced.lmdb"
    shutil.copyfile(large_store[0], advanced)
    shardgen.advance(advanced, days=5, workers=1)  # paid dates, statuses, new rows
    for path in (large_store[0], advanced):
        with Store.open(path) as store, store.snapshot() as view:
            for table in TABLES:
                count = store.count(table)
                for first in range(1, count + 1, BATCH):
                    rows = min(BATCH, count + 1 - first)
                    packed, _ = view.values(table, first, rows)
                    batch = Decoded(BATCH_DECODERS[table].decode(packed), table, packed)
                    for field in INT_SLOTS[table]:
                        none = NULL if field == "paid_date" else None
                        assert batch.column(field) is not None
                        read = int_column(Findings(), table, batch, field, none)
                        made = int_column(Findings(), table, list(batch), field, none)
                        assert np.array_equal(read, made)
                    assert batch.column("no such field") is None


def test_a_batch_with_an_integer_beyond_int64_is_checked_from_its_records() -> None:
    # msgspec decodes a uint64 into an int field; the bytes give no columns,
    # and the records' path clips and reports it as before.
    packed = msgspec.msgpack.encode([[1, 5], [2, 2**64 - 1]])
    batch = Decoded([Row(1, 5), Row(2, 2**64 - 1)], "invoices", packed)
    found = Findings()
    assert int_column(found, "invoices", batch, "value").tolist() == [5, WIDE]
    assert found.by_rule == {"integers within ±2**40": 1}
