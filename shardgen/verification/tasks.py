"""Running a verify's tasks, one per shard, on the shared task runner (or one
by one in this process), and merging their parts in task order."""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import numpy as np
from numpy.typing import NDArray

from ..errors import RunError, ShardgenError
from ..plan import GrownPlan, Plan, default_workers
from ..run.pool import Coordinator, Pool, coordinator, worker_started
from ..run.shards import Task
from ..store import Identity, Store, isolated, quiet_stderr, reading
from . import changes
from .customer_shard import verify_customers
from .foundation import verify_foundation
from .merge import Merged
from .product_shard import verify_products
from .reader import Part, ShardReader
from .report import Report


def verify_tasks(plan: Plan) -> list[Task]:
    """The tasks of a verify, in the order their parts are merged."""
    feed = changes.tasks(plan) if isinstance(plan, GrownPlan) else 0
    return [
        Task("foundation", 0),
        *(Task("changes", i) for i in range(feed)),
        *(Task("products", s.index) for s in plan.product_shards),
        *(Task("customers", s.index) for s in plan.customer_shards),
    ]


def verified_report(
    path: Path,
    plan: Plan,
    store: Store | None,
    check: Callable[[], None] | None,
    workers: int | None,
    file: Identity | None,
    promoted: str | None,
) -> Report:
    """Run a verify's tasks, one by one here (through `store` when given) or
    in `workers` processes, and merge their parts into its report."""
    started = time.perf_counter()
    if workers is None:
        workers = default_workers(plan)
    tasks = verify_tasks(plan)
    merged = Merged(plan)
    with tempfile.TemporaryDirectory(prefix="shardgen-verify-") as scratch:

        def product_days() -> str:
            """The creation days the product tasks read, in a file for the
            customer tasks: each process reads it once, instead of every
            product record."""
            days = Path(scratch) / "product-days"
            days.write_bytes(merged.product_days)
            merged.product_days = bytearray()  # the workers read the file
            return str(days)

        if workers == 1:
            source = _Source(path, plan, store, file)
            try:
                for part in _run_here(
                    source,
                    tasks,
                    check,
                    lambda: source.use_days(np.frombuffer(merged.product_days, np.int32)),
                ):
                    merged.add(part)
            finally:
                source.close()
        else:
            # Generate's coordinator is one of the workers: it reads through
            # its own handle on the store it has just written. A standalone
            # verify reads a store it does not know only in child processes.
            here = _Source(path, plan, store, file) if store is not None else None
            for part in _run_pool(path, plan, tasks, workers, check, product_days, file, here):
                merged.add(part)
    return merged.report(str(path), plan, time.perf_counter() - started, promoted)


class _Source:
    """How a process reaches the store: one handle (the one it was given,
    generate's own, or the file opened read-only on the first task), remapped
    every few tasks (`Store.shard_done`), as a generation worker's is, so only
    a few shards' pages stay mapped."""

    def __init__(
        self, path: Path, plan: Plan, store: Store | None = None, file: Identity | None = None
    ) -> None:
        self.path = path
        self.plan = plan
        self.store = store
        self.file = file  # the file every process must read
        self._opened = store is None
        self._product_days: NDArray[np.int32] | None = None
        self._days_file = ""

    def reading(self) -> Store:
        if self.store is None:
            # Opened here, so a store that cannot be opened is a task's error.
            self.store = Store.open(self.path, file=self.file)
        self.store.shard_done()
        return self.store

    def close(self) -> None:
        """Close the handle if this source opened it."""
        if self._opened and self.store is not None:
            self.store.close()
            self.store = None

    def use_days(self, days: NDArray[np.int32]) -> None:
        """Product creation days by product ID, as the product tasks read them."""
        self._product_days = days

    def use_days_file(self, path: str) -> None:
        if self._days_file != path:
            # Mapped, not read: the page cache holds one copy for every worker.
            self.use_days(np.memmap(path, np.int32, mode="r"))
            self._days_file = path

    def product_days(self) -> NDArray[np.int32]:
        """Each product's creation day (at least 1; 0 where absent), by product
        ID, as the product tasks read it (`use_days`)."""
        if self._product_days is None:
            raise AssertionError("customer shards are verified after the product shards")
        return self._product_days


