"""A task's reads: records that do not decode, or whose IDs are not their
keys', are reported; every pair read is digested."""

from __future__ import annotations

from pathlib import Path

import shardgen
from shardgen.store import key

from .test_verification import corrupt, put_raw


def test_a_record_that_does_not_decode_is_reported(small_store: Path, tmp_path: Path) -> None:
    path = put_raw(small_store, tmp_path, "customers", (key(2), b"\xc1"))
    report = shardgen.verify(path)
    assert any(v.rule == "record decodes" and v.id == 2 for v in report.violations)
    assert report.rows["customers"] == shardgen.verify(small_store).rows["customers"]


def test_a_record_whose_id_is_not_its_keys_is_reported(small_store: Path, tmp_path: Path) -> None:
    report = shardgen.verify(corrupt(small_store, tmp_path, "products", 3, id=4))
    listed = [(v.table, v.id, v.detail) for v in report.violations if v.rule.startswith("ids")]
    assert listed == [("products", 4, "expected 3"), ("products", 4, "expected 5")]


def test_a_batch_whose_ends_are_not_their_keys_is_reported(
    small_store: Path, tmp_path: Path
) -> None:
    report = shardgen.verify(corrupt(small_store, tmp_path, "product_categories", 1, id=0))
    listed = [(v.id, v.detail) for v in report.violations if v.rule.startswith("ids")]
    assert listed[0] == (1, "key and id differ")
