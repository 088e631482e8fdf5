"""Workers: run shards in a process pool; each commits its own rows.

A worker process opens the staging store once (LMDB handles are never shared
across fork: the pool uses forkserver, whose server starts clean), generates a
shard, and writes its records, its parent→children links and its
`shard_committed` event in ONE write transaction, so the store and its log
never disagree. Writers take LMDB's lock in turn; generation runs in parallel.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, NoReturn

import psutil

from ..advance.ledger import shard_state
from ..errors import RunError, ShardgenError
from ..make.catalog import Catalog, CatalogChunk, CatalogFile, catalog_chunk, catalog_for
from ..make.customers import customer_shard, customer_types
from ..make.products import product_categories, product_cores, product_shard
from ..plan import Plan
from ..schema import Record, ShardCommitted
from ..store import Store, catalog_path, encode_links, encode_table
from .monitor import read_rollup
from .pool import Coordinator, Pool, coordinator, no_cycle_collection, worker_started


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


class Rows(NamedTuple):
    """A generated shard: its records by table, links, first and last id, and
    for a product shard its part of the catalog."""

    tables: dict[str, Sequence[Record]]
    links: list[tuple[int, int, int, int]]
    first_id: int
    last_id: int
    chunk: CatalogChunk | None = None
    #: What the shard records for advance: (database, pairs) (`advance.ledger`).
    state: tuple[tuple[str, list[tuple[bytes, bytes]]], ...] = ()


def generate_rows(plan: Plan, task: Task, catalog: Catalog | None = None) -> Rows:
    """The records of one shard. Customer shards sell from `catalog`, or from
    one built in this process when none is given."""
    if task.entity == "foundation":
        kinds = customer_types(plan)
        categories = product_categories(plan)
        return Rows(
            {"customer_types": kinds, "product_categories": categories}, [], 1, len(categories)
        )
    if task.entity == "products":
        shard = plan.product_shards[task.shard]
        cores = product_cores(plan, shard)
        products, inventory = product_shard(plan, shard, cores)
        first = shard.product_first
        tables: dict[str, Sequence[Record]] = {"products": products, "inventory": inventory}
        state = shard_state(plan, task.entity, task.shard, tables)
        return Rows(tables, [], first, first + shard.products - 1, catalog_chunk(cores), state)
    cshard = plan.customer_shards[task.shard]
    rows = customer_shard(plan, cshard, catalog or catalog_for(plan))
    tables = {
        "customers": list(rows.customers),
        "customer_addresses": list(rows.addresses),
        "invoices": list(rows.invoices),
        "invoice_line_items": list(rows.line_items),
    }
    first = cshard.customer_first
    state = shard_state(plan, task.entity, task.shard, tables)
    return Rows(tables, rows.links, first, first + cshard.customers - 1, None, state)


#: Test hook: "ENTITY:SHARD:ACTION" makes that shard fail ("fail": raise),
#: or kill its process with SIGKILL mid-transaction ("kill"); "advance:DAY:..."
#: does so to an advance's day (days since 1970-01-01). See docs/errors.md.
FAULT_VARIABLE = "SHARDGEN_FAULT"


def inject_fault(task: Task) -> None:
    spec = os.environ.get(FAULT_VARIABLE)
    if not spec:
        return
    entity, _, rest = spec.partition(":")
    shard, _, action = rest.partition(":")
    if entity != task.entity or shard != str(task.shard):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"injected fault in {task.entity} shard {task.shard}")


class EncodedShard(NamedTuple):
    """A generated shard as the bytes the store will hold; plain data, so it can travel."""

    task: Task
    tables: dict[str, list[tuple[bytes, bytes]]]  # table → (key, value) pairs in key order
    links: list[tuple[bytes, bytes]]  # `encode_links` pairs in key order
    digest: str  # of the records by table (`encode_table`), as shard_committed records
    first_id: int
    last_id: int
    seconds: float  # spent generating and encoding
    pid: int  # the process that generated it, and its memory then
    rss: int
    uss: int
    chunk: CatalogChunk | None  # a product shard's part of the catalog
    state: tuple[tuple[str, list[tuple[bytes, bytes]]], ...] = ()  # `Rows.state`


def encode_shard(plan: Plan, task: Task, catalog: Catalog | None = None) -> EncodedShard:
    """Generate a shard and encode its records: a pure function of (plan, task), no I/O."""
    started = time.perf_counter()
    with no_cycle_collection():
        return encode(task, generate_rows(plan, task, catalog), started)


_last_memory: tuple[float, int, int] = (-1.0, 0, 0)


def _memory() -> tuple[int, int]:
    """This process's (RSS, USS), read at most once a second: one read of
    smaps_rollup walks the whole mapped store and costs milliseconds."""
    global _last_memory  # noqa: PLW0603 - a per-process cache
    at, rss, uss = _last_memory
    now = time.monotonic()
    if now - at >= 1.0:
        memory = read_rollup(os.getpid())
        rss, uss = memory[:2] if memory is not None else (psutil.Process().memory_info().rss, 0)
        _last_memory = (now, rss, uss)
    return rss, uss


def encode(task: Task, rows: Rows, started: float) -> EncodedShard:
    """Encode a generated shard, and digest it, before taking the store's write lock."""
    encoded = {}
    digest = hashlib.blake2b(digest_size=16)
    for table, records in rows.tables.items():
        encoded[table], table_digest = encode_table(records)
        digest.update(table.encode())
        digest.update(table_digest)
    rss, uss = _memory()
    return EncodedShard(
        task, encoded, encode_links(rows.links), digest.hexdigest(), rows.first_id,
        rows.last_id, time.perf_counter() - started, os.getpid(), rss, uss, rows.chunk,
        rows.state,
    )  # fmt: skip


