"""The C decoder of a part's records (`exports/_columns.c`) makes exactly the
Arrow batch and the PostgreSQL binary COPY data that decoding through Python
values makes: on every part of real stores, generated and advanced, and on
records chosen for every msgpack width, NULLs, wide numbers and texts of
every length; and it refuses what is not a record of the table, as the
Python path does."""

from __future__ import annotations

import contextlib
import functools
import shutil
import struct
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardgen
from shardgen.exports import copydata, files, native
from shardgen.exports import parallel as export_parallel
from shardgen.exports.contract import CONTRACT
from shardgen.exports.render import (
    RENDERERS,
    columns_of,
    part_text,
    sqlite_rows,
    sqlite_values,
)
from shardgen.exports.sqlite import write_leaves
from shardgen.schema import array_header
from shardgen.store import Store

pytest.importorskip("pyarrow")

# The decoder is built by every install of the project's own files (tools/bootstrap,
# pip install -e .); its absence here is a failed build, not a reason to skip.
from shardgen.exports import _columns


def packed(records: list[list[Any]]) -> bytes:
    encode = msgspec.msgpack.encode
    return array_header(len(records)) + b"".join(encode(r) for r in records)


def assert_same(table: str, data: bytes, copy: bool = True) -> None:
    """The same Arrow batch, and unless not `copy`, the same COPY data and
    SQLite rows (which the Python path makes only with NULLs in the
    contract's nullable columns)."""
    batch = files.record_batch(table, data)
    batch.validate(full=True)
    expected = files.python_batch(table, data)
    assert batch.schema == expected.schema
    assert batch.equals(expected), table
    if copy:
        assert sqlite_values(table, data) == sqlite_rows(table, columns_of(table, data)), table
        for render in ("csv", "jsonl"):
            assert part_text(render, table, data) == RENDERERS[render](
                table, columns_of(table, data)
            ), (render, table)
    assert not copy or copydata.copy_data(table, data) == copydata.copy_columns(
        table, columns_of(table, data)
    ), table


def every_part(path: Path) -> int:
    with Store.open(path) as store:
        plan = store.plan()
        count = 0
        for part in export_parallel.parts(plan):
            if part.number < 0:
                continue
            data = b"".join(export_parallel._shards(store, part, []))
            assert_same(part.table, data)
            count += part.rows
    return count


def test_the_native_decoder_is_the_one_in_use() -> None:
    assert native.decoder is _columns


def test_every_part_of_a_store_decodes_as_through_python(
    large_store: tuple[Path, Any],
) -> None:
    path, summary = large_store
    assert every_part(path) == sum(summary.rows.values())


def test_every_part_of_an_advanced_store_decodes_as_through_python(
    small_store: Path, tmp_path: Path
) -> None:
    """An advanced store's rows have paid dates, statuses and timestamps that
    the days wrote (NULLs turned into values, and the other way)."""
    path = tmp_path / "advanced.lmdb"
    shutil.copyfile(small_store, path)
    shardgen.advance(path, days=20, workers=1)
    assert every_part(path) > 0


# -- every msgpack width, NULLs, texts of every length --------------------------------

#: Integers that take each msgpack form: fixint, negative fixint, 8 to 64 bits
#: signed and unsigned.
integers = st.sampled_from(
    [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**63 - 1,
     -1, -32, -33, -128, -129, -32_768, -32_769, -(2**31), -(2**31) - 1, -(2**63)]
) | st.integers(-(2**63), 2**63 - 1)  # fmt: skip
int32 = st.integers(-(2**31), 2**31 - 1)
#: Texts whose lengths take fixstr, str8, str16 and str32, in 1 to 4 byte characters.
texts = st.text(max_size=40) | st.sampled_from(["", "é" * 200, "€" * 30_000, "😀" * 17_000])


def value(kind: str, nullable: bool) -> st.SearchStrategy[Any]:
    found: st.SearchStrategy[Any] = {
        "id": integers,
        "int": int32,
        "text": texts,
        "bool": st.booleans(),
        # Dates and timestamps of years 1 to 9999, as Python's dates have them.
        "date": st.integers(-719_162, 2_932_896),
        "timestamp": st.integers(-62_135_596_800, 253_402_300_799),
        "decimal": st.floats(allow_nan=False, allow_infinity=False, width=64)
        | st.integers(-(2**53), 2**53),  # a float column that holds an integer
    }.get(kind, integers)
    return st.none() | found if nullable else found


