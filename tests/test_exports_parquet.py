"""A Parquet export's files: row groups encoded by the workers, each file put
together by the coordinator (`exports.parquet`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardgen
from shardgen.exports import files as export_files
from shardgen.exports import parquet as export_parquet
from shardgen.exports.contract import CONTRACT

from .conftest import Make

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def rewritten(path: Path, into: Path, compression: str) -> bytes:
    """The file pyarrow's own writer makes of the same row groups, one by one."""
    file = pq.ParquetFile(path)
    with pq.ParquetWriter(into, file.schema_arrow, compression=compression) as writer:
        for i in range(file.metadata.num_row_groups):
            group = file.read_row_group(i)
            writer.write_table(group, row_group_size=max(1, group.num_rows))
    return into.read_bytes()


def test_row_groups_are_whole_shards_and_the_same_for_any_worker_count(
    make_store: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shards: customers 500, 500, 500, 500, 200; line items 13, 13, 13, 11, 3.
    path, summary = make_store(customers=2200, seed=1)
    monkeypatch.setattr(export_files, "ROW_GROUP", 30)
    written = {}
    for workers in (1, 2, 3):
        folder = tmp_path / f"w{workers}"
        assert shardgen.export(path, format="parquet", to=folder, workers=workers) == summary.rows
        written[workers] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert len(written[1]) == 8 and written[1] == written[2] == written[3]
    folder = tmp_path / "w1"
    # A shard of more rows than a row group holds is cut; smaller ones are
    # gathered while they fit, never split.
    assert row_groups(folder / "customers.parquet") == ([30] * 16 + [20]) * 4 + [30] * 6 + [20]
    assert row_groups(folder / "invoice_line_items.parquet") == [26, 27]
    assert row_groups(folder / "customer_types.parquet") == [3]
    for table, rows in summary.rows.items():
        found = pq.read_table(folder / f"{table}.parquet")
        assert found.num_rows == rows
        assert found.column("id").to_pylist() == list(range(1, rows + 1))


@pytest.mark.parametrize("compression", ["snappy", "zstd", "none"])
def test_each_file_is_what_pyarrow_writes_of_the_same_row_groups(
    large_store: tuple[Path, object], tmp_path: Path, compression: str
) -> None:
    path, _ = large_store
    folder = tmp_path / "out"
    shardgen.export(path, format="parquet", to=folder, compression=compression)
    for table in CONTRACT:
        exported = folder / f"{table}.parquet"
        assert rewritten(exported, tmp_path / f"{table}.again", compression) == (
            exported.read_bytes()
        )
        # Each row group's statistics are its own rows'.
        meta = pq.ParquetFile(exported).metadata
        first = 1
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(0).statistics
            assert (stats.min, stats.max) == (first, first + meta.row_group(i).num_rows - 1)
            first = stats.max + 1


def test_footers_read_and_written_again_are_the_same_bytes(
    large_store: tuple[Path, object], tmp_path: Path
) -> None:
    path, _ = large_store
    shardgen.export(path, format="parquet", to=tmp_path / "out", compression="gzip")
    for file in sorted((tmp_path / "out").iterdir()):
        data = file.read_bytes()
        length = int.from_bytes(data[-8:-4], "little")
        footer = data[-8 - length : -8]
        fd = os.open(file, os.O_RDONLY)
        try:
            metadata, start = export_parquet.footer(fd, len(data))
        finally:
            os.close(fd)
        assert start == len(data) - 8 - length
        assert export_parquet.encode(metadata) == footer


Fields = list[list[object]]


def struct_fields(value: st.SearchStrategy[tuple[int, object]]) -> st.SearchStrategy[Fields]:
    """A struct's fields: ids ascending, some far apart (the long field
    header) and some close (the short one)."""
    return st.lists(
        st.tuples(st.integers(1, 40), value), max_size=5, unique_by=lambda item: item[0]
    ).map(lambda items: [[number * 3, *found] for number, found in sorted(items)])


scalars = st.one_of(
    st.tuples(st.just(export_parquet.I64), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just(export_parquet.I32), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just(export_parquet.BINARY), st.binary(max_size=40)),
    st.tuples(st.just(export_parquet.TRUE), st.none()),
    st.tuples(st.just(export_parquet.FALSE), st.none()),
    st.tuples(st.just(export_parquet.DOUBLE), st.binary(min_size=8, max_size=8)),
)


@settings(max_examples=80, deadline=None)
@given(
    struct_fields(
        st.recursive(
            scalars,
            lambda inner: st.one_of(
                st.tuples(st.just(export_parquet.STRUCT), struct_fields(inner)),
                st.tuples(
                    st.just(export_parquet.LIST),
                    st.tuples(
                        st.just(export_parquet.I64),
                        st.lists(st.integers(0, 2**40), max_size=20),
                    ),
                ),
                st.tuples(
                    st.just(export_parquet.LIST),
                    st.tuples(st.just(export_parquet.TRUE), st.lists(st.just(b"\x01"), max_size=3)),
                ),
            ),
            max_leaves=20,
        )
    )
)
def test_thrift_values_read_back_as_written(fields: Fields) -> None:
    data = export_parquet.encode(fields)
    reader = export_parquet.Reader(data)
    again = reader.struct()
    assert reader.at == len(data)
    assert again == fields
    assert export_parquet.encode(again) == data


def test_a_table_of_no_rows_is_a_parquet_file_of_its_schema(tmp_path: Path) -> None:
    assembly = export_parquet.Assembly(tmp_path / "invoices.parquet", "invoices", "snappy")
    assembly.finish()
    assembly.close()
    table = pq.read_table(tmp_path / "invoices.parquet")
    assert table.num_rows == 0
    assert table.schema.equals(export_files.parquet_schema("invoices"))


def test_what_is_not_a_parquet_file_is_refused(tmp_path: Path) -> None:
    for data in (b"", b"PAR1", b"PAR1" + b"\0" * 8 + b"PAR1", b"PAR1xx\xff\xff\xff\x7fPAR1"):
        path = tmp_path / "bad.parquet"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(ValueError):
                export_parquet.footer(fd, len(data))
        finally:
            os.close(fd)
    with pytest.raises(ValueError, match="ends early"):
        export_parquet.Reader(b"\x18\x05ab").struct()  # a BINARY of 5 bytes, 2 there
    with pytest.raises(ValueError, match="not in a Parquet footer"):
        export_parquet.Reader(b"\x1b\x00").struct()  # a MAP
