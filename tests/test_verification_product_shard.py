"""The product shard's rules: products and their inventory rows."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import shardgen
from shardgen.store import Store, key

from .test_verification import assert_corruption_reported, value

CASES: list[tuple[str, str, int, Callable[[Path], dict[str, Any]], str]] = [
    ("duplicate sku", "products", 5, lambda s: {"sku": value(s, "products", 4, "sku")},
     "sku is unique"),
    ("sku off the category prefix", "products", 6, lambda s: {"sku": "ZZZ-000006"},
     "sku starts with the category prefix"),
    ("price below cost", "products", 2,
     lambda s: {"price": value(s, "products", 2, "cost") - 1}, "price > cost > 0"),
    ("unknown category", "products", 3, lambda _: {"product_category_id": 999},
     "product_category_id → product_categories"),
    ("updated before created", "products", 7,
     lambda s: {"updated_at": value(s, "products", 7, "created_at") - 1},
     "updated_at >= created_at"),
    ("negative weight", "products", 8, lambda _: {"weight": -1}, "weight >= 0"),
    ("reserved over on hand", "inventory", 1,
     lambda s: {"reserved_quantity": value(s, "inventory", 1, "quantity_on_hand") + 1},
     "0 <= reserved_quantity <= quantity_on_hand"),
    ("received before the product existed", "inventory", 2,
     lambda _: {"last_received_date": 0},
     "last_received_date between product creation and as_of"),
    ("negative reorder point", "inventory", 3, lambda _: {"reorder_point": -1},
     "quantities >= 0"),
    ("inventory of a missing product", "inventory", 4, lambda _: {"product_id": 10_000},
     "parent in the same shard"),
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
        small_store, tmp_path, table, record_id, changes(small_store), rule, also="products"
    )


def test_a_missing_row_is_counted(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "missing.lmdb"
    shutil.copyfile(small_store, path)
    with Store.reopen(path) as store, store.write() as txn:
        txn.delete(key(1), db=store.dbs["inventory"])
    report = shardgen.verify(path)
    assert "row count matches the plan" in report.violations_by_rule
    assert "exactly one inventory row" in report.violations_by_rule
