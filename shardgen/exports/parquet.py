"""A table's Parquet file, its row groups encoded in parallel.

A Parquet file is the bytes `PAR1`, the column chunks of its row groups one
after the other, and a footer: the file's metadata (Apache Thrift's compact
protocol), its length, and `PAR1` again. A column chunk's pages hold no
offsets into the file; the footer says where each chunk begins. So a worker
encodes a group of the plan's shards (consecutive, of one table, up to
`files.ROW_GROUP` rows) as a Parquet file of one row group, in the export's
scratch folder (`write_group`), and the coordinator puts the table's file
together as the groups come, in order (`Assembly`): it appends each group's
chunks (the kernel copies them, `copy_file_range`) and keeps its row-group
entry, its offsets moved by where the chunks now begin; at the end it writes
one footer, the groups' shared schema and metadata with every row group and
the rows they hold.

The file is what `pyarrow.parquet.ParquetWriter` writes when it is given the
same row groups one by one, byte for byte (tests/test_exports_parquet.py
compares them), and the groups are the plan's, never the worker count's, so
it is the same file with any number of workers. Encoding, the largest part
of a Parquet export's work, is spread over the workers instead of being done
one row group at a time by the coordinator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..guard import copy_at, create, write_at
from .contract import Part

MAGIC = b"PAR1"

# Thrift compact protocol types (what a field's or a list's header says).
STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)

#: A struct as read: its fields in order, each [field id, type, value]: an
#: int for I16, I32 and I64; bytes for BINARY, BYTE and DOUBLE (raw); None
#: for a boolean field (its type is its value); (element type, [values]) for
#: a list or set (a boolean element as its raw byte); a struct for STRUCT.
Struct = list[list[Any]]

# Field ids in parquet.thrift that the assembly reads or changes.
FILE_METADATA_ROWS, FILE_METADATA_ROW_GROUPS = 3, 4
ROW_GROUP_COLUMNS, ROW_GROUP_OFFSET, ROW_GROUP_ORDINAL = 1, 5, 7
#: ColumnChunk: file_offset, offset_index_offset, column_index_offset; its
#: ColumnMetaData (field 3): data, index and dictionary page offsets, and the
#: bloom filter's.
CHUNK_OFFSETS, CHUNK_METADATA = (2, 4, 6), 3
METADATA_OFFSETS = (9, 10, 11, 14)


class Reader:
    """Reads Thrift compact protocol values from `data`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        return self.take(1)[0]

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise ValueError("the Parquet footer ends early")
        value = self.data[self.at : self.at + count]
        self.at += count
        return value

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def integer(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            header = self.byte()
            kind = header & 0x0F
            if kind == STOP:
                return fields
            delta = header >> 4
            last = last + delta if delta else self.integer()
            fields.append([last, kind, None if kind in (TRUE, FALSE) else self.value(kind)])

    def value(self, kind: int) -> Any:
        if kind in (I16, I32, I64):
            return self.integer()
        if kind == BINARY:
            return self.take(self.varint())
        if kind in (BYTE, TRUE, FALSE):  # a boolean here is a list's element: its byte
            return self.take(1)
        if kind == DOUBLE:
            return self.take(8)
        if kind in (LIST, SET):
            header = self.byte()
            count = header >> 4 if header >> 4 != 0x0F else self.varint()
            element = header & 0x0F
            return (element, [self.value(element) for _ in range(count)])
        if kind == STRUCT:
            return self.struct()
        raise ValueError(f"Thrift type {kind} is not in a Parquet footer")


class Writer:
    """Writes Thrift compact protocol values, as Thrift's own writers do."""

    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, value: int) -> None:
        while value >= 0x80:
            self.out.append(value & 0x7F | 0x80)
            value >>= 7
        self.out.append(value)

    def integer(self, value: int) -> None:
        self.varint((value << 1) ^ (value >> 63))

    def struct(self, fields: Struct) -> None:
        last = 0
        for number, kind, value in fields:
            if 0 < number - last <= 15:
                self.out.append((number - last) << 4 | kind)
            else:
                self.out.append(kind)
                self.integer(number)
            last = number
            if kind not in (TRUE, FALSE):
                self.value(kind, value)
        self.out.append(STOP)

    def value(self, kind: int, value: Any) -> None:
        if kind in (I16, I32, I64):
            self.integer(value)
        elif kind == BINARY:
            self.varint(len(value))
            self.out += value
        elif kind in (BYTE, TRUE, FALSE, DOUBLE):
            self.out += value
        elif kind in (LIST, SET):
            element, values = value
            if len(values) < 15:
                self.out.append(len(values) << 4 | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(len(values))
            for item in values:
                self.value(element, item)
        else:  # STRUCT: a Reader gives no other
            self.struct(value)


def encode(fields: Struct) -> bytes:
    writer = Writer()
    writer.struct(fields)
    return bytes(writer.out)


def field(fields: Struct, number: int) -> list[Any] | None:
    """The field `number` of a struct, or None where it is absent."""
    return next((found for found in fields if found[0] == number), None)


def move(fields: Struct, numbers: tuple[int, ...], by: int) -> None:
    """Add `by` to the offsets among `numbers` that a struct has. An offset
    of 0 is not one (the file begins with `PAR1`): pyarrow writes a column
    chunk's deprecated `file_offset` so, and it stays so."""
    for found in fields:
        if found[0] in numbers and found[2]:
            found[2] += by


def moved(row_group: Struct, by: int) -> None:
    """Move every offset into the file of a row group's entry by `by` bytes:
    its own, and each column chunk's and its pages'."""
    move(row_group, (ROW_GROUP_OFFSET,), by)
    columns = field(row_group, ROW_GROUP_COLUMNS)
    for chunk in columns[2][1] if columns is not None else []:
        move(chunk, CHUNK_OFFSETS, by)
        metadata = field(chunk, CHUNK_METADATA)
        if metadata is not None:
            move(metadata[2], METADATA_OFFSETS, by)


def footer(fd: int, size: int) -> tuple[Struct, int]:
    """A Parquet file's metadata, and where its footer begins (where its
    column chunks end)."""
    tail = os.pread(fd, 8, size - 8) if size >= 12 else b""
    length = int.from_bytes(tail[:4], "little")
    if tail[4:] != MAGIC or os.pread(fd, 4, 0) != MAGIC or length > size - 12:
        raise ValueError("not a Parquet file")
    start = size - 8 - length
    return Reader(os.pread(fd, length, start)).struct(), start


def write_file(path: Path, table: str, batches: list[Any], compression: str, most: int) -> None:
    """Write a new Parquet file of a table's rows (Arrow batches), in row
    groups of at most `most` rows (in a worker)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .files import parquet_schema

    with open(create(path), "wb") as sink:
        rows = pa.Table.from_batches(batches, schema=parquet_schema(table))
        pq.write_table(rows, sink, compression=compression, row_group_size=most)


def write_group(folder: Path, part: Part, batches: list[Any], compression: str, most: int) -> str:
    """Write a group's rows (its shards' Arrow batches) as a Parquet file of
    one row group in the export's scratch folder (in a worker), or of as
    many as `most` rows each make (a shard of more rows than that, alone in
    its group); return its path."""
    path = folder / f"{part.table}.{part.number}.parquet"
    write_file(path, part.table, batches, compression, most)
    return str(path)


class Assembly:
    """A table's Parquet file, put together from its groups' files in order
    (`add`), then closed by its footer (`finish`). A table with no rows is
    written by pyarrow, as a file of no row groups."""

    def __init__(self, path: Path, table: str, compression: str) -> None:
        self.table = table
        self.compression = compression
        self.fd = create(path)
        self.at = len(MAGIC)
        self.metadata: Struct | None = None  # the first group's, which every group shares
        self.row_groups: list[Any] = []
        self.rows = 0
        write_at(self.fd, MAGIC, 0)

    def add(self, group: str) -> None:
        """Append a group's column chunks, and keep its row groups; the
        group's file is deleted."""
        with open(group, "rb") as source:
            try:
                metadata, end = footer(source.fileno(), os.fstat(source.fileno()).st_size)
            except ValueError as exc:  # not what the worker wrote: changed since
                raise RunError(f"{group} is damaged ({exc}): run the export again") from None
            copy_at(source, self.fd, end - len(MAGIC), self.at, len(MAGIC))
        os.unlink(group)
        groups = field(metadata, FILE_METADATA_ROW_GROUPS)
        rows = field(metadata, FILE_METADATA_ROWS)
        assert groups is not None and rows is not None, group
        for row_group in groups[2][1]:
            moved(row_group, self.at - len(MAGIC))
            ordinal = field(row_group, ROW_GROUP_ORDINAL)
            if ordinal is not None:  # pyarrow leaves it out; a writer that numbers them
                ordinal[2] = len(self.row_groups)
            self.row_groups.append(row_group)
        self.rows += rows[2]
        self.at += end - len(MAGIC)
        if self.metadata is None:
            self.metadata = metadata

    def finish(self) -> None:
        """Write the footer: every group's row groups and rows."""
        if self.metadata is None:
            self._empty()
            return
        rows = field(self.metadata, FILE_METADATA_ROWS)
        groups = field(self.metadata, FILE_METADATA_ROW_GROUPS)
        assert rows is not None and groups is not None  # required fields, as `add` found
        rows[2], groups[2] = self.rows, (STRUCT, self.row_groups)
        data = encode(self.metadata)
        write_at(self.fd, data + len(data).to_bytes(4, "little") + MAGIC, self.at)

    def _empty(self) -> None:
        import pyarrow.parquet as pq

        from .files import parquet_schema

        with open(self.fd, "wb", closefd=False) as sink:
            sink.truncate(0)
            pq.ParquetWriter(sink, parquet_schema(self.table), compression=self.compression).close()

    def close(self) -> None:
        os.close(self.fd)
