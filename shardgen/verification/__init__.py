"""Verify: every rule checked shard by shard in worker processes, merged into one report.

The plan gives each shard contiguous ID ranges: a customer shard's customers,
addresses, invoices and line items, a product shard's products and inventory.
Each range is verified as an independent task that reads only its keys and
returns a small part of the report (rows, digests, violations, the tax rate
seen per state). The coordinator merges the parts in shard order, so the
report is the same whatever the worker count. What a customer shard needs of
other shards, each product's creation day, the product tasks read: customer
tasks start once they are merged, and each process loads the days once, as
one compact array. Invoices and line items (four rows in five) are checked a
batch at a time on numpy arrays. Memory stays flat as volume grows: a task
holds arrays the size of its shard, and each process remaps its store handle
every few tasks, so the pages it has mapped and touched stay a few shards' worth.
Findings are a report, not exceptions.

Modules: `tasks` runs the tasks (`reader` reads a task's key ranges) and
`merge` merges their parts into the `report`. The rules: `foundation`
(customer types, categories, rows outside the plan), `product_shard`,
`customer_shard` and `links`; `columns` turns a batch's fields into arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from ..errors import StoreError
from ..plan import GrownPlan, Plan, check_workers, default_workers
from ..store import Identity, Store, isolated, pinned, reading
from .merge import PROMOTED_RULE, in_task_order, store_digest
from .report import Report, Violation, render
from .tasks import verified_report

__all__ = [
    "PROMOTED_RULE",
    "Report",
    "Violation",
    "in_task_order",
    "promoted_header",
    "render",
    "store_digest",
    "verify",
    "verify_store",
]


def verify(path: str | os.PathLike[str], workers: int | None = None) -> Report:
    """Verify the store at `path` and return a report.

    `workers` processes share the shards (default: the CPU count, or 1 for a
    store too small to share out); the report is the same for any count. A
    promoted store must also digest to what its promotion recorded. Every
    process reads the same file: a store promoted over meanwhile is an error,
    never a mix of two datasets. The store is read in child processes only,
    so a damaged page that crashes its reader is the damaged-store error.

    >>> report = verify("shardgen.lmdb")  # doctest: +SKIP
    >>> report.ok, report.digest  # doctest: +SKIP
    """
    check_workers(workers)
    path = Path(path)
    with pinned(path) as pin:  # the file read, held so that its number stays its own
        plan, promoted, file = isolated(path, _header, path, pin)
        return _verify_file(path, plan, workers, file, promoted)


def _verify_file(
    path: Path, plan: Plan, workers: int | None, file: Identity, promoted: str | None
) -> Report:
    """Verify the store file `file` at `path` without mapping it here: in one
    child process, or in the pool's workers."""
    if (workers or default_workers(plan)) == 1:
        return isolated(path, verified_report, path, plan, None, None, 1, file, promoted)
    return verified_report(path, plan, None, None, workers, file, promoted)


def promoted_header(path: Path, pin: Identity | None = None) -> tuple[Plan, str, Identity]:
    """The plan of the promoted dataset at `path`, the digest recorded at its
    promotion, and which file it is (the one `pin` names, held open by the
    caller: `store.pinned`), read in a child process (`isolated`); a store
    error if the path holds a failed or interrupted run's store, or no
    longer the pinned file."""
    plan, promoted, file = isolated(path, _header, path, pin)
    if promoted is None:
        raise StoreError(
            f"{path} holds no promoted dataset (it is a failed or interrupted run's "
            "staging store): finish the run with `shardgen generate ... --resume` and use "
            "the store it promotes"
        )
    return plan, promoted, file


def _header(path: Path, pin: Identity | None) -> tuple[Plan, str | None, Identity]:
    """What verify needs before its pass: the plan, the digest recorded at
    promotion and which file the path names (the pinned one, if `pin`)."""
    with Store.open(path, file=pin) as store, reading(path):
        assert store.file is not None
        return store.scope(), store.promoted_digest(), store.file


def verify_store(
    store: Store,
    check: Callable[[], None] | None = None,
    workers: int | None = None,
    changes_checked: int = 0,
) -> Report:
    """Verify an open store (generate's staging store, as it writes it).

    `check` is called between tasks, and every few tenths of a second while
    worker processes run them; it may raise to stop the pass (generate's
    memory limit does). With one worker the tasks read through `store`; worker
    processes open the store's file read-only for themselves. The first
    `changes_checked` changes of an advanced store's feed, verified before,
    are not read (`GrownPlan.changes_checked`).
    """
    check_workers(workers)
    with reading(store.path):
        plan = store.scope()
        promoted = store.promoted_digest()
    if changes_checked and isinstance(plan, GrownPlan):
        plan = msgspec.structs.replace(plan, changes_checked=changes_checked)
    return verified_report(store.path, plan, store, check, workers, store.file, promoted)
