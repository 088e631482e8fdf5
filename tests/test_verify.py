"""Verify reports injected corruptions: each one, by its rule."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.schema import ENCODER
from shardgen.store import Store, key


def corrupt(source: Path, tmp_path: Path, table: str, record_id: int, **changes: Any) -> Path:
    """A copy of the store with one record changed."""
    path = tmp_path / "corrupt.lmdb"
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
    assert report.violations_by_rule == {"links describe each parent's children": 1}
