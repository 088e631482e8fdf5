"""Check the data contract's invariants on a SQLite or DuckDB export with plain SQL.

Independent of shardgen's own verify: it reads only the exported database.

    python tools/check_export.py data.sqlite --as-of 2026-06-30
    python tools/check_export.py data.duckdb --as-of 2026-06-30

Prints one line per rule with the number of offending rows; exits 1 if any,
2 (with a one-line error) if the file cannot be read as an export.
The rules are written once, in SQL both databases run; a DuckDB export is
first presented as the SQLite one is (`present`: dates and timestamps as ISO
text, booleans as 0/1, `/` of integers an integer).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from typing import Any

CENTS = "CAST(round({} * 100) AS BIGINT)"


def c(column: str) -> str:
    return CENTS.format(column)


#: (rule, query returning the number of offending rows). `$as_of` is bound.
CHECKS: list[tuple[str, str]] = [
    ("line_total = round(quantity × unit_price × (100 − discount) / 100)", f"""
        SELECT count(*) FROM invoice_line_items
        WHERE {c('line_total')} != (quantity * {c('unit_price')}
              * (10000 - {c('discount_percentage')}) + 5000) / 10000"""),
    ("subtotal = Σ line_total", f"""
        SELECT count(*) FROM invoices i
        WHERE {c('i.subtotal')} != (SELECT sum({c('l.line_total')})
              FROM invoice_line_items l WHERE l.invoice_id = i.id)"""),
    ("tax_amount = round(subtotal × tax_rate / 100)", f"""
        SELECT count(*) FROM invoices
        WHERE {c('tax_amount')} != ({c('subtotal')} * {c('tax_rate')} + 5000) / 10000"""),
    ("total = subtotal + tax_amount", f"""
        SELECT count(*) FROM invoices
        WHERE {c('total')} != {c('subtotal')} + {c('tax_amount')}"""),
    ("price > cost > 0", "SELECT count(*) FROM products WHERE NOT (price > cost AND cost > 0)"),
    ("nothing is dated after as_of", """
        SELECT (SELECT count(*) FROM customers
                WHERE substr(created_at, 1, 10) > $as_of OR substr(updated_at, 1, 10) > $as_of)
             + (SELECT count(*) FROM customer_addresses WHERE substr(created_at, 1, 10) > $as_of)
             + (SELECT count(*) FROM products
                WHERE substr(created_at, 1, 10) > $as_of OR substr(updated_at, 1, 10) > $as_of)
             + (SELECT count(*) FROM inventory
                WHERE last_received_date > $as_of OR substr(updated_at, 1, 10) > $as_of)
             + (SELECT count(*) FROM invoices
                WHERE invoice_date > $as_of OR paid_date > $as_of
                   OR substr(created_at, 1, 10) > $as_of)"""),
    ("customer created on or before each of its addresses", """
        SELECT count(*) FROM customer_addresses a JOIN customers c ON c.id = a.customer_id
        WHERE a.created_at < c.created_at"""),
    ("billing address belongs to the invoice's customer, existed on the invoice date", """
        SELECT count(*) FROM invoices i JOIN customer_addresses a ON a.id = i.billing_address_id
        WHERE a.customer_id != i.customer_id OR substr(a.created_at, 1, 10) > i.invoice_date
           OR a.address_type != 'billing'"""),
    ("customer created on or before its invoices", """
        SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id
        WHERE substr(c.created_at, 1, 10) > i.invoice_date"""),
    ("product created on or before every invoice selling it", """
        SELECT count(*) FROM invoice_line_items l
        JOIN invoices i ON i.id = l.invoice_id JOIN products p ON p.id = l.product_id
        WHERE substr(p.created_at, 1, 10) > i.invoice_date"""),
    ("due_date = invoice_date + payment terms", """
        SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id
        JOIN customer_types t ON t.id = c.customer_type_id
        WHERE julianday(i.due_date) - julianday(i.invoice_date) != t.payment_terms_days
           OR i.payment_terms != 'Net ' || CAST(t.payment_terms_days AS TEXT)"""),
    ("paid ⇔ paid_date set, invoice_date <= paid_date <= as_of", """
        SELECT count(*) FROM invoices
        WHERE (status = 'paid') != (paid_date IS NOT NULL)
           OR paid_date < invoice_date OR paid_date > $as_of"""),
    ("overdue ⇔ unpaid and due_date < as_of; pending ⇔ unpaid and due_date >= as_of", """
        SELECT count(*) FROM invoices
        WHERE (status = 'overdue' AND NOT (paid_date IS NULL AND due_date < $as_of))
           OR (status = 'pending' AND NOT (paid_date IS NULL AND due_date >= $as_of))
           OR status NOT IN ('paid', 'overdue', 'pending')"""),
    ("0 <= reserved <= on hand; last received between product creation and as_of", """
        SELECT count(*) FROM inventory v JOIN products p ON p.id = v.product_id
        WHERE v.reserved_quantity < 0 OR v.reserved_quantity > v.quantity_on_hand
           OR v.last_received_date < substr(p.created_at, 1, 10)
           OR v.last_received_date > $as_of"""),
    ("1-3 addresses per customer, exactly one primary, a billing one", """
        SELECT count(*) FROM customers c
        WHERE (SELECT count(*) FROM customer_addresses a WHERE a.customer_id = c.id)
              NOT BETWEEN 1 AND 3
           OR (SELECT count(*) FROM customer_addresses a
               WHERE a.customer_id = c.id AND a.is_primary = 1 AND a.address_type = 'billing')
              != 1
           OR (SELECT count(*) FROM customer_addresses a
               WHERE a.customer_id = c.id AND a.is_primary = 1) != 1"""),
    ("1-4 line items per invoice numbered 1..n", """
        SELECT count(*) FROM invoices i LEFT JOIN (
            SELECT invoice_id, count(*) AS n, min(line_number) AS lo, max(line_number) AS hi,
                   count(DISTINCT line_number) AS d
            FROM invoice_line_items GROUP BY invoice_id) l ON l.invoice_id = i.id
        WHERE l.n IS NULL OR l.n NOT BETWEEN 1 AND 4 OR l.lo != 1 OR l.hi != l.n
           OR l.d != l.n"""),
    ("exactly one inventory row per product", """
        SELECT count(*) FROM products p
        WHERE (SELECT count(*) FROM inventory v WHERE v.product_id = p.id) != 1"""),
    ("unique emails, SKUs, invoice numbers", """
        SELECT (SELECT count(*) - count(DISTINCT email) FROM customers)
             + (SELECT count(*) - count(DISTINCT sku) FROM products)
             + (SELECT count(*) - count(DISTINCT invoice_number) FROM invoices)"""),
    ("emails on reserved domains", """
        SELECT count(*) FROM customers
        WHERE email NOT LIKE '%@example.com' AND email NOT LIKE '%@example.net'
          AND email NOT LIKE '%@example.org'"""),
    ("unpaid invoices total <= credit_limit", f"""
        SELECT count(*) FROM customers c
        WHERE (SELECT coalesce(sum({c('i.total')}), 0) FROM invoices i
               WHERE i.customer_id = c.id AND i.paid_date IS NULL) > {c('c.credit_limit')}"""),
    ("states are the 50 states or DC; ZIPs are 5 digits; country US", """
        SELECT count(*) FROM customer_addresses
        WHERE state NOT IN ('AL','AK','AZ','AR','CA','CO','CT','DE','DC','FL','GA','HI','ID',
            'IL','IN','IA','KS','KY','LA','ME','MD','MA','MI','MN','MS','MO','MT','NE','NV',
            'NH','NJ','NM','NY','NC','ND','OH','OK','OR','PA','RI','SC','SD','TN','TX','UT',
            'VT','VA','WA','WV','WI','WY')
           OR length(zip_code) != 5 OR ltrim(zip_code, '0123456789') != ''
           OR country != 'US'"""),
    ("one tax rate per state", """
        SELECT count(*) FROM (
            SELECT a.state FROM invoices i JOIN customer_addresses a ON a.id = i.billing_address_id
            GROUP BY a.state HAVING count(DISTINCT i.tax_rate) > 1)"""),
    ("credit limit and discount within the contract's ranges", """
        SELECT (SELECT count(*) FROM customers WHERE credit_limit NOT BETWEEN 0 AND 100000)
             + (SELECT count(*) FROM customer_types WHERE discount_percentage NOT BETWEEN 0 AND 50)
             + (SELECT count(*) FROM invoice_line_items l JOIN invoices i ON i.id = l.invoice_id
                JOIN customers c ON c.id = i.customer_id
                JOIN customer_types t ON t.id = c.customer_type_id
                WHERE l.discount_percentage != t.discount_percentage)"""),
]  # fmt: skip


def margin_check() -> tuple[str, str]:
    """Each product's markup lies in its category's range (percent over cost)."""
    from shardgen.make.catalog_vocabulary import CATEGORIES

    ranges = ", ".join(f"('{c.name}', {c.markup_min}, {c.markup_max})" for c in CATEGORIES)
    sql = f"""
        WITH ranges(name, lo, hi) AS (VALUES {ranges})
        SELECT count(*) FROM products p JOIN product_categories g ON g.id = p.product_category_id
        LEFT JOIN ranges r ON r.name = g.name
        WHERE r.name IS NULL
           OR {c("p.price")} * 100 < {c("p.cost")} * (100 + r.lo)
           OR {c("p.price")} * 100 > {c("p.cost")} * (100 + r.hi)"""
    return "margin within the category's range", sql


#: How a DuckDB export presents a column of these types: as the SQLite export holds it.
PRESENT = {
    "DATE": "strftime({0}, '%Y-%m-%d')",
    "TIMESTAMP WITH TIME ZONE": "strftime(timezone('UTC', {0}), '%Y-%m-%dT%H:%M:%SZ')",
    "BOOLEAN": "CAST({0} AS INTEGER)",
}


def present(db: Any) -> None:
    """Present a DuckDB export's tables as the SQLite export's: a view per
    table, under the table's name, of ISO text dates and timestamps and 0/1
    booleans; integer division and julianday as in SQLite."""
    db.execute("SET integer_division = true")
    db.execute("CREATE TEMP MACRO julianday(day) AS julian(CAST(day AS DATE))")
    ((database,),) = db.execute("SELECT current_database()").fetchall()
    columns = db.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = $db ORDER BY table_name, column_index",
        {"db": database},
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column, data_type in columns:
        shown = PRESENT.get(data_type, "{0}").format(column)
        tables.setdefault(table, []).append(f"{shown} AS {column}")
    for table, select in tables.items():
        db.execute(
            f'CREATE TEMP VIEW {table} AS SELECT {", ".join(select)} FROM "{database}".main.{table}'
        )


def orphans(db: Any) -> int:
    """Rows of a DuckDB export whose foreign key names no row (DuckDB checks
    them on insert; this checks the file as it is)."""
    keys = db.execute(
        "SELECT table_name, constraint_column_names[1], referenced_table, "
        "referenced_column_names[1] FROM duckdb_constraints() "
        "WHERE constraint_type = 'FOREIGN KEY'"
    ).fetchall()
    total = 0
    for table, column, parent, key in keys:
        ((count,),) = db.execute(
            f"SELECT count(*) FROM {table} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.{key} = c.{column})"
        ).fetchall()
        total += count
    return total


def check(db: Any, as_of: str) -> dict[str, int]:
    """Run every check on a SQLite export, or a DuckDB one `present`ed; return
    offending row counts by rule."""
    results = {}
    for rule, sql in [*CHECKS, margin_check()]:
        # DuckDB takes no parameter a statement does not use.
        ((count,),) = db.execute(sql, {"as_of": as_of} if "$as_of" in sql else {}).fetchall()
        results[rule] = int(count or 0)
    if not isinstance(db, sqlite3.Connection):
        results["foreign keys"] = orphans(db)
        return results
    results["PRAGMA foreign_key_check"] = len(db.execute("PRAGMA foreign_key_check").fetchall())
    results["PRAGMA integrity_check"] = int(
        db.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
    )
    return results


def connect(path: str) -> Any:
    """The export at `path`, read-only: a SQLite file, or a DuckDB one (presented)."""
    with open(path, "rb") as file:
        header = file.read(16)
    if header[8:12] != b"DUCK":
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    import duckdb

    db = duckdb.connect(path, read_only=True)
    present(db)
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="a SQLite or DuckDB export")
    parser.add_argument("--as-of", required=True, help="the run's as_of date, YYYY-MM-DD")
    args = parser.parse_args()
    try:
        results = check(connect(args.database), args.as_of)
    except (OSError, sqlite3.Error) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"check_export: error: {args.database}: {message}", file=sys.stderr)
        return 2
    try:
        for rule, count in results.items():
            print(f"{'ok  ' if count == 0 else 'FAIL'} {count:>8}  {rule}")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head -3`): it has what it wanted; Python's
        # own flush at exit goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
