"""Export to a folder of files, one per table: CSV, JSON lines or Parquet.

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
exactly two decimals, from integers, never through a float. Rows are streamed:
CSV row by row, JSON lines and Parquet in batches (a Parquet batch is a row
group), so memory stays flat whatever the volume. The files are written into a
hidden sibling folder that is renamed into place at the end.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from ..guard import create
from ..schema import TABLES
from ..store import Store
from ..tables import Column
from .contract import CONTRACT, Converter, columns, hundredths, rows

#: Rows per Parquet row group, and per JSON lines write.
ROW_GROUP = 100_000
JSON_BATCH = 10_000

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


def export_folder(store: Store, folder: Path, format: str) -> dict[str, int]:
    """Create `folder` and write every table into `folder`/<table>.<format>;
    return rows per table. (`export` gives the folder beside the target that
    `guard.writing` then puts in its place.)"""
    write = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}[format]
    converter = Converter(CSV_STEPS if format == "csv" else JSON_STEPS)
    folder.mkdir(mode=0o755)
    return {table: write(store, table, folder / f"{table}.{format}", converter) for table in TABLES}


T = TypeVar("T")


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def write_csv(store: Store, table: str, path: Path, converter: Converter) -> int:
    count = 0
    with open(create(path), "w", newline="", encoding="utf-8") as file:
        out = csv.writer(file, lineterminator="\n")
        out.writerow(columns(table))
        for row in rows(store, table, converter):
            out.writerow(row)
            count += 1
    return count


def write_jsonl(store: Store, table: str, path: Path, converter: Converter) -> int:
    names = columns(table)
    encode = msgspec.json.Encoder(decimal_format="number").encode_lines
    count = 0
    with open(create(path), "wb") as file:
        for batch in _batches(rows(store, table, converter), JSON_BATCH):
            file.write(encode([dict(zip(names, row, strict=True)) for row in batch]))
            count += len(batch)
    return count


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


def _arrow_builder(column: Column) -> Callable[[tuple[Any, ...]], Any]:
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


def arrow_batches(store: Store, table: str) -> Iterator[Any]:
    """A table's rows as Arrow record batches of ROW_GROUP rows (`parquet_schema`),
    streamed in ID order."""
    import pyarrow as pa

    schema = parquet_schema(table)
    builders = [_arrow_builder(column) for column in CONTRACT[table]]
    for batch in _batches(store.scan(table), ROW_GROUP):
        values = zip(*map(msgspec.structs.astuple, batch), strict=True)
        arrays = [build(column) for build, column in zip(builders, values, strict=True)]
        yield pa.record_batch(arrays, schema=schema)


def write_parquet(store: Store, table: str, path: Path, converter: Converter) -> int:
    import pyarrow.parquet as pq

    count = 0
    with (
        open(create(path), "wb") as sink,
        pq.ParquetWriter(sink, parquet_schema(table)) as writer,
    ):
        for batch in arrow_batches(store, table):
            writer.write_batch(batch)
            count += batch.num_rows
    return count
