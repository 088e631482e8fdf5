"""The DuckDB export holds the store's rows in the contract's types, declares
and enforces every constraint, and replaces its target only when complete."""

from __future__ import annotations

import datetime as dt
import errno
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

import shardgen
from shardgen.cli import main
from shardgen.exports import ddl
from shardgen.exports import duckdb as export_duckdb
from shardgen.exports.contract import CONTRACT, EPOCH, Part
from shardgen.exports.files import record_batch, write_arrow_file
from shardgen.pipeline import Summary
from shardgen.schema import TABLES, array_header
from shardgen.store import Store
from shardgen.tables import REGISTRY, Column

from .conftest import AS_OF
from .test_exports_ddl import VIOLATIONS, Violation
from .test_exports_files import interrupt_at_invoices
from .test_exports_postgres import broken_copy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from check_export import check, connect

#: DuckDB's names for the types of `ddl.TYPES["duckdb"]`.
SHOWN = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def _value(column: Column, value: Any) -> Any:
    """A store value as DuckDB gives it back."""
    if value is None:
        return None
    kind = column.kind
    if kind in ("money", "basis_points"):
        return Decimal(value).scaleb(-2)
    if kind == "percent":
        return Decimal(value)
    if kind == "decimal":
        return Decimal(round(value * 100)).scaleb(-2)
    if kind == "date":
        return EPOCH + dt.timedelta(days=value)
    if kind == "timestamp":
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


@pytest.fixture(scope="module")
def exported(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, int]]:
    """The large store exported to DuckDB: the file, the counts."""
    target = tmp_path_factory.mktemp("duckdb") / "large.duckdb"
    return target, shardgen.export(large_store[0], format="duckdb", to=target)


@pytest.fixture(scope="module")
def database(exported: tuple[Path, dict[str, int]]) -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect(str(exported[0]), read_only=True)
    yield db
    db.close()


def test_duckdb_holds_every_row_of_the_store(
    exported: tuple[Path, dict[str, int]],
    database: duckdb.DuckDBPyConnection,
    large_store: tuple[Path, Summary],
) -> None:
    path, summary = large_store
    assert exported[1] == summary.rows
    with Store.open(path) as store:
        for table, columns in CONTRACT.items():
            expected = [
                tuple(_value(c, v) for c, v in zip(columns, values, strict=True))
                for values in store.scan_values(table)
            ]
            got = database.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            assert len(got) == summary.rows[table]
            assert got == expected, table


def test_duckdb_money_adds_up_exactly(
    database: duckdb.DuckDBPyConnection, large_store: tuple[Path, Summary]
) -> None:
    with Store.open(large_store[0]) as store:
        for table in ("invoices", "invoice_line_items", "products"):
            money = [i for i, c in enumerate(CONTRACT[table]) if c.kind == "money"]
            names = [CONTRACT[table][i].name for i in money]
            cents = [0] * len(money)
            for values in store.scan_values(table):
                for n, i in enumerate(money):
                    cents[n] += values[i]
            sums = database.execute(
                f"SELECT {', '.join(f'sum({name})' for name in names)} FROM {table}"
            ).fetchall()[0]
            assert all(isinstance(s, Decimal) for s in sums)
            assert list(sums) == [Decimal(c).scaleb(-2) for c in cents], table
            assert all(c > 0 for c in cents)


def test_duckdb_declares_the_contract(database: duckdb.DuckDBPyConnection) -> None:
    for name, table in REGISTRY.items():
        described = database.execute(
            "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
            "WHERE table_name = $t ORDER BY column_index",
            {"t": name},
        ).fetchall()
        expected = [
            (c.name, SHOWN.get(t := ddl.column_type(c, "duckdb"), t), c.nullable)
            for c in table.columns
        ]
        assert described == expected
        constraints = database.execute(
            "SELECT constraint_type, constraint_column_names, referenced_table "
            "FROM duckdb_constraints() WHERE table_name = $t",
            {"t": name},
        ).fetchall()
        kinds: dict[str, list[Any]] = {}
        for kind, names, parent in constraints:
            kinds.setdefault(kind, []).append((tuple(names), parent))
        assert kinds["PRIMARY KEY"] == [(("id",), None)]
        assert {n[0]: p for n, p in kinds.get("FOREIGN KEY", [])} == {
            c.name: c.references for c in table.columns if c.references
        }
        assert {n for n, _ in kinds.get("UNIQUE", [])} == {
            *((c.name,) for c in table.columns if c.unique),
            *table.unique,
        }
        checks = len(table.checks) + sum(len(c.checks) for c in table.columns)
        assert len(kinds.get("CHECK", [])) == checks, name


