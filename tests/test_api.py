"""The public API: what `import shardgen` offers, and reading a store."""

from __future__ import annotations

from pathlib import Path

import shardgen
from shardgen.schema import Customer, CustomerAddress, Invoice, InvoiceLineItem


def test_all_is_sorted_and_pinned() -> None:
    assert shardgen.__all__ == sorted(shardgen.__all__, key=lambda s: (not s.isupper(), s))
    assert set(shardgen.__all__) == {
        "VOLUMES", "AdvanceSummary", "BusinessReport", "DamagedStoreError", "LockedError",
        "NotAStoreError", "Plan", "Report",
        "RunError", "SchemaError", "ShardgenError", "Stats", "Store", "StoreError",
        "StoreFullError", "Summary", "UsageError", "Violation", "__version__", "advance",
        "changes", "export",
        "generate", "log", "make_plan", "open", "report", "reset", "stats", "verify",
    }  # fmt: skip
    for name in shardgen.__all__:
        assert hasattr(shardgen, name)


def test_errors_share_one_root() -> None:
    for name in ("UsageError", "StoreError", "NotAStoreError", "SchemaError", "StoreFullError",
                 "LockedError", "RunError"):  # fmt: skip
        assert issubclass(getattr(shardgen, name), shardgen.ShardgenError)
    assert shardgen.UsageError.exit_code == 2 and shardgen.RunError.exit_code == 1


def test_open_gives_typed_records_and_children(small_store: Path) -> None:
    with shardgen.open(small_store) as data:
        customer = data.get("customers", 1)
        assert isinstance(customer, Customer) and customer.id == 1
        assert data.get("customers", 10_000) is None
        addresses = data.children("addresses", 1)
        assert 1 <= len(addresses) <= 3
        assert all(isinstance(a, CustomerAddress) and a.customer_id == 1 for a in addresses)
        assert sum(a.is_primary for a in addresses) == 1
        every_invoice = [i for i in data.scan("invoices") if i.customer_id == 1]
        invoices = data.children("invoices", 1)
        assert invoices == every_invoice
        for invoice in invoices:
            assert isinstance(invoice, Invoice)
            lines = data.children("line_items", invoice.id)
            assert [li.line_number for li in lines] == list(range(1, len(lines) + 1))
            assert all(isinstance(li, InvoiceLineItem) for li in lines)
            assert sum(li.line_total for li in lines) == invoice.subtotal


def test_children_of_every_parent_match_a_full_scan(small_store: Path) -> None:
    with shardgen.open(small_store) as data:
        by_invoice: dict[int, list[int]] = {}
        for li in data.scan("invoice_line_items"):
            by_invoice.setdefault(li.invoice_id, []).append(li.id)
        for invoice_id, ids in by_invoice.items():
            assert [li.id for li in data.children("line_items", invoice_id)] == ids
        by_customer: dict[int, list[int]] = {}
        for a in data.scan("customer_addresses"):
            by_customer.setdefault(a.customer_id, []).append(a.id)
        for customer_id, ids in by_customer.items():
            assert [a.id for a in data.children("addresses", customer_id)] == ids
