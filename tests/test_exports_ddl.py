"""Every database's DDL comes from the registry, and every constraint in it
rejects a row that breaks it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

import pytest

import shardgen
from shardgen.exports import ddl
from shardgen.tables import (
    REGISTRY,
    Between,
    Check,
    Compare,
    Digits,
    Implies,
    Length,
    OneOf,
    Sql,
    Sum,
)

#: How each constraint renders: (check, sqlite, postgres, duckdb).
RENDERED: list[tuple[Check, str, str, str]] = [
    (OneOf("country", ("US",)), "country = 'US'", "country = 'US'", "country = 'US'"),
    (OneOf("s", ("a", "it's")), "s IN ('a', 'it''s')", "s IN ('a', 'it''s')",
     "s IN ('a', 'it''s')"),
    (Between("q", 0, "n"), "q BETWEEN 0 AND n", "q BETWEEN 0 AND n", "q BETWEEN 0 AND n"),
    (Compare("cost", ">", 0), "cost > 0", "cost > 0", "cost > 0"),
    (Length("state", 2), "length(state) = 2", "char_length(state) = 2", "length(state) = 2"),
    (Digits("zip", 5), "length(zip) = 5 AND zip NOT GLOB '*[^0-9]*'", "zip ~ '^[0-9]{5}$'",
     "regexp_full_match(zip, '[0-9]{5}')"),
    (Implies("p", OneOf("t", ("b",))), "p = 0 OR t = 'b'", "NOT p OR t = 'b'", "NOT p OR t = 'b'"),
    (Sum("t", ("a", "b")), "round(t * 100) = round(a * 100) + round(b * 100)", "t = a + b",
     "t = a + b"),
    (Sql("x IS NULL OR x > y"), "x IS NULL OR x > y", "x IS NULL OR x > y", "x IS NULL OR x > y"),
]  # fmt: skip


@pytest.mark.parametrize(("check", "sqlite", "postgres", "duckdb"), RENDERED)
def test_checks_render_in_each_dialect(
    check: Check, sqlite: str, postgres: str, duckdb: str
) -> None:
    assert [ddl.check_sql(check, d) for d in ddl.DIALECTS] == [sqlite, postgres, duckdb]


def test_column_types_follow_the_kind() -> None:
    total = REGISTRY["invoices"].columns[12]
    assert total.name == "total"
    assert [ddl.column_type(total, d) for d in ddl.DIALECTS] == [
        "NUMERIC(12,2)",
        "NUMERIC(12,2)",
        "DECIMAL(12,2)",
    ]
    created = REGISTRY["invoices"].columns[-1]
    assert [ddl.column_type(created, d) for d in ddl.DIALECTS] == [
        "TEXT",
        "TIMESTAMPTZ",
        "TIMESTAMPTZ",
    ]


def test_postgres_gets_its_keys_after_the_load() -> None:
    tables = ddl.create_tables("postgres")
    assert "PRIMARY KEY" not in tables and "REFERENCES" not in tables and "UNIQUE" not in tables
    keys = ddl.add_keys().splitlines()
    assert len([k for k in keys if k.startswith("ALTER TABLE")]) == len(REGISTRY)
    assert (
        "ALTER TABLE invoice_line_items ADD PRIMARY KEY (id), ADD UNIQUE (invoice_id, line_number)"
        ", ADD FOREIGN KEY (invoice_id) REFERENCES invoices (id)"
        ", ADD FOREIGN KEY (product_id) REFERENCES products (id);"
    ) in keys
    assert keys[-4:] == [f"{index};" for index in ddl.create_indexes()]


def constraint_labels(dialect: str) -> set[str]:
    """A label for every constraint of the registry, as VIOLATIONS names them."""
    labels = set()
    for name, table in REGISTRY.items():
        for column in table.columns:
            where = f"{name}.{column.name}"
            labels |= {f"{where} PRIMARY KEY"} if column.key else {f"{where} NOT NULL"}
            labels |= {f"{where} UNIQUE"} if column.unique else set()
            labels |= {f"{where} FOREIGN KEY"} if column.references else set()
            labels |= {f"{where} CHECK"} if column.checks else set()
            if dialect == "sqlite" and column.kind == "bool":
                labels.add(f"{where} CHECK")
        labels |= {f"{name} CHECK {i}" for i, _ in enumerate(table.checks, 1)}
        labels |= {f"{name} UNIQUE ({', '.join(names)})" for names in table.unique}
    return labels


class Violation(NamedTuple):
    """Rows of `table` (those `where` selects) changed by `assignment`."""

    table: str
    assignment: str  # column = value, ...
    where: str = "id = 1"

    def update(self) -> str:
        return f"UPDATE {self.table} SET {self.assignment} WHERE {self.where}"


_set = Violation


def _copy(table: str, column: str) -> Violation:
    """Row 1 given row 2's value of `column`."""
    return Violation(table, f"{column} = (SELECT {column} FROM {table} WHERE id = 2)")


