"""A task's reads: records that do not decode, or whose IDs are not their
keys', are reported; every pair read is digested."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import shardgen
from shardgen.store import Store, key
from shardgen.store.keys import BATCH
from shardgen.verification import reader

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


@pytest.mark.parametrize("removed", [1, BATCH + 1, 2 * BATCH + 500])
def test_a_row_missing_is_reported_the_same_whatever_is_read_from_the_pages(
    large_store: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, removed: int
) -> None:
    # Verify reads a range from the store's pages CHUNK rows at a time, and
    # from the chunk where a key is missing on, through cursors: what it
    # reports and digests does not depend on where that chunk begins.
    path = tmp_path / "gap.lmdb"
    shutil.copyfile(large_store[0], path)
    with Store.reopen(path) as store, store.write() as txn:
        assert txn.delete(key(removed), db=store.dbs["invoice_line_items"])
    reports = []
    for chunk in (BATCH, 3 * BATCH, reader.CHUNK):
        monkeypatch.setattr(reader, "CHUNK", chunk)
        reports.append(shardgen.verify(path, workers=1))
    assert not reports[0].ok
    assert any(v.table == "invoice_line_items" for v in reports[0].violations)
    for report in reports[1:]:
        assert report.violations == reports[0].violations
        assert report.rows == reports[0].rows
        assert report.digest == reports[0].digest