def test_every_invariant_holds_in_plain_sql(exported: tuple[Path, dict[str, int]]) -> None:
    results = check(connect(str(exported[0])), AS_OF)
    assert "foreign keys" in results and "PRAGMA foreign_key_check" not in results
    assert results and not any(results.values()), {k: v for k, v in results.items() if v}


def test_the_check_tool_reads_a_duckdb_export(exported: tuple[Path, dict[str, int]]) -> None:
    tool = Path(__file__).resolve().parent.parent / "tools" / "check_export.py"
    for as_of, code in ((AS_OF, 0), ("2026-01-01", 1)):
        done = subprocess.run(
            [sys.executable, str(tool), str(exported[0]), "--as-of", as_of],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == code, done.stderr
    assert "FAIL" in done.stdout and "nothing is dated after as_of" in done.stdout


# -- constraints -----------------------------------------------------------------

#: Tables another table references. DuckDB updates an indexed column (a key, a
#: UNIQUE or a foreign key column) by a delete and an insert, which it refuses
#: on a referenced row whatever the value: such a row is broken as a new row.
PARENTS = frozenset(c.references for t in REGISTRY.values() for c in t.columns if c.references)


def _indexed(table: str, column: str) -> bool:
    (found,) = (c for c in REGISTRY[table].columns if c.name == column)
    return found.key or found.unique or found.references is not None


def statement(violation: Violation) -> str:
    """The change as DuckDB can make it: an UPDATE, or a new row made from
    the selected one, with fresh keys, and the change."""
    table, assignment, where = violation
    changes = dict(part.split(" = ", 1) for part in assignment.split(", "))
    if table not in PARENTS or not any(_indexed(table, c) for c in changes):
        return violation.update()
    fresh = {"id": "id + 1000000"}  # and UNIQUE texts, but a type's name, which has a CHECK
    fresh |= {
        c.name: f"{c.name} || '+'" for c in REGISTRY[table].columns if c.unique and not c.checks
    }
    replaced = {**fresh, **changes}
    select = ", ".join(f"{value} AS {column}" for column, value in replaced.items())
    return f"INSERT INTO {table} SELECT * REPLACE ({select}) FROM {table} WHERE {where}"


#: What DuckDB says for each kind of constraint.
MESSAGES = {
    "PRIMARY KEY": "Duplicate key",
    "UNIQUE": "Duplicate key",
    "FOREIGN KEY": "foreign key",
    "NOT NULL": "NOT NULL",
    "CHECK": "CHECK constraint",
}


def _message(label: str) -> str:
    kinds = [message for kind, message in MESSAGES.items() if kind in label]
    return kinds[0] if kinds else MESSAGES["CHECK"]  # "zip_code (4 digits)" and the like


#: SQLite's 0/1 checks: DuckDB's BOOLEAN holds nothing else.
BOOLEAN_CHECKS = {
    f"{name}.{c.name} CHECK" for name, t in REGISTRY.items() for c in t.columns if c.kind == "bool"
}


@pytest.fixture(scope="module")
def small_duckdb(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("duckdb") / "small.duckdb"
    shardgen.export(small_store, format="duckdb", to=target)
    return target


@pytest.mark.parametrize("label", sorted(set(VIOLATIONS) - BOOLEAN_CHECKS))
def test_duckdb_rejects_a_row_that_breaks_a_constraint(small_duckdb: Path, label: str) -> None:
    db = duckdb.connect(str(small_duckdb))
    db.execute("BEGIN").fetchall()
    try:
        with pytest.raises(duckdb.ConstraintException, match=_message(label)):
            db.execute(statement(VIOLATIONS[label])).fetchall()
    finally:
        db.execute("ROLLBACK").fetchall()
        db.close()


def test_a_valid_new_row_is_accepted(small_duckdb: Path) -> None:
    """The new rows above break only what they mean to break."""
    db = duckdb.connect(str(small_duckdb))
    db.execute("BEGIN").fetchall()
    try:
        for table in PARENTS - {"customer_types"}:
            db.execute(statement(Violation(table, "id = id + 1000000"))).fetchall()
    finally:
        db.execute("ROLLBACK").fetchall()
        db.close()


# -- the target ---------------------------------------------------------------------


def test_an_interrupted_or_failed_export_leaves_the_target_as_it_was(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.duckdb"
    assert shardgen.export(small_store, format="duckdb", to=target)["customers"] == 10
    before = target.read_bytes()
    with pytest.raises(shardgen.UsageError, match="--force"):
        shardgen.export(small_store, format="duckdb", to=target)
    interrupt_at_invoices(monkeypatch, export_duckdb.DuckdbWriter)
    for where in (target, tmp_path / "new.duckdb"):
        with pytest.raises(KeyboardInterrupt):
            shardgen.export(small_store, format="duckdb", to=where, force=True)
    monkeypatch.undo()

    broken = broken_copy(small_store, tmp_path)
    # The digest refuses the changed store, or DuckDB's own CHECK, if it comes first.
    with pytest.raises(
        (shardgen.DamagedStoreError, shardgen.RunError),
        match=r"recorded when it was promoted|breaks a constraint.*shardgen verify",
    ):
        shardgen.export(broken, format="duckdb", to=target, force=True)
    with pytest.raises(shardgen.DamagedStoreError, match="recorded when it was promoted"):
        shardgen.export(broken, format="parquet", to=tmp_path / "broken-parquet")
    # Loaded anyway, the broken row is refused by DuckDB itself.
    direct = export_duckdb.DuckdbWriter(tmp_path / "direct.duckdb")
    with Store.open(broken) as store, pytest.raises(shardgen.RunError, match="constraint"):
        for table in TABLES:
            records = [msgspec.msgpack.encode(r) for r in store.scan(table)]
            packed = array_header(len(records)) + b"".join(records)
            part = Part(table, 0, 1, 0)
            batch = record_batch(table, packed)
            direct.write(part, write_arrow_file(direct.scratch, part, batch))
        direct.finish()
    direct.close()
    direct.scratch.rmdir()  # each batch's file went as it was read
    assert target.read_bytes() == before
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("broken"))
    assert not (tmp_path / "broken-parquet").exists()
    assert left == ["direct.duckdb", "out.duckdb"]  # nothing beside them, no .wal

    shardgen.export(small_store, format="duckdb", to=target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wal") == []


def test_duckdb_errors_are_said_in_one_line(tmp_path: Path) -> None:
    full = export_duckdb.error_for(
        duckdb.IOException("IO Error: No space left on device"), tmp_path
    )
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC
    other = export_duckdb.error_for(duckdb.IOException("IO Error:\n  bad block"), tmp_path)
    assert isinstance(other, OSError) and other.errno == errno.EIO
    assert other.strerror == "IO Error: bad block"
    stop = export_duckdb.error_for(duckdb.InterruptException("INTERRUPT Error"), tmp_path)
    assert isinstance(stop, KeyboardInterrupt)


def test_duckdb_from_the_command_line(
    small_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "small.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "shardgen", "export", str(small_store), "--format", "duckdb",
         "--to", str(target)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"exported 217 rows in 8 tables to {target}\n"
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["export", str(small_store), "--format", "duckdb", "--to", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the duckdb export needs pyarrow: pip install 'shardgen[duckdb]'" in err


def test_inserts_of_a_few_rows_each_load_the_same_tables(
    large_store: tuple[Path, Summary],
    database: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each INSERT reads its batches as they come, up to INSERT_ROWS rows and
    # a part, then the file is closed and opened again: here, many times per
    # table, with two workers.
    monkeypatch.setattr(export_duckdb, "INSERT_ROWS", 700)
    target = tmp_path / "small-inserts.duckdb"
    counts = shardgen.export(large_store[0], format="duckdb", to=target, workers=2)
    assert counts == large_store[1].rows
    again = duckdb.connect(str(target), read_only=True)
    try:
        for table in CONTRACT:
            query = f"SELECT * FROM {table} ORDER BY id"
            assert again.execute(query).fetchall() == database.execute(query).fetchall(), table
    finally:
        again.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small-inserts.duckdb"]