def _verify_part(source: _Source, task: Task) -> Part:
    """Verify one task's key ranges: a pure function of the store and the task."""
    plan = source.plan
    days = source.product_days() if task.entity == "customers" else None
    store = source.reading()
    # An advanced store's tasks read far beyond a shard's ranges (a range of
    # the feed, the later invoices anywhere in the days' rows): their pages
    # leave this process's memory as they read (`Snapshot.reads`).
    grown = isinstance(plan, GrownPlan)
    with reading(store.path), store.snapshot(release=grown) as view:
        reader = ShardReader(view, task)
        if task.entity == "foundation":
            verify_foundation(reader, plan)
        elif task.entity == "changes":
            assert isinstance(plan, GrownPlan)
            changes.verify_changes(reader, plan, task.shard)
        elif task.entity == "products":
            verify_products(reader, plan, plan.product_shards[task.shard])
        else:
            assert days is not None
            verify_customers(reader, plan, plan.customer_shards[task.shard], days)
        part = reader.part()
    if grown:
        store.release()
    return part


def _run_here(
    source: _Source,
    tasks: list[Task],
    check: Callable[[], None] | None,
    before_customers: Callable[[], None],
) -> Iterator[Part]:
    """Run tasks one by one in this process; yield their parts."""
    waiting = True
    for task in tasks:
        if check is not None:
            check()
        if waiting and task.entity == "customers":
            before_customers()
            waiting = False
        try:
            yield _verify_part(source, task)
        except ShardgenError:
            raise
        except Exception as exc:
            raise _failed(task, exc) from exc


_source: _Source | None = None


def _init_worker(path: str, plan: Plan, watched: Coordinator, file: Identity | None) -> None:
    global _source  # noqa: PLW0603 - one source per worker process
    worker_started(watched)
    quiet_stderr()
    _source = _Source(Path(path), plan, file=file)


def _run_task(task: Task, days_file: str = "") -> Part:
    assert _source is not None, "worker not initialised"
    if days_file:
        _source.use_days_file(days_file)
    return _verify_part(_source, task)


def _probe(path: Path, plan: Plan, task: Task, days_file: str, file: Identity | None) -> None:
    """Verify one task in this process alone (`isolated`, after a worker died)."""
    source = _Source(path, plan, file=file)
    if days_file:
        source.use_days_file(days_file)
    try:
        _verify_part(source, task)
    finally:
        source.close()


def _failed(task: Task, exc: BaseException) -> RunError:
    return RunError(
        f"verify of {task.entity} shard {task.shard} failed ({type(exc).__name__}: {exc})"
    )


def _run_pool(
    path: Path,
    plan: Plan,
    tasks: list[Task],
    workers: int,
    check: Callable[[], None] | None,
    product_days: Callable[[], str],
    file: Identity | None,
    here: _Source | None = None,
) -> Iterator[Part]:
    """Run tasks in worker processes (and, with `here`, in this process as
    one of the `workers`); yield their parts in task order.

    Two phases: the foundation and product tasks, then, once their parts are
    merged, the customer tasks, with `product_days()`, the file of product
    creation days they read.
    """
    split = next((i for i, t in enumerate(tasks) if t.entity == "customers"), len(tasks))
    order = {task: index for index, task in enumerate(tasks)}
    initargs = (str(path), plan, coordinator(), file)
    days_file = ""

    def broken(running: list[Task]) -> NoReturn:
        if check is not None:
            check()  # workers stopped by the memory limit: say that, not "a worker died"
        # A damaged page crashes the process that reads it: read the shards
        # that were running again, alone, to tell damage from a killed worker.
        for task in sorted(running, key=order.__getitem__):
            isolated(path, _probe, path, plan, task, days_file, file)
        raise RunError("a verify worker process died before finishing its shard")

    def run_here(task: Task) -> Part:
        assert here is not None
        if days_file:
            here.use_days_file(days_file)
        return _verify_part(here, task)

    preload = "shardgen.verification.tasks"
    lane = run_here if here is not None else None
    with Pool[Task, Part](workers, len(tasks), preload, _init_worker, initargs, lane) as pool:
        for phase in (tasks[:split], tasks[split:]):
            if not phase:
                continue
            if phase[0].entity == "customers":
                days_file = product_days()
            run = functools.partial(_run_task, days_file=days_file)
            finished: dict[int, Part] = {}
            merged = order[phase[0]]
            for task, part in pool.run(run, phase, check or _nothing, _failed, broken):
                finished[order[task]] = part
                while merged in finished:
                    yield finished.pop(merged)
                    merged += 1


def _nothing() -> None:
    pass
