#!/usr/bin/env python3
"""The store's ceiling: how fast shards are written when generation costs nothing.

In this one process, K product shards and K customer shards of the xl plan are
built in memory first (`generate_rows`, timed as "generate only"); then only
their encoding and writing is timed, one write transaction per shard as a
worker does ("write only"); then the same shards are generated and written
with `commit_shard` ("generate + write"), each into a fresh store. The ratio
of the last to the second says how close generation runs to the write
ceiling. Both paths must write the same bytes: the per-shard digests match.

    .venv/bin/python benchmarks/bench_store.py --shards 20
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import measure
from measure import AS_OF, SEED, BenchmarkError, Stat, fmt_stat, ratio, stat, table

from shardgen.make.catalog import catalog_for
from shardgen.plan import Plan, make_plan
from shardgen.run.shards import Rows, Task, commit_shard, encode, generate_rows, write_shard
from shardgen.schema import ShardCommitted
from shardgen.store import Store


class Shard(NamedTuple):
    """One shard's records, built in memory before the write is timed."""

    task: Task
    rows: Rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--shards",
        "-k",
        type=int,
        default=20,
        help="K: product shards and customer shards each, from the xl plan (default: 20)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    measure.add_common_arguments(parser, sampling=False)
    return parser.parse_args(argv)


def tasks(plan: Plan, k: int) -> list[Task]:
    """The first K product shards then the first K customer shards, as a run orders them."""
    if k < 1 or k > min(len(plan.product_shards), len(plan.customer_shards)):
        raise BenchmarkError(
            f"--shards {k}: the xl plan has {len(plan.product_shards)} product and "
            f"{len(plan.customer_shards)} customer shards; choose 1 to "
            f"{min(len(plan.product_shards), len(plan.customer_shards))}"
        )
    return [
        *(Task("products", i) for i in range(k)),
        *(Task("customers", i) for i in range(k)),
    ]


def build(plan: Plan, todo: Sequence[Task]) -> tuple[list[Shard], float]:
    started = time.perf_counter()
    shards = []
    for task in todo:
        shards.append(Shard(task, generate_rows(plan, task)))
    return shards, time.perf_counter() - started


def write_only(path: Path, plan: Plan, shards: Sequence[Shard]) -> tuple[float, list[str], int]:
    """Seconds to encode and write prebuilt shards, their digests, and the store's bytes."""
    store = Store.create(path, plan)
    try:
        digests = []
        started = time.perf_counter()
        for shard in shards:
            # Encode, digest and write exactly as a worker does.
            encoded = encode(shard.task, shard.rows, started)
            write_shard(store, encoded)
            digests.append(encoded.digest)
        seconds = time.perf_counter() - started
        size = _used_bytes(store)
    finally:
        store.close()
    return seconds, digests, size


def generate_and_write(path: Path, plan: Plan, todo: Sequence[Task]) -> tuple[float, list[str]]:
    """Seconds to generate and commit the shards as a worker does, and their digests."""
    store = Store.create(path, plan)
    try:
        started = time.perf_counter()
        for task in todo:
            commit_shard(store, plan, task)
        seconds = time.perf_counter() - started
        digests = [e.digest for _, e in store.events() if isinstance(e, ShardCommitted)]
    finally:
        store.close()
    return seconds, digests


def _used_bytes(store: Store) -> int:
    info = store.env.info()
    return (int(info["last_pgno"]) + 1) * int(store.env.stat()["psize"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = make_plan("xl", seed=args.seed, as_of=AS_OF)
    todo = tasks(plan, args.shards)
    # Built once per process in a real run too; kept out of every timing below.
    started = time.perf_counter()
    catalog_for(plan)
    catalog_seconds = time.perf_counter() - started
    # One shard of each kind first, so no timed case pays first-call costs.
    build(plan, [Task("products", 0), Task("customers", 0)])

    gen: list[float] = []
    write: list[float] = []
    both: list[float] = []
    rows: dict[str, int] = {}
    size = 0
    same_bytes = True
    for i in range(args.repeat):
        measure.progress(f"run {i + 1}/{args.repeat}: generate only, write only, generate + write")
        folder = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.tmp))
        try:
            shards, seconds = build(plan, todo)
            gen.append(seconds)
            rows = {}
            for shard in shards:
                for name, records in shard.rows.tables.items():
                    rows[name] = rows.get(name, 0) + len(records)
            gc.collect()
            seconds, written, size = write_only(folder / "write.lmdb", plan, shards)
            write.append(seconds)
            del shards
            gc.collect()
            seconds, committed = generate_and_write(folder / "commit.lmdb", plan, todo)
            both.append(seconds)
            same_bytes = same_bytes and written == committed
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    total = sum(rows.values())
    cases: dict[str, Stat] = {
        "generate_only": stat(gen),
        "write_only": stat(write),
        "generate_and_write": stat(both),
    }
    rates = {name: total / s.median for name, s in cases.items()}
    return {
        **measure.header("store", args, plan="xl"),
        "shards": {"products": args.shards, "customers": args.shards},
        "rows": rows,
        "rows_total": total,
        "store_mb": round(size / measure.MB, 1),
        "catalog_seconds": round(catalog_seconds, 3),
        "seconds": {name: s.as_dict() for name, s in cases.items()},
        "rows_per_second": {name: round(r) for name, r in rates.items()},
        "write_mb_per_second": round(size / measure.MB / cases["write_only"].median, 1),
        "ceiling_fraction": ratio(rates["generate_and_write"], rates["write_only"], 3),
        "write_share_of_commit": ratio(
            cases["write_only"].median, cases["generate_and_write"].median, 3
        ),
        "same_bytes": same_bytes,
    }


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    labels = {
        "generate_only": "generate only (generate_rows)",
        "write_only": "write only (encode + write_shard)",
        "generate_and_write": "generate + write (commit_shard)",
    }
    rows = [
        [
            label,
            fmt_stat(Stat.from_dict(result["seconds"][name]), ".3f"),
            f"{result['rows_per_second'][name]:,}",
        ]
        for name, label in labels.items()
    ]
    k = result["shards"]["products"]
    fraction = result["ceiling_fraction"]
    return "\n".join(
        [
            f"store ceiling: {k} product + {k} customer shards of the xl plan, "
            f"{result['rows_total']:,} rows, {result['store_mb']:,} MB; "
            f"{result['repeat']} run(s); median (min–max)",
            f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
            f"load {m['load_average'][0]} at start; one process",
            "",
            table(["case", "seconds", "rows/s"], rows),
            "",
            f"generate + write reaches {100 * fraction:.0f}% of the write-only rate (the ceiling)"
            if fraction is not None
            else "ceiling: n/a",
            f"write only: {result['write_mb_per_second']:,} MB/s; catalog built once in "
            f"{result['catalog_seconds']:.2f} s (not timed above)",
            "both paths wrote the same bytes (shard digests): "
            + ("yes" if result["same_bytes"] else "NO"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.check_tmp(args.tmp)
    result = run(args)
    measure.emit(result, args.json, lambda: render(result))
    return 0 if result["same_bytes"] else 1


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