def records(table: str, nullable: bool) -> st.SearchStrategy[list[list[Any]]]:
    row = st.tuples(*(value(c.kind, nullable or c.nullable) for c in CONTRACT[table]))
    return st.lists(row.map(list), max_size=20)


def decimal_safe(table: str, rows: list[list[Any]]) -> list[list[Any]]:
    """Values the conversions to the contract take: a decimal kind's value
    times 100 fits a DECIMAL's digits (a store breaking that fails both
    paths alike)."""
    limits = [10 ** (c.precision - 2) if c.scale else None for c in CONTRACT[table]]
    return [
        [
            v if v is None or limit is None or abs(v) < limit else 0
            for v, limit in zip(row, limits, strict=True)
        ]
        for row in rows
    ]


@settings(max_examples=40, deadline=None)
@given(st.data())
@pytest.mark.parametrize("table", list(CONTRACT))
def test_chosen_records_decode_as_through_python(table: str, data: st.DataObject) -> None:
    nullable = data.draw(st.booleans())  # NULLs in any column, not only the contract's
    rows = decimal_safe(table, data.draw(records(table, nullable)))
    assert_same(table, packed(rows), copy=not nullable)


def test_a_part_of_no_rows() -> None:
    assert files.record_batch("customers", array_header(0)).num_rows == 0
    assert_same("customers", array_header(0))


# -- what is not a record of the table -------------------------------------------------

LINE = [1, 1, 1, 1, "a line", 3, 1999, 15, 5097]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (packed([LINE])[:-1], "ends early"),
        (packed([LINE[:-1]]), "another number of values"),
        (packed([[*LINE[:4], 5, *LINE[5:]]]), "a text expected"),
        (packed([[*LINE[:5], "three", *LINE[6:]]]), "an integer expected"),
        (packed([[*LINE[:5], 2**31, *LINE[6:]]]), "beyond 32 bits"),
        (packed([LINE]) + b"\x00", "bytes after the last record"),
        (b"\xdd\x7f\xff\xff\xff" + packed([LINE])[1:], "ends early"),  # 2**31 - 1 records
        (msgspec.msgpack.encode({"a": 1}), "not an array"),
        (array_header(1) + b"\x99" + b"\x01" * 4 + b"\xa2\xff\xfe" + b"\x03\x04\x05\x06", "UTF-8"),
        (array_header(1) + b"\x99" + b"\xcf" + struct.pack(">Q", 2**63) + b"\x01" * 8, "64 bits"),
    ],
)
def test_what_is_not_a_record_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=f"damaged record: .*{says}"):
        files.record_batch("invoice_line_items", data)
    with pytest.raises(ValueError, match=f"damaged record: .*{says}"):
        copydata.copy_data("invoice_line_items", data)
    if says != "beyond 32 bits":  # CSV and JSON write any 64-bit integer
        for render in ("csv", "jsonl"):
            with pytest.raises(ValueError, match=f"damaged record: .*{says}"):
                part_text(render, "invoice_line_items", data)
    # The SQLite export keeps values as they are: only what is not a record fails.
    if says in (
        "ends early",
        "another number of values",
        "bytes after the last record",
        "not an array",
        "UTF-8",
    ):
        with pytest.raises(ValueError, match=f"damaged record: .*{says}"):
            sqlite_values("invoice_line_items", data)
    with pytest.raises(Exception):  # noqa: B017 - pyarrow or msgspec refuses it too
        files.python_batch("invoice_line_items", data)


def _text(packed: bytes, kinds: str) -> bytes:
    return _columns.text(packed, kinds, False, (b"",) * len(kinds), b"\n")


