"""The PostgreSQL export: what it loads, the contract it declares, and that
`public` changes only when a whole export is swapped in.

The tables are read back with SQL, turned into canonical rows (as in
test_exports_files) and compared with the SQLite export of the same store.
Every test runs on a real throwaway server (the `postgres_*` fixtures).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.exports import files as export_files
from shardgen.exports.contract import CONTRACT
from shardgen.exports.copydata import copy_columns
from shardgen.exports.postgres import APPLICATION, STAGING, PostgresTarget
from shardgen.pipeline import Summary
from shardgen.schema import TABLES
from shardgen.store import Store

from .conftest import scratch_database
from .test_exports import CONTRACT as NAMES
from .test_exports_files import DECIMALS, Rows, profile


def copy_binary(table: str, rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows of store values (`Store.scan_values`) as one part's binary COPY data."""
    return copy_columns(table, list(zip(*rows, strict=True)))


def load_directly(store: Store, url: str, *, force: bool = False) -> dict[str, int]:
    """Load a store through the target alone: no workers, no digest check."""
    with PostgresTarget(url, force=force) as target:
        target.check()
        target.open()
        for table in TABLES:
            rows = list(store.scan_values(table))
            target.write(table, copy_binary(table, rows), len(rows))
        return target.finish()


# -- reading the database back ------------------------------------------------


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
    """What a failed load must not change: the schemas, which tables exist (by
    oid), every row."""
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        schemas = [
            name
            for (name,) in cursor.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname != 'information_schema' ORDER BY nspname"
            )
        ]
        tables = dict(
            cursor.execute(
                "SELECT relname, oid::int FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = 'public'::regnamespace ORDER BY relname"
            ).fetchall()
        )
        if set(CONTRACT) <= set(tables):
            return {"schemas": schemas, "tables": tables, "rows": read_postgres(cursor)}
        return {"schemas": schemas, "tables": tables}


def staging_schemas(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        pattern = STAGING.replace("_", "\\_") + "%"
        found = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [pattern])
        return [name for (name,) in found]


EMPTY = {"schemas": ["public"], "tables": {}}


# -- a whole export ---------------------------------------------------------------


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
        (unchecked,) = cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated"
        ).fetchone()
        assert unchecked == 0
    assert staging_schemas(url) == []


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
        conn.rollback()
        # New rows, after the swap: the keys refer to the tables now in public.
        line = "INSERT INTO invoice_line_items SELECT {} FROM invoice_line_items WHERE id = 1"
        names = NAMES["invoice_line_items"]
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="invoices"):
            cursor.execute(line.format(names.replace("invoice_id", "-1").replace("id,", "0,", 1)))
        conn.rollback()
        with pytest.raises(psycopg.errors.UniqueViolation, match="pkey"):
            cursor.execute(line.format(names.replace("line_number", "99")))
        conn.rollback()
        with pytest.raises(psycopg.errors.UniqueViolation, match="line_number"):
            cursor.execute(line.format(names.replace("id,", "0,", 1)))
        conn.rollback()
        cursor.execute(line.format(names.replace("id,", "0,", 1).replace("line_number", "99")))
        assert cursor.rowcount == 1  # a valid row is accepted
        conn.rollback()


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
    # export() refuses a store changed since its promotion: by its digest, or by
    # the database's own CHECK if that comes first; either way, nothing changes ...
    with pytest.raises(
        (shardgen.DamagedStoreError, shardgen.RunError), match=r"shardgen verify|damaged"
    ):
        shardgen.export(broken, format="postgres", to=postgres_url)
    assert snapshot(postgres_url) == EMPTY
    # ... and if a load fails anyway (here: the database's own CHECK), it rolls back.
    with Store.open(broken) as store, pytest.raises(shardgen.RunError, match="constraint"):
        load_directly(store, postgres_url)
    assert snapshot(postgres_url) == EMPTY

    shardgen.export(small_store, format="postgres", to=postgres_url)
    before = snapshot(postgres_url)
    with Store.open(broken) as store, pytest.raises(shardgen.RunError, match="invoices"):
        load_directly(store, postgres_url, force=True)  # after dropping the tables
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


