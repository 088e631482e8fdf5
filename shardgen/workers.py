"""Workers: run shards in a process pool; each commits its own rows.

A worker process opens the staging store once (LMDB handles are never shared
across fork: the pool uses forkserver, whose server starts clean), generates a
shard, and writes its records, its parent→children links and its
`shard_committed` event in ONE write transaction, so the store and its log
never disagree. Writers take LMDB's lock in turn; generation runs in parallel.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import NamedTuple

import psutil

from .catalog import catalog_for, product_categories, product_shard
from .entities import customer_shard, customer_types
from .errors import RunError
from .plan import Plan
from .schema import Record, ShardCommitted
from .store import Store


class Task(NamedTuple):
    entity: str  # "foundation", "products" or "customers"
    shard: int


class Done(NamedTuple):
    task: Task
    rows: dict[str, int]
    seconds: float


def tasks_for(plan: Plan) -> list[Task]:
    """Every shard of a plan; products first, so the biggest shards start early."""
    return [
        Task("foundation", 0),
        *(Task("products", s.index) for s in plan.product_shards),
        *(Task("customers", s.index) for s in plan.customer_shards),
    ]


def generate_rows(
    plan: Plan, task: Task
) -> tuple[dict[str, Sequence[Record]], list[tuple[int, int, int, int]], int, int]:
    """The records of one shard by table, its links, and its first and last id."""
    if task.entity == "foundation":
        kinds = customer_types(plan)
        categories = product_categories(plan)
        return {"customer_types": kinds, "product_categories": categories}, [], 1, len(categories)
    if task.entity == "products":
        shard = plan.product_shards[task.shard]
        products, inventory = product_shard(plan, shard)
        first = shard.product_first
        return {"products": products, "inventory": inventory}, [], first, first + shard.products - 1
    cshard = plan.customer_shards[task.shard]
    rows = customer_shard(plan, cshard, catalog_for(plan))
    tables: dict[str, Sequence[Record]] = {
        "customers": list(rows.customers),
        "customer_addresses": list(rows.addresses),
        "invoices": list(rows.invoices),
        "invoice_line_items": list(rows.line_items),
    }
    first = cshard.customer_first
    return tables, rows.links, first, first + cshard.customers - 1


def commit_shard(store: Store, plan: Plan, task: Task) -> Done:
    """Generate a shard and commit it with its event in one transaction."""
    started = time.perf_counter()
    tables, links, first, last = generate_rows(plan, task)
    shard_digest = hashlib.blake2b(digest_size=16)
    with store.write() as txn:
        for table, records in tables.items():
            shard_digest.update(table.encode())
            shard_digest.update(store.put_rows(txn, table, records))
        store.put_links(txn, links)
        memory = psutil.Process().memory_full_info()
        rows = {table: len(records) for table, records in tables.items()}
        store.append_event(
            txn,
            ShardCommitted(
                at=time.time(), entity=task.entity, shard=task.shard, first_id=first,
                last_id=last, rows=rows, digest=shard_digest.hexdigest(),
                seconds=round(time.perf_counter() - started, 4), pid=os.getpid(),
                rss=memory.rss, uss=memory.uss,
            ),
        )  # fmt: skip
    return Done(task, rows, time.perf_counter() - started)


# -- the worker process ------------------------------------------------------

_worker: tuple[Store, Plan] | None = None


def _init_worker(path: str, plan: Plan, map_size: int) -> None:
    global _worker  # noqa: PLW0603 - one store handle per worker process
    _worker = (Store.reopen(Path(path), map_size=map_size), plan)


def _run_task(task: Task) -> Done:
    assert _worker is not None, "worker not initialised"
    store, plan = _worker
    return commit_shard(store, plan, task)


def run_tasks(
    store: Store,
    plan: Plan,
    tasks: list[Task],
    workers: int,
    map_size: int,
) -> Iterator[Done]:
    """Run tasks; yield each as it commits. One worker runs in this process."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield commit_shard(store, plan, task)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["shardgen.workers"])
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(store.path), plan, map_size),
    )
    pending: set[Future[Done]] = set()
    queue = list(reversed(tasks))
    # Keep a few tasks queued per worker: enough to never idle, few enough
    # that a failure stops the run quickly.
    window = 2 * workers
    try:
        while queue or pending:
            while queue and len(pending) < window:
                pending.add(pool.submit(_run_task, queue.pop()))
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    except BrokenProcessPool:
        raise RunError(
            "a worker process died before finishing its shard; committed shards are kept: "
            "rerun with --resume to continue"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


ProgressFn = Callable[[int, int], None]
