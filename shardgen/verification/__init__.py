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
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import re
import tempfile
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, islice, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, cast

import lmdb
import msgspec
import numpy as np
from numpy.typing import NDArray

from ..errors import RunError, ShardgenError, StoreError, damaged
from ..make.catalog_vocabulary import CATEGORIES
from ..make.vocabulary import STATE_TAX_BP, city_of
from ..plan import CustomerShard, Plan, ProductShard, check_workers, default_workers
from ..run.pool import Coordinator, Pool, coordinator, worker_started
from ..run.shards import Task
from ..schema import (
    ADDRESSES,
    BATCH_DECODERS,
    DECODERS,
    INVOICES,
    LINE_ITEMS,
    TABLES,
    array_header,
)
from ..store import (
    LINK,
    LINK_ARRAY,
    LINK_KEY,
    LINK_KEY_ARRAY,
    Identity,
    Store,
    isolated,
    key,
    quiet_stderr,
    reading,
)

DAY = 86_400
CREDIT_LIMIT_MAX = 100_000 * 100
EMAIL = re.compile(r"^[a-z0-9._+-]+@example\.(com|net|org)$")
ZIP = re.compile(r"^\d{5}$")
CUSTOMER_STATUSES = frozenset(("active", "inactive", "suspended"))
#: How many violations of each rule are listed; all are counted.
LISTED_PER_RULE = 20
#: Rows read and decoded at a time.
BATCH = 4096
LINKS_RULE = "links describe each parent's children"
PROMOTED_RULE = "the data digests as it did when it was promoted"
#: Customer type IDs verify keeps per-type arrays for; others are unknown types.
TYPE_IDS = 128
#: Checks run in 64-bit integers on values within ±WIDE; a record holding a
#: larger one is reported, and the value clipped.
WIDE = 2**40
#: An absent value (None) in an integer column.
NULL = -(2**62)
PENDING, PAID, OVERDUE, UNKNOWN = range(4)
INVOICE_STATUS_CODES = {"pending": PENDING, "paid": PAID, "overdue": OVERDUE}

Ints = NDArray[np.int64]


class Violation(msgspec.Struct, frozen=True):
    table: str
    id: int
    rule: str
    detail: str


class Report(msgspec.Struct):
    """The outcome of verify: data, not exceptions."""

    path: str
    ok: bool
    digest: str
    rows: dict[str, int]
    expected_rows: dict[str, int]
    violation_count: int
    violations_by_rule: dict[str, int]
    violations: list[Violation]
    table_digests: dict[str, str]
    seconds: float
    #: The digest recorded when the dataset was promoted (None in a staging
    #: store): `digest` must equal it, or the store changed since.
    promoted_digest: str | None = None


class _Findings:
    """Violations counted per rule, the first few of each listed."""

    def __init__(self) -> None:
        self.by_rule: Counter[str] = Counter()
        self.shown: Counter[str] = Counter()
        self.listed: list[Violation] = []

    def add(self, table: str, row_id: int, rule: str, detail: str = "") -> None:
        self.by_rule[rule] += 1
        if self.shown[rule] < LISTED_PER_RULE:
            self.shown[rule] += 1
            self.listed.append(Violation(table, row_id, rule, detail))

    def add_where(
        self,
        table: str,
        ids: Ints,
        rows: NDArray[np.bool_],
        rule: str,
        detail: Callable[[int], str] | None = None,
    ) -> None:
        """Add a violation for each row of a batch where `rows` is true;
        `detail(row)` describes the listed ones."""
        where = np.flatnonzero(rows)
        if not len(where):
            return
        self.by_rule[rule] += len(where)
        room = LISTED_PER_RULE - self.shown[rule]
        for row in where[: max(room, 0)].tolist():
            self.shown[rule] += 1
            text = detail(row) if detail is not None else ""
            self.listed.append(Violation(table, int(ids[row]), rule, text))

    def merge(self, other: _Findings) -> None:
        """Append another part's findings after these."""
        self.by_rule.update(other.by_rule)
        for violation in other.listed:
            if self.shown[violation.rule] < LISTED_PER_RULE:
                self.shown[violation.rule] += 1
                self.listed.append(violation)


class Part(NamedTuple):
    """What one task found: small, and merged by the coordinator in task order."""

    task: Task
    rows: dict[str, int]
    digests: dict[str, list[bytes]]  # table → digests of the key ranges read, in order
    found: _Findings
    state_rate: dict[str, tuple[int, int]]  # state → (tax rate, first invoice id seen)
    days: bytes  # a product task's: its products' creation days (int32 by ID from its first)


class _Spans:
    """First and last child ID per parent of a shard, and how many children it has.

    Parents are indexed from 0 within the shard. A parent's children have
    consecutive IDs exactly when last - first + 1 equals the count.
    """

    def __init__(self, parents: int) -> None:
        self.first = np.full(parents, np.iinfo(np.int64).max, np.int64)
        self.last = np.full(parents, np.iinfo(np.int64).min, np.int64)
        self.count = np.zeros(parents, np.int64)

    @property
    def parents(self) -> int:
        """How many parents have children."""
        return int(np.count_nonzero(self.count))

    def see(self, parents: Ints, children: Ints) -> None:
        """Children (IDs) of parents (positions in the shard), any order."""
        np.add.at(self.count, parents, 1)
        np.minimum.at(self.first, parents, children)
        np.maximum.at(self.last, parents, children)

    def matches(self, parents: Ints, first: Ints, count: Ints) -> NDArray[np.bool_]:
        """Per link: does (first child, count) describe the children seen?"""
        inside = (parents >= 0) & (parents < len(self.count))
        at = np.where(inside, parents, 0)
        matching: NDArray[np.bool_] = (
            inside
            & (self.count[at] > 0)
            & (self.first[at] == first)
            & (self.count[at] == count)
            & (self.last[at] - first + 1 == count)
        )
        return matching


