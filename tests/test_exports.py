"""The SQLite export presents the data contract; plain SQL re-checks every invariant."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import shardgen
from shardgen.exports.contract import columns
from shardgen.pipeline import Summary
from shardgen.schema import TABLES

from .conftest import AS_OF, on_terminal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from check_export import check

CONTRACT = {
    "customer_types": "id, name, description, credit_multiplier, discount_percentage, "
    "priority_level, payment_terms_days, active, created_at",
    "product_categories": "id, name, description, sku_prefix, sort_order, active, created_at",
    "customers": "id, customer_type_id, name, company_name, email, phone, status, credit_limit, "
    "created_at, updated_at",
    "customer_addresses": "id, customer_id, address_type, street_address, street2, city, state, "
    "zip_code, county, country, is_primary, created_at",
    "products": "id, product_category_id, name, sku, description, price, cost, weight, active, "
    "created_at, updated_at",
    "inventory": "id, product_id, warehouse, quantity_on_hand, reserved_quantity, reorder_point, "
    "reorder_quantity, last_received_date, last_received_quantity, updated_at",
    "invoices": "id, customer_id, billing_address_id, invoice_number, invoice_date, due_date, "
    "payment_terms, status, paid_date, subtotal, tax_rate, tax_amount, total, created_at",
    "invoice_line_items": "id, invoice_id, line_number, product_id, description, quantity, "
    "unit_price, discount_percentage, line_total",
}


@pytest.fixture(scope="module")
def large_export(large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[sqlite3.Connection, Summary]:  # fmt: skip
    path, summary = large_store
    target = tmp_path_factory.mktemp("export") / "large.sqlite"
    counts = shardgen.export(path, format="sqlite", to=target)
    assert counts == summary.rows
    db = sqlite3.connect(target)
    return db, summary


def test_contract_names_exactly(large_export: tuple[sqlite3.Connection, Summary]) -> None:
    db, _ = large_export
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= set(CONTRACT)
    for table, names in CONTRACT.items():
        got = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        assert got == names.split(", ")
        assert list(columns(table)) == got
    assert list(TABLES) == list(CONTRACT)


def test_every_invariant_holds_in_plain_sql(
    large_export: tuple[sqlite3.Connection, Summary],
) -> None:
    db, _ = large_export
    results = check(db, AS_OF)
    assert results and not any(results.values()), {k: v for k, v in results.items() if v}


CHECK_TOOL = Path(__file__).resolve().parent.parent / "tools" / "check_export.py"


def test_the_check_tool_stops_quietly_when_its_reader_goes(
    large_export: tuple[sqlite3.Connection, Summary],
) -> None:
    db, _ = large_export
    (path,) = (file for _, name, file in db.execute("PRAGMA database_list") if name == "main")
    # `check_export.py ... | true`: the reader is gone before the tool writes.
    tool = subprocess.Popen(
        [sys.executable, str(CHECK_TOOL), path, "--as-of", AS_OF],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert tool.stdout is not None and tool.stderr is not None
    tool.stdout.close()
    assert tool.wait(timeout=120) == 0
    assert tool.stderr.read() == b""


def test_the_check_tool_says_in_one_line_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "notes.sqlite").write_text("not a database\n" * 100)
    for name, reason in (("missing.sqlite", "No such file"), ("notes.sqlite", "not a database")):
        done = subprocess.run(
            [sys.executable, str(CHECK_TOOL), str(tmp_path / name), "--as-of", AS_OF],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and reason in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_constraints_are_declared(large_export: tuple[sqlite3.Connection, Summary]) -> None:
    db, _ = large_export
    db.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO invoices (id, customer_id) VALUES (999999, 999999)")
    with pytest.raises(sqlite3.IntegrityError):  # UNIQUE email
        db.execute(
            "INSERT INTO customers SELECT id + 1000000, customer_type_id, name, company_name, "
            "email, phone, status, credit_limit, created_at, updated_at FROM customers LIMIT 1"
        )
    with pytest.raises(sqlite3.IntegrityError):  # CHECK status
        db.execute("UPDATE invoices SET status = 'lost' WHERE id = 1")
    fks = db.execute("PRAGMA foreign_key_list(invoice_line_items)").fetchall()
    assert {row[2] for row in fks} == {"invoices", "products"}


def test_money_dates_and_timestamps_use_contract_formats(
    large_export: tuple[sqlite3.Connection, Summary],
) -> None:
    db, _ = large_export
    invoice_date, created_at, total = db.execute(
        "SELECT invoice_date, created_at, total FROM invoices WHERE id = 1"
    ).fetchone()
    assert len(invoice_date) == 10 and invoice_date[4] == "-"
    assert created_at.endswith("Z") and created_at[10] == "T"
    assert round(total * 100) == total * 100 or abs(round(total * 100) - total * 100) < 1e-6


def test_export_refuses_to_overwrite_without_force(small_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.sqlite"
    target.write_text("keep me")
    with pytest.raises(shardgen.UsageError, match="--force"):
        shardgen.export(small_store, to=target)
    assert target.read_text() == "keep me"
    shardgen.export(small_store, to=target, force=True)
    assert sqlite3.connect(target).execute("SELECT count(*) FROM customers").fetchone() == (10,)


def test_an_export_reports_its_progress_in_rows(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = large_store
    calls: list[tuple[int, int]] = []
    counts = shardgen.export(
        path, format="csv", to=tmp_path / "c", progress=lambda d, t: calls.append((d, t))
    )
    total = sum(summary.rows.values())
    assert sum(counts.values()) == total
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_the_progress_line_shows_rows_per_second_on_a_terminal(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    code, text = on_terminal("export", large_store[0], "--to", tmp_path / "t.sqlite")
    assert code == 0
    assert "rows/s" in text and f"of {sum(large_store[1].rows.values()):,} rows (100%)" in text


@pytest.mark.parametrize(
    ("format", "name"), [("sqlite", "t.sqlite"), ("csv", "t-csv"), ("parquet", "t-pq"),
                         ("duckdb", "t.duckdb")]
)  # fmt: skip
def test_a_killed_export_leaves_the_earlier_target_intact(
    large_store: tuple[Path, Summary], tmp_path: Path, format: str, name: str
) -> None:
    path, summary = large_store
    target = tmp_path / name
    shardgen.export(path, format=format, to=target)
    before = _contents(target)
    command = [sys.executable, "-m", "shardgen", "export", path, "--format", format,
               "--to", target, "--force", "--workers", "2"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Killed, with its workers, once it writes beside the target (DuckDB: once
    # its rows are committed into the new file's write-ahead log).
    writes = f".{name}.*.partial.wal" if format == "duckdb" else f".{name}.*.partial"
    while not list(tmp_path.glob(writes)) and process.poll() is None:
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert _contents(target) == before
    assert list(tmp_path.glob(writes))
    # What the killed export left beside the target, the next one removes.
    counts = shardgen.export(path, format=format, to=target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert counts == summary.rows
    if format != "duckdb":  # a DuckDB file's blocks differ from write to write
        assert _contents(target) == before


def _contents(target: Path) -> dict[str, bytes] | bytes:
    if target.is_dir():
        return {p.name: p.read_bytes() for p in sorted(target.iterdir())}
    return target.read_bytes()


#: What an export says of a row missing or a key out of place in invoices:
#: read from the leaf pages, or through cursors (`Snapshot.values`).
DAMAGED_INVOICES = (
    r"damaged: invoices: (the row with id \d+ is missing, or a key is damaged|no row with id"
    r" \d+: the table ends before it|the store's pages are damaged: a key of another size than the"
    r" database's)"
    r"|damaged: invoices's keys from id 1 are not ids 1 to"
)


@pytest.mark.parametrize(
    "change", ["delete 7", "delete 1", "insert between 7 and 8", "delete last"]
)
def test_an_export_refuses_a_shard_with_a_row_missing_or_between(
    small_store: Path, tmp_path: Path, change: str
) -> None:
    # The keys an export reads must be exactly its part's: a gap or an extra
    # key is the damaged store, whatever the digest.
    import shutil

    from shardgen.store import Store, key

    copy = tmp_path / "changed.lmdb"
    shutil.copyfile(small_store, copy)
    with Store.open(copy, writable=True) as store:
        last = store.count("invoices")
        db = store.dbs["invoices"]
        with store.write() as txn:
            if change == "delete 7":
                assert txn.delete(key(7), db=db)
            elif change == "delete 1":
                assert txn.delete(key(1), db=db)
            elif change == "delete last":
                assert txn.delete(key(last), db=db)
            else:
                txn.put(key(7) + b"\0", txn.get(key(7), db=db), db=db)
    for format in ("csv", "parquet"):
        target = tmp_path / f"out-{format}"
        with pytest.raises(shardgen.DamagedStoreError, match=DAMAGED_INVOICES):
            shardgen.export(copy, format=format, to=target)
        assert not target.exists()
