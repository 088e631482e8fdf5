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

import csv
import functools
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec

from ..guard import create, scratch_path
from ..plan import Plan
from ..schema import TABLES
from ..tables import Column
from .contract import CONTRACT, Part, columns
from .native import TABLE_KINDS, decoder
from .parquet import Assembly, write_file

#: Rows per Parquet row group (at most).
ROW_GROUP = 100_000

#: The file names an export writes; --force replaces a folder holding only these.
EXPORT_FILES = frozenset(
    f"{table}.{suffix}" for table in TABLES for suffix in ("csv", "jsonl", "parquet")
)


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


def _store_type(column: Column) -> Any:
    """The Arrow type of a column's values as the store holds them: decimals
    as integer hundredths or whole percents (floats for `decimal`), timestamps
    as whole seconds; the rest as the contract's type."""
    import pyarrow as pa

    if column.kind == "decimal":
        return pa.float64()
    if column.scale:
        return pa.int64()
    if column.kind == "timestamp":
        return pa.timestamp("s", tz="UTC")
    return parquet_type(column)


def _to_contract(column: Column) -> Callable[[Any], Any]:
    """A function from an array of a column's store values (`_store_type`) to
    the contract's Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow_type = parquet_type(column)
    if column.kind == "timestamp":
        return lambda values: values.cast(arrow_type)
    if not column.scale:
        return lambda values: values

    def decimals(values: Any) -> Any:
        # Hundredths as integers, reinterpreted as decimals of scale 2: exact,
        # with no Decimal per value. A `decimal` float is rounded as Python's
        # round(value * 100) rounds it (to even, from the same double).
        if column.kind == "percent":
            values = pc.multiply(values, 100)
        elif column.kind == "decimal":
            values = pc.round(pc.multiply(values, 100.0), 0, round_mode="half_to_even")
            values = values.cast(pa.int64())
        return values.cast(pa.decimal128(19, 0)).view(arrow_type)

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


#: A part's records decoded as tuples, which Arrow converts as struct rows.
_RECORDS = msgspec.msgpack.Decoder(list[tuple[Any, ...]])


@functools.cache
def _arrow_table(table: str) -> tuple[Any, Any, list[Callable[[Any], Any]]]:
    """A table's Arrow schema, the struct type of its rows as the store holds
    them, and each column's conversion to the contract's type."""
    import pyarrow as pa

    store = pa.struct([pa.field(c.name, _store_type(c)) for c in CONTRACT[table]])
    return parquet_schema(table), store, [_to_contract(c) for c in CONTRACT[table]]


@functools.cache
def _native_table(table: str) -> tuple[Any, list[Any]]:
    """A table's Arrow schema and its columns' types."""
    schema = parquet_schema(table)
    return schema, [field.type for field in schema]


def record_batch(table: str, packed: bytes) -> Any:
    """A part's records (one msgpack array of them, as `parallel` reads them)
    as one Arrow record batch (`parquet_schema`).

    The C decoder (`_columns.c`) reads the records straight into the
    buffers of the contract's Arrow arrays (milliseconds, 128-bit decimals),
    with no Python object per value. Where it was not built, `python_batch`
    decodes the records into Python values, which Arrow converts: the same
    batch (tests/test_exports_columns.py compares them on every part of a
    store), at several times the CPU time."""
    if decoder is None:  # pragma: no cover - installed without a C compiler
        return python_batch(table, packed)
    import pyarrow as pa

    schema, types = _native_table(table)
    rows, decoded = decoder.decode(packed, TABLE_KINDS[table])
    arrays = []
    for arrow_type, (nulls, validity, *buffers) in zip(types, decoded, strict=True):
        given = [None if validity is None else pa.py_buffer(validity)]
        given += [pa.py_buffer(buffer) for buffer in buffers]
        arrays.append(pa.Array.from_buffers(arrow_type, rows, given, null_count=nulls))
    return pa.record_batch(arrays, schema=schema)


def python_batch(table: str, packed: bytes) -> Any:
    """`record_batch` through Python values: the records decoded as tuples,
    which Arrow converts into columns itself, as a struct array."""
    import pyarrow as pa

    schema, store, conversions = _arrow_table(table)
    rows = _RECORDS.decode(packed)
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=schema)
    columns = pa.array(rows, type=store).flatten()
    arrays = [convert(values) for convert, values in zip(conversions, columns, strict=True)]
    return pa.record_batch(arrays, schema=schema)


def csv_text(rows: list[Any]) -> bytes:
    """Rows as CSV text (UTF-8, `\\n` line ends, quoted only where needed)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


#: The render of a partitioned dataset's parts: each written by its worker,
#: with the codec after the colon.
PARQUET_PARTS = "parquet-part:"