def write_shard(store: Store, shard: EncodedShard, catalog_file: CatalogFile | None = None) -> Done:
    """Write an encoded shard with its `shard_committed` event in one transaction.

    A product shard's catalog chunk goes into `catalog_file` first, so every
    committed product shard has its chunk placed. Afterwards the store handle
    may be remapped (`Store.shard_done`).
    """
    started = time.perf_counter()
    task = shard.task
    if catalog_file is not None and shard.chunk is not None:
        catalog_file.place(shard.chunk)
    with store.write() as txn:
        for table, pairs in shard.tables.items():
            store.put_encoded(txn, table, pairs)
        store.put_encoded(txn, "links", shard.links)
        for database, pairs in shard.state:
            store.put_encoded(txn, database, pairs)
        inject_fault(task)
        rows = {table: len(pairs) for table, pairs in shard.tables.items()}
        seconds = shard.seconds + time.perf_counter() - started
        store.append_event(
            txn,
            ShardCommitted(
                at=time.time(), entity=task.entity, shard=task.shard, first_id=shard.first_id,
                last_id=shard.last_id, rows=rows, digest=shard.digest,
                seconds=round(seconds, 4), pid=shard.pid, rss=shard.rss, uss=shard.uss,
            ),
        )  # fmt: skip
    # Every writer (pool worker, one-worker coordinator, Dask coordinator)
    # commits through here: its mapped store pages are released every few shards.
    store.shard_done()
    return Done(task, rows, seconds)


def commit_shard(
    store: Store,
    plan: Plan,
    task: Task,
    catalog: Catalog | None = None,
    catalog_file: CatalogFile | None = None,
) -> Done:
    """Generate a shard and commit it with its event in one transaction."""
    with no_cycle_collection():  # until the encoded shard is written and freed
        return write_shard(store, encode_shard(plan, task, catalog), catalog_file)


# -- the worker process ------------------------------------------------------


class Worker:
    """A worker's run: its store handle, the plan, the run's catalog file.
    Pool processes have one each; the coordinator has one when it works too."""

    def __init__(self, store: Store, plan: Plan, catalog_file: CatalogFile) -> None:
        self.store = store
        self.plan = plan
        self.catalog_file = catalog_file
        self.catalog: Catalog | None = None  # mapped at the first customer shard

    def run(self, task: Task) -> Done:
        """Generate and commit one shard (customer shards once the catalog is finished)."""
        if task.entity == "customers" and self.catalog is None:
            self.catalog = self.catalog_file.open()
        return commit_shard(self.store, self.plan, task, self.catalog, self.catalog_file)


