"""The customer shard's rules: each injected corruption of a customer, address,
invoice or line item is reported by its rule, with one worker or two."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import shardgen

from .test_verification import assert_corruption_reported, corrupt, first, value

CASES: list[tuple[str, str, int, Callable[[Path], dict[str, Any]], str]] = [
    ("dangling foreign key", "invoice_line_items", 1, lambda _: {"product_id": 10_000},
     "product_id → products"),
    ("wrong invoice total", "invoices", 3,
     lambda s: {"total": value(s, "invoices", 3, "total") + 1},
     "total = subtotal + tax_amount"),
    ("duplicate email", "customers", 2, lambda s: {"email": value(s, "customers", 1, "email")},
     "email is unique"),
    ("date after as_of", "invoices", 5,
     lambda s: {"invoice_date": shardgen.make_plan("small", as_of="2026-06-30").as_of_day + 1},
     "nothing after as_of"),
    ("wrong line total", "invoice_line_items", 2,
     lambda s: {"line_total": value(s, "invoice_line_items", 2, "line_total") + 100},
     "line_total = round(qty × price × (100 − disc) / 100)"),
    ("non-reserved email domain", "customers", 3, lambda _: {"email": "someone@gmail.com"},
     "email on a reserved domain"),
    ("paid without a paid date", "invoices", 7, lambda _: {"status": "paid", "paid_date": None},
     "paid ⇔ paid_date is set"),
    ("fake ZIP", "customer_addresses", 1, lambda _: {"zip_code": "00000"},
     "(city, state, zip) is a real street-address ZIP"),
    ("duplicate invoice number", "invoices", 4,
     lambda s: {"invoice_number": value(s, "invoices", 3, "invoice_number")},
     "invoice_number is unique"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "record_id", "changes", "rule"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verify_reports_each_corruption(
    small_store: Path,
    tmp_path: Path,
    table: str,
    record_id: int,
    changes: Callable[[Path], dict[str, Any]],
    rule: str,
) -> None:
    assert_corruption_reported(
        small_store, tmp_path, table, record_id, changes(small_store), rule, also="invoices"
    )


def _other_customers_address(s: Path) -> tuple[str, int, dict[str, Any]]:
    invoice = first(s, "invoices", lambda i: True)
    address = first(s, "customer_addresses", lambda a: a.customer_id != invoice.customer_id)
    return "invoices", invoice.id, {"billing_address_id": address.id}


def _product_after_invoice(s: Path) -> tuple[str, int, dict[str, Any]]:
    line = first(s, "invoice_line_items", lambda li: True)
    with shardgen.open(s) as store:
        product = store.get("products", line.product_id)
    assert product is not None
    return "invoices", line.invoice_id, {"invoice_date": product.created_at // 86_400 - 1}


def _unpaid_over_limit(s: Path) -> tuple[str, int, dict[str, Any]]:
    invoice = first(s, "invoices", lambda i: i.paid_date is None)
    return "customers", invoice.customer_id, {"credit_limit": invoice.total - 1}


def _line_moved(s: Path) -> tuple[str, int, dict[str, Any]]:
    line = first(s, "invoice_line_items", lambda li: li.line_number == 1)
    return "invoice_line_items", line.id, {"invoice_id": line.invoice_id + 1}


def _row(table: str, test: Callable[[Any], bool], change: Callable[[Any], dict[str, Any]]) -> Any:
    def choose(s: Path) -> tuple[str, int, dict[str, Any]]:
        record = first(s, table, test)
        return table, record.id, change(record)

    return choose


CHOSEN: list[tuple[str, Callable[[Path], tuple[str, int, dict[str, Any]]], str]] = [
    ("zero quantity", _row("invoice_line_items", lambda li: True, lambda li: {"quantity": 0}),
     "quantity >= 1"),
    ("discount not the customer type's",
     _row("invoice_line_items", lambda li: True, lambda li: {"discount_percentage": 77}),
     "discount is the customer type's"),
    ("discount over 100",
     _row("invoice_line_items", lambda li: True, lambda li: {"discount_percentage": 101}),
     "discount_percentage in 0-100"),
    ("repeated line number",
     _row("invoice_line_items", lambda li: li.line_number == 2, lambda li: {"line_number": 1}),
     "(invoice_id, line_number) is unique and 1..n"),
    ("line number out of range",
     _row("invoice_line_items", lambda li: True, lambda li: {"line_number": 9}),
     "(invoice_id, line_number) is unique and 1..n"),
    ("line item moved to another invoice", _line_moved, "1-4 line items numbered 1..n"),
    ("huge line total",
     _row("invoice_line_items", lambda li: True, lambda li: {"line_total": 2**50}),
     "integers within ±2**40"),
    ("huge unit price",
     _row("invoice_line_items", lambda li: True, lambda li: {"unit_price": 2**62}),
     "line_total = round(qty × price × (100 − disc) / 100)"),
    ("product created after the invoice date", _product_after_invoice,
     "product created on or before the invoice date"),
    ("billing address of another customer", _other_customers_address,
     "billing address belongs to the invoice's customer"),
    ("unpaid invoices over the credit limit", _unpaid_over_limit,
     "unpaid invoices total <= credit_limit"),
    ("pending invoice marked overdue",
     _row("invoices", lambda i: i.status == "pending", lambda i: {"status": "overdue"}),
     "overdue ⇔ unpaid and due_date < as_of"),
    ("paid before the invoice date",
     _row("invoices", lambda i: i.status == "paid",
          lambda i: {"paid_date": i.invoice_date - 1}),
     "invoice_date <= paid_date <= as_of"),
    ("unknown invoice status",
     _row("invoices", lambda i: True, lambda i: {"status": "lost", "paid_date": None}),
     "status is pending, paid or overdue"),
    ("tax rate not the state's",
     _row("invoices", lambda i: True, lambda i: {"tax_rate": i.tax_rate + 1}),
     "tax rate is the billing state's"),
    ("due date off the terms",
     _row("invoices", lambda i: True, lambda i: {"due_date": i.due_date + 1}),
     "due_date = invoice_date + payment terms"),
    ("wrong payment terms",
     _row("invoices", lambda i: True, lambda i: {"payment_terms": "Net 1"}),
     "due_date = invoice_date + payment terms"),
    ("subtotal not the sum of its lines",
     _row("invoices", lambda i: True,
          lambda i: {"subtotal": i.subtotal + 1, "total": i.total + 1}),
     "subtotal = Σ line_total"),
    ("wrong tax amount",
     _row("invoices", lambda i: True,
          lambda i: {"tax_amount": i.tax_amount + 1, "total": i.total + 1}),
     "tax_amount = round(subtotal × tax_rate / 100)"),
    ("invoice of a customer outside the shard",
     _row("invoices", lambda i: True, lambda i: {"customer_id": 10_000}),
     "parent in the same shard"),
    ("invoice of a missing billing address",
     _row("invoices", lambda i: True, lambda i: {"billing_address_id": 10_000}),
     "parent in the same shard"),
]  # fmt: skip


@pytest.mark.parametrize(("choose", "rule"), [c[1:] for c in CHOSEN], ids=[c[0] for c in CHOSEN])
def test_verify_reports_each_corruption_of_a_chosen_row(
    small_store: Path,
    tmp_path: Path,
    choose: Callable[[Path], tuple[str, int, dict[str, Any]]],
    rule: str,
) -> None:
    table, record_id, changes = choose(small_store)
    path = corrupt(small_store, tmp_path, table, record_id, **changes)
    for workers in (1, 2):
        report = shardgen.verify(path, workers=workers)
        assert not report.ok
        assert rule in report.violations_by_rule, report.violations_by_rule
        assert any(v.rule == rule for v in report.violations)
