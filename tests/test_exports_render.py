"""The column-at-a-time renders write exactly what the row-at-a-time
conversions of the contract write: on every part of a real store, and on
values chosen to need quoting, escaping, NULLs or wide numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardgen.exports import copydata
from shardgen.exports import parallel as export_parallel
from shardgen.exports.contract import CONTRACT, columns
from shardgen.exports.render import RENDERERS, columns_of, hundredths
from shardgen.schema import array_header
from shardgen.store import Store
from shardgen.tables import Column
from shardgen.verification import promoted_header

# -- the reference: the contract's conversions, a row and a step at a time -----------

EPOCH = dt.date(1970, 1, 1)
Step = Callable[[Any], Any]


def reference_hundredths(value: int) -> str:
    """An integer count of hundredths as an exact decimal string: 1234 → "12.34"."""
    whole, part = divmod(abs(value), 100)
    return f"{'-' if value < 0 else ''}{whole}.{part:02d}"


def _number(hundredths: int) -> Decimal:
    return Decimal(hundredths).scaleb(-2)


CSV_STEPS: dict[str, Step] = {
    "money": reference_hundredths,
    "basis_points": reference_hundredths,
    "percent": lambda whole: reference_hundredths(whole * 100),
    "decimal": lambda value: reference_hundredths(round(value * 100)),
}
JSON_STEPS: dict[str, Step] = {
    "money": _number,
    "basis_points": _number,
    "percent": lambda whole: _number(whole * 100),
    "decimal": lambda value: _number(round(value * 100)),
    "bool": lambda value: value,
}


def _date(day: int | None) -> str | None:
    return None if day is None else (EPOCH + dt.timedelta(days=day)).isoformat()


def _timestamp(seconds: int) -> str:
    day, rest = divmod(seconds, 86_400)
    hours, minutes = divmod(rest // 60, 60)
    return f"{_date(day)}T{hours:02d}:{minutes:02d}:{rest % 60:02d}Z"


def convert(table: str, steps: dict[str, Step] | None) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Store values to contract values, one row at a time: the SQLite export's
    values (floats for money, 0/1 booleans, ISO dates and timestamps) unless
    `steps` says how a kind is written."""
    kinds: dict[str, Step] = {
        "money": lambda value: value / 100,
        "basis_points": lambda value: value / 100,
        "date": _date,
        "timestamp": _timestamp,
        "bool": int,
        **(steps or {}),
    }
    changes = [(i, kinds[c.kind]) for i, c in enumerate(CONTRACT[table]) if c.kind in kinds]

    def row(values: list[Any]) -> tuple[Any, ...]:
        for i, step in changes:
            values[i] = step(values[i])
        return tuple(values)

    return row


def numeric_field(hundredths: int) -> bytes:
    """PostgreSQL's binary NUMERIC of scale 2, from its definition: digit
    count, weight, sign, display scale, base-10000 digits (at least one
    before the point, as the export writes them)."""
    whole, cents = divmod(abs(hundredths), 100)
    digits = [cents * 100]
    while True:
        whole, digit = divmod(whole, 10_000)
        digits.insert(0, digit)
        if not whole:
            break
    count, sign = len(digits), 0x4000 if hundredths < 0 else 0
    return struct.pack(f">ihhHh{count}h", 8 + 2 * count, count, count - 2, sign, 2, *digits)


def binary_field(kind: str, value: Any) -> bytes:
    """One value of a column as a field of PostgreSQL's binary COPY."""
    if value is None:
        return struct.pack(">i", -1)
    if kind == "text":
        data = value.encode("utf-8")
        return struct.pack(">i", len(data)) + data
    packs: dict[str, Callable[[Any], bytes]] = {
        "id": lambda v: struct.pack(">iq", 8, v),
        "int": lambda v: struct.pack(">ii", 4, v),
        "bool": lambda v: struct.pack(">i?", 1, v),
        "date": lambda v: struct.pack(">ii", 4, v - 10_957),  # days from 2000-01-01
        "timestamp": lambda v: struct.pack(">iq", 8, (v - 946_684_800) * 1_000_000),
        "money": numeric_field,
        "basis_points": numeric_field,
        "percent": lambda v: numeric_field(v * 100),
        "decimal": lambda v: numeric_field(round(v * 100)),
    }
    return packs[kind](value)


