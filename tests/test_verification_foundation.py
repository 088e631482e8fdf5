"""The foundation task's rules: customer types, product categories, and rows
outside the plan's ranges."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.schema import ENCODER
from shardgen.store import key

from .test_verification import corrupt, first, put_raw, value

CASES: list[tuple[str, str, int, Callable[[Path], dict[str, Any]], str]] = [
    ("duplicate type name", "customer_types", 2,
     lambda s: {"name": value(s, "customer_types", 1, "name")}, "name is unique"),
    ("discount over 50", "customer_types", 1, lambda _: {"discount_percentage": 51},
     "discount_percentage in 0-50"),
    ("priority 0", "customer_types", 1, lambda _: {"priority_level": 0}, "priority_level in 1-5"),
    ("type created after as_of", "customer_types", 1, lambda _: {"created_at": 2**40},
     "nothing after as_of"),
    ("duplicate sku prefix", "product_categories", 2,
     lambda s: {"sku_prefix": value(s, "product_categories", 1, "sku_prefix")},
     "name and sku_prefix are unique"),
    ("category created after as_of", "product_categories", 1, lambda _: {"created_at": 2**40},
     "nothing after as_of"),
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
    assert any(v.rule == rule and v.table == table for v in report.violations), report.violations


def test_a_required_category_renamed_is_reported(small_store: Path, tmp_path: Path) -> None:
    software = first(small_store, "product_categories", lambda c: c.name == "Software")
    path = corrupt(small_store, tmp_path, "product_categories", software.id, name="Gadgets")
    rules = shardgen.verify(path).violations_by_rule
    assert rules["category is known"] == 1 and rules["required categories present"] == 1


def test_a_row_beyond_a_small_plan_is_counted_and_digested(
    small_store: Path, tmp_path: Path
) -> None:
    clean = shardgen.verify(small_store)
    count = clean.rows["customer_types"]
    extra = msgspec.structs.replace(first(small_store, "customer_types", bool), id=count + 1)
    pair = (key(count + 1), ENCODER.encode(extra))
    report = shardgen.verify(put_raw(small_store, tmp_path, "customer_types", pair))
    assert report.rows["customer_types"] == count + 1
    assert report.violations_by_rule["id within the plan's count"] == 1
    changed = {t for t, d in report.table_digests.items() if d != clean.table_digests[t]}
    assert changed == {"customer_types"}
