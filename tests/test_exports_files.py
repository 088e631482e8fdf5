"""CSV, JSON lines, Parquet and PostgreSQL exports hold what the SQLite export holds.

Each format is read back with an independent reader (csv, json, pyarrow, SQL),
turned into canonical rows (money and percents as integer hundredths, ISO
dates and timestamps, booleans) and compared with the SQLite export of the
same store: row counts, sums, NULLs, and every row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.cli import main
from shardgen.exports import FORMATS
from shardgen.exports import files as export_files
from shardgen.exports.contract import CONTRACT
from shardgen.exports.sql import export_postgres, redact
from shardgen.pipeline import Summary
from shardgen.store import Store

from .conftest import scratch_database
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


@pytest.fixture(scope="module")
def reference_db(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The SQLite export of the large store."""
    path, summary = large_store
    target = tmp_path_factory.mktemp("reference") / "large.sqlite"
    assert shardgen.export(path, format="sqlite", to=target) == summary.rows
    return target


@pytest.fixture(scope="module")
def reference(reference_db: Path) -> Rows:
    """The SQLite export of the large store, as canonical rows."""
    return read_sqlite(reference_db)


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


def test_parquet_is_written_in_row_groups(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(export_files, "ROW_GROUP", 10)
    counts = shardgen.export(small_store, format="parquet", to=tmp_path / "out")
    meta = pq.ParquetFile(tmp_path / "out" / "invoice_line_items.parquet").metadata
    assert meta.num_rows == counts["invoice_line_items"] > 10
    assert meta.num_row_groups == -(-meta.num_rows // 10)


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


def test_an_interrupted_export_leaves_the_target_as_it_was(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    shardgen.export(small_store, format="csv", to=target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    write = export_files.FolderWriter.write

    def interrupted(self: Any, part: Any, data: Any) -> None:
        if part.table == "invoices":
            raise KeyboardInterrupt
        write(self, part, data)

    monkeypatch.setattr(export_files.FolderWriter, "write", interrupted)
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


# -- PostgreSQL ----------------------------------------------------------------


def sqlite_keys(path: Path) -> dict[str, Any]:
    """Per table, the SQLite export's FOREIGN KEYs (column → table), UNIQUE column
    sets and number of CHECKs, less the 0/1 checks that BOOLEAN replaces."""
    db = sqlite3.connect(path)
    bodies = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    out: dict[str, Any] = {}
    for table in CONTRACT:
        foreign = {row[3]: row[2] for row in db.execute(f"PRAGMA foreign_key_list({table})")}
        unique = {
            tuple(info[2] for info in db.execute(f"PRAGMA index_info({index[1]})"))
            for index in db.execute(f"PRAGMA index_list({table})")
            if index[2] and index[3] == "u"
        }
        checks = bodies[table].count("CHECK (") - bodies[table].count("IN (0, 1))")
        out[table] = {"foreign": foreign, "unique": unique, "checks": checks}
    db.close()
    return out


PG_TYPES = {
    "id": "bigint",
    "int": "integer",
    "text": "text",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp with time zone",
}

#: Plain-SQL invariants on the PostgreSQL tables: each counts offending rows.
PG_CHECKS = {
    "total = subtotal + tax_amount": (
        "SELECT count(*) FROM invoices WHERE total != subtotal + tax_amount"
    ),
    "subtotal = Σ line_total": """
        SELECT count(*) FROM invoices i
        WHERE i.subtotal != (SELECT sum(l.line_total) FROM invoice_line_items l
                             WHERE l.invoice_id = i.id)""",
    "line_total = round(quantity × unit_price × (100 − discount) / 100)": """
        SELECT count(*) FROM invoice_line_items
        WHERE line_total != round(quantity * unit_price * (100 - discount_percentage) / 100, 2)""",
    "tax_amount = round(subtotal × tax_rate / 100)": (
        "SELECT count(*) FROM invoices WHERE tax_amount != round(subtotal * tax_rate / 100, 2)"
    ),
    "paid ⇔ paid_date": (
        "SELECT count(*) FROM invoices WHERE (status = 'paid') != (paid_date IS NOT NULL)"
    ),
    "due_date = invoice_date + terms": """
        SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id
        JOIN customer_types t ON t.id = c.customer_type_id
        WHERE i.due_date - i.invoice_date != t.payment_terms_days""",
    "one primary billing address per customer": """
        SELECT count(*) FROM customers c
        WHERE (SELECT count(*) FROM customer_addresses a
               WHERE a.customer_id = c.id AND a.is_primary AND a.address_type = 'billing') != 1""",
    "unpaid invoices within the credit limit": """
        SELECT count(*) FROM customers c
        WHERE (SELECT coalesce(sum(total), 0) FROM invoices i
               WHERE i.customer_id = c.id AND i.paid_date IS NULL) > c.credit_limit""",
    "customer created on or before its invoices": """
        SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id
        WHERE (c.created_at AT TIME ZONE 'UTC')::date > i.invoice_date""",
}


def read_postgres(cursor: Any) -> Rows:
    out: Rows = {}
    for table, cols in CONTRACT.items():
        names = ", ".join(c.name for c in cols)
        out[table] = [
            tuple(
                None
                if v is None
                else int(v * 100)
                if c.kind in DECIMALS
                else v.isoformat()
                if c.kind == "date"
                else v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                if c.kind == "timestamp"
                else v
                for c, v in zip(cols, row, strict=True)
            )
            for row in cursor.execute(f"SELECT {names} FROM {table} ORDER BY id")
        ]
    return out


def pg_profile(cursor: Any) -> dict[str, Any]:
    """`profile` of the loaded tables, computed by the database in SQL."""
    out: dict[str, Any] = {}
    for table, cols in CONTRACT.items():
        decimals = [c.name for c in cols if c.kind in DECIMALS]
        nulls = [c.name for c in cols if c.nullable]
        select = ", ".join(
            ["count(*)"]
            + [f"(sum({name}) * 100)::bigint" for name in decimals]
            + [f"count(*) - count({name})" for name in nulls]
        )
        values = cursor.execute(f"SELECT {select} FROM {table}").fetchone()
        out[table] = {
            "rows": values[0],
            "sums": dict(zip(decimals, values[1 : 1 + len(decimals)], strict=True)),
            "nulls": dict(zip(nulls, values[1 + len(decimals) :], strict=True)),
        }
    (out["paid"],) = cursor.execute(
        "SELECT count(*) FROM invoices WHERE status = 'paid'"
    ).fetchone()
    return out


def snapshot(url: str) -> dict[str, Any]:
    """What a failed load must not change: which tables exist (by oid), every row."""
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        tables = dict(
            cursor.execute(
                "SELECT relname, oid::int FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = 'public'::regnamespace ORDER BY relname"
            ).fetchall()
        )
        if set(CONTRACT) <= set(tables):
            return {"tables": tables, "rows": read_postgres(cursor)}
        return {"tables": tables}


@pytest.fixture(scope="module")
def loaded(
    postgres_server: str, large_store: tuple[Path, Summary]
) -> Iterator[tuple[str, dict[str, int]]]:
    path, _ = large_store
    with scratch_database(postgres_server) as url:
        yield url, shardgen.export(path, format="postgres", to=url)


def test_postgres_holds_what_sqlite_holds(
    loaded: tuple[str, dict[str, int]], reference: Rows, large_store: tuple[Path, Summary]
) -> None:
    import psycopg

    url, counts = loaded
    assert counts == large_store[1].rows
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        assert pg_profile(cursor) == profile(reference)
        rows = read_postgres(cursor)
    for table in CONTRACT:
        assert rows[table] == reference[table], table


def test_postgres_declares_the_contract(
    loaded: tuple[str, dict[str, int]], reference_db: Path
) -> None:
    import psycopg

    url, _ = loaded
    keys = sqlite_keys(reference_db)
    assert keys["invoice_line_items"]["unique"] == {("invoice_id", "line_number")}
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for table, cols in CONTRACT.items():
            described = cursor.execute(
                "SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable "
                "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                [table],
            ).fetchall()
            assert [d[0] for d in described] == NAMES[table].split(", ")
            for c, (_, data_type, precision, scale, nullable) in zip(cols, described, strict=True):
                assert (nullable == "YES") == c.nullable, (table, c.name)
                if c.kind in DECIMALS:  # the same NUMERIC(p, 2) as the Parquet decimal
                    arrow = export_files.parquet_type(c)
                    assert (data_type, precision, scale) == ("numeric", arrow.precision, 2)
                else:
                    assert data_type == PG_TYPES[c.kind], (table, c.name)

            constraints = cursor.execute(
                """
                SELECT k.contype, array_agg(a.attname ORDER BY u.n), max(f.relname)
                FROM pg_constraint k
                JOIN unnest(k.conkey) WITH ORDINALITY AS u(attnum, n) ON true
                JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
                LEFT JOIN pg_class f ON f.oid = k.confrelid
                WHERE k.conrelid = %s::regclass GROUP BY k.oid, k.contype
                """,
                [table],
            ).fetchall()
            expected = keys[table]
            assert [tuple(c[1]) for c in constraints if c[0] == "p"] == [("id",)]
            assert {c[1][0]: c[2] for c in constraints if c[0] == "f"} == expected["foreign"]
            assert {tuple(c[1]) for c in constraints if c[0] == "u"} == expected["unique"]
            checks = [c for c in constraints if c[0] == "c"]
            assert len(checks) == expected["checks"], table


def test_postgres_invariants_hold_in_plain_sql(loaded: tuple[str, dict[str, int]]) -> None:
    import psycopg

    url, _ = loaded
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        results = {rule: cursor.execute(sql).fetchone()[0] for rule, sql in PG_CHECKS.items()}
        assert not any(results.values()), results
        with pytest.raises(psycopg.errors.CheckViolation):
            cursor.execute("UPDATE invoices SET total = total + 0.01 WHERE id = 1")
        conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            cursor.execute("UPDATE invoice_line_items SET product_id = 0 WHERE id = 1")


def test_postgres_refuses_existing_tables_and_changes_nothing(
    loaded: tuple[str, dict[str, int]], large_store: tuple[Path, Summary]
) -> None:
    url, _ = loaded
    before = snapshot(url)
    with pytest.raises(shardgen.UsageError, match="--force"):
        shardgen.export(large_store[0], format="postgres", to=url)
    assert snapshot(url) == before


def broken_copy(store: Path, folder: Path) -> Path:
    """A copy of a store whose last invoice breaks total = subtotal + tax_amount."""
    copy = folder / "broken.lmdb"
    shutil.copyfile(store, copy)
    with Store.open(copy, writable=True) as data:
        last = data.count("invoices")
        invoice = data.get("invoices", last)
        with data.write() as txn:
            data.put_rows(txn, "invoices", [msgspec.structs.replace(invoice, total=0)])
    return copy


def test_a_failed_load_leaves_the_database_as_it_was(
    small_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    broken = broken_copy(small_store, tmp_path)
    # export() verifies first, so a damaged store never reaches the database ...
    with pytest.raises(shardgen.DamagedStoreError, match="total = subtotal"):
        shardgen.export(broken, format="postgres", to=postgres_url)
    assert snapshot(postgres_url) == {"tables": {}}
    # ... and if a load fails anyway (here: the database's own CHECK), it rolls back.
    with Store.open(broken) as store, pytest.raises(shardgen.RunError, match="constraint"):
        export_postgres(store, postgres_url)
    assert snapshot(postgres_url) == {"tables": {}}

    shardgen.export(small_store, format="postgres", to=postgres_url)
    before = snapshot(postgres_url)
    with Store.open(broken) as store, pytest.raises(shardgen.RunError, match="invoices"):
        export_postgres(store, postgres_url, force=True)  # after dropping the tables
    assert snapshot(postgres_url) == before

    counts = shardgen.export(small_store, format="postgres", to=postgres_url, force=True)
    after = snapshot(postgres_url)
    assert counts["customers"] == 10 and after["rows"] == before["rows"]
    assert after["tables"] != before["tables"]  # new tables, the same rows


def test_postgres_from_the_command_line(small_store: Path, postgres_url: str) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "shardgen", "export", str(small_store), "--format", "postgres",
         "--to", postgres_url],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"^  customers\s+10$", done.stdout, re.MULTILINE)
    assert f"exported 217 rows in 8 tables to {postgres_url}" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "shardgen", "export", str(small_store), "--format", "postgres",
         "--to", postgres_url],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "shardgen", "export", str(small_store), "--format", "postgres",
         "--to", "postgresql://nobody:secret@127.0.0.1:1/db"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert unreachable.returncode == 1 and "cannot connect" in unreachable.stderr
    assert "secret" not in unreachable.stderr and unreachable.stderr.count("\n") == 1


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
    import pyarrow.parquet as pq

    path, _ = large_store
    for format in ("csv", "jsonl", "parquet"):
        written = {}
        for workers in (1, 2, 3):
            folder = tmp_path / f"{format}-{workers}"
            shardgen.export(path, format=format, to=folder, workers=workers)
            written[workers] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        if format == "parquet":  # the same tables (file metadata names its writer)
            for name in written[1]:
                tables = [pq.read_table(tmp_path / f"parquet-{w}" / name) for w in (1, 2, 3)]
                assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])
        else:
            assert written[1] == written[2] == written[3]
