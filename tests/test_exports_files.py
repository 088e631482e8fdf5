"""CSV, JSON lines and Parquet exports hold what the SQLite export holds.

Each format is read back with an independent reader (csv, json, pyarrow),
turned into canonical rows (money and percents as integer hundredths, ISO
dates and timestamps, booleans) and compared with the SQLite export of the
same store: row counts, sums, NULLs, and every row.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import shardgen
from shardgen.cli import main
from shardgen.exports import FORMATS
from shardgen.exports import files as export_files
from shardgen.exports.contract import CONTRACT, Part
from shardgen.exports.postgres import redact
from shardgen.pipeline import Summary

from .test_exports import CONTRACT as NAMES

DECIMALS = frozenset(("money", "basis_points", "percent", "decimal"))
TWO_DECIMALS = re.compile(r"^-?\d+\.\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

Rows = dict[str, list[tuple[Any, ...]]]


# -- readers: each format back to canonical rows --------------------------------


def read_sqlite(path: Path) -> Rows:
    db = sqlite3.connect(path)
    out: Rows = {}
    for table, cols in CONTRACT.items():
        names = ", ".join(c.name for c in cols)
        out[table] = [
            tuple(
                None
                if v is None
                else round(v * 100)
                if c.kind in DECIMALS
                else bool(v)
                if c.kind == "bool"
                else v
                for c, v in zip(cols, row, strict=True)
            )
            for row in db.execute(f"SELECT {names} FROM {table} ORDER BY id")
        ]
    db.close()
    return out


def _csv_value(kind: str, text: str) -> Any:
    if text == "":
        return None
    if kind in DECIMALS:
        assert TWO_DECIMALS.match(text), text
        return int(Decimal(text) * 100)
    if kind == "bool":
        return {"0": False, "1": True}[text]
    if kind in ("id", "int"):
        return int(text)
    if kind == "date":
        assert DATE.match(text), text
    if kind == "timestamp":
        assert TIMESTAMP.match(text), text
    return text


def read_csv(folder: Path) -> Rows:
    out: Rows = {}
    for table, cols in CONTRACT.items():
        with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            assert next(reader) == NAMES[table].split(", ")
            out[table] = [
                tuple(_csv_value(c.kind, v) for c, v in zip(cols, row, strict=True))
                for row in reader
            ]
    return out


def _json_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in DECIMALS:
        assert isinstance(value, Decimal) and value.as_tuple().exponent == -2, value
        return int(value * 100)
    if kind == "bool":
        assert isinstance(value, bool)
    if kind == "date":
        assert DATE.match(value), value
    if kind == "timestamp":
        assert TIMESTAMP.match(value), value
    return value


def read_jsonl(folder: Path) -> Rows:
    out: Rows = {}
    for table, cols in CONTRACT.items():
        rows = []
        with (folder / f"{table}.jsonl").open(encoding="utf-8") as file:
            for line in file:
                obj = json.loads(line, parse_float=Decimal)
                assert list(obj) == NAMES[table].split(", ")
                rows.append(tuple(_json_value(c.kind, obj[c.name]) for c in cols))
        out[table] = rows
    return out


def read_parquet(folder: Path) -> Rows:
    import pyarrow.parquet as pq

    out: Rows = {}
    for table, cols in CONTRACT.items():
        data = pq.read_table(folder / f"{table}.parquet")
        assert data.schema.names == NAMES[table].split(", ")
        columns = []
        for c in cols:
            values = data.column(c.name).to_pylist()
            if c.kind in DECIMALS:
                values = [None if v is None else int(v * 100) for v in values]
            elif c.kind == "date":
                values = [None if v is None else v.isoformat() for v in values]
            elif c.kind == "timestamp":
                assert all(v.utcoffset().total_seconds() == 0 for v in values)
                values = [v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in values]
            columns.append(values)
        out[table] = list(zip(*columns, strict=True))
    return out


READERS: dict[str, Callable[[Path], Rows]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
}


def profile(rows: Rows) -> dict[str, Any]:
    """Row counts, sums of every decimal column, NULL counts, paid invoices."""
    out: dict[str, Any] = {}
    for table, cols in CONTRACT.items():
        out[table] = {
            "rows": len(rows[table]),
            "sums": {
                c.name: sum(r[i] for r in rows[table])
                for i, c in enumerate(cols)
                if c.kind in DECIMALS
            },
            "nulls": {
                c.name: sum(r[i] is None for r in rows[table])
                for i, c in enumerate(cols)
                if c.nullable
            },
        }
    status = [c.name for c in CONTRACT["invoices"]].index("status")
    out["paid"] = sum(r[status] == "paid" for r in rows["invoices"])
    return out


# -- files ---------------------------------------------------------------------


Exported = Callable[[str], tuple[Path, dict[str, int]]]


@pytest.fixture(scope="module")
def exported(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> Exported:
    """The large store exported to a format (once per format): folder, counts."""
    done: dict[str, tuple[Path, dict[str, int]]] = {}

    def export(format: str) -> tuple[Path, dict[str, int]]:
        if format not in done:
            folder = tmp_path_factory.mktemp(format) / "large"
            done[format] = folder, shardgen.export(large_store[0], format=format, to=folder)
        return done[format]

    return export


def test_formats_are_the_ones_documented() -> None:
    assert FORMATS == ("sqlite", "csv", "jsonl", "parquet", "postgres", "duckdb")
    docs = (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text()
    for format in FORMATS:
        assert f"--format {format}" in docs


@pytest.mark.parametrize("format", ["csv", "jsonl", "parquet"])
def test_files_hold_the_same_counts_sums_and_nulls(
    format: str, exported: Exported, reference: Rows, large_store: tuple[Path, Summary]
) -> None:
    folder, counts = exported(format)
    _, summary = large_store
    assert counts == summary.rows
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.{format}" for t in CONTRACT)
    expected, got = profile(reference), profile(READERS[format](folder))
    assert got == expected
    # The comparison means something: money adds up to something, NULLs occur.
    assert expected["invoices"]["sums"]["total"] > 0 and expected["paid"] > 0
    assert expected["invoices"]["nulls"]["paid_date"] > 0
    assert expected["customers"]["nulls"]["company_name"] > 0
    assert expected["customer_addresses"]["nulls"]["street2"] > 0


@pytest.mark.parametrize("format", ["csv", "jsonl", "parquet"])
def test_files_hold_every_row_of_the_sqlite_export(
    format: str, exported: Exported, reference: Rows
) -> None:
    folder, _ = exported(format)
    got = READERS[format](folder)
    for table in CONTRACT:
        assert got[table] == reference[table], table


def test_csv_spells_values_as_documented(exported: Exported) -> None:
    folder, _ = exported("csv")
    lines = (folder / "invoices.csv").read_text().splitlines()
    assert lines[0] == NAMES["invoices"].replace(", ", ",")
    assert re.search(r",\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,\d{4}-\d\d-\d\dT[\d:]+Z$", lines[1])
    assert any(",," in line for line in lines)  # an unpaid invoice: paid_date is NULL
    assert re.search(r",[01],\d{4}-\d\d-\d\dT", (folder / "products.csv").read_text())


def test_jsonl_spells_values_as_documented(exported: Exported) -> None:
    folder, _ = exported("jsonl")
    invoices = (folder / "invoices.jsonl").read_text()
    first = invoices.splitlines()[0]
    assert re.search(r'"total":\d+\.\d\d,"created_at":"\d{4}-\d\d-\d\dT[\d:]+Z"}$', first)
    assert '"paid_date":null' in invoices
    assert '"active":true' in (folder / "products.jsonl").read_text()


def test_parquet_types(exported: Exported) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, _ = exported("parquet")
    invoices = pq.read_schema(folder / "invoices.parquet")
    assert invoices.field("id").type == pa.int64()
    assert invoices.field("invoice_date").type == pa.date32()
    assert invoices.field("paid_date").nullable and not invoices.field("total").nullable
    assert invoices.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert invoices.field("total").type == pa.decimal128(12, 2)
    assert invoices.field("tax_rate").type == pa.decimal128(5, 2)
    lines = pq.read_schema(folder / "invoice_line_items.parquet")
    assert lines.field("quantity").type == pa.int32()
    assert pq.read_schema(folder / "products.parquet").field("active").type == pa.bool_()
    for table in CONTRACT:
        assert pq.read_schema(folder / f"{table}.parquet").equals(
            export_files.parquet_schema(table)
        )


def test_folder_targets_are_replaced_only_when_safe(small_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()  # an empty folder is fine
    shardgen.export(small_store, format="csv", to=target)
    before = (target / "customers.csv").read_bytes()
    with pytest.raises(shardgen.UsageError, match="--force"):
        shardgen.export(small_store, format="jsonl", to=target)
    assert sorted(p.suffix for p in target.iterdir()) == [".csv"] * 8
    shardgen.export(small_store, format="jsonl", to=target, force=True)
    assert sorted(p.suffix for p in target.iterdir()) == [".jsonl"] * 8

    (target / "notes.txt").write_text("mine")
    with pytest.raises(shardgen.UsageError, match=r"notes\.txt"):
        shardgen.export(small_store, format="csv", to=target, force=True)
    assert (target / "notes.txt").read_text() == "mine"

    file = tmp_path / "file.csv"
    file.write_bytes(before)
    with pytest.raises(shardgen.UsageError, match="is a file"):
        shardgen.export(small_store, format="csv", to=file, force=True)
    with pytest.raises(shardgen.UsageError, match="does not exist"):
        shardgen.export(small_store, format="csv", to=tmp_path / "no" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.csv", "out"]


def interrupt_at_invoices(monkeypatch: pytest.MonkeyPatch, writer: type) -> None:
    """Make a target's writer raise KeyboardInterrupt (Ctrl-C) when the first
    part of invoices reaches it: an export interrupted mid-load."""
    write = writer.write

    def interrupted(self: Any, part: Part, data: Any) -> None:
        if part.table == "invoices":
            raise KeyboardInterrupt
        write(self, part, data)

    monkeypatch.setattr(writer, "write", interrupted)


def test_an_interrupted_export_leaves_the_target_as_it_was(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    shardgen.export(small_store, format="csv", to=target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    interrupt_at_invoices(monkeypatch, export_files.FolderWriter)
    for existing in (target, tmp_path / "new"):
        with pytest.raises(KeyboardInterrupt):
            shardgen.export(small_store, format="csv", to=existing, force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial folders


def test_missing_optional_dependencies_are_one_line(
    small_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "duckdb", None)
    cases = [
        ("parquet", str(tmp_path / "out"), "pip install 'shardgen[parquet]'"),
        ("postgres", "postgresql://localhost/db", "pip install 'shardgen[postgres]'"),
        ("duckdb", str(tmp_path / "out"), "needs duckdb: pip install 'shardgen[duckdb]'"),
    ]
    for format, to, hint in cases:
        assert main(["export", str(small_store), "--format", format, "--to", to]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and hint in err, err
    assert not (tmp_path / "out").exists()


def test_urls_and_paths_are_not_mixed_up(small_store: Path, tmp_path: Path) -> None:
    with pytest.raises(shardgen.UsageError, match="--format postgres"):
        shardgen.export(small_store, format="csv", to="postgresql://u:secret@h/db")
    with pytest.raises(shardgen.UsageError, match="not a PostgreSQL URL"):
        shardgen.export(small_store, format="postgres", to=tmp_path / "x")
    assert redact("postgresql://u:secret@h:5/db?x=1") == "postgresql://u:***@h:5/db?x=1"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_partitioned_parquet_dataset_reads_back_as_the_single_files(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    path, summary = large_store
    single, parts = tmp_path / "single", tmp_path / "parts"
    shardgen.export(path, format="parquet", to=single)
    counts = shardgen.export(path, format="parquet", to=parts, partitioned=True, compression="zstd")
    assert counts == summary.rows
    with shardgen.open(path) as store:
        plan = store.plan()
    for table in summary.rows:
        folder = parts / f"{table}.parquet"
        files = sorted(folder.iterdir())
        assert len(files) == max(1, len(export_files.shard_rows(plan, table)))
        assert (
            ds.dataset(folder, format="parquet")
            .to_table()
            .equals(pq.read_table(single / f"{table}.parquet"))
        )
        codec = pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression
        assert codec == "ZSTD"
    # The workers write the parts themselves: the same files with any number of them.
    again = tmp_path / "again"
    shardgen.export(path, format="parquet", to=again, partitioned=True, compression="zstd",
                    workers=3)  # fmt: skip
    assert sorted(p.relative_to(again) for p in again.rglob("*")) == sorted(
        p.relative_to(parts) for p in parts.rglob("*")
    )
    assert all(
        (again / name).read_bytes() == p.read_bytes()
        for p in parts.rglob("*.parquet")
        if p.is_file() and (name := p.relative_to(parts))
    )


def test_parquet_options_are_for_parquet_only(small_store: Path, tmp_path: Path) -> None:
    with pytest.raises(shardgen.UsageError, match="for --format parquet"):
        shardgen.export(small_store, format="csv", to=tmp_path / "c", partitioned=True)
    with pytest.raises(shardgen.UsageError, match="unknown --compression 'lzma'"):
        shardgen.export(small_store, format="parquet", to=tmp_path / "p", compression="lzma")
    with pytest.raises(shardgen.UsageError, match="go with --export parquet"):
        shardgen.generate("small", out=tmp_path / "g.lmdb", compression="zstd")
    assert not (tmp_path / "c").exists() and not (tmp_path / "p").exists()
    assert not (tmp_path / "g.lmdb").exists()


def test_folder_exports_are_the_same_bytes_for_any_worker_count(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, _ = large_store
    for format in ("csv", "jsonl", "parquet"):
        written = {}
        for workers in (1, 2, 3):
            folder = tmp_path / f"{format}-{workers}"
            shardgen.export(path, format=format, to=folder, workers=workers)
            written[workers] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        assert len(written[1]) == 8 and written[1] == written[2] == written[3]
