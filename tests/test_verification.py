"""Verify reports injected corruptions: each one, by its rule."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.errors import StoreError
from shardgen.pipeline import Summary
from shardgen.schema import ENCODER
from shardgen.store import Store, key
from shardgen.verification import PROMOTED_RULE, Report, verify_store

from .conftest import AS_OF


def corrupt(source: Path, tmp_path: Path, table: str, record_id: int, **changes: Any) -> Path:
    """A copy of the store with one record changed."""
    path = tmp_path / f"corrupt-{table}-{record_id}.lmdb"
    shutil.copyfile(source, path)
    with Store.reopen(path) as store:
        record = store.get(table, record_id)
        assert record is not None
        with store.write() as txn:
            txn.put(key(record_id), ENCODER.encode(msgspec.structs.replace(record, **changes)),
                    db=store.dbs[table])  # fmt: skip
    return path


def value(source: Path, table: str, record_id: int, field: str) -> Any:
    with shardgen.open(source) as store:
        return getattr(store.get(table, record_id), field)


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
    ("duplicate sku", "products", 5, lambda s: {"sku": value(s, "products", 4, "sku")},
     "sku is unique"),
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
    path = corrupt(small_store, tmp_path, table, record_id, **changes(small_store))
    report = shardgen.verify(path)
    assert not report.ok
    assert rule in report.violations_by_rule, report.violations_by_rule
    assert any(v.rule == rule and v.table in (table, "invoices") for v in report.violations)
    assert report.digest != shardgen.verify(small_store).digest


def first(source: Path, table: str, test: Callable[[Any], bool]) -> Any:
    """The first record of a table that passes `test`."""
    with shardgen.open(source) as store:
        return next(r for r in store.scan(table) if test(r))


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


def test_clean_store_has_no_violations(small_store: Path) -> None:
    report = shardgen.verify(small_store)
    assert report.ok and report.violation_count == 0 and report.violations == []


def test_a_missing_row_is_counted(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "missing.lmdb"
    shutil.copyfile(small_store, path)
    with Store.reopen(path) as store, store.write() as txn:
        txn.delete(key(1), db=store.dbs["inventory"])
    report = shardgen.verify(path)
    assert "row count matches the plan" in report.violations_by_rule
    assert "exactly one inventory row" in report.violations_by_rule


def test_a_wrong_link_is_reported(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "links.lmdb"
    shutil.copyfile(small_store, path)
    with Store.reopen(path) as store:
        relation, parent, first, count = next(store.links())
        with store.write() as txn:
            store.put_links(txn, [(relation, parent, first, count + 1)])
    report = shardgen.verify(path)
    # Links are not digested: the rule finds it, and the data is as promoted.
    assert report.violations_by_rule == {"links describe each parent's children": 1}


@pytest.fixture(scope="module")
def sharded_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary]:
    """Several customer and product shards, so that two workers share them."""
    path = tmp_path_factory.mktemp("sharded") / "sharded.lmdb"
    summary = shardgen.generate(
        customers=1_800, products=4_500, invoices=6_000, seed=3, as_of=AS_OF, out=path, workers=1
    )
    return path, summary


def same(a: Report, b: Report) -> None:
    """Two reports of one store agree in everything but the time taken."""
    assert msgspec.structs.replace(a, seconds=0) == msgspec.structs.replace(b, seconds=0)


def test_worker_count_does_not_change_the_report(sharded_store: tuple[Path, Summary]) -> None:
    path, summary = sharded_store
    one, two = shardgen.verify(path, workers=1), shardgen.verify(path, workers=2)
    assert one.ok, one.violations
    same(one, two)
    assert one.digest == summary.digest


def test_a_corruption_in_the_last_shard_is_found(
    sharded_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = sharded_store
    last = summary.rows["invoices"]
    total = value(path, "invoices", last, "total")
    broken = corrupt(path, tmp_path, "invoices", last, total=total + 1)
    one, two = shardgen.verify(broken, workers=1), shardgen.verify(broken, workers=2)
    same(one, two)
    promoted = shardgen.Violation(
        "store", 0, PROMOTED_RULE, f"{two.digest} != {summary.digest} (recorded)"
    )
    assert two.violations == [
        shardgen.Violation("invoices", last, "total = subtotal + tax_amount", ""),
        promoted,
    ]
    clean = shardgen.verify(path, workers=2)
    assert two.digest != clean.digest == summary.digest
    assert {t for t, d in two.table_digests.items() if d != clean.table_digests[t]} == {"invoices"}


def test_a_row_pointing_into_another_shard_is_reported(
    sharded_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = sharded_store
    last = summary.rows["customer_addresses"]
    broken = corrupt(path, tmp_path, "customer_addresses", last, customer_id=1)
    report = shardgen.verify(broken, workers=2)
    assert any(v.rule == "parent in the same shard" and v.id == last for v in report.violations), (
        report.violations
    )


def test_a_row_beyond_the_plan_is_counted(
    sharded_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path, summary = sharded_store
    extra = shutil.copyfile(path, tmp_path / "extra.lmdb")
    last = summary.rows["invoice_line_items"]
    with Store.reopen(extra) as store:
        record = store.get("invoice_line_items", last)
        with store.write() as txn:
            txn.put(key(last + 1), ENCODER.encode(msgspec.structs.replace(record, id=last + 1)),
                    db=store.dbs["invoice_line_items"])  # fmt: skip
    report = shardgen.verify(extra, workers=2)
    assert report.rows["invoice_line_items"] == last + 1
    assert {"id within the plan's count", "row count matches the plan"} <= set(
        report.violations_by_rule
    )
    assert report.digest != summary.digest


class Stop(Exception):
    pass


@pytest.mark.parametrize("workers", [1, 2])
def test_check_stops_verify(sharded_store: tuple[Path, Summary], workers: int) -> None:
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with Store.open(sharded_store[0]) as store, pytest.raises(Stop):
        verify_store(store, check, workers=workers)
    assert len(calls) == 3


def test_a_store_gone_from_under_the_workers_is_one_error(
    sharded_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path = shutil.copyfile(sharded_store[0], tmp_path / "gone.lmdb")
    with Store.open(path) as store:
        path.unlink()
        with pytest.raises(StoreError, match="no store"):
            verify_store(store, workers=2)
