"""Export to SQL databases: a SQLite file, or a PostgreSQL database.

Both present the data contract with its PRIMARY KEY, FOREIGN KEY, UNIQUE and
CHECK constraints; the PostgreSQL schema mirrors the SQLite one in native
types (NUMERIC money, DATE, TIMESTAMPTZ, BOOLEAN). SQLite is written into a
file beside the target and renamed into place when complete; PostgreSQL is
loaded with COPY in one transaction, so a failed load changes nothing.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import RunError, UsageError
from ..guard import create
from ..schema import TABLES
from ..store import Store, disk_full
from .contract import Converter, columns, hundredths, rows

SQLITE_SCHEMA = """
CREATE TABLE customer_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name IN ('Premium', 'Standard', 'Basic')),
    description TEXT NOT NULL,
    credit_multiplier NUMERIC(4,2) NOT NULL CHECK (credit_multiplier > 0),
    discount_percentage NUMERIC(5,2) NOT NULL CHECK (discount_percentage BETWEEN 0 AND 50),
    priority_level INTEGER NOT NULL CHECK (priority_level BETWEEN 1 AND 5),
    payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL
);
CREATE TABLE product_categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    sku_prefix TEXT NOT NULL UNIQUE,
    sort_order INTEGER NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    customer_type_id INTEGER NOT NULL REFERENCES customer_types (id),
    name TEXT NOT NULL,
    company_name TEXT,
    email TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'suspended')),
    credit_limit NUMERIC(12,2) NOT NULL CHECK (credit_limit BETWEEN 0 AND 100000),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL CHECK (updated_at >= created_at)
);
CREATE TABLE customer_addresses (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    address_type TEXT NOT NULL CHECK (address_type IN ('billing', 'shipping')),
    street_address TEXT NOT NULL,
    street2 TEXT,
    city TEXT NOT NULL,
    state TEXT NOT NULL CHECK (length(state) = 2),
    zip_code TEXT NOT NULL CHECK (length(zip_code) = 5 AND zip_code NOT GLOB '*[^0-9]*'),
    county TEXT NOT NULL,
    country TEXT NOT NULL CHECK (country = 'US'),
    is_primary INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK (is_primary = 0 OR address_type = 'billing')
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    product_category_id INTEGER NOT NULL REFERENCES product_categories (id),
    name TEXT NOT NULL,
    sku TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    price NUMERIC(12,2) NOT NULL,
    cost NUMERIC(12,2) NOT NULL CHECK (cost > 0),
    weight NUMERIC(8,2) NOT NULL CHECK (weight >= 0),
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL CHECK (updated_at >= created_at),
    CHECK (price > cost)
);
CREATE TABLE inventory (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL UNIQUE REFERENCES products (id),
    warehouse TEXT NOT NULL,
    quantity_on_hand INTEGER NOT NULL CHECK (quantity_on_hand >= 0),
    reserved_quantity INTEGER NOT NULL
        CHECK (reserved_quantity BETWEEN 0 AND quantity_on_hand),
    reorder_point INTEGER NOT NULL CHECK (reorder_point >= 0),
    reorder_quantity INTEGER NOT NULL CHECK (reorder_quantity >= 0),
    last_received_date TEXT NOT NULL,
    last_received_quantity INTEGER NOT NULL CHECK (last_received_quantity >= 0),
    updated_at TEXT NOT NULL
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    billing_address_id INTEGER NOT NULL REFERENCES customer_addresses (id),
    invoice_number TEXT NOT NULL UNIQUE,
    invoice_date TEXT NOT NULL,
    due_date TEXT NOT NULL CHECK (due_date >= invoice_date),
    payment_terms TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'overdue')),
    paid_date TEXT CHECK (paid_date IS NULL OR paid_date >= invoice_date),
    subtotal NUMERIC(12,2) NOT NULL CHECK (subtotal >= 0),
    tax_rate NUMERIC(5,2) NOT NULL CHECK (tax_rate BETWEEN 0 AND 100),
    tax_amount NUMERIC(12,2) NOT NULL CHECK (tax_amount >= 0),
    total NUMERIC(12,2) NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((status = 'paid') = (paid_date IS NOT NULL)),
    CHECK (round(total * 100) = round(subtotal * 100) + round(tax_amount * 100))
);
CREATE TABLE invoice_line_items (
    id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    line_number INTEGER NOT NULL CHECK (line_number >= 1),
    product_id INTEGER NOT NULL REFERENCES products (id),
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price NUMERIC(12,2) NOT NULL CHECK (unit_price >= 0),
    discount_percentage NUMERIC(5,2) NOT NULL CHECK (discount_percentage BETWEEN 0 AND 100),
    line_total NUMERIC(12,2) NOT NULL CHECK (line_total >= 0),
    UNIQUE (invoice_id, line_number)
);
"""

#: Lookup indexes, built after the load: one sort each instead of an index
#: update per inserted row.
SQLITE_INDEXES = """
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_date ON invoices (invoice_date);
CREATE INDEX invoice_line_items_product ON invoice_line_items (product_id);
"""

#: The PostgreSQL tables, with their CHECK constraints. Keys and indexes
#: (POSTGRES_KEYS) are added after the rows are in, as pg_dump does: checking a
#: whole table's keys at once is much faster than checking each row's on COPY.
POSTGRES_TABLES = """
CREATE TABLE customer_types (
    id BIGINT NOT NULL,
    name TEXT NOT NULL CHECK (name IN ('Premium', 'Standard', 'Basic')),
    description TEXT NOT NULL,
    credit_multiplier NUMERIC(4,2) NOT NULL CHECK (credit_multiplier > 0),
    discount_percentage NUMERIC(5,2) NOT NULL CHECK (discount_percentage BETWEEN 0 AND 50),
    priority_level INTEGER NOT NULL CHECK (priority_level BETWEEN 1 AND 5),
    payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE product_categories (
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    sku_prefix TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE customers (
    id BIGINT NOT NULL,
    customer_type_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    company_name TEXT,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'suspended')),
    credit_limit NUMERIC(12,2) NOT NULL CHECK (credit_limit BETWEEN 0 AND 100000),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL CHECK (updated_at >= created_at)
);
CREATE TABLE customer_addresses (
    id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    address_type TEXT NOT NULL CHECK (address_type IN ('billing', 'shipping')),
    street_address TEXT NOT NULL,
    street2 TEXT,
    city TEXT NOT NULL,
    state TEXT NOT NULL CHECK (char_length(state) = 2),
    zip_code TEXT NOT NULL CHECK (zip_code ~ '^[0-9]{5}$'),
    county TEXT NOT NULL,
    country TEXT NOT NULL CHECK (country = 'US'),
    is_primary BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (NOT is_primary OR address_type = 'billing')
);
CREATE TABLE products (
    id BIGINT NOT NULL,
    product_category_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    sku TEXT NOT NULL,
    description TEXT NOT NULL,
    price NUMERIC(12,2) NOT NULL,
    cost NUMERIC(12,2) NOT NULL CHECK (cost > 0),
    weight NUMERIC(8,2) NOT NULL CHECK (weight >= 0),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL CHECK (updated_at >= created_at),
    CHECK (price > cost)
);
CREATE TABLE inventory (
    id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    warehouse TEXT NOT NULL,
    quantity_on_hand INTEGER NOT NULL CHECK (quantity_on_hand >= 0),
    reserved_quantity INTEGER NOT NULL
        CHECK (reserved_quantity BETWEEN 0 AND quantity_on_hand),
    reorder_point INTEGER NOT NULL CHECK (reorder_point >= 0),
    reorder_quantity INTEGER NOT NULL CHECK (reorder_quantity >= 0),
    last_received_date DATE NOT NULL,
    last_received_quantity INTEGER NOT NULL CHECK (last_received_quantity >= 0),
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE invoices (
    id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    billing_address_id BIGINT NOT NULL,
    invoice_number TEXT NOT NULL,
    invoice_date DATE NOT NULL,
    due_date DATE NOT NULL CHECK (due_date >= invoice_date),
    payment_terms TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'overdue')),
    paid_date DATE CHECK (paid_date IS NULL OR paid_date >= invoice_date),
    subtotal NUMERIC(12,2) NOT NULL CHECK (subtotal >= 0),
    tax_rate NUMERIC(5,2) NOT NULL CHECK (tax_rate BETWEEN 0 AND 100),
    tax_amount NUMERIC(12,2) NOT NULL CHECK (tax_amount >= 0),
    total NUMERIC(12,2) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((status = 'paid') = (paid_date IS NOT NULL)),
    CHECK (total = subtotal + tax_amount)
);
CREATE TABLE invoice_line_items (
    id BIGINT NOT NULL,
    invoice_id BIGINT NOT NULL,
    line_number INTEGER NOT NULL CHECK (line_number >= 1),
    product_id BIGINT NOT NULL,
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price NUMERIC(12,2) NOT NULL CHECK (unit_price >= 0),
    discount_percentage NUMERIC(5,2) NOT NULL CHECK (discount_percentage BETWEEN 0 AND 100),
    line_total NUMERIC(12,2) NOT NULL CHECK (line_total >= 0)
);
"""

POSTGRES_KEYS = """
ALTER TABLE customer_types ADD PRIMARY KEY (id), ADD UNIQUE (name);
ALTER TABLE product_categories ADD PRIMARY KEY (id), ADD UNIQUE (name), ADD UNIQUE (sku_prefix);
ALTER TABLE customers ADD PRIMARY KEY (id), ADD UNIQUE (email),
    ADD FOREIGN KEY (customer_type_id) REFERENCES customer_types (id);
