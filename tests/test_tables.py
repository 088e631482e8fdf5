"""The table registry describes the records of schema.py, and only them."""

from __future__ import annotations

import msgspec
import pytest

from shardgen.schema import RELATIONS, TABLES
from shardgen.tables import (
    DECIMALS,
    ID,
    REGISTRY,
    Between,
    Column,
    Compare,
    Digits,
    Implies,
    Length,
    Link,
    OneOf,
    Sql,
    Sum,
    table,
)


def test_the_registry_describes_every_record_in_order() -> None:
    assert list(REGISTRY) == list(TABLES)
    for name, described in REGISTRY.items():
        assert described.name == name and described.record is TABLES[name]
        fields = msgspec.structs.fields(described.record)
        assert [c.name for c in described.columns] == [f.name for f in fields]
        assert [c.key for c in described.columns] == [f.name == "id" for f in fields]


def test_foreign_keys_point_back_to_earlier_tables() -> None:
    order = list(REGISTRY)
    for name, described in REGISTRY.items():
        for column in described.columns:
            if column.references:
                assert order.index(column.references) < order.index(name), column
                assert column.kind == "id" and column.name.endswith("_id")


def test_links_are_the_stores_relations() -> None:
    links = {name: t.link for name, t in REGISTRY.items() if t.link}
    assert links == {
        "customer_addresses": Link("addresses", 1, "customers", "customer_id"),
        "invoices": Link("invoices", 2, "customers", "customer_id"),
        "invoice_line_items": Link("line_items", 3, "invoices", "invoice_id"),
    }
    for link in links.values():
        assert RELATIONS[link.relation][:2] == (link.code, link.parent)


def test_decimals_have_their_precision_and_two_decimals() -> None:
    precisions = {
        (t, c.name): (c.precision, c.scale)
        for t, described in REGISTRY.items()
        for c in described.columns
        if c.kind in DECIMALS
    }
    assert precisions[("invoices", "total")] == (12, 2)
    assert precisions[("invoices", "tax_rate")] == (5, 2)
    assert precisions[("customer_types", "credit_multiplier")] == (4, 2)
    assert precisions[("products", "weight")] == (8, 2)
    assert precisions[("invoice_line_items", "discount_percentage")] == (5, 2)
    assert all(scale == 2 and precision > 2 for precision, scale in precisions.values())
    others = [c for t in REGISTRY.values() for c in t.columns if c.kind not in DECIMALS]
    assert all(c.precision == 0 and c.scale == 0 for c in others)


def test_checks_name_columns_of_their_table() -> None:
    for described in REGISTRY.values():
        names = {c.name for c in described.columns}
        checks = [*described.checks, *(k for c in described.columns for k in c.checks)]
        for check in checks:
            match check:
                case Implies(flag, OneOf(column)):
                    assert flag in names and column in names
                case Sum(column, parts):
                    assert {column, *parts} <= names
                case Between(column, low, high):
                    bounds = (low, high)
                    assert column in names and all(isinstance(b, int) or b in names for b in bounds)
                case Compare(column, _, other):
                    assert column in names and (isinstance(other, int) or other in names)
                case OneOf() | Length() | Digits():
                    assert check.column in names
                case Sql(text):
                    assert any(name in text for name in names)
                case _:
                    raise AssertionError(check)


def test_a_description_that_is_not_its_record_is_refused() -> None:
    with pytest.raises(AssertionError, match="not the fields of CustomerType"):
        table("customer_types", ID)
    nullable = [c._replace(nullable=True) for c in REGISTRY["customers"].columns]
    with pytest.raises(AssertionError, match="not the fields of Customer"):
        table("customers", *nullable)
    odd = [Column(c.name, "blob") for c in REGISTRY["product_categories"].columns]
    with pytest.raises(AssertionError, match="unknown kind"):
        table("product_categories", *odd)
    dangling = [c._replace(references="nowhere") for c in REGISTRY["product_categories"].columns]
    with pytest.raises(AssertionError, match="unknown kind or table"):
        table("product_categories", *dangling)
