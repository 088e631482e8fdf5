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
from shardgen.generate import Summary
from shardgen.schema import ENCODER
from shardgen.store import Store, key
from shardgen.verify import Report, verify_store

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
    assert two.violations == [
        shardgen.Violation("invoices", last, "total = subtotal + tax_amount", "")
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
