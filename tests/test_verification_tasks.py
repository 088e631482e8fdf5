"""Running verify's tasks: any worker count gives the same report, across
several shards; a check can stop the pass; a store gone is one error."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

import shardgen
from shardgen.errors import StoreError
from shardgen.pipeline import Summary
from shardgen.schema import ENCODER
from shardgen.store import Store, key
from shardgen.verification import PROMOTED_RULE, Report, verify_store
from shardgen.verification.tasks import verify_tasks

from .conftest import AS_OF
from .test_verification import corrupt, value


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


def test_tasks_run_foundation_then_product_then_customer_shards() -> None:
    plan = shardgen.make_plan(customers=1_800, products=4_500, invoices=6_000, as_of=AS_OF)
    entities = [task.entity for task in verify_tasks(plan)]
    assert entities == [
        "foundation",
        *["products"] * len(plan.product_shards),
        *["customers"] * len(plan.customer_shards),
    ]
    assert len(plan.product_shards) > 1 and len(plan.customer_shards) > 1