@pytest.mark.parametrize(
    "decode", [_columns.decode, _columns.copy_binary, _columns.sqlite_rows, _text]
)
def test_a_bad_boolean_and_an_unknown_kind_are_refused(decode: Any) -> None:
    with pytest.raises(ValueError, match="a boolean expected"):
        decode(array_header(1) + b"\x91\x01", "b")
    with pytest.raises(ValueError, match="unknown kind"):
        decode(array_header(1) + b"\x91\x01", "z")


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("t", 2**62, "a timestamp beyond 64 bits"),
        ("p", 2**62, "a percent beyond 64 bits"),
        ("x", 1e300, "a decimal beyond 64 bits"),
        ("d", 2**40, "beyond 32 bits"),
        ("s", 5, "a text expected"),
    ],
)
def test_copy_data_refuses_values_it_cannot_write(kind: str, value: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _columns.copy_binary(packed([[value]]), kind)


@pytest.mark.parametrize(
    "hundredths",
    [0, 1, -1, 99, -100, 999_999, 1_000_000, 9_999_999_999, 10_000_000_000, -(10**15) - 7,
     2**63 - 1, -(2**63) + 1],
)  # fmt: skip
def test_numerics_of_every_width_are_copied_as_the_python_path_writes_them(
    hundredths: int,
) -> None:
    """Amounts of 100,000,000.00 and more take the Python path's field by field
    writer (`_wide_numerics`); below, its arrays (`_numerics`); the C decoder
    writes both alike."""
    matrix, mask = copydata._wide_numerics([hundredths], None)
    assert mask is not None
    field = matrix[0][mask[0]].tobytes()
    expected = copydata.HEADER + struct.pack(">h", 1) + field + copydata.TRAILER
    assert _columns.copy_binary(packed([[hundredths]]), "m") == expected
    if abs(hundredths) < 10**10:
        laid, keep = copydata._numerics(np.array([hundredths], np.int64), None)
        assert keep is not None
        assert laid[0][keep[0]].tobytes() == field


@pytest.mark.parametrize(
    ("kind", "value"), [("d", -719_163), ("d", 2_932_897), ("t", 253_402_300_800)]
)
def test_sqlite_rows_refuse_dates_beyond_the_calendar(kind: str, value: int) -> None:
    with pytest.raises(ValueError, match="a date outside years 1 to 9999"):
        _columns.sqlite_rows(packed([[value]]), kind)


def test_sqlite_rows_divide_amounts_beyond_a_doubles_integers_as_python_does() -> None:
    amounts = [2**53, 2**53 + 1, -(2**53) - 3, 2**63 - 1, 123_456_789_012_345_678]
    assert _columns.sqlite_rows(packed([[a] for a in amounts]), "m") == [
        (a / 100,) for a in amounts
    ]


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("t", 2**62, "a timestamp beyond 64 bits of milliseconds"),
        ("p", 2**62, "a decimal beyond 64 bits"),
        ("x", 1e300, "a decimal beyond 64 bits"),
    ],
)
def test_arrow_buffers_refuse_values_beyond_their_types(kind: str, value: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _columns.decode(packed([[value]]), kind)


def _pages(data: bytes, kinds: str) -> object:
    """SQLite's leaf pages (an id first, any column nullable, small pages),
    with the entries of an index on the other columns."""
    others = tuple(range(1, len(kinds)))
    indexes = (others,) if others else ()
    return _columns.sqlite_pages(
        data, "k" + kinds[1:], "1" * len(kinds), 512, indexes, "1" * len(indexes)
    )


def _index(data: bytes, kinds: str) -> object:
    """A SQLite index's leaves from any bytes as its entries."""
    return _columns.sqlite_index_leaves(data, 512, len(kinds) % 3, True)


FUNCTIONS = {
    "decode": _columns.decode,
    "copy_binary": _columns.copy_binary,
    "sqlite_rows": _columns.sqlite_rows,
    "sqlite_pages": _pages,
    "sqlite_index_leaves": _index,
    "text": _text,
}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(FUNCTIONS)),
    st.text(alphabet="kisbdtmpx", min_size=1, max_size=6),
    st.binary(max_size=200),
)
def test_any_bytes_are_decoded_or_refused_never_read_past_their_end(
    function: str, kinds: str, data: bytes
) -> None:
    """A damaged store can hold any bytes: the decoder returns or raises
    ValueError, and reads nothing beyond them (the process would crash)."""
    with contextlib.suppress(ValueError):
        FUNCTIONS[function](array_header(1) + data, kinds)


def test_every_truncation_of_a_part_is_refused(
    large_store: tuple[Path, Any], tmp_path: Path
) -> None:
    with Store.open(large_store[0]) as store:
        part = next(
            p for p in export_parallel.parts(store.plan()) if p.table == "invoices" and p.rows
        )
        data = b"".join(export_parallel._shards(store, part, []))
    assert len(data) > 3000
    renders = [
        functools.partial(files.record_batch, "invoices"),
        functools.partial(copydata.copy_data, "invoices"),
        functools.partial(sqlite_values, "invoices"),
        functools.partial(write_leaves, tmp_path, part),
        functools.partial(part_text, "csv", "invoices"),
        functools.partial(part_text, "jsonl", "invoices"),
    ]
    for end in range(3000, 0, -7):
        for render in renders:
            with pytest.raises(ValueError, match="damaged record: it ends early"):
                render(data[:end])