_worker: Worker | None = None


def _init_worker(
    path: str,
    plan: Plan,
    fault: str | None,
    watched: Coordinator,
    catalog_path: str,
) -> None:
    global _worker  # noqa: PLW0603 - one store handle per worker process
    worker_started(watched)
    # The forkserver outlives one run, so pass the coordinator's fault hook on.
    if fault:
        os.environ[FAULT_VARIABLE] = fault
    else:
        os.environ.pop(FAULT_VARIABLE, None)
    store = Store.reopen(Path(path))  # at the map size the coordinator gave it
    _worker = Worker(store, plan, CatalogFile(Path(catalog_path), plan.products))


def _run_task(task: Task) -> Done:
    worker = _worker
    assert worker is not None, "worker not initialised"
    return worker.run(task)


def shard_failed(task: Task, exc: BaseException) -> ShardgenError:
    if isinstance(exc, ShardgenError):
        return exc
    return RunError(
        f"{task.entity} shard {task.shard} failed ({type(exc).__name__}: {exc}); committed "
        "shards are kept: rerun with --resume to continue"
    )


def run_tasks(
    store: Store,
    plan: Plan,
    tasks: list[Task],
    workers: int,
    check: Callable[[], None] = lambda: None,
) -> Iterator[Done]:
    """Run tasks; yield each as it commits. One worker runs in this process.

    Two phases: the foundation and product shards, which place their parts of
    the run's catalog file; then, once the catalog is finished, the customer
    shards, which sell from it. `check` is called every few tenths of a second
    and between shards; it stops the run by raising (the memory limit does).
    """
    catalog_file = CatalogFile(catalog_path(store.path), plan.products)
    catalog_file.create()
    try:
        # Product shards an interrupted run committed: place their chunks again.
        waiting = {t.shard for t in tasks if t.entity == "products"}
        for shard in plan.product_shards:
            check()
            if shard.index not in waiting:
                catalog_file.place(catalog_chunk(product_cores(plan, shard)))
        phases = (
            [t for t in tasks if t.entity != "customers"],
            [t for t in tasks if t.entity == "customers"],
        )
        if workers == 1 or len(tasks) <= 1:
            yield from _run_here(store, plan, phases, catalog_file, check)
        else:
            yield from _run_pool(store, plan, phases, catalog_file, workers, check)
    finally:
        catalog_file.remove()


def _run_here(
    store: Store,
    plan: Plan,
    phases: tuple[list[Task], list[Task]],
    catalog_file: CatalogFile,
    check: Callable[[], None],
) -> Iterator[Done]:
    worker = Worker(store, plan, catalog_file)
    for number, phase in enumerate(phases):
        if number and phase:
            catalog_file.finish()
        for task in phase:
            check()
            try:
                yield worker.run(task)
            except Exception as exc:
                raise shard_failed(task, exc) from exc


def _run_pool(
    store: Store,
    plan: Plan,
    phases: tuple[list[Task], list[Task]],
    catalog_file: CatalogFile,
    workers: int,
    check: Callable[[], None],
) -> Iterator[Done]:
    """The shards in a pool, the coordinator one of its `workers`.

    The test hook's "kill" is for a pool process (killing the coordinator is
    another test): with it set, the coordinator leaves every shard to the pool.
    """
    fault = os.environ.get(FAULT_VARIABLE)
    initargs = (str(store.path), plan, fault, coordinator(), str(catalog_file.path))
    size = max(len(phase) for phase in phases)
    here = None if fault and fault.endswith(":kill") else Worker(store, plan, catalog_file).run

    def broken(_running: list[Task]) -> NoReturn:
        check()  # workers stopped by the memory limit: say that, not "a worker died"
        raise RunError(
            "a worker process died before finishing its shard; committed shards "
            "are kept: rerun with --resume to continue"
        )

    preload = "shardgen.run.shards"
    with Pool[Task, Done](workers, size, preload, _init_worker, initargs, here) as pool:
        for number, phase in enumerate(phases):
            if number and phase:
                catalog_file.finish()
            for _, done in pool.run(_run_task, phase, check, shard_failed, broken):
                yield done