#: The render of a Parquet file's row groups: each written by its worker as
#: a file of its own (`parquet.write_group`), with the codec and the most
#: rows a row group holds after it (`ROW_GROUP`), colons between.
PARQUET_GROUPS = "parquet-group:"

#: The render of Arrow batches handed over as files (`write_arrow_file`).
ARROW_FILES = "arrow-file"


def write_arrow_file(folder: Path, part: Part, batch: Any) -> str:
    """Write a part's Arrow batch into `folder` as an Arrow IPC file, in a
    worker; return its path. The coordinator maps it (`read_arrow_file`):
    no copy of the rows through a pipe and pickle on either side (xl: 0.4
    of the coordinator's 4.6 CPU seconds of a Parquet export)."""
    import pyarrow as pa

    path = folder / f"{part.table}.{part.number}.arrow"
    with open(create(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as file:
        file.write_batch(batch)
    return str(path)


def read_arrow_file(path: str) -> Any:
    """The batch a worker wrote (`write_arrow_file`), mapped from its file,
    which is then deleted (the batch keeps the mapping)."""
    import pyarrow as pa

    batch = pa.ipc.open_file(pa.memory_map(path)).get_batch(0)
    os.unlink(path)
    return batch


def part_file(folder: Path, part: Part) -> Path:
    """Where a partitioned dataset keeps a part: `TABLE.parquet/part-NNNNN.parquet`."""
    return folder / f"{part.table}.parquet" / f"part-{part.number:05d}.parquet"


def write_part_file(folder: Path, part: Part, batch: Any, compression: str) -> None:
    """Write a part of a partitioned dataset as its own Parquet file (in a worker)."""
    write_file(part_file(folder, part), part.table, [batch], compression, ROW_GROUP)


class FolderWriter:
    """The folder formats' writer: one file per table, opened at the table's
    first part and closed after its last. CSV and JSON lines parts arrive as
    text; a Parquet file's parts are its row groups, each a file a worker
    encoded in the scratch folder, put together here (`parquet.Assembly`);
    a partitioned Parquet dataset's parts are files the workers write
    themselves into the tables' folders, made here."""

    def __init__(self, folder: Path, format: str, parquet: ParquetOptions | None) -> None:
        folder.mkdir(mode=0o755)
        self.folder = folder
        self.format = format
        self.parquet = parquet or ParquetOptions()
        self.render = _render(format, self.parquet)
        self.scratch: Path | None = None
        #: A Parquet part is a row group: consecutive shards of up to this many rows.
        self.task_rows = 0
        if format == "parquet" and self.parquet.partitioned:
            for table in TABLES:
                (folder / f"{table}.parquet").mkdir(mode=0o755)
            self.scratch = folder
        elif format == "parquet":  # where the workers leave their row groups
            self.scratch = scratch_path(folder)
            os.mkdir(self.scratch, 0o700)
            self.task_rows = ROW_GROUP
        self.table = ""
        self.file: BinaryIO | None = None
        self.assembly: Assembly | None = None  # the table's Parquet file

    def write(self, part: Part, data: Any) -> None:
        if part.table != self.table:
            self._close_table()
            self._open(part.table)
        if self.format != "parquet":
            assert self.file is not None
            self.file.write(data)
        elif self.parquet.partitioned:
            assert part_file(self.folder, part).is_file(), part  # written by its worker
        else:
            assert self.assembly is not None
            self.assembly.add(data)

    def finish(self) -> None:
        self.close()

    def _open(self, table: str) -> None:
        self.table = table
        path = self.folder / f"{table}.{self.format}"
        if self.format == "parquet":
            if not self.parquet.partitioned:  # partitioned: the workers write the parts
                self.assembly = Assembly(path, table, self.parquet.compression)
            return
        self.file = open(create(path), "wb")  # noqa: SIM115 - closed in `close`
        if self.format == "csv":
            self.file.write(csv_text([columns(table)]))

    def _close_table(self) -> None:
        assembly, self.assembly = self.assembly, None
        if assembly is not None:
            try:
                assembly.finish()
            finally:
                assembly.close()
        if self.file is not None:
            self.file.close()
            self.file = None

    def close(self) -> None:
        self._close_table()


def _render(format: str, options: ParquetOptions) -> str:
    """CSV and JSON lines parts come as their text; Parquet's as files their
    workers wrote: each a row group of the table's file, or, partitioned, the
    dataset's part itself. Either way encoded in parallel, not one row group
    after another by the coordinator."""
    if format != "parquet":
        return format
    if options.partitioned:
        return f"{PARQUET_PARTS}{options.compression}"
    return f"{PARQUET_GROUPS}{options.compression}:{ROW_GROUP}"


def writer(
    to: Path, format: str, force: bool, options: ParquetOptions | None = None
) -> FolderWriter:
    """The folder formats' writer, filling a new folder `to`."""
    return FolderWriter(to, format, options)
