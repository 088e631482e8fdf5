"""The store's LMDB side: opening what is not a store, schema versions, full
maps, scans, remapping, and key ranges read through a snapshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgspec
import pytest

import shardgen
from shardgen.pipeline import Summary
from shardgen.run.monitor import anonymous_memory, read_rollup
from shardgen.schema import DECODERS, ENCODER, SCHEMA_VERSION, TABLES, Meta
from shardgen.store import BATCH, Store, key


def test_random_bytes_are_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "random.lmdb"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(shardgen.NotAStoreError):
        Store.open(path)


def test_truncated_store_is_refused(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.lmdb"
    path.write_bytes(small_store.read_bytes()[:5000])
    with pytest.raises(shardgen.StoreError), Store.open(path) as store:
        shardgen.verify(store.path)


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(shardgen.NotAStoreError, match="directory"):
        Store.open(tmp_path)


def test_newer_schema_version_is_refused(small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "future.lmdb"
    shutil.copyfile(small_store, path)
    with Store.reopen(path) as store:
        meta = store.meta()
        newer = msgspec.structs.replace(meta, schema_version=SCHEMA_VERSION + 1)
        with store.write() as txn:
            txn.put(b"meta", ENCODER.encode(newer), db=store.dbs["meta"])
    with pytest.raises(shardgen.SchemaError, match="newer"):
        Store.open(path)
    assert isinstance(meta, Meta)


def test_a_full_map_is_a_clear_error_and_keeps_the_old_dataset(
    small_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "data.lmdb"
    shutil.copyfile(small_store, target)
    before = shardgen.verify(target).digest
    with pytest.raises(shardgen.StoreFullError, match="--map-size"):
        shardgen.generate("medium", as_of="2026-06-30", out=target, workers=1, map_size=256 * 1024)
    assert shardgen.verify(target).digest == before


def test_counts_and_scans(small_store: Path) -> None:
    with Store.open(small_store) as store:
        assert store.count("customers") == 10
        assert [c.id for c in store.scan("customers")] == list(range(1, 11))


def test_remap_releases_the_pages_read_and_keeps_the_store_usable(
    large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    path = tmp_path / "copy.lmdb"
    shutil.copyfile(large_store[0], path)

    def mapped() -> int:  # file pages this process has mapped (USS less its heap)
        figures = read_rollup(os.getpid())
        assert figures is not None
        return figures[1] - (anonymous_memory(os.getpid()) or 0)

    with Store.reopen(path) as store:
        before = mapped()
        rows = sum(1 for table in TABLES for _ in store.raw(table))
        assert rows == sum(large_store[1].rows.values())
        touched = mapped() - before
        assert touched > 2**20  # the tables' pages are now mapped here
        store.remap()
        assert mapped() - before < touched / 4
        # Still readable and writable, through the new environment.
        first = store.get("invoices", 1)
        assert first is not None
        with store.write() as txn:
            store.put_rows(txn, "invoices", [msgspec.structs.replace(first, total=0)])
        changed = store.get("invoices", 1)
        assert changed is not None and changed.total == 0


def test_a_snapshot_reads_key_ranges_a_batch_at_a_time(large_store: tuple[Path, Summary]) -> None:
    path, summary = large_store
    lines = summary.rows["invoice_line_items"]
    assert lines > BATCH + 10
    with Store.open(path) as store, store.snapshot() as view:
        # Asked for exactly the rows of the range: a first batch of those and one more.
        batches = list(view.pairs("invoice_line_items", key(3), key(13), 10))
        assert [[int.from_bytes(k, "big") for k in keys] for keys, _ in batches] == [
            list(range(3, 13))
        ]
        assert DECODERS["invoice_line_items"].decode(batches[0][1][0]) == store.get(
            "invoice_line_items", 3
        )
        sizes = [len(keys) for keys, _ in view.pairs("invoice_line_items", key(1), key(lines + 1))]
        assert sizes[0] == BATCH and sum(sizes) == lines
        assert list(view.pairs("invoice_line_items", key(5), key(5))) == []
        assert list(view.pairs("invoice_line_items", key(lines + 1), b"\xff" * 9)) == []


def test_a_snapshot_reads_the_pairs_outside_key_ranges(small_store: Path) -> None:
    with Store.open(small_store) as store, store.snapshot() as view:
        count = store.count("customers")
        outside = view.outside("customers", [(key(2), key(4)), (key(5), key(count))])
        assert [int.from_bytes(k, "big") for k, _ in outside] == [1, 4, count]
        assert list(view.outside("customers", [(key(0), key(count + 1))])) == []
        assert [k for k, _ in view.outside("customers", [(key(0), key(count))])] == [key(count)]
        everything = list(view.outside("customers", [(key(count + 1), key(count + 9))]))
        assert len(everything) == count
