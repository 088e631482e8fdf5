"""Workers: shards as pure functions of (plan, task), committed one transaction each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import shardgen
from shardgen.errors import RunError
from shardgen.plan import make_plan
from shardgen.run.shards import (
    FAULT_VARIABLE,
    Task,
    commit_shard,
    encode_shard,
    shard_failed,
    tasks_for,
)
from shardgen.schema import ShardCommitted
from shardgen.store import Store

from .conftest import AS_OF


def test_tasks_put_the_foundation_and_products_before_customers() -> None:
    plan = make_plan(customers=2_500, products=5_000, invoices=9_000, seed=1, as_of=AS_OF)
    tasks = tasks_for(plan)
    entities = [t.entity for t in tasks]
    assert entities[0] == "foundation"
    assert entities.index("customers") > max(i for i, e in enumerate(entities) if e == "products")
    assert [t.shard for t in tasks if t.entity == "customers"] == list(
        range(len(plan.customer_shards))
    )


def test_a_shard_is_a_pure_function_of_plan_and_task() -> None:
    plan = make_plan("medium", seed=5, as_of=AS_OF)
    for task in (Task("products", 0), Task("customers", 0)):
        one, two = encode_shard(plan, task), encode_shard(plan, task)
        assert one.digest == two.digest and one.tables == two.tables and one.links == two.links
    other = encode_shard(make_plan("medium", seed=6, as_of=AS_OF), Task("customers", 0))
    assert other.digest != encode_shard(plan, Task("customers", 0)).digest


def test_a_failing_shard_commits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = make_plan("small", seed=2, as_of=AS_OF)
    store = Store.create(tmp_path / "s.lmdb", plan)
    try:
        commit_shard(store, plan, Task("foundation", 0))
        monkeypatch.setenv(FAULT_VARIABLE, "products:0:fail")
        with pytest.raises(RuntimeError, match="injected fault"):
            commit_shard(store, plan, Task("products", 0))
        assert store.count("products") == 0
        assert [type(e).__name__ for _, e in store.events()] == ["ShardCommitted"]
    finally:
        store.close()


def test_failures_say_to_resume() -> None:
    error = shard_failed(Task("customers", 3), ValueError("bad"))
    assert isinstance(error, RunError)
    assert "customers shard 3 failed (ValueError: bad)" in str(error) and "--resume" in str(error)
    usage = shardgen.UsageError("as is")
    assert shard_failed(Task("products", 0), usage) is usage


def test_with_n_workers_the_coordinator_is_one_of_n_processes(tmp_path: Path) -> None:
    summary = shardgen.generate("medium", seed=3, as_of=AS_OF, out=tmp_path / "m.lmdb", workers=2)
    events = shardgen.log(tmp_path / "m.lmdb")
    pids = {e.pid for _, e in events if isinstance(e, ShardCommitted)}
    # This process and one pool process made every shard, both of them some.
    assert os.getpid() in pids and len(pids) == 2, pids
    assert summary.workers == 2
    alone = shardgen.generate("medium", seed=3, as_of=AS_OF, out=tmp_path / "one.lmdb", workers=1)
    assert alone.digest == summary.digest


def test_a_killed_pool_process_is_reported_while_the_coordinator_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "kill" leaves every shard to the pool, so the one that dies is a pool process.
    monkeypatch.setenv(FAULT_VARIABLE, "products:0:kill")
    with pytest.raises(RunError, match="worker process died"):
        shardgen.generate("medium", seed=3, as_of=AS_OF, out=tmp_path / "k.lmdb", workers=2)
    assert not (tmp_path / "k.lmdb").exists()