def verify_tasks(plan: Plan) -> list[Task]:
    """The tasks of a verify, in the order their parts are merged."""
    return [
        Task("foundation", 0),
        *(Task("products", s.index) for s in plan.product_shards),
        *(Task("customers", s.index) for s in plan.customer_shards),
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
    plan, promoted, file = isolated(path, _header, path)
    return _verify_file(path, plan, workers, file, promoted)


def _verify_file(
    path: Path, plan: Plan, workers: int | None, file: Identity, promoted: str | None
) -> Report:
    """Verify the store file `file` at `path` without mapping it here: in one
    child process, or in the pool's workers."""
    if (workers or default_workers(plan)) == 1:
        return isolated(path, _verify, path, plan, None, None, 1, file, promoted)
    return _verify(path, plan, None, None, workers, file, promoted)


def _header(path: Path) -> tuple[Plan, str | None, Identity]:
    """What verify needs before its pass: the plan, the digest recorded at
    promotion and which file the path names."""
    with Store.open(path) as store, reading(path):
        assert store.file is not None
        return store.plan(), store.promoted_digest(), store.file


def verify_store(
    store: Store, check: Callable[[], None] | None = None, workers: int | None = None
) -> Report:
    """Verify an open store (generate's staging store, as it writes it).

    `check` is called between tasks, and every few tenths of a second while
    worker processes run them; it may raise to stop the pass (generate's
    memory limit does). With one worker the tasks read through `store`; worker
    processes open the store's file read-only for themselves.
    """
    check_workers(workers)
    with reading(store.path):
        plan = store.plan()
        promoted = store.promoted_digest()
    return _verify(store.path, plan, store, check, workers, store.file, promoted)


def check_promoted(path: Path, workers: int | None = None) -> Identity:
    """Verify the store at `path` as a dataset to read from, and return which
    file it is (open it with `Store.open(path, file=...)` to read that one).

    It must be promoted, every rule must hold and its digest must be the one
    recorded at promotion; else the damaged-store error (or, for an unfinished
    run, a store error)."""
    check_workers(workers)
    plan, promoted, file = isolated(path, _header, path)
    if promoted is None:
        raise StoreError(
            f"{path} holds no promoted dataset (it is a failed or interrupted run's "
            "staging store): finish the run with `shardgen generate ... --resume` and use "
            "the store it promotes"
        )
    report = _verify_file(path, plan, workers, file, promoted)
    if not report.ok:
        first = report.violations[0]
        raise damaged(
            path,
            f"verify found {report.violation_count:,} violation(s), first {first.table} "
            f"{first.id}: {first.rule} {first.detail}".strip(),
        )
    return file


def _verify(
    path: Path,
    plan: Plan,
    store: Store | None,
    check: Callable[[], None] | None,
    workers: int | None,
    file: Identity | None,
    promoted: str | None,
) -> Report:
    started = time.perf_counter()
    if workers is None:
        workers = default_workers(plan)
    tasks = verify_tasks(plan)
    merged = _Merged(plan)
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
            for part in _run_pool(path, plan, tasks, workers, check, product_days, file):
                merged.add(part)
    return merged.report(str(path), plan, time.perf_counter() - started, promoted)


def render(report: Report) -> str:
    """A report as `shardgen verify` prints it: rows per table, the outcome,
    the violations by rule and the first few, the digest."""
    lines = []
    width = max(len(t) for t in report.expected_rows)
    for table, expected in report.expected_rows.items():
        got = report.rows.get(table, 0)
        mark = "" if got == expected else f"   (expected {expected:,})"
        lines.append(f"  {table:<{width}}  {got:>12,}{mark}")
    if report.ok:
        lines.append(f"ok: every rule holds ({report.seconds:.2f} s)")
    else:
        lines.append(f"FAILED: {report.violation_count} violation(s)")
        for rule, count in sorted(report.violations_by_rule.items()):
            lines.append(f"  {count:>8,}  {rule}")
        lines.append("first violations:")
        for v in report.violations[:50]:
            detail = f" ({v.detail})" if v.detail else ""
            lines.append(f"  {v.table} id {v.id}: {v.rule}{detail}")
    lines.append(f"digest {report.digest}")
    return "\n".join(lines)


# -- running the tasks -----------------------------------------------------------


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


def _pairs(
    txn: lmdb.Transaction, db: lmdb._Database, low: bytes, high: bytes, expected: int
) -> Iterator[tuple[list[bytes], list[bytes]]]:
    """Keys and values with low <= key < high, in key order, a batch at a time.

    The first batch asks for the `expected` rows and one more, to see where
    the range ends without reading far into the next one. Keys and values
    come from two cursors, as lists of bytes: no tuple per row for the
    garbage collector to track.
    """
    if low >= high:
        return
    with txn.cursor(db=db) as at_key, txn.cursor(db=db) as at_value:
        if not at_key.set_range(low):
            return
        at_value.set_range(low)
        # Transactions copy out bytes (lmdb's buffers=False, the default).
        keys_read = cast("Iterator[bytes]", at_key.iternext(keys=True, values=False))
        values_read = cast("Iterator[bytes]", at_value.iternext(keys=False, values=True))
        size = min(BATCH, expected + 1) if expected > 0 else BATCH
        while keys := list(islice(keys_read, size)):
            values = list(islice(values_read, len(keys)))
            if keys[-1] >= high:
                end = bisect_left(keys, high)
                if end:
                    yield keys[:end], values[:end]
                return
            yield keys, values
            expected -= len(keys)
            size = min(BATCH, expected + 1) if expected > 0 else BATCH


def _verify_part(source: _Source, task: Task) -> Part:
    """Verify one task's key ranges: a pure function of the store and the task."""
    plan = source.plan
    days = source.product_days() if task.entity == "customers" else None
    store = source.reading()
    with reading(store.path), store.env.begin() as txn:
        reader = _Reader(store, txn, task)
        if task.entity == "foundation":
            _verify_foundation(reader, plan)
        elif task.entity == "products":
            _verify_products(reader, plan, plan.product_shards[task.shard])
        else:
            assert days is not None
            _verify_customers(reader, plan, plan.customer_shards[task.shard], days)
        return reader.part()


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
) -> Iterator[Part]:
    """Run tasks in worker processes; yield their parts in task order.

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

    with Pool[Task, Part](
        workers, len(tasks), "shardgen.verification", _init_worker, initargs
    ) as pool:
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


# -- merging ---------------------------------------------------------------------


class _Merged:
    """The parts merged in task order, then the checks that span shards."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.found = _Findings()
        self.rows: Counter[str] = Counter()
        self.digests: dict[str, list[bytes]] = {table: [] for table in TABLES}
        self.state_rate: dict[str, int] = {}
        #: Each product's creation day (at least 1; 0 where absent), int32 by product ID.
        self.product_days = bytearray(4 * (plan.products + 1))

    def add(self, part: Part) -> None:
        if part.days:
            first = 4 * self.plan.product_shards[part.task.shard].product_first
            self.product_days[first : first + len(part.days)] = part.days
        self.found.merge(part.found)
        self.rows.update(part.rows)
        for table, digests in part.digests.items():
            self.digests[table].extend(digests)
        for state, (rate, invoice_id) in part.state_rate.items():
            if self.state_rate.setdefault(state, rate) != rate:
                self.found.add("invoices", invoice_id, "one tax rate per state", state)

    def report(self, path: str, plan: Plan, seconds: float, promoted: str | None) -> Report:
        expected_rows = plan.rows()
        rows = {table: self.rows[table] for table in TABLES}
        for table, count in expected_rows.items():
            if rows[table] != count:
                self.found.add(table, 0, "row count matches the plan", f"{rows[table]} != {count}")
        # A table's digest covers its key ranges in plan order; the overall
        # digest covers the tables in schema order.
        table_digests = {
            table: hashlib.blake2b(b"".join(self.digests[table]), digest_size=16).hexdigest()
            for table in TABLES
        }
        overall = hashlib.blake2b(digest_size=16)
        for table in TABLES:
            overall.update(table.encode())
            overall.update(bytes.fromhex(table_digests[table]))
        if promoted is not None and overall.hexdigest() != promoted:
            self.found.add(
                "store", 0, PROMOTED_RULE, f"{overall.hexdigest()} != {promoted} (recorded)"
            )
        total = sum(self.found.by_rule.values())
        return Report(
            path=path,
            ok=total == 0,
            digest=overall.hexdigest(),
            rows=rows,
            expected_rows=expected_rows,
            violation_count=total,
            violations_by_rule=dict(self.found.by_rule),
            violations=self.found.listed,
            table_digests=table_digests,
            seconds=round(seconds, 3),
            promoted_digest=promoted,
        )