def binary_rows(table: str, records: list[list[Any]]) -> bytes:
    """Binary COPY data a row and a field at a time."""
    kinds = [c.kind for c in CONTRACT[table]]
    out = [b"PGCOPY\n\xff\r\n\x00", struct.pack(">ii", 0, 0)]
    for values in records:
        out.append(struct.pack(">h", len(values)))
        out += (binary_field(kind, value) for kind, value in zip(kinds, values, strict=True))
    out.append(struct.pack(">h", -1))
    return b"".join(out)


def by_rows(render: str, table: str, records: list[list[Any]]) -> Any:
    """The reference: each row through `convert`, then csv or msgspec; or each
    field packed as binary COPY."""
    if render == "binary":
        return binary_rows(table, records)
    row = convert(table, {"csv": CSV_STEPS, "jsonl": JSON_STEPS}.get(render))
    rows = [row(list(values)) for values in records]
    if render == "rows":
        return rows
    if render == "csv":
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode("utf-8")
    names = columns(table)
    encoder = msgspec.json.Encoder(decimal_format="number")
    return encoder.encode_lines([dict(zip(names, row, strict=True)) for row in rows])


def assert_same(render: str, table: str, packed: bytes) -> None:
    expected = by_rows(render, table, msgspec.msgpack.decode(packed))
    found = RENDERERS[render](table, columns_of(table, packed))
    if render == "rows":  # equal values of the same types: 1.0 is not 1
        assert [[type(v) for v in row] for row in found] == [
            [type(v) for v in row] for row in expected
        ]
    assert found == expected


@pytest.mark.parametrize("render", ["csv", "jsonl", "rows", "binary"])
def test_every_part_of_a_store_renders_as_row_by_row(small_store: Path, render: str) -> None:
    plan, _, file = promoted_header(small_store)
    with Store.open(small_store, file=file) as store:
        for part in export_parallel.parts(plan):
            if part.number >= 0:
                packed = b"".join(export_parallel._shards(store, part, []))
                assert_same(render, part.table, packed)


def packed(records: list[list[Any]]) -> bytes:
    encode = msgspec.msgpack.encode
    return array_header(len(records)) + b"".join(encode(r) for r in records)


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
customer = st.tuples(
    st.integers(1, 10**9),  # id
    st.integers(1, 10**6),  # customer_type_id
    text,  # name
    st.none() | text,  # company_name (nullable)
    st.sampled_from(["a@example.com", 'q"uote@x.org', "c,omma@x.net"]),
    st.sampled_from(["+1 555 0100", "line\nbreak", "tab\tbed", "cr\rhere"]),
    st.sampled_from(["active", "suspended"]),
    st.integers(-(10**10), 10**10),  # credit_limit, cents
    st.integers(0, 4 * 10**9),  # created_at
    st.integers(0, 4 * 10**9),  # updated_at
).map(list)


@settings(max_examples=60, deadline=None)
@given(st.lists(customer, min_size=1, max_size=8))
def test_awkward_values_render_as_row_by_row(records: list[list[Any]]) -> None:
    for render in ("csv", "jsonl", "rows", "binary"):
        assert_same(render, "customers", packed(records))


def test_empty_parts_render_as_nothing() -> None:
    assert RENDERERS["csv"]("customers", columns_of("customers", array_header(0))) == b""
    assert RENDERERS["jsonl"]("customers", columns_of("customers", array_header(0))) == b""
    assert RENDERERS["rows"]("customers", columns_of("customers", array_header(0))) == []
    assert RENDERERS["binary"]("customers", columns_of("customers", array_header(0))) == (
        binary_rows("customers", [])
    )


