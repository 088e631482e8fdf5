"""The folder formats, one file per table: CSV, JSON lines or Parquet: how
each writes the contract's values, and the Parquet schema and options
(`parallel` writes them).

Every table becomes `<folder>/<table>.<format>` with the contract's column
names. Values, by format:

    kind          csv                jsonl                 parquet
    money         "12.34" (text)     12.34 (number)        decimal128(12, 2)
    tax_rate      "8.25"             8.25                  decimal128(5, 2)
    date          2026-06-30         "2026-06-30"          date32
    timestamp     2026-06-30T..Z     "2026-06-30T..Z"      timestamp[ms, tz=UTC]
    boolean       0 / 1              true / false          bool
    NULL          empty field        null                  null

Decimals (money, percents, credit_multiplier, weight) are always written with
exactly two decimals, from integers, never through a float. Rows go a shard
at a time, so memory stays flat whatever the volume. The files are written
into a hidden sibling folder that is renamed into place at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from ..plan import Plan
from ..schema import TABLES
from ..store import Store
from ..tables import Column
from .contract import CONTRACT, Meter, hundredths

#: Rows per Parquet row group (at most).
ROW_GROUP = 100_000

#: The file names an export writes; --force replaces a folder holding only these.
EXPORT_FILES = frozenset(
    f"{table}.{suffix}" for table in TABLES for suffix in ("csv", "jsonl", "parquet")
)


def _number(hundredths: int) -> Decimal:
    return Decimal(hundredths).scaleb(-2)


def _same(value: Any) -> Any:
    return value


CSV_STEPS: dict[str, Callable[[Any], Any]] = {
    "money": hundredths,
    "basis_points": hundredths,
    "percent": lambda whole: hundredths(whole * 100),
    "decimal": lambda value: hundredths(round(value * 100)),
}
JSON_STEPS: dict[str, Callable[[Any], Any]] = {
    "money": _number,
    "basis_points": _number,
    "percent": lambda whole: _number(whole * 100),
    "decimal": lambda value: _number(round(value * 100)),
    "bool": _same,
}


def parquet_type(column: Column) -> Any:
    """The Arrow type of a contract column."""
    import pyarrow as pa

    if column.scale:
        return pa.decimal128(column.precision, column.scale)
    return {
        "id": pa.int64(),
        "int": pa.int32(),
        "text": pa.string(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        # Parquet has no unit of seconds: whole seconds, in milliseconds.
        "timestamp": pa.timestamp("ms", tz="UTC"),
    }[column.kind]


def parquet_schema(table: str) -> Any:
    import pyarrow as pa

    return pa.schema(
        [pa.field(c.name, parquet_type(c), nullable=c.nullable) for c in CONTRACT[table]]
    )


#: How each decimal kind's store value becomes a count of hundredths.
HUNDREDTHS: dict[str, Callable[[Any], int]] = {
    "money": _same,
    "basis_points": _same,
    "percent": lambda whole: whole * 100,
    "decimal": lambda value: round(value * 100),
}


def arrow_builder(column: Column) -> Callable[[tuple[Any, ...]], Any]:
    """A function from a batch of a column's store values to an Arrow array."""
    import pyarrow as pa

    arrow_type = parquet_type(column)
    if column.kind == "timestamp":
        seconds = pa.timestamp("s", tz="UTC")
        return lambda values: pa.array(values, seconds).cast(arrow_type)
    if column.kind not in HUNDREDTHS:  # days since the epoch are date32's own unit
        return lambda values: pa.array(values, arrow_type)
    scale = HUNDREDTHS[column.kind]

    def decimals(values: tuple[Any, ...]) -> Any:
        # Hundredths as integers, reinterpreted as decimals of scale 2: exact, and
        # much faster than building a Decimal per value.
        if scale is not _same:
            values = tuple(None if v is None else scale(v) for v in values)
        wide = pa.array(values, pa.int64()).cast(pa.decimal128(19, 0))
        return wide.view(arrow_type)

    return decimals


class ParquetOptions(NamedTuple):
    """How Parquet is written: the compression codec, and whether each table
    is one file or a dataset folder of one file per shard."""

    compression: str = "snappy"
    partitioned: bool = False


#: The codecs `--compression` takes (pyarrow's names; "none" writes plain pages).
COMPRESSIONS = ("snappy", "zstd", "gzip", "brotli", "lz4", "none")


def shard_rows(plan: Plan, table: str) -> list[int]:
    """The rows of `table` in each of the plan's shards, in ID order: the
    parts of a partitioned Parquet dataset."""
    customer = {
        "customers": "customers",
        "customer_addresses": "addresses",
        "invoices": "invoices",
        "invoice_line_items": "lines",
    }
    if table in customer:
        return [getattr(s, customer[table]) for s in plan.customer_shards]
    if table in ("products", "inventory"):
        return [s.products for s in plan.product_shards]
    return []  # the foundation tables: one part, all of it


def record_batch(table: str, records: list[Any]) -> Any:
    """Records of `table` as one Arrow record batch (`parquet_schema`)."""
    import pyarrow as pa

    schema = parquet_schema(table)
    if not records:
        return pa.RecordBatch.from_pylist([], schema=schema)
    builders = [arrow_builder(column) for column in CONTRACT[table]]
    fields = zip(*map(msgspec.structs.astuple, records), strict=True)
    arrays = [build(column) for build, column in zip(builders, fields, strict=True)]
    return pa.record_batch(arrays, schema=schema)


def arrow_batches(store: Store, table: str, meter: Meter | None = None) -> Iterator[Any]:
    """A table's rows as Arrow record batches of ROW_GROUP rows (`parquet_schema`),
    streamed in ID order (what the DuckDB export loads); counted on `meter`."""
    records = store.scan(table)
    while batch := list(itertools.islice(records, ROW_GROUP)):
        yield record_batch(table, batch)
        if meter is not None:
            meter.add(len(batch))
