"""Folder exports in parallel: each table cut into the plan's shards, each
shard's rows rendered in a worker process (CSV or JSON lines text, or an Arrow
batch for Parquet), and written by the coordinator in ID order.

The parts are the plan's, never the worker count's, and each is rendered the
same way wherever it runs, so the files are the same bytes with any number of
workers. The workers read the file the export verified (`file`), each with its
own read-only handle; the coordinator only writes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, NoReturn

import msgspec

from ..errors import RunError, ShardgenError
from ..guard import create
from ..plan import Plan
from ..run.pool import Coordinator, Pool, coordinator, worker_started
from ..schema import BATCH_DECODERS, TABLES, array_header
from ..store import Identity, Store, key, quiet_stderr
from .contract import Converter, Meter, columns
from .files import (
    CSV_STEPS,
    JSON_STEPS,
    ROW_GROUP,
    ParquetOptions,
    parquet_schema,
    record_batch,
    shard_rows,
)


class Part(NamedTuple):
    """A task: rows `first` .. `first + rows - 1` of `table`, its `number`-th part."""

    table: str
    number: int
    first: int
    rows: int


def parts(plan: Plan) -> list[Part]:
    """Every table cut into the plan's shards (a foundation table is one part),
    tables in contract order, parts in ID order."""
    found = []
    rows = plan.rows()
    for table in TABLES:
        first = 1
        for number, count in enumerate(shard_rows(plan, table) or [rows[table]]):
            found.append(Part(table, number, first, count))
            first += count
    return found


def export_folder(
    path: Path,
    file: Identity,
    plan: Plan,
    folder: Path,
    format: str,
    workers: int,
    meter: Meter | None,
    parquet: ParquetOptions | None,
) -> dict[str, int]:
    """Create `folder` and write every table of the store at `path` into it,
    rendered by `workers` processes; return rows per table."""
    folder.mkdir(mode=0o755)
    tasks = parts(plan)
    writer = _Writer(folder, format, parquet or ParquetOptions())
    initargs = (str(path), file, format, coordinator())

    def broken(_running: list[Part]) -> NoReturn:
        raise RunError("an export worker process died before finishing its part; run it again")

    written: dict[str, int] = dict.fromkeys(TABLES, 0)
    waiting: dict[int, tuple[Part, Any]] = {}
    order = {task: number for number, task in enumerate(tasks)}
    following = 0
    try:
        with Pool[Part, Any](
            workers, len(tasks), "shardgen.exports.parallel", _init, initargs
        ) as pool:
            for task, rendered in pool.run(_render, tasks, _nothing, _failed, broken):
                waiting[order[task]] = (task, rendered)
                while following in waiting:
                    done, data = waiting.pop(following)
                    writer.write(done, data)
                    written[done.table] += done.rows
                    if meter is not None:
                        meter.add(done.rows)
                    following += 1
    finally:
        writer.close()
    return written


def _nothing() -> None:
    pass


def _failed(part: Part, exc: Exception) -> ShardgenError:
    return RunError(
        f"exporting {part.table} part {part.number} failed ({type(exc).__name__}: {exc})"
    )


class _Writer:
    """The coordinator's side: one file per table (or, partitioned Parquet, per
    part), opened at the table's first part and closed after its last."""

    def __init__(self, folder: Path, format: str, parquet: ParquetOptions) -> None:
        self.folder = folder
        self.format = format
        self.parquet = parquet
        self.table = ""
        self.file: BinaryIO | None = None
        self.arrow: Any = None  # the table's ParquetWriter
        self.batches: list[Any] = []  # Arrow batches not yet written
        self.rows = 0

    def write(self, part: Part, data: Any) -> None:
        if part.table != self.table:
            self.close()
            self._open(part.table)
        if self.format != "parquet":
            assert self.file is not None
            self.file.write(data)
        elif self.parquet.partitioned:
            self._parquet_part(part, data)
        else:
            self.batches.append(data)
            self.rows += data.num_rows
            if self.rows >= ROW_GROUP:
                self._flush()

    def _open(self, table: str) -> None:
        self.table = table
        path = self.folder / f"{table}.{self.format}"
        if self.format == "parquet":
            import pyarrow.parquet as pq

            if self.parquet.partitioned:
                path.mkdir(mode=0o755)
                return
            self.file = open(create(path), "wb")  # noqa: SIM115 - closed in `close`
            self.arrow = pq.ParquetWriter(
                self.file, parquet_schema(table), compression=self.parquet.compression
            )
            return
        self.file = open(create(path), "wb")  # noqa: SIM115 - closed in `close`
        if self.format == "csv":
            self.file.write(_csv_text([columns(table)]))

    def _parquet_part(self, part: Part, batch: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = self.folder / f"{part.table}.parquet" / f"part-{part.number:05d}.parquet"
        with open(create(target), "wb") as sink:
            table = pa.Table.from_batches([batch], schema=parquet_schema(part.table))
            pq.write_table(
                table, sink, compression=self.parquet.compression, row_group_size=ROW_GROUP
            )

    def _flush(self) -> None:
        import pyarrow as pa

        if self.batches:
            table = pa.Table.from_batches(self.batches, schema=parquet_schema(self.table))
            self.arrow.write_table(table, row_group_size=ROW_GROUP)
        self.batches, self.rows = [], 0

    def close(self) -> None:
        if self.arrow is not None:
            try:
                self._flush()
            finally:
                self.arrow.close()
                self.arrow = None
        if self.file is not None:
            self.file.close()
            self.file = None


# -- in a worker process -------------------------------------------------------


class _Source(NamedTuple):
    store: Store
    format: str
    converter: Converter


_source: _Source | None = None


def _init(path: str, file: Identity, format: str, watched: Coordinator) -> None:
    global _source  # noqa: PLW0603 - one store handle per worker process
    worker_started(watched)
    quiet_stderr()
    steps = CSV_STEPS if format == "csv" else JSON_STEPS
    _source = _Source(Store.open(Path(path), file=file), format, Converter(steps))


def _render(part: Part) -> Any:
    """A part's rows as the bytes its file holds (CSV, JSON lines), or as
    one Arrow record batch (Parquet)."""
    source = _source
    assert source is not None, "worker not initialised"
    if source.format == "parquet":
        return _arrow_batch(source.store, part)
    convert = source.converter.row_function(part.table)
    rows = [convert(values) for values in _values(source.store, part)]
    if source.format == "csv":
        return _csv_text(rows)
    names = columns(part.table)
    encode = msgspec.json.Encoder(decimal_format="number").encode_lines
    return encode([dict(zip(names, row, strict=True)) for row in rows])


def _values(store: Store, part: Part) -> Iterator[list[Any]]:
    """A part's rows as plain lists of field values, in ID order."""
    for packed in _packed(store, part):
        yield from msgspec.msgpack.decode(packed)


def _arrow_batch(store: Store, part: Part) -> Any:
    decode = BATCH_DECODERS[part.table].decode
    records = [record for packed in _packed(store, part) for record in decode(packed)]
    return record_batch(part.table, records)


def _packed(store: Store, part: Part) -> Iterator[bytes]:
    """A part's rows a batch at a time, each batch one msgpack array of records."""
    low, high = key(part.first), key(part.first + part.rows)
    with store.snapshot() as view:
        for _, values in view.pairs(part.table, low, high, part.rows):
            yield array_header(len(values)) + b"".join(values)


def _csv_text(rows: list[Any]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