def test_a_killed_export_leaves_the_earlier_tables_intact(
    large_store: tuple[Path, Summary], postgres_url: str
) -> None:
    import psycopg

    path, summary = large_store
    shardgen.export(path, format="postgres", to=postgres_url)
    before = snapshot(postgres_url)
    command = [sys.executable, "-m", "shardgen", "export", path, "--format", "postgres",
               "--to", postgres_url, "--force"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    with psycopg.connect(postgres_url) as blocker, psycopg.connect(postgres_url) as watch:
        # Mid-load, held there: the last table's COPYs wait for this lock.
        deadline = time.monotonic() + 120
        while not (schemas := staging_schemas(postgres_url)):
            assert process.poll() is None and time.monotonic() < deadline, "no staging schema"
            time.sleep(0.001)
        blocker.execute(f"LOCK TABLE {schemas[0]}.invoice_line_items IN ACCESS EXCLUSIVE MODE")
        watch.autocommit = True  # pg_stat_activity is read once per transaction
        while not watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock' AND query LIKE 'COPY%%'",
            [APPLICATION],
        ).fetchall():
            assert process.poll() is None and time.monotonic() < deadline, "no COPY waited"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    wait_for_sessions_to_end(postgres_url)
    assert staging_schemas(postgres_url) == schemas  # left behind ...
    assert snapshot(postgres_url) == {**before, "schemas": sorted([*schemas, "public"])}
    counts = shardgen.export(path, format="postgres", to=postgres_url, force=True)
    assert counts == summary.rows
    after = snapshot(postgres_url)  # ... and cleared by the next export
    assert after["schemas"] == ["public"] and after["rows"] == before["rows"]


def wait_for_sessions_to_end(url: str) -> None:
    """Until the server has noticed that a killed export's sessions are gone."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [APPLICATION]
        ).fetchall():
            assert time.monotonic() < deadline, "the killed export's sessions went on"
            time.sleep(0.05)


def test_a_lost_connection_mid_load_leaves_the_database_as_it_was(
    small_store: Path, postgres_url: str
) -> None:
    import psycopg

    shardgen.export(small_store, format="postgres", to=postgres_url)
    before = snapshot(postgres_url)
    with Store.open(small_store) as store:
        rows = list(store.scan_values("invoices"))
    part = copy_binary("invoices", rows)
    with PostgresTarget(postgres_url, force=True, connections=2) as target:
        target.check()
        target.open()
        target.write("invoices", part, len(rows))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for loader in target.loaders:
                admin.execute("SELECT pg_terminate_backend(%s)", [loader.info.backend_pid])
        with pytest.raises(shardgen.RunError, match="failed and was rolled back") as failed:
            for _ in range(10):
                target.write("invoices", part, len(rows))
            target.finish()
        assert failed.value.args[0].count("\n") == 0
    assert snapshot(postgres_url) == before


def test_a_store_that_breaks_a_key_is_refused_and_changes_nothing(
    small_store: Path, postgres_url: str
) -> None:
    with Store.open(small_store) as store:
        rows = list(store.scan_values("customers"))
    with PostgresTarget(postgres_url) as target:
        target.check()
        target.open()
        for table in TABLES:  # every table empty, but for two customers of no type
            target.write(table, copy_binary(table, rows[:2] if table == "customers" else []), 0)
        with pytest.raises(shardgen.RunError, match="rows"):
            target.finish()
    assert snapshot(postgres_url) == EMPTY
    with PostgresTarget(postgres_url) as target:
        target.check()
        target.open()
        target.write("customers", copy_binary("customers", rows[:2]), 2)
        with pytest.raises(shardgen.RunError, match=r"breaks a constraint.*customer_type") as err:
            target.finish()
        assert "left as it was" in str(err.value)
    assert snapshot(postgres_url) == EMPTY


def test_a_running_exports_staging_schema_is_left_alone(
    small_store: Path, postgres_url: str
) -> None:
    with PostgresTarget(postgres_url) as running:
        running.check()
        running.open()
        counts = shardgen.export(small_store, format="postgres", to=postgres_url)
        assert counts["customers"] == 10
        assert staging_schemas(postgres_url) == [running.schema]
        with pytest.raises(shardgen.RunError, match="already exists"):
            running.finish()  # public has the tables now: the swap fails, nothing changes
    assert staging_schemas(postgres_url) == []
