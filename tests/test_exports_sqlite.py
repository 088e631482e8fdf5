"""The SQLite export's load: workers write each part as the leaf pages of its
table (or, without the C decoder, as a small SQLite file) in a scratch folder
beside the target, which the export copies in and removes; the file is sound
(`PRAGMA integrity_check`), the same bytes with any number of workers, and
holds the rows a row-by-row load of the contract's values gives."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardgen
from shardgen.errors import RunError
from shardgen.exports import ddl
from shardgen.exports import parallel as export_parallel
from shardgen.exports.contract import CONTRACT, Part, columns
from shardgen.exports.parallel import Source, export_parts
from shardgen.exports.render import sqlite_values
from shardgen.exports.sqlite import (
    NULLABLE,
    RENDER_ROWS,
    Leaves,
    Pages,
    SqliteWriter,
    write_leaves,
)
from shardgen.pipeline import Summary
from shardgen.schema import TABLES, array_header
from shardgen.store import Store, pinned
from shardgen.verification import promoted_header

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


def test_the_file_is_the_same_bytes_with_any_number_of_workers(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, _ = large_store
    exported = []
    for workers in (1, 2, 3):
        shardgen.export(path, to=tmp_path / f"w{workers}.sqlite", workers=workers)
        exported.append((tmp_path / f"w{workers}.sqlite").read_bytes())
    assert exported[0] == exported[1] == exported[2]
    assert integrity(tmp_path / "w1.sqlite") == [("ok",)]
    assert leftovers(tmp_path) == []


def integrity(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


def export_rows(store: Path, target: Path, workers: int = 2) -> None:
    """The export through its rows' path (each part a small SQLite file,
    copied in by SQLite), as where the C decoder was not built."""
    with pinned(store) as pin:
        plan, promoted, found = promoted_header(store, pin)
        writer = SqliteWriter(target, pages=False)
        export_parts(Source(store, found, plan, promoted), writer, RENDER_ROWS, workers, None,
                     writer.scratch)  # fmt: skip
    writer.scratch.rmdir()


def test_the_pages_hold_what_the_rows_path_loads(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = large_store
    assert shardgen.export(path, to=tmp_path / "pages.sqlite") == summary.rows
    export_rows(path, tmp_path / "rows.sqlite")
    assert integrity(tmp_path / "pages.sqlite") == [("ok",)]
    assert contents(tmp_path / "pages.sqlite") == contents(tmp_path / "rows.sqlite")


def test_an_advanced_stores_pages_are_sound_and_hold_its_rows(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    """After an advance, rows have paid dates, new statuses and later ids."""
    path = tmp_path / "advanced.lmdb"
    shutil.copy(large_store[0], path)
    shardgen.advance(path, days=9, workers=1)
    shardgen.export(path, to=tmp_path / "pages.sqlite", workers=2)
    row_by_row(path, tmp_path / "reference.sqlite")
    assert integrity(tmp_path / "pages.sqlite") == [("ok",)]
    assert contents(tmp_path / "pages.sqlite") == contents(tmp_path / "reference.sqlite")


def test_small_pages_make_deep_trees_from_parts_of_any_size(
    large_store: tuple[Path, Summary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """512-byte pages (a few rows a leaf, 34 children an interior page) give
    each large table three levels or more above its leaves; parts cut at
    odd places give tables whose first part is one leaf (held back, in case
    it is the root) followed by others, and parts of no rows."""
    path, summary = large_store
    target = tmp_path / "small-pages.sqlite"
    left = []
    finish = Pages.finish
    monkeypatch.setattr(Pages, "finish", lambda pages: left.extend(finish(pages)) or left)
    writer = SqliteWriter(target, pages=True, page_size=512)
    with Store.open(path) as store:
        for table in TABLES:
            count, first, number = summary.rows[table], 1, 0
            for cut in (1, 0, 2, 1, 37, 500, count):
                size = min(cut, count - first + 1)
                part = Part(table, number, first, size)
                packed = b"".join(export_parallel._shards(store, part, []))
                writer.write(part, write_leaves(writer.scratch, part, packed, 512))
                first, number = first + size, number + 1
    writer.finish()
    writer.close()
    writer.scratch.rmdir()
    built_by_sqlite = list(left)
    assert integrity(target) == [("ok",)]
    shardgen.export(path, to=tmp_path / "export.sqlite")
    got, expected = contents(target), contents(tmp_path / "export.sqlite")
    assert got == expected
    db = sqlite3.connect(target)
    assert db.execute("PRAGMA page_size").fetchone() == (512,)
    ((root,),) = db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'invoice_line_items'"
    ).fetchall()
    db.close()
    assert depth(target, root, 512) >= 4
    # Written as pages: the indexes whose keys follow the ids (a line item's
    # invoice and line, an invoice's number and customer, ...); SQLite built
    # the others.
    assert built_by_sqlite == [
        "sqlite_autoindex_customer_types_1",
        "sqlite_autoindex_product_categories_1",
        "sqlite_autoindex_product_categories_2",
        "sqlite_autoindex_customers_1",
        "sqlite_autoindex_products_1",
        "invoices_date",
        "invoice_line_items_product",
    ]


def depth(path: Path, page: int, size: int) -> int:
    """Levels of the table b-tree at `page` (1 for a leaf), down its right edge."""
    data = path.read_bytes()
    levels = 1
    while data[(page - 1) * size] == 0x05:  # an interior page: to its right-most child
        page = struct.unpack_from(">I", data, (page - 1) * size + 8)[0]
        levels += 1
    assert data[(page - 1) * size] == 0x0D
    return levels


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


# -- the leaf pages of chosen records ----------------------------------------

#: Values of each contract kind as a store may hold them, the edges of
#: SQLite's storage among them: integers of every serial width, whole and
#: fractional floats, texts whose length needs a longer varint.
INTEGERS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 127, 128, -129, 32767, 32768, 8388607, 8388608,
                     2**31 - 1, 2**31, 2**47 - 1, 2**47, 2**63 - 1, -(2**63)]),
    st.integers(-(2**63), 2**63 - 1),
)  # fmt: skip
NUMBERS = st.one_of(
    INTEGERS,
    st.floats(allow_nan=False, width=64),
    st.sampled_from([0.0, -0.0, 3.0, 0.1, 2.5, 1e15, 9.3e18, -9.3e18, float("inf")]),
)
VALUES = {
    "id": INTEGERS,
    "int": INTEGERS,
    "text": st.text(max_size=70) | st.text(min_size=60, max_size=700),
    "bool": st.booleans(),
    "date": st.integers(-719162, 2932896),
    "timestamp": st.integers(-719162 * 86400, 2932896 * 86400 + 86399),
    "money": st.integers(-(2**53), 2**53),
    "basis_points": st.integers(-(2**53), 2**53),
    "percent": NUMBERS,
    "decimal": NUMBERS,
}


@st.composite
def records(draw: st.DrawFn, table: str) -> list[list[Any]]:
    count = draw(st.integers(1, 40))
    ids = sorted(draw(st.sets(INTEGERS, min_size=count, max_size=count)))
    rows = []
    for id in ids:
        row: list[Any] = [id]
        for column in CONTRACT[table][1:]:
            value = VALUES[column.kind]
            row.append(draw(st.none() | value if column.nullable else value))
        rows.append(row)
    return rows


def typed_rows(db: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    typed = ", ".join(f"{name}, typeof({name})" for name in columns(table))
    return db.execute(f"SELECT {typed} FROM {table} ORDER BY id").fetchall()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(TABLES)).flatmap(lambda t: st.tuples(st.just(t), records(t))))
def test_leaf_pages_hold_what_sqlite_stores_for_the_same_values(
    tmp_path_factory: pytest.TempPathFactory, chosen: tuple[str, list[list[Any]]]
) -> None:
    """Every value as SQLite itself stores the export's values in the
    contract's column types (its affinities: a whole number in a NUMERIC
    column an integer), in a sound b-tree."""
    table, rows = chosen
    folder = tmp_path_factory.mktemp("pages")
    # The contract's column types without its constraints: chosen values
    # break them, and these pages are checked value by value.
    types = [ddl.column_type(column, "sqlite") for column in CONTRACT[table]]
    declared = ", ".join(f"{c} {t}" for c, t in zip(columns(table), types, strict=True))
    schema = f"CREATE TABLE {table} ({declared.replace('INTEGER', 'INTEGER PRIMARY KEY', 1)})"
    packed = array_header(len(rows)) + b"".join(msgspec.msgpack.encode(r) for r in rows)
    reference = sqlite3.connect(folder / "reference.sqlite")
    reference.execute(schema)
    reference.executemany(
        f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})",
        sqlite_values(table, packed),
    )
    reference.commit()
    pages_path = folder / "pages.sqlite"
    db = sqlite3.connect(pages_path)
    db.execute("PRAGMA page_size = 4096")
    db.execute(schema)
    db.commit()
    ((root,),) = db.execute("SELECT rootpage FROM sqlite_master").fetchall()
    ((count,),) = db.execute("PRAGMA page_count").fetchall()
    db.close()
    pages = Pages(pages_path, {table: root}, count, 4096, folder)
    half = len(rows) // 2  # two parts
    for number, part in enumerate((rows[:half], rows[half:])):
        data = array_header(len(part)) + b"".join(msgspec.msgpack.encode(r) for r in part)
        pages.add(table, write_leaves(folder, Part(table, number, 0, len(part)), data, 4096))
    pages.finish()
    assert integrity(pages_path) == [("ok",)]
    db = sqlite3.connect(pages_path)
    assert typed_rows(db, table) == typed_rows(reference, table)
    db.close()
    reference.close()


def customers(path: Path) -> tuple[Part, list[list[Any]]]:
    with Store.open(path) as store:
        part = Part("customers", 0, 1, 10)
        packed = b"".join(export_parallel._shards(store, part, []))
    return part, msgspec.msgpack.decode(packed)


def pack(rows: list[list[Any]]) -> bytes:
    return array_header(len(rows)) + b"".join(msgspec.msgpack.encode(r) for r in rows)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda rows: rows[3].__setitem__(4, None), "a NULL in a NOT NULL column"),
        (lambda rows: rows[3].__setitem__(0, 2), "ids not ascending"),
        (lambda rows: rows[3].__setitem__(0, None), "a row without an id"),
        (lambda rows: rows[3].__setitem__(7, "lots"), "an integer expected"),
        (lambda rows: rows[3].__setitem__(1, "Premium"), "a number expected"),
        (lambda rows: rows[3].__setitem__(1, float("nan")), "a NaN"),
        (lambda rows: rows[3].__setitem__(2, 7), "a text expected"),
        (lambda rows: rows[3].__setitem__(7, 2**60), "an amount beyond 2\\*\\*53 hundredths"),
    ],
)
def test_leaf_pages_refuse_what_is_not_a_row_of_the_table(
    small_store: Path, tmp_path: Path, change: Any, says: str
) -> None:
    part, rows = customers(small_store)
    change(rows)
    with pytest.raises(ValueError, match=f"damaged record: {says}"):
        write_leaves(tmp_path, part, pack(rows))
    assert list(tmp_path.iterdir()) == []


def test_a_row_longer_than_a_page_is_refused(small_store: Path, tmp_path: Path) -> None:
    part, rows = customers(small_store)
    rows[3][2] = "x" * 500
    with pytest.raises(ValueError, match=r"a row of \d+ bytes, more than a page holds"):
        write_leaves(tmp_path, part, pack(rows), 512)
    assert write_leaves(tmp_path, part, pack(rows), 1024).last_ids[-1] == rows[-1][0]


def test_a_table_whose_parts_go_back_is_refused(small_store: Path, tmp_path: Path) -> None:
    part, rows = customers(small_store)
    writer = SqliteWriter(tmp_path / "x.sqlite", pages=True)
    try:
        writer.write(part, write_leaves(writer.scratch, part, pack(rows[5:])))
        with pytest.raises(RunError, match="the ids of customers are not in ascending order"):
            writer.write(part, write_leaves(writer.scratch, part, pack(rows[:5])))
    finally:
        writer.close()


def test_a_broken_unique_key_is_refused_as_the_indexes_are_built(
    small_store: Path, tmp_path: Path
) -> None:
    part, rows = customers(small_store)
    rows[7][4] = rows[3][4]  # customer 4's email, twice
    writer = SqliteWriter(tmp_path / "x.sqlite", pages=True)
    try:
        writer.write(part, write_leaves(writer.scratch, part, pack(rows)))
        with pytest.raises(RunError, match=r"breaks a constraint of the data contract .*UNIQUE"):
            writer.finish()
    finally:
        writer.close()


def test_the_nullable_flags_are_the_contracts() -> None:
    assert NULLABLE["customers"] == "0001000000"
    assert NULLABLE["invoices"] == "00000000100000"
    assert isinstance(Leaves("", [], None), tuple)


@pytest.mark.parametrize(
    ("second", "built_by"),
    [
        ("f", "pages"),  # every email after the first part's: in order
        ("d", "sqlite"),  # each part in order, the second before the first
        ("e", "duplicate"),  # the first part's last email again
    ],
)
def test_an_index_out_of_order_between_parts_is_left_to_sqlite(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str, built_by: str
) -> None:
    _, rows = customers(small_store)
    for number, row in enumerate(rows):  # e1..e5, then second + 5..9 (or e5 again)
        row[4] = f"e{number + 1}@example.com" if number < 5 else f"{second}{number}@example.com"
    if built_by == "duplicate":
        rows[5][4] = rows[4][4]
    left: list[str] = []
    finish = Pages.finish
    monkeypatch.setattr(Pages, "finish", lambda pages: left.extend(finish(pages)) or left)
    writer = SqliteWriter(tmp_path / "x.sqlite", pages=True)
    try:
        for number, half in enumerate((rows[:5], rows[5:])):
            piece = Part("customers", number, half[0][0], len(half))
            writer.write(piece, write_leaves(writer.scratch, piece, pack(half)))
        if built_by == "duplicate":
            with pytest.raises(RunError, match=r"breaks a constraint .*UNIQUE"):
                writer.finish()
            return
        writer.finish()
    finally:
        writer.close()
    assert ("sqlite_autoindex_customers_1" in left) == (built_by == "sqlite")
    assert integrity(tmp_path / "x.sqlite") == [("ok",)]
    db = sqlite3.connect(tmp_path / "x.sqlite")
    try:
        emails = db.execute("SELECT email FROM customers ORDER BY email").fetchall()
        by_index = db.execute(
            "SELECT email FROM customers INDEXED BY sqlite_autoindex_customers_1 "
            "WHERE email > '' ORDER BY email"
        ).fetchall()
    finally:
        db.close()
    assert by_index == emails == sorted((row[4],) for row in rows)


def test_index_leaves_refuse_entries_out_of_order_or_too_long() -> None:
    from shardgen.exports import _columns

    def entry(*fields: bytes) -> bytes:  # a record of texts as an index cell
        types = bytes(13 + 2 * len(f) for f in fields)
        payload = bytes([1 + len(types)]) + types + b"".join(fields)
        return bytes([len(payload)]) + payload

    ok, pages, separators, rest = _columns.sqlite_index_leaves(
        entry(b"a", b"1") + entry(b"b", b"1"), 512, 1, False
    )
    assert ok and pages == b"" and separators == [] and rest
    assert not _columns.sqlite_index_leaves(entry(b"b") + entry(b"a"), 512, 0, True)[0]
    assert not _columns.sqlite_index_leaves(entry(b"a", b"1") + entry(b"a", b"2"), 512, 1, True)[0]
    assert _columns.sqlite_index_leaves(entry(b"a", b"1") + entry(b"a", b"2"), 512, 0, True)[0]
    assert not _columns.sqlite_index_leaves(entry(b"x" * 50, b"y" * 60), 512, 0, True)[0]


def test_a_file_past_1_gib_leaves_sqlites_lock_byte_page_alone(
    small_store: Path, tmp_path: Path
) -> None:
    """SQLite keeps the page at 1 GiB for its file locks and never reads it:
    a table whose leaves cross it (customers of 7 kB each, two a page) is
    written around it, and the file is sound."""
    _, rows = customers(small_store)
    row = rows[0]
    writer = SqliteWriter(tmp_path / "big.sqlite", pages=True)
    count, first, number = 0, 1, 0
    try:
        while count < 140_000:  # 70,000 pages of 16 kB: past page 65,537
            part = []
            for id in range(first, first + 5_000):
                part.append([id, *row[1:2], "n" * 7_000, *row[3:4], f"c{id}@example.com", *row[5:]])
            piece = Part("customers", number, first, len(part))
            writer.write(piece, write_leaves(writer.scratch, piece, pack(part)))
            count, first, number = count + len(part), first + len(part), number + 1
        lock_page = writer.pages.lock_page if writer.pages else 0
        writer.finish()
    finally:
        writer.close()
    assert lock_page == 65_537 and (tmp_path / "big.sqlite").stat().st_size > 2**30
    assert integrity(tmp_path / "big.sqlite") == [("ok",)]
    db = sqlite3.connect(tmp_path / "big.sqlite")
    try:
        scanned = db.execute("SELECT count(*), sum(id) FROM customers NOT INDEXED").fetchone()
    finally:
        db.close()
    assert scanned == (count, count * (count + 1) // 2)