# -- reading key ranges -------------------------------------------------------------


class _Reader:
    """One task's reads: key ranges of tables, each digested and its IDs checked."""

    def __init__(self, store: Store, txn: lmdb.Transaction, task: Task) -> None:
        self.store = store
        self.txn = txn
        self.task = task
        self.found = _Findings()
        self.rows: Counter[str] = Counter()
        self.digests: dict[str, list[bytes]] = {}
        self.state_rate: dict[str, tuple[int, int]] = {}
        self.days = b""

    def part(self) -> Part:
        return Part(
            self.task, dict(self.rows), self.digests, self.found, self.state_rate, self.days
        )

    def pairs(
        self, db: str, low: bytes, high: bytes, expected: int = 0
    ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """Keys and values with low <= key < high, in key order, a batch at a time."""
        return _pairs(self.txn, self.store.dbs[db], low, high, expected)

    def scan(self, table: str, first: int, count: int) -> Iterator[Any]:
        """Records with IDs first .. first + count - 1, by key, one at a time."""
        for batch, _ in self.batches(table, first, count):
            yield from batch

    def batches(self, table: str, first: int, count: int) -> Iterator[tuple[list[Any], Ints]]:
        """Records with IDs first .. first + count - 1, by key, decoded a batch
        at a time, with their IDs as an array.

        Every pair read is digested; a record must carry its key's ID.
        """
        add = self.found.add
        digest = hashlib.blake2b(digest_size=16)
        decode_batch = BATCH_DECODERS[table].decode
        decode_one = DECODERS[table].decode
        rows = 0
        expected_id = first
        for keys, values in self.pairs(table, key(first), key(first + count), count):
            rows += len(keys)
            # A batch's digest input: its keys, then its values as one msgpack
            # array (what the batch decoder reads).
            encoded = array_header(len(values)) + b"".join(values)
            digest.update(b"".join(keys))
            digest.update(encoded)
            try:
                records = decode_batch(encoded)
            except msgspec.DecodeError:
                records = []
                for k, v in zip(keys, values, strict=True):
                    try:
                        records.append(decode_one(v))
                    except msgspec.DecodeError as exc:
                        add(table, int.from_bytes(k, "big"), "record decodes", str(exc))
            else:
                # Keys are sorted and unique: when the first and last keys equal the
                # first and last ids and the ids run consecutively, every key
                # equals its record's id.
                low, high = int.from_bytes(keys[0], "big"), int.from_bytes(keys[-1], "big")
                if low != records[0].id or high != records[-1].id:
                    add(table, low, "ids are 1..n in key order", "key and id differ")
            if not records:
                continue
            ids = _ints(self.found, table, records, "id", None)
            run = expected_id + np.arange(len(ids), dtype=np.int64)
            if not np.array_equal(ids, run):
                for record in records:
                    if record.id != expected_id:
                        add(
                            table, record.id, "ids are 1..n in key order", f"expected {expected_id}"
                        )
                        expected_id = record.id
                    expected_id += 1
            else:
                expected_id += len(ids)
            yield records, ids
        self.rows[table] += rows
        self.digests.setdefault(table, []).append(digest.digest())

    def outside(self, db: str, covered: list[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key lies in none of the sorted, half-open [low, high) ranges."""
        with self.txn.cursor(db=self.store.dbs[db]) as cursor:
            if not cursor.first():
                return
            for low, high in covered:
                while bytes(cursor.key()) < low:
                    yield bytes(cursor.key()), bytes(cursor.value())
                    if not cursor.next():
                        return
                if not cursor.set_range(high):
                    return
            while True:
                yield bytes(cursor.key()), bytes(cursor.value())
                if not cursor.next():
                    return

    def orphan(
        self, table: str, row_id: int, rule: str, parent_id: int, first: int, parents: int
    ) -> None:
        """Report a row whose parent is not among its shard's: a foreign key
        violation, or a parent of another shard (never so by construction)."""
        if first <= parent_id < first + parents:
            self.found.add(table, row_id, rule, str(parent_id))
        else:
            self.found.add(table, row_id, "parent in the same shard", f"{rule}: {parent_id}")

    def parented(
        self,
        table: str,
        ids: Ints,
        parent_ids: Ints,
        first: int,
        present: NDArray[Any],
        rule: str,
        among: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """Which rows (of `among`, default all) have their parent in the shard:
        `present[parent_id - first]` is non-zero. The others are `orphan`s."""
        at = parent_ids - first
        found = (at >= 0) & (at < len(present))
        if among is not None:
            found &= among
        found[found] = present[at[found]] != 0
        lost = ~found if among is None else among & ~found
        for row in np.flatnonzero(lost).tolist():
            self.orphan(table, int(ids[row]), rule, int(parent_ids[row]), first, len(present))
        return found


# -- the checks ----------------------------------------------------------------------


def _verify_foundation(reader: _Reader, plan: Plan) -> None:
    """Customer types, product categories, and every key outside the plan's ranges."""
    add = reader.found.add
    as_of_end = (plan.as_of_day + 1) * DAY  # timestamps must fall before the next day
    counts = plan.rows()

    names: set[str] = set()
    for t in reader.scan("customer_types", 1, counts["customer_types"]):
        if t.name in names:
            add("customer_types", t.id, "name is unique", t.name)
        names.add(t.name)
        if not 0 <= t.discount_percentage <= 50:
            add("customer_types", t.id, "discount_percentage in 0-50")
        if not 1 <= t.priority_level <= 5:
            add("customer_types", t.id, "priority_level in 1-5")
        if t.created_at >= as_of_end:
            add("customer_types", t.id, "nothing after as_of")

    known = {c.name for c in CATEGORIES}
    names = set()
    prefixes: set[str] = set()
    for c in reader.scan("product_categories", 1, counts["product_categories"]):
        if c.name in names or c.sku_prefix in prefixes:
            add("product_categories", c.id, "name and sku_prefix are unique")
        names.add(c.name)
        prefixes.add(c.sku_prefix)
        if c.name not in known:
            add("product_categories", c.id, "category is known", c.name)
        if c.created_at >= as_of_end:
            add("product_categories", c.id, "nothing after as_of")
    for required in ("Electronics", "Office Supplies", "Software"):
        if required not in names:
            add("product_categories", 0, "required categories present", required)

    # Rows whose keys fall in no shard's range: counted, digested, reported.
    for table in TABLES:
        digest = hashlib.blake2b(digest_size=16)
        for k, v in reader.outside(table, [(key(1), key(counts[table] + 1))]):
            digest.update(k)
            digest.update(v)
            reader.rows[table] += 1
            add(table, int.from_bytes(k, "big"), "id within the plan's count")
        reader.digests.setdefault(table, []).append(digest.digest())
    customers, invoices = counts["customers"], counts["invoices"]
    covered = [
        (bytes((relation,)) + key(1), bytes((relation,)) + key(parents + 1))
        for relation, parents in (
            (ADDRESSES, customers),
            (INVOICES, customers),
            (LINE_ITEMS, invoices),
        )
    ]
    for k, _ in reader.outside("links", covered):
        add("links", int.from_bytes(k[1:], "big"), LINKS_RULE, f"relation {k[0]}")


def _category_rules(reader: _Reader) -> dict[int, tuple[int, int, str]]:
    """Category id → (minimum markup, maximum markup, SKU prefix), as stored."""
    margin_of = {c.name: (c.markup_min, c.markup_max) for c in CATEGORIES}
    decode = DECODERS["product_categories"].decode
    rules = {}
    for _, values in reader.pairs("product_categories", b"", b"\xff" * 9):
        for value in values:
            with contextlib.suppress(msgspec.DecodeError):
                c = decode(value)
                low, high = margin_of.get(c.name, (0, 10**9))
                rules[c.id] = (low, high, c.sku_prefix)
    return rules


def _verify_products(reader: _Reader, plan: Plan, shard: ProductShard) -> None:
    """A product shard: its products and their inventory rows (same IDs)."""
    add = reader.found.add
    as_of = plan.as_of_day
    as_of_end = (as_of + 1) * DAY
    categories = _category_rules(reader)
    first, n = shard.product_first, shard.products
    product_day = array("i", bytes(4 * n))
    inventory_rows = array("b", bytes(n))
    for p in reader.scan("products", first, n):
        pid = p.id
        if not 0 <= pid - first < n:
            continue  # its key and id differ: reported by the scan
        rules = categories.get(p.product_category_id)
        if rules is None:
            add("products", pid, "product_category_id → product_categories")
            continue
        low, high, prefix = rules
        # A SKU ending with its own product's ID is unique because IDs are.
        if not p.sku.endswith(f"-{pid:06d}"):
            add("products", pid, "sku is unique", f"{p.sku} is not derived from id {pid}")
        if not p.sku.startswith(prefix):
            add("products", pid, "sku starts with the category prefix", p.sku)
        if not p.price > p.cost > 0:
            add("products", pid, "price > cost > 0")
        elif not p.cost * (100 + low) <= p.price * 100 <= p.cost * (100 + high):
            add("products", pid, "margin within the category's range")
        if p.created_at >= as_of_end or p.updated_at >= as_of_end:
            add("products", pid, "nothing after as_of")
        if p.updated_at < p.created_at:
            add("products", pid, "updated_at >= created_at")
        if p.weight < 0:
            add("products", pid, "weight >= 0")
        product_day[pid - first] = p.created_at // DAY or 1

    for i in reader.scan("inventory", first, n):
        pid = i.product_id
        j = pid - first
        if not 0 <= j < n or product_day[j] == 0:
            reader.orphan("inventory", i.id, "product_id → products", pid, first, n)
            continue
        inventory_rows[j] = min(inventory_rows[j] + 1, 100)
        if not 0 <= i.reserved_quantity <= i.quantity_on_hand:
            add("inventory", i.id, "0 <= reserved_quantity <= quantity_on_hand")
        if not product_day[j] <= i.last_received_date <= as_of:
            add("inventory", i.id, "last_received_date between product creation and as_of")
        if i.updated_at >= as_of_end:
            add("inventory", i.id, "nothing after as_of")
        if i.reorder_point < 0 or i.reorder_quantity < 0 or i.last_received_quantity < 0:
            add("inventory", i.id, "quantities >= 0")
    for j in range(n):
        if product_day[j] and inventory_rows[j] != 1:
            add("products", first + j, "exactly one inventory row", str(inventory_rows[j]))
    reader.days = product_day.tobytes()


class _Kinds(NamedTuple):
    """The customer types as stored, as arrays indexed by type ID (below TYPE_IDS)."""

    ids: Ints  # every type ID stored
    discount: Ints  # -1 for an unknown type
    terms: Ints  # payment terms in days; -1 for an unknown type
    terms_text: NDArray[np.object_]  # "Net 30"; None for an unknown type


def _customer_types(reader: _Reader) -> _Kinds:
    decode = DECODERS["customer_types"].decode
    discount = np.full(TYPE_IDS, -1, np.int64)
    terms = np.full(TYPE_IDS, -1, np.int64)
    terms_text = np.full(TYPE_IDS, None, object)
    ids = set()
    for _, values in reader.pairs("customer_types", b"", b"\xff" * 9):
        for value in values:
            with contextlib.suppress(msgspec.DecodeError):
                t = decode(value)
                ids.add(t.id)
                if 0 <= t.id < TYPE_IDS:
                    discount[t.id] = t.discount_percentage
                    terms[t.id] = t.payment_terms_days
                    terms_text[t.id] = f"Net {t.payment_terms_days}"
    return _Kinds(np.array(sorted(ids), np.int64), discount, terms, terms_text)


def _verify_customers(
    reader: _Reader, plan: Plan, shard: CustomerShard, product_day: NDArray[np.int32]
) -> None:
    """A customer shard: customers, addresses, invoices, line items and their links."""
    _CustomerShard(reader, plan, shard, product_day).check()


class _CustomerShard:
    """The checks of one customer shard, a table at a time.

    Arrays are indexed by position in the shard (ID - first ID of the range):
    what a table's checks learn (a customer's creation day, type and credit
    limit; an address's owner and state; an invoice's day, subtotal and
    discount) the next table's checks use. Every table is checked a batch at
    a time: integer fields as arrays, string fields row by row.
    """

    def __init__(
        self, reader: _Reader, plan: Plan, shard: CustomerShard, product_day: NDArray[np.int32]
    ) -> None:
        self.reader = reader
        self.shard = shard
        self.product_day = product_day
        self.as_of = plan.as_of_day
        self.as_of_end = (self.as_of + 1) * DAY
        self.kinds = _customer_types(reader)
        c0, nc = self.c0, self.nc = shard.customer_first, shard.customers
        self.customer_ids = c0 + np.arange(nc, dtype=np.int64)
        self.customer_day = np.zeros(nc, np.int64)
        self.customer_type = np.zeros(nc, np.int64)
        self.credit_limit = np.zeros(nc, np.int64)
        na = self.na = shard.addresses
        self.a0 = shard.address_first
        self.address_owner = np.zeros(na, np.int64)  # the customer's position + 1; 0: none
        self.address_day = np.zeros(na, np.int64)
        self.address_state = np.zeros(na, np.int64)  # a code: its index in `state_names`
        self.address_billing = np.zeros(na, np.bool_)
        self.address_count = np.zeros(nc, np.int64)
        self.primary_count = np.zeros(nc, np.int64)
        self.address_span = _Spans(nc)
        self.state_code: dict[str, int] = {}
        self.state_names: list[str] = []
        self.state_tax = np.zeros(0, np.int64)
        i0, ni = self.i0, self.ni = shard.invoice_first, shard.invoices
        self.invoice_ids = i0 + np.arange(ni, dtype=np.int64)
        self.invoice_span = _Spans(nc)
        self.invoice_day = np.zeros(ni, np.int64)
        self.invoice_subtotal = np.zeros(ni, np.int64)
        self.invoice_discount = np.full(ni, -1, np.int64)
        self.unpaid = np.zeros(nc, np.int64)
        self.line_span = _Spans(ni)
        self.line_sum = np.zeros(ni, np.int64)
        self.line_mask = np.zeros(ni, np.int64)  # bit n set: line number n seen

    def check(self) -> None:
        reader, shard = self.reader, self.shard
        for batch, ids in reader.batches("customers", self.c0, self.nc):
            self.customers(batch, ids)
        for batch, ids in reader.batches("customer_addresses", self.a0, self.na):
            self.addresses(batch, ids)
        self.address_counts()
        for batch, ids in reader.batches("invoices", self.i0, self.ni):
            self.invoices(batch, ids)
        for batch, ids in reader.batches("invoice_line_items", shard.line_first, shard.lines):
            self.line_items(batch, ids)
        self.invoice_totals()
        self.links()

    def customers(self, batch: list[Any], ids: Ints) -> None:
        found, kinds, as_of_end = self.reader.found, self.kinds, self.as_of_end
        c0, nc = self.c0, self.nc
        customer_day, customer_type = self.customer_day, self.customer_type
        credit_limit = self.credit_limit
        ints = functools.partial(_ints, found, "customers")
        j = ids - c0
        inside = (j >= 0) & (j < nc)  # the others are reported by the scan
        if not inside.all():
            batch = list(compress(batch, inside.tolist()))
            ids, j = ids[inside], j[inside]
        where = functools.partial(found.add_where, "customers", ids)
        kind = ints(batch, "customer_type_id")
        where(
            ~np.isin(kind, kinds.ids), "customer_type_id → customer_types", lambda r: str(kind[r])
        )
        # An email ending with its own customer's ID is unique because IDs are.
        emails = [c.email for c in batch]
        where(
            _flags(
                not e.rpartition("@")[0].endswith(f".{i}")
                for e, i in zip(emails, ids.tolist(), strict=True)
            ),
            "email is unique",
            lambda r: f"{emails[r]} is not derived from id {ids[r]}",
        )
        where(
            _flags(EMAIL.match(e) is None for e in emails),
            "email on a reserved domain",
            lambda r: emails[r],
        )
        statuses = [c.status for c in batch]
        where(
            _flags(status not in CUSTOMER_STATUSES for status in statuses),
            "status is active, inactive or suspended",
            lambda r: statuses[r],
        )
        limit = ints(batch, "credit_limit")
        where((limit < 0) | (limit > CREDIT_LIMIT_MAX), "credit_limit in 0-100,000")
        created, updated = ints(batch, "created_at"), ints(batch, "updated_at")
        where((created >= as_of_end) | (updated >= as_of_end), "nothing after as_of")
        where(updated < created, "updated_at >= created_at")
        customer_day[j] = created // DAY
        customer_type[j] = np.where((kind >= 0) & (kind < TYPE_IDS), kind, 0)
        credit_limit[j] = np.minimum(limit, CREDIT_LIMIT_MAX + 1)

    def addresses(self, batch: list[Any], ids: Ints) -> None:
        found, parented, as_of_end = self.reader.found, self.reader.parented, self.as_of_end
        places = city_of()
        c0, a0, na, customer_day = self.c0, self.a0, self.na, self.customer_day
        address_owner, address_day = self.address_owner, self.address_day
        address_state, address_billing = self.address_state, self.address_billing
        address_count, primary_count = self.address_count, self.primary_count
        address_span, state_code = self.address_span, self.state_code
        ints = functools.partial(_ints, found, "customer_addresses")
        cid = ints(batch, "customer_id")
        k, j = ids - a0, cid - c0
        own = parented(
            "customer_addresses", ids, cid, c0, customer_day, "customer_id → customers",
            among=(k >= 0) & (k < na),
        )  # fmt: skip
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, k, j = ids[own], k[own], j[own]
        where = functools.partial(found.add_where, "customer_addresses", ids)
        created = ints(batch, "created_at")
        primary = ints(batch, "is_primary") != 0
        kinds_of = [a.address_type for a in batch]
        billing = _flags(kind == "billing" for kind in kinds_of)
        states = [a.state for a in batch]
        address_owner[k] = j + 1
        address_day[k] = created // DAY
        address_state[k] = [state_code.setdefault(state, len(state_code)) for state in states]
        address_billing[k] = billing
        np.add.at(address_count, j, 1)
        np.add.at(primary_count, j, primary)
        address_span.see(j, ids)
        where(primary & ~billing, "the primary address is a billing address")
        where(
            _flags(kind not in ("billing", "shipping") for kind in kinds_of),
            "address_type is billing or shipping",
        )
        where(created // DAY < customer_day[j], "address created after its customer")
        where(created >= as_of_end, "nothing after as_of")
        where(
            _flags(
                a.country != "US" or state not in STATE_TAX_BP
                for a, state in zip(batch, states, strict=True)
            ),
            "a US state or DC",
            lambda r: states[r],
        )
        zips = [a.zip_code for a in batch]
        five = _flags(ZIP.match(z) is not None for z in zips)
        where(~five, "zip_code is 5 digits", lambda r: zips[r])
        cities = [a.city for a in batch]
        where(
            five
            & _flags(
                places.get((z, state)) != city
                for z, state, city in zip(zips, states, cities, strict=True)
            ),
            "(city, state, zip) is a real street-address ZIP",
            lambda r: f"{cities[r]}, {states[r]} {zips[r]}",
        )

    def address_counts(self) -> None:
        """Per customer: 1-3 addresses, one primary; then the states seen, coded."""
        found, customer_ids = self.reader.found, self.customer_ids
        customer_present = self.customer_day != 0
        address_count, primary_count = self.address_count, self.primary_count
        found.add_where(
            "customers", customer_ids,
            customer_present & ((address_count < 1) | (address_count > 3)),
            "1-3 addresses", lambda r: str(address_count[r]),
        )  # fmt: skip
        found.add_where(
            "customers", customer_ids, customer_present & (primary_count != 1),
            "exactly one primary address", lambda r: str(primary_count[r]),
        )  # fmt: skip
        self.state_names = list(self.state_code)
        self.state_tax = np.array(
            [STATE_TAX_BP.get(s, -1) for s in [*self.state_names, ""]], np.int64
        )

    def invoices(self, batch: list[Any], ids: Ints) -> None:
        reader, kinds, as_of, as_of_end = self.reader, self.kinds, self.as_of, self.as_of_end
        found, parented = reader.found, reader.parented
        c0, i0, ni = self.c0, self.i0, self.ni
        customer_day, customer_type = self.customer_day, self.customer_type
        invoice_day, invoice_subtotal = self.invoice_day, self.invoice_subtotal
        invoice_discount, invoice_span = self.invoice_discount, self.invoice_span
        unpaid = self.unpaid
        ints = functools.partial(_ints, found, "invoices")
        cid = ints(batch, "customer_id")
        k, j = ids - i0, cid - c0
        own = parented(
            "invoices", ids, cid, c0, customer_day, "customer_id → customers",
            among=(k >= 0) & (k < ni),  # the others are reported by the scan
        )  # fmt: skip
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, cid, k, j = ids[own], cid[own], k[own], j[own]
        where = functools.partial(found.add_where, "invoices", ids)
        day = ints(batch, "invoice_date")
        due, created = ints(batch, "due_date"), ints(batch, "created_at")
        subtotal, rate = ints(batch, "subtotal"), ints(batch, "tax_rate")
        tax, total = ints(batch, "tax_amount"), ints(batch, "total")
        paid = ints(batch, "paid_date", NULL)
        invoice_day[k] = day
        invoice_subtotal[k] = subtotal
        invoice_span.see(j, ids)
        kind = customer_type[j]
        invoice_discount[k] = kinds.discount[kind]

        # An invoice number ending with its own invoice's ID is unique because IDs are.
        numbers = np.array([inv.invoice_number for inv in batch], np.str_)
        suffixes = np.strings.add("-", np.strings.zfill(ids.astype(np.str_), 8))
        where(
            ~np.strings.endswith(numbers, suffixes), "invoice_number is unique",
            lambda r: f"{numbers[r]} is not derived from id {ids[r]}",
        )  # fmt: skip

        self.billing(ids, j, day, rate, ints(batch, "billing_address_id"), where)

        where(customer_day[j] > day, "customer created on or before the invoice date")
        where((day > as_of) | (created >= as_of_end), "nothing after as_of")
        terms_text = np.array([inv.payment_terms for inv in batch], object)
        where(
            (due != day + kinds.terms[kind]) | (terms_text != kinds.terms_text[kind]),
            "due_date = invoice_date + payment terms",
        )
        status = np.fromiter(
            map(INVOICE_STATUS_CODES.get, [inv.status for inv in batch], repeat(UNKNOWN)),
            np.int64, len(batch),
        )  # fmt: skip
        is_set, is_paid = paid != NULL, status == PAID
        where(is_set != is_paid, "paid ⇔ paid_date is set")
        where(is_set & ((paid < day) | (paid > as_of)), "invoice_date <= paid_date <= as_of")
        open_ = ~is_set & ~is_paid
        where(
            open_ & (status == UNKNOWN), "status is pending, paid or overdue",
            lambda r: str(batch[r].status),
        )  # fmt: skip
        where(
            open_ & (status != UNKNOWN) & ((status == OVERDUE) != (due < as_of)),
            "overdue ⇔ unpaid and due_date < as_of",
        )
        np.add.at(unpaid, j[~is_set], total[~is_set])
        where(
            tax != _round_product((subtotal, rate), 10_000),
            "tax_amount = round(subtotal × tax_rate / 100)",
        )
        where(total != subtotal + tax, "total = subtotal + tax_amount")

    def billing(self, ids: Ints, j: Ints, day: Ints, rate: Ints, aid: Ints, where: Any) -> None:
        """An invoice's billing address: its customer's, a billing address that
        existed on the invoice date, whose state's tax rate the invoice charges."""
        reader, a0 = self.reader, self.a0
        parented = reader.parented
        address_owner, address_day = self.address_owner, self.address_day
        address_state, address_billing = self.address_state, self.address_billing
        state_names, state_tax = self.state_names, self.state_tax
        known = parented(
            "invoices", ids, aid, a0, address_owner, "billing_address_id → customer_addresses"
        )
        b = np.where(known, aid - a0, 0)
        mine = known & (address_owner[b] == j + 1)
        where(known & ~mine, "billing address belongs to the invoice's customer")
        where(mine & (address_day[b] > day), "billing address existed on the invoice date")
        where(mine & (address_billing[b] == 0), "billing address is a billing address")
        state = np.where(mine, address_state[b], len(state_names))
        where(
            mine & (rate != state_tax[state]), "tax rate is the billing state's",
            lambda r: f"{state_names[state[r]]} {rate[r]}",
        )  # fmt: skip
        # The first rate seen for each state is the state's; the merge
        # compares the first rates of all shards.
        seen = np.full(len(state_tax), NULL, np.int64)
        codes, firsts = np.unique(state[mine], return_index=True)
        for code, row in zip(codes.tolist(), np.flatnonzero(mine)[firsts].tolist(), strict=True):
            name = state_names[code]
            seen[code] = reader.state_rate.setdefault(name, (int(rate[row]), int(ids[row])))[0]
        where(
            mine & (rate != seen[state]), "one tax rate per state",
            lambda r: state_names[state[r]],
        )  # fmt: skip

    def line_items(self, batch: list[Any], ids: Ints) -> None:
        found, parented, product_day = self.reader.found, self.reader.parented, self.product_day
        i0, invoice_day, invoice_discount = self.i0, self.invoice_day, self.invoice_discount
        line_span, line_sum, line_mask = self.line_span, self.line_sum, self.line_mask
        ints = functools.partial(_ints, found, "invoice_line_items")
        iid = ints(batch, "invoice_id")
        k = iid - i0
        own = parented("invoice_line_items", ids, iid, i0, invoice_day, "invoice_id → invoices")
        if not own.all():
            batch = list(compress(batch, own.tolist()))
            if not batch:
                return
            ids, k = ids[own], k[own]
        where = functools.partial(found.add_where, "invoice_line_items", ids)
        line_span.see(k, ids)
        pid = ints(batch, "product_id")
        known = (pid > 0) & (pid < len(product_day))
        known[known] = product_day[pid[known]] != 0
        where(~known, "product_id → products", lambda r: str(pid[r]))
        day_of_product = product_day[np.where(known, pid, 0)]
        where(
            known & (day_of_product > invoice_day[k]),
            "product created on or before the invoice date",
        )
        # Line numbers 1..7 as bits; a bit seen before (in this batch or an
        # earlier one) is a repeat.
        number = ints(batch, "line_number")
        valid = (number >= 1) & (number <= 7)
        bit = np.where(valid, 1 << np.where(valid, number, 0), 0)
        repeat_ = valid & ((line_mask[k] & bit) != 0)
        slots = k * 8 + np.where(valid, number, 0)
        first_of_slot = np.zeros(len(batch), np.bool_)
        first_of_slot[np.unique(slots, return_index=True)[1]] = True
        repeat_ |= valid & ~first_of_slot
        where(~valid | repeat_, "(invoice_id, line_number) is unique and 1..n")
        np.bitwise_or.at(line_mask, k, bit)
        quantity, price = ints(batch, "quantity"), ints(batch, "unit_price")
        discount, line_total = ints(batch, "discount_percentage"), ints(batch, "line_total")
        where(quantity < 1, "quantity >= 1")
        in_range = (discount >= 0) & (discount <= 100)
        where(~in_range, "discount_percentage in 0-100")
        where(in_range & (discount != invoice_discount[k]), "discount is the customer type's")
        where(
            line_total != _round_product((quantity, price, 100 - discount), 100),
            "line_total = round(qty × price × (100 − disc) / 100)",
        )
        np.add.at(line_sum, k, line_total)

    def invoice_totals(self) -> None:
        """Per invoice: 1-4 lines numbered 1..n summing to the subtotal; per
        customer: unpaid invoices within the credit limit."""
        found, invoice_ids = self.reader.found, self.invoice_ids
        present = self.invoice_day != 0
        count = self.line_span.count
        in_range = (count >= 1) & (count <= 4)
        numbered = in_range & (self.line_mask == (1 << np.where(in_range, count + 1, 0)) - 2)
        found.add_where(
            "invoices", invoice_ids, present & ~numbered, "1-4 line items numbered 1..n",
            lambda r: str(count[r]),
        )  # fmt: skip
        found.add_where(
            "invoices", invoice_ids, present & (self.line_sum != self.invoice_subtotal),
            "subtotal = Σ line_total",
        )  # fmt: skip
        found.add_where(
            "customers", self.customer_ids,
            (self.customer_day != 0) & (self.unpaid > self.credit_limit),
            "unpaid invoices total <= credit_limit",
        )  # fmt: skip

    def links(self) -> None:
        """Links (parent → first child, count) must describe the children found,
        or `children()` would return wrong rows."""
        reader, found = self.reader, self.reader.found
        c0, nc, i0, ni = self.c0, self.nc, self.i0, self.ni
        for relation, span, first, parents in (
            (ADDRESSES, self.address_span, c0, nc),
            (INVOICES, self.invoice_span, c0, nc),
            (LINE_ITEMS, self.line_span, i0, ni),
        ):
            code = bytes((relation,))
            linked = 0
            low, high = code + key(first), code + key(first + parents)
            for keys, values in reader.pairs("links", low, high, parents):
                linked += len(keys)
                parent, child, count = _links(keys, values)
                found.add_where(
                    "links", parent, ~span.matches(parent - first, child, count), LINKS_RULE,
                    lambda _r, relation=relation: f"relation {relation}",  # type: ignore[misc]
                )  # fmt: skip
            if linked != span.parents:
                found.add("links", 0, LINKS_RULE, f"relation {relation} count")


def _flags(tests: Iterable[bool]) -> NDArray[np.bool_]:
    """Row-by-row tests (of strings) as an array."""
    return np.fromiter(tests, np.bool_)


def _links(keys: list[bytes], values: list[bytes]) -> tuple[Ints, Ints, Ints]:
    """Parent, first child and child count of each link (0, 0 for a malformed value)."""
    if set(map(len, keys)) == {LINK_KEY.size} and set(map(len, values)) == {LINK.size}:
        parent = np.frombuffer(b"".join(keys), LINK_KEY_ARRAY)["parent"].astype(np.int64)
        pair = np.frombuffer(b"".join(values), LINK_ARRAY)
        return parent, pair["first"].astype(np.int64), pair["count"].astype(np.int64)
    # Malformed: any width, so clip what cannot be an ID (it then matches nothing).
    parent = np.array([min(int.from_bytes(k[1:], "big"), WIDE) for k in keys], np.int64)
    pairs = [LINK.unpack(v) if len(v) == LINK.size else (0, 0) for v in values]
    child = np.array([min(c, WIDE) for c, _ in pairs], np.int64)
    count = np.array([min(n, WIDE) for _, n in pairs], np.int64)
    return parent, child, count


def _round_product(factors: tuple[Ints, ...], divisor: int) -> Ints:
    """round(product of factors / divisor), half up, exact: in 64-bit integers
    where the product surely fits, in Python's integers where it might not."""
    magnitude = np.ones(len(factors[0]))
    for factor in factors:
        magnitude *= np.abs(factor)
    small = magnitude < 2.0**62
    product = np.ones(len(factors[0]), np.int64)
    for factor in factors:
        product *= np.where(small, factor, 0)
    result = (product + divisor // 2) // divisor
    for row in np.flatnonzero(~small).tolist():
        exact = math.prod(int(factor[row]) for factor in factors)
        result[row] = max(min((exact + divisor // 2) // divisor, 2 * WIDE), -2 * WIDE)
    return result


def _ints(
    found: _Findings, table: str, records: list[Any], field: str, none: int | None = None
) -> Ints:
    """One integer field of a batch of records as an array, `none` standing
    for None. A value beyond ±WIDE is reported and clipped, so the checks'
    64-bit arithmetic stays exact."""
    get = attrgetter(field)
    values: Iterable[int] = map(get, records)
    if none is not None:
        values = [none if v is None else v for v in values]
    try:
        column = np.fromiter(values, np.int64, len(records))
    except OverflowError:
        column = np.array(
            [none if v is None else max(min(v, 2 * WIDE), -2 * WIDE) for v in map(get, records)],
            np.int64,
        )
    wide = (column >= WIDE) | (column <= -WIDE)
    if none is not None:
        wide &= column != none
    if wide.any():
        for row in np.flatnonzero(wide).tolist():
            found.add(table, records[row].id, "integers within ±2**40", field)
        column = np.where(wide, np.clip(column, -WIDE, WIDE), column)
    return column
