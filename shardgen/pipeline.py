"""Generate: plan → shards → workers → staging store → verify → promote.

The coordinator (this module) plans, hands shards to the workers, records the
run in the event log, verifies the staging store and promotes it over the
target with one atomic rename. A failed or killed run leaves the target as it
was; `resume=True` continues a killed run from its log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import msgspec

from .errors import DamagedStoreError, RunError, SchemaError, ShardgenError, UsageError
from .exports import check_export, export_promoted, parquet_options
from .exports.files import ParquetOptions
from .exports.postgres import redact
from .guard import promote, refuse_link, refuse_write_protected, remove_store, run_lock
from .plan import Plan, check_workers, default_workers, make_plan
from .run.executors import Executor, open_executor
from .run.monitor import Monitor
from .run.shards import tasks_for
from .schema import (
    AdvanceStarted,
    MemorySample,
    RunFailed,
    RunPromoted,
    RunRolledBack,
    RunStarted,
    ShardCommitted,
    VerifyFinished,
)
from .store import (
    DEFAULT_MAP_SIZE,
    MAX_MAP_SIZE,
    MIN_MAP_SIZE,
    Identity,
    Store,
    identity,
    isolated,
    lmdb_files,
    lock_path,
    staging_path,
)
from .verification import Report, verify_store
from .versions import data_versions, describe, versions

#: Where `generate` writes when no --out is given.
DEFAULT_STORE = Path("shardgen.lmdb")


class Summary(msgspec.Struct):
    """What a finished run reports."""

    path: str
    digest: str
    rows: dict[str, int]
    seconds: float
    peak_rss: int
    peak_uss: int
    peak_anon: int
    workers: int
    seed: int
    as_of: str
    resumed_shards: int
    executor: str = "local"
    #: Peak memory summed over the Dask workers (0 with the local pool, whose
    #: workers count in the peaks above).
    cluster_peak_rss: int = 0
    cluster_peak_uss: int = 0
    cluster_peak_anon: int = 0
    #: With `export`: rows written per table, and the export's seconds.
    exported: dict[str, int] | None = None
    export_seconds: float = 0.0


Progress = Callable[[int, int], None]


def check_target(out: Path) -> None:
    """Refuse targets we must not write: a directory, a link, a foreign file, a
    missing folder. A store, even a damaged or outdated one, is what generate
    may replace: the user named it."""
    refuse_link(out, "--out")
    parent = out.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: the folder {parent} is not writable; choose another --out")
    if out.is_dir():
        raise UsageError(
            f"--out {out} is a directory; give a file path such as {out / 'data.lmdb'}"
        )
    if out.exists():
        # Only ever replace a shardgen store, never a user's other file (nor
        # one written by a newer shardgen: that one says to upgrade), nor
        # one its owner made read-only.
        _open_to_replace(out)
        refuse_write_protected(out, "shardgen generate replace it", "choose another --out")


def _open_to_replace(path: Path) -> None:
    """Refuse to replace `path` unless it holds a shardgen store: a readable,
    damaged or outdated one (a message about it says to regenerate it)."""
    try:
        isolated(path, _open_and_close, path)
    except DamagedStoreError:
        pass
    except SchemaError as exc:
        if exc.newer:
            raise


def generate(
    volume: str | None = None,
    *,
    customers: int | None = None,
    products: int | None = None,
    invoices: int | None = None,
    seed: int = 0,
    as_of: str | dt.date | None = None,
    workers: int | None = None,
    out: str | os.PathLike[str] = DEFAULT_STORE,
    resume: bool = False,
    map_size: int = DEFAULT_MAP_SIZE,
    memory_limit: int | None = None,
    progress: Progress | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    export: str | None = None,
    to: str | os.PathLike[str] | None = None,
    force: bool = False,
    export_progress: Progress | None = None,
    compression: str | None = None,
    partitioned: bool = False,
) -> Summary:
    """Generate a dataset into `out`, verify it and promote it atomically;
    with `export`, then export it in that format `to` a target as
    `shardgen.export` does (`force` replaces an existing target;
    `export_progress` is its `progress`; `compression` and `partitioned` are
    for Parquet).

    >>> summary = generate("small", seed=42, as_of="2026-06-30", out="demo.lmdb")  # doctest: +SKIP
    >>> summary.rows["invoices"]  # doctest: +SKIP
    25

    `executor="dask"` runs the shards on the Dask cluster whose scheduler is at
    `scheduler` (``tcp://host:port``) instead of a local process pool.
    """
    started = time.perf_counter()
    plan = make_plan(
        volume, customers=customers, products=products, invoices=invoices, seed=seed, as_of=as_of
    )
    if executor == "dask" and workers is not None:
        raise UsageError(
            "--workers sizes the local pool; with --executor dask the cluster's workers run "
            "the shards: leave --workers out"
        )
    # No more processes than shards: the pool reports what it really starts.
    workers = min(check_workers(workers) or default_workers(plan), len(tasks_for(plan)))
    if memory_limit is not None and memory_limit < 1:
        raise UsageError(f"--memory-limit must be a positive size such as 2G, got {memory_limit}")
    check_map_size(map_size)
    target = Path(out)
    check_target(target)
    if (export is None) != (to is None):
        raise UsageError("--export FORMAT and --to TARGET go together: give both, or neither")
    parquet = None
    if export is not None and to is not None:
        # A bad target is found now, not after the whole run.
        check_export(export, to, source=target, force=force)
        parquet = parquet_options(export, compression, partitioned)
    elif compression is not None or partitioned:
        raise UsageError("--compression and --partitioned go with --export parquet")
    staging = staging_path(target)
    with open_executor(executor, scheduler, workers) as pool, run_lock(target, "shardgen generate"):
        store, done = _open_staging(staging, plan, resume, map_size)
        with failures_logged(store, f"target {target} left unchanged"):
            summary = _run(store, plan, target, pool, memory_limit, done, started, progress)
        if export is None or to is None:
            return summary
        # Still under the run lock: the file just verified and promoted is
        # the one exported, and it is not verified again.
        exporting = _Exporting(export, to, force, export_progress, parquet, workers)
        return _export(summary, target, identity(target), exporting)


class _Exporting(NamedTuple):
    """What `generate --export` exports, and how."""

    format: str
    to: str | os.PathLike[str]
    force: bool
    progress: Progress | None
    parquet: ParquetOptions | None
    workers: int


def _export(summary: Summary, target: Path, file: Identity, how: _Exporting) -> Summary:
    """Export the dataset just promoted; a failure says the dataset is in place."""
    started = time.perf_counter()
    try:
        exported = export_promoted(
            target, file, format=how.format, to=how.to, force=how.force,
            progress=how.progress, parquet=how.parquet, workers=how.workers,
        )  # fmt: skip
    except ShardgenError as exc:
        to = os.fspath(how.to)
        shown = redact(to) if how.format == "postgres" else to
        raise type(exc)(
            f"{exc} (the dataset at {target} is generated and verified: after fixing that, "
            f"`shardgen export {target} --format {how.format} --to {shown}` exports it)"
        ) from exc
    seconds = round(time.perf_counter() - started, 3)
    return msgspec.structs.replace(summary, exported=exported, export_seconds=seconds)


def render_summary(summary: Summary) -> str:
    """A finished run as text: rows per table, time, peak memory, the digest."""
    width = max(len(t) for t in summary.rows)
    lines = [f"generated {summary.path} (seed {summary.seed}, as of {summary.as_of}):"]
    lines += [f"  {table:<{width}}  {count:>12,}" for table, count in summary.rows.items()]
    lines.append(f"  {'total':<{width}}  {sum(summary.rows.values()):>12,}")
    where = "worker(s)" if summary.executor == "local" else "Dask worker thread(s)"
    lines.append(
        f"{summary.seconds:.2f} s with {summary.workers} {where}, peak memory "
        f"{_mb(summary.peak_anon)} heap / {_mb(summary.peak_uss)} USS / "
        f"{_mb(summary.peak_rss)} RSS"
    )
    if summary.executor != "local":
        lines.append(
            f"Dask workers' peak memory {_mb(summary.cluster_peak_anon)} heap / "
            f"{_mb(summary.cluster_peak_uss)} USS / {_mb(summary.cluster_peak_rss)} RSS"
        )
    if summary.resumed_shards:
        lines.append(f"resumed: {summary.resumed_shards} shard(s) were already committed")
    lines += ["verified: every rule holds", f"digest {summary.digest}"]
    if summary.exported is not None:
        lines.append(
            f"exported {sum(summary.exported.values()):,} rows in {len(summary.exported)} "
            f"tables in {summary.export_seconds:.2f} s"
        )
    return "\n".join(lines)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def check_map_size(map_size: object) -> None:
    if isinstance(map_size, bool) or not isinstance(map_size, int):
        raise UsageError(f"--map-size must be a size such as 64G, got {map_size!r}")
    if not MIN_MAP_SIZE <= map_size <= MAX_MAP_SIZE:
        raise UsageError(
            f"--map-size {_size_text(map_size)} is out of range: give a size from 64K to 128T, "
            f"or leave it out for the default {DEFAULT_MAP_SIZE // 2**30}G"
        )


def _size_text(size: int) -> str:
    """A byte count as a --map-size would be written: 1536 → 1.5K."""
    for unit, scale in (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if abs(size) >= scale:
            return f"{size / scale:,.2f}".rstrip("0").rstrip(".") + unit
    return f"{size} bytes"


def _open_staging(
    staging: Path, plan: Plan, resume: bool, map_size: int
) -> tuple[Store, set[tuple[str, int]]]:
    if not resume:
        remove_store(staging)
        return Store.create(staging, plan, map_size=map_size), set()
    for file in lmdb_files(staging):
        refuse_link(file)
    if not staging.exists():
        raise UsageError(f"nothing to resume: {staging} does not exist; run without --resume")
    store = Store.reopen(staging, map_size=map_size)
    recorded = msgspec.convert(store.meta().plan, Plan)
    if recorded != plan:
        store.close()
        raise UsageError(
            f"--resume: the interrupted run at {staging} had another plan (seed "
            f"{recorded.seed}, as_of {recorded.as_of}, {recorded.customers} customers); "
            "rerun with the same options, or without --resume to start over"
        )
    events = [event for _, event in store.events()]
    if any(isinstance(e, AdvanceStarted) for e in events):
        store.close()
        raise UsageError(
            f"--resume: {staging} is an interrupted advance, not a generate run: continue it "
            "with the same `shardgen advance` command, or discard it with `shardgen reset "
            f"--partial {staging.with_name(staging.name.removesuffix('.staging'))}`"
        )
    first = next((e for e in events if isinstance(e, RunStarted)), None)
    now = data_versions(versions())
    if first is not None and data_versions(first.versions) != now:
        store.close()
        raise UsageError(
            f"--resume: the interrupted run at {staging} was made with other versions "
            f"({describe(data_versions(first.versions))}; now {describe(now)}), which could "
            "change the data; rerun without --resume to start over"
        )
    done = {(e.entity, e.shard) for e in events if isinstance(e, ShardCommitted)}
    return store, done


def _run(
    store: Store,
    plan: Plan,
    target: Path,
    pool: Executor,
    memory_limit: int | None,
    done: set[tuple[str, int]],
    started: float,
    progress: Progress | None,
) -> Summary:
    """Make the shards not `done`, verify the staging store, promote it to `target`."""
    store.log(
        RunStarted(
            at=time.time(), run_id=uuid.uuid4().hex, plan=plan, versions=versions(),
            workers=pool.workers, resumed=bool(done), executor=pool.name,
        )
    )  # fmt: skip
    with Monitor(limit=memory_limit) as monitor:
        check = _memory_check(monitor, memory_limit)
        _make_shards(store, plan, pool, done, check, monitor, progress)
        # Verify shares the shards among the local pool's worker count
        # (a Dask cluster's threads are elsewhere: then the local default).
        workers = pool.workers if pool.name == "local" else default_workers(plan)
        report = verify_store(store, check, workers)
    seconds = promote_verified(store, target, report, started, monitor, _failure)
    return Summary(
        path=str(target),
        digest=report.digest,
        rows=report.rows,
        seconds=seconds,
        peak_rss=monitor.peak_rss,
        peak_uss=monitor.peak_uss,
        peak_anon=monitor.peak_anon,
        workers=pool.workers,
        seed=plan.seed,
        as_of=plan.as_of,
        resumed_shards=len(done),
        executor=pool.name,
        cluster_peak_rss=pool.peak_rss,
        cluster_peak_uss=pool.peak_uss,
        cluster_peak_anon=pool.peak_anon,
    )


@contextlib.contextmanager
def failures_logged(store: Store, unchanged: str) -> Iterator[None]:
    """A run in the block: if it fails or is interrupted, the log says so and
    that the target was left unchanged (`unchanged`); the store is closed."""
    try:
        yield
    except BaseException as exc:
        message = str(exc) or type(exc).__name__
        with contextlib.suppress(Exception):
            store.log(RunFailed(at=time.time(), error=message))
            store.log(RunRolledBack(at=time.time(), reason=unchanged))
        raise
    finally:
        store.close()


def promote_verified(
    store: Store,
    target: Path,
    report: Report,
    started: float,
    monitor: Monitor,
    failure: Callable[[Report, Path], str],
) -> float:
    """Log the staging store's verify; if it holds, promote it over `target`
    (logged with the run's seconds, returned, and peaks); if not, the run
    fails with `failure(report, staging path)`."""
    store.log(
        VerifyFinished(
            at=time.time(), ok=report.ok, violations=report.violation_count,
            digest=report.digest, seconds=report.seconds,
        )
    )  # fmt: skip
    if not report.ok:
        raise RunError(failure(report, store.path))
    seconds = round(time.perf_counter() - started, 3)
    store.log(
        RunPromoted(
            at=time.time(), digest=report.digest, seconds=seconds,
            peak_rss=monitor.peak_rss, peak_uss=monitor.peak_uss, peak_anon=monitor.peak_anon,
        )
    )  # fmt: skip
    store.sync()
    store.close()
    promote(store.path, target)
    return seconds


def _memory_check(monitor: Monitor, memory_limit: int | None) -> Callable[[], None]:
    """What the run calls between shards: stop it once over `memory_limit`."""

    def check() -> None:
        if memory_limit is not None and monitor.peak_anon > memory_limit:
            raise RunError(
                f"the run used {monitor.peak_anon / 2**20:,.0f} MB, over --memory-limit "
                f"{memory_limit / 2**20:,.0f} MB, and was stopped; the target is unchanged. "
                "Rerun with --resume and fewer --workers or a higher --memory-limit"
            )

    return check


def _make_shards(
    store: Store,
    plan: Plan,
    pool: Executor,
    done: set[tuple[str, int]],
    check: Callable[[], None],
    monitor: Monitor,
    progress: Progress | None,
) -> None:
    """Run the shards not `done`, reporting progress and logging memory once a second."""
    tasks = [t for t in tasks_for(plan) if (t.entity, t.shard) not in done]
    total = len(tasks_for(plan))
    finished = total - len(tasks)
    logged = 0.0
    if progress:
        progress(finished, total)
    for _ in pool.run(store, plan, tasks, check):
        finished += 1
        if progress:
            progress(finished, total)
        sample = monitor.last
        if sample is not None and sample.at - logged >= 1.0:
            logged = sample.at
            store.log(
                MemorySample(sample.at, sample.rss, sample.uss, sample.processes, sample.anon)
            )


def _open_and_close(path: Path) -> None:
    Store.open(path).close()


def reset(path: str | os.PathLike[str], *, partial: bool = False) -> list[Path]:
    """Remove the store at `path` and what a failed or killed run left beside
    it; with `partial`, only those leftovers (`PATH.staging`), keeping the
    store. Returns the files removed.

    Refuses a file that is not a shardgen store, links, and a store whose
    generate run is still going.
    """
    target = Path(path)
    refuse_link(target, "reset")
    if target.is_dir():
        raise UsageError(f"{target} is a directory, not a shardgen store: give the store file")
    if not partial and target.exists():
        _open_to_replace(target)  # refuses anything that is not a store
        refuse_write_protected(target, "shardgen reset remove it")
    with run_lock(target, "shardgen reset"):
        removed = [] if partial else remove_store(target)
        removed += remove_store(staging_path(target))
        if not partial:
            lock = lock_path(target)
            refuse_link(lock)
            lock.unlink(missing_ok=True)
    if not removed:
        what = "no failed run" if partial else "no store"
        raise UsageError(f"nothing to remove: {what} at {target}")
    return removed


def first_violation(report: Report) -> str:
    """ "; first: TABLE ID: RULE" of a failed verify's first violation ("" if none)."""
    first = report.violations[0] if report.violations else None
    return f"; first: {first.table} {first.id}: {first.rule}" if first else ""


def _failure(report: Report, staging: Path) -> str:
    where = first_violation(report)
    return (
        f"verify found {report.violation_count} violation(s){where}; the target is unchanged, "
        f"the failed run is kept at {staging} for inspection (`shardgen verify {staging}`)"
    )
