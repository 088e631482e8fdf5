"""Verify's entry points on whole stores, and the helpers its rule tests share:
copies of a store with one record (or one raw pair) changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import shardgen
from shardgen.errors import StoreError
from shardgen.schema import ENCODER
from shardgen.store import Store, identity, key, staging_path
from shardgen.verification import promoted_header, render


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


def assert_corruption_reported(
    store: Path,
    tmp_path: Path,
    table: str,
    record_id: int,
    changes: dict[str, Any],
    rule: str,
    also: str,
) -> None:
    """One record of a copy of `store` changed: verify breaks `rule` on `table`
    (or on `also`, where the rule is checked from there) and the digest moves."""
    path = corrupt(store, tmp_path, table, record_id, **changes)
    report = shardgen.verify(path)
    assert not report.ok
    assert rule in report.violations_by_rule, report.violations_by_rule
    assert any(v.rule == rule and v.table in (table, also) for v in report.violations)
    assert report.digest != shardgen.verify(store).digest


def put_raw(source: Path, tmp_path: Path, table: str, pair: tuple[bytes, bytes]) -> Path:
    """A copy of the store with one (key, value) pair of a table written as given."""
    path = tmp_path / f"raw-{table}-{pair[0].hex()}.lmdb"
    shutil.copyfile(source, path)
    with Store.reopen(path) as store, store.write() as txn:
        txn.put(*pair, db=store.dbs[table])
    return path


def value(source: Path, table: str, record_id: int, field: str) -> Any:
    with shardgen.open(source) as store:
        return getattr(store.get(table, record_id), field)


def first(source: Path, table: str, test: Callable[[Any], bool]) -> Any:
    """The first record of a table that passes `test`."""
    with shardgen.open(source) as store:
        return next(r for r in store.scan(table) if test(r))


def test_clean_store_has_no_violations(small_store: Path) -> None:
    report = shardgen.verify(small_store)
    assert report.ok and report.violation_count == 0 and report.violations == []


def test_promoted_header_names_the_plan_digest_and_file_of_a_promoted_store(
    small_store: Path, tmp_path: Path
) -> None:
    plan, promoted, file = promoted_header(small_store)
    assert file == identity(small_store) and plan.rows()["customers"] == 10
    assert promoted == shardgen.verify(small_store).digest
    assert promoted_header(small_store, file) == (plan, promoted, file)
    with pytest.raises(StoreError, match="replaced by another dataset"):
        promoted_header(small_store, (file[0], file[1] + 1))  # not the pinned file
    staging = staging_path(tmp_path / "run.lmdb")
    with Store.create(staging, shardgen.make_plan("small", as_of="2026-06-30")):
        pass
    with pytest.raises(StoreError, match="holds no promoted dataset"):
        promoted_header(staging)


def test_render_prints_the_counts_the_outcome_and_the_digest(
    small_store: Path, tmp_path: Path
) -> None:
    clean = shardgen.verify(small_store)
    lines = render(clean).splitlines()
    assert lines[0].split() == ["customer_types", f"{clean.rows['customer_types']:,}"]
    assert lines[-2].startswith("ok: every rule holds") and lines[-1] == f"digest {clean.digest}"
    broken = shardgen.verify(corrupt(small_store, tmp_path, "customers", 3, email="x@gmail.com"))
    text = render(broken)
    assert f"FAILED: {broken.violation_count} violation(s)" in text
    assert "  customers id 3: email on a reserved domain (x@gmail.com)" in text
