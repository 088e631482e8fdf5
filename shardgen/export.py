"""Export: the data contract as a SQLite database (more formats build on `rows`).

Store types become the contract's: cents → NUMERIC(12,2), days → ISO dates,
epoch seconds → ISO-8601 UTC timestamps, basis points → percent, bools → 0/1.
The file is written beside the target and renamed into place when complete,
so an interrupted export never leaves a half-written database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from .errors import RunError, UsageError
from .schema import TABLES
from .store import Store

FORMATS = ("sqlite",)

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
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_date ON invoices (invoice_date);
CREATE INDEX invoice_line_items_product ON invoice_line_items (product_id);
"""

#: Per table: how each store field becomes a contract value.
MONEY = frozenset(
    ("credit_limit", "price", "cost", "subtotal", "tax_amount", "total", "unit_price", "line_total")
)
DATES = frozenset(("invoice_date", "due_date", "paid_date", "last_received_date"))
TIMESTAMPS = frozenset(("created_at", "updated_at"))
BOOLS = frozenset(("active", "is_primary"))

EPOCH = dt.date(1970, 1, 1)


class Converter:
    """Turns store values into contract values, caching the date strings."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def date(self, day: int | None) -> str | None:
        if day is None:
            return None
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = (EPOCH + dt.timedelta(days=day)).isoformat()
        return text

    def timestamp(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86_400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{self.date(day)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"

    def row_function(self, table: str) -> Callable[[Any], tuple[Any, ...]]:
        """A function from a record to its contract row (a tuple)."""
        fields = TABLES[table].__struct_fields__
        steps: list[Callable[[Any], Any]] = []
        for name in fields:
            if name in MONEY:
                steps.append(_cents)
            elif name in DATES:
                steps.append(self.date)
            elif name in TIMESTAMPS:
                steps.append(self.timestamp)
            elif name in BOOLS:
                steps.append(int)
            elif name == "tax_rate":
                steps.append(_basis_points)
            else:
                steps.append(_same)
        pairs = list(enumerate(steps))

        def convert(record: Any) -> tuple[Any, ...]:
            values = msgspec.structs.astuple(record)
            return tuple(step(values[i]) for i, step in pairs)

        return convert


def _same(value: Any) -> Any:
    return value


def _cents(value: int) -> float:
    return value / 100


def _basis_points(value: int) -> float:
    return value / 100


def columns(table: str) -> tuple[str, ...]:
    """The contract's column names of a table, in order."""
    return tuple(TABLES[table].__struct_fields__)


def rows(store: Store, table: str, converter: Converter | None = None) -> Iterator[tuple[Any, ...]]:
    """A table's rows as contract values, streamed in ID order."""
    convert = (converter or Converter()).row_function(table)
    for record in store.scan(table):
        yield convert(record)


def export(
    path: str | os.PathLike[str],
    *,
    format: str = "sqlite",
    to: str | os.PathLike[str],
    force: bool = False,
) -> dict[str, int]:
    """Export the store at `path` to `to`; return rows written per table."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
    target = Path(to)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists: remove it or pass --force to replace it")
    if not target.parent.is_dir():
        raise UsageError(f"--to {target}: the folder {target.parent} does not exist")
    with Store.open(path) as store:
        return export_sqlite(store, target)


def export_sqlite(store: Store, target: Path) -> dict[str, int]:
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        db = sqlite3.connect(partial, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA foreign_keys = ON")
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
        os.replace(partial, target)
    except sqlite3.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({exc}): "
            "run `shardgen verify` on it"
        ) from None
    except OSError as exc:
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return counts