@pytest.mark.parametrize(
    "kind", ["id", "int", "bool", "date", "timestamp", "money", "percent", "decimal", "text"]
)
def test_binary_fields_of_every_kind_with_nulls(kind: str) -> None:
    """Every kind as a nullable column: NULLs among values of each width (the
    contract has nullable texts and dates only; a column of any kind may be)."""
    samples: dict[str, list[Any]] = {
        "id": [1, 2**40, 7],
        "int": [0, -5, 2**31 - 1],
        "bool": [True, False, True],
        "date": [0, 20_000, 10_957],
        "timestamp": [0, 1_780_000_000, 946_684_800],
        "money": [0, -1_050, 99_999_999, 10**12, 123_456],
        "percent": [0, 5, 100],
        "decimal": [0.0, 1.25, 2.5, 80.07],
        "text": ["", "é", "a longer text, with a comma"],
    }
    values = samples[kind]
    encode = copydata._encoder(Column("x", kind, nullable=True))
    for column in ([*values, None], [None, *values], [None, None], values):
        blocks = encode(tuple(column))
        rows = [
            b"".join(
                (matrix[row] if mask is None else matrix[row][mask[row]]).tobytes()
                for matrix, mask in blocks
            )
            for row in range(len(column))
        ]
        assert rows == [binary_field(kind, value) for value in column]


def test_hundredths_are_exact_on_both_sides_of_zero() -> None:
    values = [0, 1, 5, 99, 100, 101, 123456789012, -1, -5, -99, -100, -101, -123456789012]
    assert hundredths(values) == [reference_hundredths(v) for v in values] == [
        "0.00", "0.01", "0.05", "0.99", "1.00", "1.01", "1234567890.12",
        "-0.01", "-0.05", "-0.99", "-1.00", "-1.01", "-1234567890.12",
    ]  # fmt: skip
    assert hundredths([7, 250]) == ["0.07", "2.50"]


def test_arrow_batches_hold_the_contracts_values() -> None:
    """Decimals rounded as Python rounds `value * 100` (halves to even, from
    the same double), percents as hundredths, whole-second timestamps in
    milliseconds, NULL dates as nulls."""
    from shardgen.exports.files import record_batch

    weights = [0.125, 2.675, 1.005, 80.07, 0.0, 12_345.67]
    products = [
        [i, 1, f"SKU-{i}", "name", "text", 1999, 1000, weight, True, 1_780_000_000 + i,
         1_780_000_000]
        for i, weight in enumerate(weights, 1)
    ]  # fmt: skip
    batch = record_batch("products", packed(products))
    assert batch.column("weight").to_pylist() == [
        Decimal(round(w * 100)).scaleb(-2) for w in weights
    ]
    assert batch.column("created_at").to_pylist()[0] == dt.datetime.fromtimestamp(
        1_780_000_001, dt.UTC
    )
    invoices = [
        [1, 1, 1, "INV-1", 20_000, 20_030, "net_30", "paid", 20_010, 10_000, 825, 825, 10_825,
         1_780_000_000],
        [2, 1, 1, "INV-2", 20_000, 20_030, "net_30", "pending", None, 5, 0, 0, 5, 1_780_000_000],
    ]  # fmt: skip
    batch = record_batch("invoices", packed(invoices))
    assert batch.column("paid_date").to_pylist() == [EPOCH + dt.timedelta(days=20_010), None]
    assert batch.column("tax_rate").to_pylist() == [Decimal("8.25"), Decimal("0.00")]
    assert batch.column("total").to_pylist() == [Decimal("108.25"), Decimal("0.05")]
    lines = [[1, 1, 1, 1, "a line", 3, 1999, 15, 5097]]
    assert record_batch("invoice_line_items", packed(lines)).column(
        "discount_percentage"
    ).to_pylist() == [Decimal("15.00")]
