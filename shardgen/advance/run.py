"""Advance: copy the promoted store, run its days one transaction each,
verify the copy and promote it over the store with one atomic rename.

As generate does, advance writes into `PATH.staging` and replaces PATH only
once the advanced data verifies. A killed advance leaves PATH as it was and
the copy at its last completed day: `resume=True` continues from there.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

from ..errors import DamagedStoreError, UsageError
from ..guard import refuse_link, refuse_write_protected, remove_store, run_lock
from ..pipeline import failures_logged, first_violation, promote_verified
from ..plan import EPOCH, LATEST_AS_OF, Plan, check_workers, parse_day
from ..run.monitor import Monitor
from ..run.shards import Task, inject_fault
from ..schema import (
    ENCODER,
    TABLES,
    Advanced,
    AdvanceStarted,
    DayAdvanced,
    Recent,
    RunPromoted,
)
from ..store import (
    DEFAULT_MAP_SIZE,
    Store,
    check_present,
    isolated,
    recorded_map_size,
    staging_path,
)
from ..store.files import write_back
from ..verification import Report, verify_store
from ..versions import data_versions, describe, versions
from .business import Business, Feed, Rates, iso, kept_catalog
from .day import Day
from .ledger import RECENT_DAYS, RECENT_SIGNUP_DAYS

Progress = Callable[[int, int], None]


class AdvanceSummary(msgspec.Struct):
    """What an advance did: the store, the dates, rows inserted and updated,
    the new digest."""

    path: str
    from_as_of: str
    as_of: str
    days: int
    inserted: dict[str, int]
    updated: dict[str, int]
    changes: int
    digest: str
    seconds: float
    peak_uss: int
    resumed_days: int = 0


def advance(
    path: str | os.PathLike[str],
    *,
    to: str | dt.date | None = None,
    days: int | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> AdvanceSummary:
    """Continue the business in the store at `path` day by day to `to` (or
    by `days`), verify it and promote it atomically.

    >>> shardgen.advance("demo.lmdb", to="2026-07-31")  # doctest: +SKIP
    """
    started = time.perf_counter()
    check_workers(workers)
    target = Path(path)
    if (to is None) == (days is None):
        raise UsageError("give the date to advance to (--to YYYY-MM-DD) or --days N, not both")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise UsageError(f"--days must be a whole number of days, at least 1, got {days!r}")
    to_day = None if to is None else parse_day(to, "--to")
    refuse_link(target, "advance")
    check_present(target)  # before the lock: no lock file beside what is no store
    refuse_write_protected(target, "shardgen advance replace it", "advance a copy")
    with run_lock(target, "shardgen advance"):
        now, promoted, checked = isolated(target, _where, target)
        end = _end_day(now, to_day, days, resume)
        staging = staging_path(target)
        store, written = _open_staging(target, staging, resume, end, promoted)
        try:
            with failures_logged(store, f"{target} left unchanged"):
                return _run(store, target, now, end, workers, started, progress, written, checked)
        except DamagedStoreError:
            # A copy of a damaged store: no later run could continue from it.
            remove_store(staging)
            raise


def render_advance(summary: AdvanceSummary) -> str:
    """The summary as text: the days, the rows per table, the digest."""
    out = [
        f"advanced {summary.path} from {summary.from_as_of} to {summary.as_of} "
        f"({summary.days} day(s)):",
        f"  {'table':<20} {'inserted':>10} {'updated':>10}",
    ]
    for table in TABLES:
        new, changed = summary.inserted.get(table, 0), summary.updated.get(table, 0)
        if new or changed:
            out.append(f"  {table:<20} {new:>10,} {changed:>10,}")
    out.append(
        f"{summary.changes:,} changes in {summary.seconds:.2f} s, peak memory "
        f"{summary.peak_uss / 2**20:,.0f} MB USS"
    )
    out += ["verified: every rule holds", f"digest {summary.digest}"]
    return "\n".join(out)


def _where(path: Path) -> tuple[str, str, int]:
    """The promoted store's as_of, promoted digest and the length of its
    change feed (verified when it was promoted), after checking that it can
    be advanced."""
    with Store.open(path) as store:
        promoted = store.promoted_digest()
        if promoted is None:
            raise UsageError(
                f"{path} holds no promoted dataset: finish its run with `shardgen generate "
                "... --resume` first"
            )
        if "agenda" not in store.dbs or store.state(_recent_name(store.plan())) is None:
            raise UsageError(
                f"{path} was generated by shardgen 0.3.0 or earlier, which did not record "
                "what advance needs (each invoice's payment day, the recent rates): "
                f"regenerate it with this shardgen (`shardgen generate ... --out {path}`)"
            )
        advanced = store.advanced()
        return store.as_of(), promoted, advanced.changes if advanced is not None else 0


def _failure(report: Report, staging: Path) -> str:
    where = first_violation(report)
    target = staging.with_name(staging.name.removesuffix(".staging"))
    return (
        f"verify found {report.violation_count} violation(s) after advancing{where}; "
        f"{target} is unchanged, the advanced copy is kept at {staging} for inspection"
    )


def _recent_name(plan: Plan) -> str:
    return f"recent:customers:{plan.customer_shards[0].index:08d}"


def _end_day(now: str, to_day: int | None, days: int | None, resume: bool) -> int:
    today = (dt.date.fromisoformat(now) - EPOCH).days
    if days is not None:
        end = today + days
    else:
        assert to_day is not None
        end = to_day
    latest = (LATEST_AS_OF - EPOCH).days
    if end > latest:
        raise UsageError(f"cannot advance past {LATEST_AS_OF.isoformat()}: choose an earlier date")
    if end <= today and not resume:
        raise UsageError(
            f"the store is already at {now}: advance --to a later date, such as "
            f"{(EPOCH + dt.timedelta(days=today + 1)).isoformat()}"
        )
    return end


def _open_staging(
    target: Path, staging: Path, resume: bool, end: int, promoted: str
) -> tuple[Store, Callable[[], None]]:
    """The copy the days are written into: the interrupted advance's, when
    there is one going to the same day from the same dataset (the one
    promoted with digest `promoted`; `resume` insists on it), or a fresh copy
    of the store; and the call that waits until a fresh copy is on disk.

    A fresh copy is written to disk in the background while the days and
    verify run (`files.write_back`): the sync before promotion, which must
    find every page on disk, then has only what the days changed left to
    write (at xl, 1.0 s of waiting on the disk at the end otherwise)."""
    size = max(recorded_map_size(target), DEFAULT_MAP_SIZE)
    refuse_link(staging)
    what = f"does not exist (no advance of {target} was interrupted)"
    if staging.exists():
        store = Store.reopen(staging, map_size=size)
        what = _not_continued(store, end, promoted)
        if not what:
            return store, _nothing
        store.close()
    if resume:
        raise UsageError(f"nothing to resume: {staging} {what}; run without --resume")
    remove_store(staging)
    # The store is not written meanwhile (the run lock), so a byte copy is a
    # consistent one; made by the kernel, it maps none of the store here.
    shutil.copyfile(target, staging, follow_symlinks=False)
    written = write_back(staging)
    return Store.reopen(staging, map_size=size), written


def _nothing() -> None:
    pass


def _not_continued(store: Store, end: int, promoted: str) -> str:
    """Why `store` is not an interrupted advance to `end` of the dataset
    promoted with digest `promoted`, made with the versions the data depends
    on that run now ("" if it is one)."""
    events = [e for _, e in store.events()]
    promotions = [i for i, e in enumerate(events) if isinstance(e, RunPromoted)]
    made_from = events[promotions[-1]] if promotions else None
    # This advance's attempts: what came after the promotion it started from.
    attempts = events[promotions[-1] + 1 :] if promotions else events
    started = [e for e in attempts if isinstance(e, AdvanceStarted)]
    if (
        not started
        or started[-1].to_as_of != iso(end)
        or not isinstance(made_from, RunPromoted)
        or made_from.digest != promoted
    ):
        target = store.path.with_name(store.path.name.removesuffix(".staging"))
        return f"is not an interrupted advance of {target} to {iso(end)}"
    now = data_versions(versions())
    for event in started:
        if data_versions(event.versions) != now:
            return (
                f"was advanced with other versions ({describe(data_versions(event.versions))}; "
                f"now {describe(now)}), which could change the data"
            )
    return ""


def _rates(store: Store, plan: Plan) -> Rates:
    """The recent daily rates the generated shards recorded."""
    decode = msgspec.msgpack.Decoder(Recent).decode
    totals = [0, 0, 0]
    for entity, shards in (("customers", plan.customer_shards), ("products", plan.product_shards)):
        for shard in shards:
            raw = store.state(f"recent:{entity}:{shard.index:08d}")
            if raw is not None:
                recent = decode(raw)
                totals[0] += recent.customers
                totals[1] += recent.products
                totals[2] += recent.invoices
    return Rates(
        totals[0] / RECENT_SIGNUP_DAYS, totals[1] / RECENT_SIGNUP_DAYS, totals[2] / RECENT_DAYS
    )


def _run(
    store: Store,
    target: Path,
    now: str,
    end: int,
    workers: int | None,
    started: float,
    progress: Progress | None,
    written: Callable[[], None],
    checked: int,
) -> AdvanceSummary:
    plan = store.plan()
    advanced = store.advanced()
    day = (dt.date.fromisoformat(store.as_of()) - EPOCH).days
    first = (dt.date.fromisoformat(now) - EPOCH).days
    resumed = day - first
    store.log(
        AdvanceStarted(
            at=time.time(), run_id=uuid.uuid4().hex, from_as_of=now, to_as_of=iso(end),
            versions=versions(), workers=workers or 1, resumed=resumed > 0,
        )
    )  # fmt: skip
    business = Business(store, plan, kept_catalog(store, plan), _rates(store, plan), target)
    seq = advanced.changes if advanced is not None else 0
    with Monitor() as monitor:
        while day < end:
            day += 1
            seq = _one_day(store, business, day, seq)
            if progress:
                progress(day - first, end - first)
        del business  # the catalog and caches: not needed by verify
        gc.collect()
        # What the days wrote goes to disk while verify reads it, as the copy
        # did while the days ran: the sync before promotion has little left.
        days_written = write_back(store.path)
        # The feed the promoted store held was verified when it was promoted,
        # and the days only append to it: the days' changes are checked.
        report = verify_store(store, None, workers, changes_checked=checked)
    inserted, updated = _totals(store, now)
    written()
    days_written()
    seconds = promote_verified(store, target, report, started, monitor, _failure)
    return AdvanceSummary(
        path=str(target), from_as_of=now, as_of=iso(end), days=end - first,
        inserted=inserted, updated=updated,
        changes=sum(inserted.values()) + sum(updated.values()), digest=report.digest,
        seconds=seconds, peak_uss=monitor.peak_uss, resumed_days=resumed,
    )  # fmt: skip


def _totals(store: Store, since: str) -> tuple[dict[str, int], dict[str, int]]:
    """The rows inserted and updated per table by the days after `since`
    (this advance's, resumed ones included), from their events."""
    inserted: dict[str, int] = {}
    updated: dict[str, int] = {}
    for _, event in store.events():
        if isinstance(event, DayAdvanced) and event.day > since:
            for table, n in event.inserted.items():
                inserted[table] = inserted.get(table, 0) + n
            for table, n in event.updated.items():
                updated[table] = updated.get(table, 0) + n
    return inserted, updated


def _one_day(store: Store, business: Business, day: int, seq: int) -> int:
    """Run one day and record where the store stands, in one transaction."""
    started = time.perf_counter()
    plan = business.plan
    with store.write() as txn:
        feed = Feed(store, txn, seq)
        Day(business, txn, day, feed).run()
        feed.flush()
        inject_fault(Task("advance", day))  # a test's kill, mid-transaction
        grown = {
            table: int(txn.stat(store.dbs[table])["entries"]) - count
            for table, count in plan.rows().items()
        }
        state = Advanced(iso(day), grown, feed.seq)
        txn.put(b"advanced", ENCODER.encode(state), db=store.dbs["meta"])
        store.append_event(
            txn,
            DayAdvanced(
                at=time.time(), day=iso(day), inserted=dict(feed.inserted),
                updated=dict(feed.updated), seconds=round(time.perf_counter() - started, 4),
            ),
        )  # fmt: skip
    # Remapped after every day, and the heap its transaction's buffers took
    # given back: what a day touched counts in this process's memory only
    # until the next day.
    store.remap()
    store.release()
    return feed.seq