SHIPPING = "id = (SELECT min(id) FROM customer_addresses WHERE address_type = 'shipping')"
PAID = "id = (SELECT min(id) FROM invoices WHERE status = 'paid')"

#: A change breaking each constraint (and only it) of a store's export.
#: NOT NULL is shown on a few columns; SQLite's 0/1 checks are SQLite's own.
VIOLATIONS: dict[str, Violation] = {
    **{f"{table}.id PRIMARY KEY": _copy(table, "id") for table in REGISTRY},
    "customer_types.name UNIQUE": _copy("customer_types", "name"),
    "customer_types.name CHECK": _set("customer_types", "name = 'Gold'"),
    "customer_types.description NOT NULL": _set("customer_types", "description = NULL"),
    "customer_types.credit_multiplier CHECK": _set("customer_types", "credit_multiplier = 0"),
    "customer_types.discount_percentage CHECK": _set("customer_types", "discount_percentage = 51"),
    "customer_types.priority_level CHECK": _set("customer_types", "priority_level = 6"),
    "customer_types.payment_terms_days CHECK": _set("customer_types", "payment_terms_days = -1"),
    "customer_types.active CHECK": _set("customer_types", "active = 2"),
    "product_categories.name UNIQUE": _copy("product_categories", "name"),
    "product_categories.sku_prefix UNIQUE": _copy("product_categories", "sku_prefix"),
    "product_categories.active CHECK": _set("product_categories", "active = 2"),
    "customers.customer_type_id FOREIGN KEY": _set("customers", "customer_type_id = 4"),
    "customers.email UNIQUE": _copy("customers", "email"),
    "customers.email NOT NULL": _set("customers", "email = NULL"),
    "customers.status CHECK": _set("customers", "status = 'gone'"),
    "customers.credit_limit CHECK": _set("customers", "credit_limit = 100000.01"),
    "customers.updated_at CHECK": _set("customers", "updated_at = '2000-01-01T00:00:00Z'"),
    "customer_addresses.customer_id FOREIGN KEY": _set("customer_addresses", "customer_id = 0"),
    "customer_addresses.address_type CHECK": _set("customer_addresses", "address_type = 'home'"),
    "customer_addresses.state CHECK": _set("customer_addresses", "state = 'CAL'"),
    "customer_addresses.zip_code CHECK": _set("customer_addresses", "zip_code = '1234A'"),
    "customer_addresses.zip_code (4 digits)": _set("customer_addresses", "zip_code = '1234'"),
    "customer_addresses.country CHECK": _set("customer_addresses", "country = 'CA'"),
    "customer_addresses.is_primary CHECK": _set("customer_addresses", "is_primary = 2"),
    "customer_addresses CHECK 1": _set("customer_addresses", "is_primary = true", SHIPPING),
    "products.product_category_id FOREIGN KEY": _set("products", "product_category_id = 10"),
    "products.sku UNIQUE": _copy("products", "sku"),
    "products.cost CHECK": _set("products", "cost = 0, price = 1"),
    "products.weight CHECK": _set("products", "weight = -0.01"),
    "products.active CHECK": _set("products", "active = 2"),
    "products.updated_at CHECK": _set("products", "updated_at = '2000-01-01T00:00:00Z'"),
    "products CHECK 1": _set("products", "price = cost"),
    "inventory.product_id UNIQUE": _copy("inventory", "product_id"),
    "inventory.product_id FOREIGN KEY": _set("inventory", "product_id = 0"),
    "inventory.quantity_on_hand CHECK": _set("inventory", "quantity_on_hand = -1"),
    "inventory.reserved_quantity CHECK": _set(
        "inventory", "reserved_quantity = quantity_on_hand + 1"
    ),
    "inventory.reserved_quantity (negative)": _set("inventory", "reserved_quantity = -1"),
    "inventory.reorder_point CHECK": _set("inventory", "reorder_point = -1"),
    "inventory.reorder_quantity CHECK": _set("inventory", "reorder_quantity = -1"),
    "inventory.last_received_quantity CHECK": _set("inventory", "last_received_quantity = -1"),
    "invoices.customer_id FOREIGN KEY": _set("invoices", "customer_id = 0"),
    "invoices.billing_address_id FOREIGN KEY": _set("invoices", "billing_address_id = 0"),
    "invoices.invoice_number UNIQUE": _copy("invoices", "invoice_number"),
    "invoices.due_date CHECK": _set("invoices", "due_date = '2000-01-01'"),
    "invoices.status CHECK": _set("invoices", "status = 'lost'"),
    "invoices.paid_date CHECK": _set("invoices", "paid_date = '2000-01-01'", PAID),
    "invoices.subtotal CHECK": _set("invoices", "subtotal = -1, total = tax_amount - 1"),
    "invoices.tax_rate CHECK": _set("invoices", "tax_rate = 100.01"),
    "invoices.tax_amount CHECK": _set("invoices", "tax_amount = -1, total = subtotal - 1"),
    "invoices CHECK 1": _set("invoices", "paid_date = NULL", PAID),
    "invoices CHECK 2": _set("invoices", "total = total + 0.01"),
    "invoice_line_items.invoice_id FOREIGN KEY": _set("invoice_line_items", "invoice_id = 0"),
    "invoice_line_items.line_number CHECK": _set("invoice_line_items", "line_number = 0"),
    "invoice_line_items.product_id FOREIGN KEY": _set("invoice_line_items", "product_id = 0"),
    "invoice_line_items.quantity CHECK": _set("invoice_line_items", "quantity = 0"),
    "invoice_line_items.unit_price CHECK": _set("invoice_line_items", "unit_price = -0.01"),
    "invoice_line_items.discount_percentage CHECK": _set(
        "invoice_line_items", "discount_percentage = 100.01"
    ),
    "invoice_line_items.line_total CHECK": _set("invoice_line_items", "line_total = -0.01"),
    "invoice_line_items UNIQUE (invoice_id, line_number)": _set(
        "invoice_line_items", "line_number = 2", "id = (SELECT min(id) FROM invoice_line_items "
        "WHERE line_number = 1 AND invoice_id IN "
        "(SELECT invoice_id FROM invoice_line_items WHERE line_number = 2))"
    ),
}  # fmt: skip


def test_every_constraint_has_a_violation() -> None:
    labels = constraint_labels("sqlite")
    missing = {label for label in labels if "NOT NULL" not in label} - set(VIOLATIONS)
    assert not missing
    assert set(VIOLATIONS) - labels == {
        "customer_addresses.zip_code (4 digits)",
        "inventory.reserved_quantity (negative)",
    }


@pytest.fixture(scope="module")
def sqlite_export(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ddl") / "small.sqlite"
    shardgen.export(small_store, format="sqlite", to=target)
    return target


def test_the_sqlite_export_holds_the_registrys_ddl(sqlite_export: Path) -> None:
    db = sqlite3.connect(sqlite_export)
    found = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    for table in REGISTRY.values():
        assert found[table.name] + ";\n" == ddl.create_table(table, "sqlite")
    indexes = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    assert sorted(sql for (sql,) in indexes) == sorted(ddl.create_indexes())


@pytest.mark.parametrize("label", sorted(VIOLATIONS))
def test_sqlite_rejects_a_row_that_breaks_a_constraint(sqlite_export: Path, label: str) -> None:
    db = sqlite3.connect(sqlite_export, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("BEGIN")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(VIOLATIONS[label].update())
    finally:
        db.execute("ROLLBACK")
        db.close()