ALTER TABLE customer_addresses ADD PRIMARY KEY (id),
    ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE products ADD PRIMARY KEY (id), ADD UNIQUE (sku),
    ADD FOREIGN KEY (product_category_id) REFERENCES product_categories (id);
ALTER TABLE inventory ADD PRIMARY KEY (id), ADD UNIQUE (product_id),
    ADD FOREIGN KEY (product_id) REFERENCES products (id);
ALTER TABLE invoices ADD PRIMARY KEY (id), ADD UNIQUE (invoice_number),
    ADD FOREIGN KEY (customer_id) REFERENCES customers (id),
    ADD FOREIGN KEY (billing_address_id) REFERENCES customer_addresses (id);
ALTER TABLE invoice_line_items ADD PRIMARY KEY (id), ADD UNIQUE (invoice_id, line_number),
    ADD FOREIGN KEY (invoice_id) REFERENCES invoices (id),
    ADD FOREIGN KEY (product_id) REFERENCES products (id);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_date ON invoices (invoice_date);
CREATE INDEX invoice_line_items_product ON invoice_line_items (product_id);
"""


def export_sqlite(store: Store, path: Path) -> dict[str, int]:
    """Write the contract into a new SQLite file at `path`; return rows per
    table. (`export` gives the path beside the target that `guard.writing`
    then puts in its place.)"""
    counts: dict[str, int] = {}
    try:
        os.close(create(path))  # an empty file is an empty database; never a link
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            # Foreign keys are checked once, in bulk, after the load (below):
            # cheaper than a parent lookup per inserted row.
            db.execute("PRAGMA foreign_keys = OFF")
            # The UNIQUE indexes are updated on every insert: a larger page
            # cache keeps their hot pages in memory (64 MB at most).
            db.execute("PRAGMA cache_size = -65536")
            db.executescript(SQLITE_SCHEMA)
            converter = Converter()
            db.execute("BEGIN")
            for table in TABLES:
                names = columns(table)
                sql = (
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                cursor = db.executemany(sql, rows(store, table, converter))
                counts[table] = cursor.rowcount
            for statement in filter(str.strip, SQLITE_INDEXES.split(";")):
                db.execute(statement)
            db.execute("COMMIT")
            problems = db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RunError(
                    f"the export has {len(problems)} foreign key problem(s), first {problems[0]}: "
                    "run `shardgen verify` on the store"
                )
            db.execute("ANALYZE")
        finally:
            db.close()
    except sqlite3.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({exc}): "
            "run `shardgen verify` on it"
        ) from None
    except sqlite3.Error as exc:
        # An OS error, which `guard.writing` says in one line, naming the target.
        full = "full" in str(exc) or disk_full(path)
        raise OSError(errno.ENOSPC if full else errno.EIO, str(exc)) from None
    return counts


# -- PostgreSQL ---------------------------------------------------------------


def check_url(url: str) -> None:
    example = "postgresql://user@localhost:5432/dbname"
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--to {url!r} is not a PostgreSQL URL: give one such as {example}")
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        _ = urlsplit(url).port  # a bad port or bracket raises here
        conninfo_to_dict(url)
    except (ValueError, psycopg.Error) as exc:
        raise UsageError(
            f"--to {redact(url)} is not a valid PostgreSQL URL ({_message(exc)}): give one "
            f"such as {example}"
        ) from None


def redact(url: str) -> str:
    """The URL without its password, fit to print (even one too malformed to parse)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else url
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _message(exc: Exception) -> str:
    """A driver error as one line: the server's message and its detail, if any."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:  # raised by the client (no connection): its own text
        return " ".join(str(exc).split())
    detail = getattr(diag, "message_detail", None)
    return f"{primary} ({' '.join(detail.split())})" if detail else primary


def export_postgres(store: Store, url: str, *, force: bool = False) -> dict[str, int]:
    """Create the contract's tables in the database at `url` and load them.

    Everything happens in one transaction: existing tables (without `force`),
    a broken constraint or a lost connection leave the database as it was.
    Returns the row count of each table as the database reports it.
    """
    import psycopg

    where = redact(url)
    try:
        conn = psycopg.connect(url, application_name="shardgen export")
    except psycopg.Error as exc:
        raise RunError(f"cannot connect to {where}: {_message(exc)}") from None
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT t FROM unnest(%s::text[]) AS t "
                "WHERE to_regclass(quote_ident(t)) IS NOT NULL",
                [list(TABLES)],
            )
            found = [name for (name,) in cursor.fetchall()]
            if found and not force:
                raise UsageError(
                    f"{where} already has table(s) {', '.join(found)}: pass --force to drop "
                    "and replace them, or export into another database"
                )
            if found:
                cursor.execute(f"DROP TABLE IF EXISTS {', '.join(reversed(TABLES))}")
            cursor.execute(POSTGRES_TABLES)
            converter = Converter({"money": hundredths, "basis_points": hundredths, "bool": _same})
            written: dict[str, int] = {}
            for table in TABLES:
                sql = f"COPY {table} ({', '.join(columns(table))}) FROM STDIN (FREEZE)"
                count = 0
                with cursor.copy(sql) as copy:
                    for row in rows(store, table, converter):
                        copy.write_row(row)
                        count += 1
                written[table] = count
            cursor.execute(POSTGRES_KEYS)
            counts: dict[str, int] = {}
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")
                (counts[table],) = cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
            if counts != written:
                raise RunError(f"{where} holds {counts} rows after the load, not {written}")
    except psycopg.errors.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({_message(exc)}): "
            f"run `shardgen verify` on it; {where} was left as it was"
        ) from None
    except psycopg.Error as exc:
        raise RunError(
            f"the export to {where} failed and was rolled back: {_message(exc)}"
        ) from None
    finally:
        conn.close()
    return counts


def _same(value: Any) -> Any:
    return value
