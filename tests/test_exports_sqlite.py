"""The SQLite export's load: workers write each part as a small SQLite file in
a scratch folder beside the target, which the export copies in and removes;
the rows are those a row-by-row load of the contract's values gives."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import shardgen
from shardgen.exports import ddl
from shardgen.exports.contract import columns
from shardgen.pipeline import Summary
from shardgen.schema import TABLES
from shardgen.store import Store

from .test_exports_render import convert

Contents = tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]


def contents(path: Path) -> Contents:
    """A SQLite file's schema text and every table's rows in ID order, each
    value with its storage class."""
    db = sqlite3.connect(path)
    try:
        schema = db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        tables = {}
        for table in TABLES:
            typed = ", ".join(f"{name}, typeof({name})" for name in columns(table))
            tables[table] = db.execute(f"SELECT {typed} FROM {table} ORDER BY id").fetchall()
    finally:
        db.close()
    return schema, tables


def row_by_row(store: Path, target: Path) -> None:
    """The export as it was first written: the contract's values bound row by
    row into the full DDL, the lookup indexes after, ANALYZE."""
    db = sqlite3.connect(target, isolation_level=None)
    db.executescript(ddl.create_tables("sqlite"))
    db.execute("BEGIN")
    with Store.open(store) as opened:
        for table in TABLES:
            names = columns(table)
            insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(names))})"
            row = convert(table, None)
            db.executemany(insert, (row(values) for values in opened.scan_values(table)))
    for statement in ddl.create_indexes():
        db.execute(statement)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def leftovers(folder: Path) -> list[str]:
    """What an export left beside its target: its partial file, its scratch parts."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_the_rows_and_schema_are_those_of_a_row_by_row_load(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = large_store
    assert shardgen.export(path, to=tmp_path / "x.sqlite", workers=2) == summary.rows
    row_by_row(path, tmp_path / "reference.sqlite")
    got, expected = contents(tmp_path / "x.sqlite"), contents(tmp_path / "reference.sqlite")
    assert got[0] == expected[0]
    for table in TABLES:
        assert len(got[1][table]) == summary.rows[table]
        assert got[1][table] == expected[1][table], table
    assert leftovers(tmp_path) == []


def test_the_rows_are_the_same_with_any_number_of_workers(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, _ = large_store
    exported = []
    for workers in (1, 2, 3):
        shardgen.export(path, to=tmp_path / f"w{workers}.sqlite", workers=workers)
        exported.append(contents(tmp_path / f"w{workers}.sqlite"))
    assert exported[0] == exported[1] == exported[2]
    assert leftovers(tmp_path) == []


def test_constraints_apply_to_rows_written_after_the_export(
    small_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "x.sqlite"
    shardgen.export(small_store, to=target)
    db = sqlite3.connect(target)
    db.execute("PRAGMA foreign_keys = ON")
    customer = db.execute("SELECT * FROM customers WHERE id = 1").fetchone()
    valid = (10_000, *customer[1:4], "someone.new@example.com", *customer[5:])
    insert = f"INSERT INTO customers VALUES ({', '.join('?' * len(valid))})"
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # status
        db.execute(insert, (*valid[:6], "lost", *valid[7:]))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):  # customer 1's email
        db.execute(insert, (*valid[:4], customer[4], *valid[5:]))
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):  # no customer type 99
        db.execute(insert, (valid[0], 99, *valid[2:]))
    db.execute(insert, valid)
    db.close()


def copy_store(small_store: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store" / small_store.name
    path.parent.mkdir()
    shutil.copy(small_store, path)
    return path


def test_a_failed_export_leaves_no_scratch_parts(small_store: Path, tmp_path: Path) -> None:
    path = copy_store(small_store, tmp_path)
    # Every email changed: valid records, another digest (changing only the
    # first might change a page the store no longer uses).
    path.write_bytes(path.read_bytes().replace(b"@example.", b"@exbmple."))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(shardgen.ShardgenError, match="digest"):
        shardgen.export(path, to=out / "x.sqlite", workers=2)
    assert list(out.iterdir()) == []


def test_a_killed_exports_scratch_parts_are_removed_by_the_next(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = large_store
    target = tmp_path / "x.sqlite"
    command = [sys.executable, "-m", "shardgen", "export", path, "--to", target,
               "--workers", "2"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Killed, with its workers, once a worker has written a part.
    while not list(tmp_path.glob(".x.sqlite.*.parts/*")) and process.poll() is None:
        assert time.monotonic() < deadline, "the export never wrote a part"
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert f".x.sqlite.{process.pid}.parts" in leftovers(tmp_path)
    live = tmp_path / f".x.sqlite.{os.getppid()}.parts"  # a live process's: kept
    live.mkdir()
    assert shardgen.export(path, to=target) == summary.rows
    assert leftovers(tmp_path) == [live.name]
