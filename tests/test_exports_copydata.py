"""The COPY data the PostgreSQL export loads: binary, spelling every kind of
value exactly, and the CSV export's text, loading the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import shardgen
from shardgen.exports import ddl
from shardgen.exports.contract import CONTRACT
from shardgen.exports.postgres import PostgresTarget
from shardgen.schema import TABLES
from shardgen.store import Store

from .conftest import scratch_database
from .test_exports import CONTRACT as NAMES
from .test_exports_postgres import copy_binary, load_directly, read_postgres


def test_csv_copy_data_loads_what_binary_loads(
    small_store: Path, postgres_server: str, tmp_path: Path
) -> None:
    """The CSV export's bytes, without the header, are also COPY data (empty
    NOT NULL text stays empty, not NULL)."""
    import psycopg

    folder = tmp_path / "csv"
    shardgen.export(small_store, format="csv", to=folder)
    with scratch_database(postgres_server) as binary, scratch_database(postgres_server) as text:
        with Store.open(small_store) as store:
            load_directly(store, binary)
        with PostgresTarget(text, format="csv", connections=1) as target:
            target.check()
            target.open()
            for table in TABLES:
                data = (folder / f"{table}.csv").read_bytes().partition(b"\n")[2]
                lines = data.count(b"\n")
                if table == "customers":  # an empty phone number (and a NULL company)
                    first, _, rest = data.decode().partition("\n")
                    fields = next(csv.reader([first]))
                    fields[NAMES[table].split(", ").index("phone")] = ""
                    line = io.StringIO()
                    csv.writer(line, lineterminator="\n").writerow(fields)
                    data = (line.getvalue() + rest).encode()
                target.write(table, data, lines)
            target.finish()
        with psycopg.connect(binary) as one, psycopg.connect(text) as other:
            expected = read_postgres(one.cursor())
            got = read_postgres(other.cursor())
            (phone,) = other.execute("SELECT phone FROM customers WHERE id = 1").fetchone()
    phone_column = NAMES["customers"].split(", ").index("phone")
    expected["customers"][0] = tuple(
        "" if i == phone_column else v for i, v in enumerate(expected["customers"][0])
    )
    assert phone == "" and got == expected


def test_binary_copy_spells_every_kind_exactly(postgres_url: str) -> None:
    """Numerics of every size and sign, NULLs, dates and timestamps, booleans,
    and an empty part, read back as the values they stand for."""
    import psycopg

    cols = CONTRACT["invoices"]
    body = ", ".join(f"{c.name} {ddl.column_type(c, 'postgres')}" for c in cols)
    money = [0, 5, -5, 99, 100, -123456, 999_999_99, 1_000_000_00, -9_876_543_210_99]
    rows = []
    for n, cents in enumerate(money, 1):
        paid = None if n % 2 else 19_000 + n  # days since 1970
        rows.append([n, 7, 8, f"INV-{n}é", 0, 20_000, "Net 30", "paid", paid,
                     cents, 825, 1, cents + 1, 1_700_000_000 + n])  # fmt: skip
    with psycopg.connect(postgres_url) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE TABLE invoices ({body})")
        for part in (rows, []):
            with cursor.copy("COPY invoices FROM STDIN (FORMAT binary)") as copy:
                copy.write(copy_binary("invoices", part))
        found = cursor.execute(
            "SELECT subtotal, total, paid_date, invoice_date, due_date, tax_rate, created_at, "
            "invoice_number FROM invoices ORDER BY id"
        ).fetchall()
    epoch = dt.date(1970, 1, 1)
    assert found == [
        (
            Decimal(cents).scaleb(-2),
            Decimal(cents + 1).scaleb(-2),
            None if n % 2 else epoch + dt.timedelta(days=19_000 + n),
            epoch,
            epoch + dt.timedelta(days=20_000),
            Decimal("8.25"),
            dt.datetime.fromtimestamp(1_700_000_000 + n, dt.UTC),
            f"INV-{n}é",
        )
        for n, cents in enumerate(money, 1)
    ]
