#!/usr/bin/env python3
"""shardgen generate with 1 worker against 2 (or more), side by side.

Each repeat runs every worker count in turn, as whole processes sampled from
outside; the speed-up is the median wall time of the first count divided by
each other's. Every run must produce the same digest: the data does not
depend on the worker count.

The machine's own ceiling is measured in the same repeats: N independent
one-worker runs started at once, each into its own store. They share nothing
but the machine, so N × (one run alone) ÷ (N at once) is the most any N-way
split of this workload could gain here: cores a hypervisor shares, memory
bandwidth and caches bound it, not shardgen. `of ceiling` is the speed-up
divided by that figure.

    .venv/bin/python benchmarks/bench_workers.py --volume xl
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import measure
from measure import (
    AS_OF,
    CASES,
    SEED,
    BenchmarkError,
    Generated,
    Stat,
    fmt_ratio,
    fmt_stat,
    memory_stats,
    ratio,
    stat,
    stats_json,
    table,
)


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers such as 1,2; got {text!r}") from None
    if len(counts) < 2 or any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError("give at least two worker counts, each at least 1")
    return list(dict.fromkeys(counts))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--volume",
        choices=list(CASES),
        default="large",
        help="what to generate (default: large, a quick run; xl for the real figure)",
    )
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=[1, 2],
        help="comma-separated worker counts; the first is the reference (default: 1,2)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip the concurrent one-worker runs that measure the machine's ceiling",
    )
    measure.add_common_arguments(parser)
    return parser.parse_args(argv)


def concurrent_single_runs(
    volume: str, count: int, seed: int, tmp: Path | None
) -> tuple[float, list[str]]:
    """Wall seconds for `count` one-worker generations started at once, and their digests."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ceiling-", dir=tmp))
    try:
        commands = [
            measure.generate_command(volume, folder / f"data-{n}.lmdb", seed, workers=1)
            for n in range(count)
        ]
        started = time.perf_counter()
        children = [
            subprocess.Popen(
                command, cwd=measure.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for command in commands
        ]
        outputs = [child.communicate() for child in children]
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    digests = []
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        if child.returncode != 0:
            tail = " | ".join(stderr.strip().splitlines()[-3:])
            raise BenchmarkError(f"a concurrent one-worker run exited {child.returncode}: {tail}")
        digests.append(str(json.loads(stdout)["digest"]))
    return seconds, digests


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[int, list[Generated]] = {w: [] for w in args.workers}
    reference = args.workers[0]
    # The ceiling compares with one-worker runs: measured when 1 is the reference.
    ceiling_counts = [w for w in args.workers[1:] if args.ceiling and reference == 1]
    together: dict[int, list[float]] = {w: [] for w in ceiling_counts}
    extra_digests: list[str] = []
    for i in range(args.repeat):
        for workers in args.workers:
            measure.progress(f"{args.volume}: --workers {workers}, run {i + 1}/{args.repeat}")
            folder = Path(tempfile.mkdtemp(prefix="bench-workers-", dir=args.tmp))
            try:
                out = folder / "data.lmdb"
                runs[workers].append(
                    measure.generate_measured(
                        args.volume, out, seed=args.seed, workers=workers, interval=args.interval
                    )
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        for count in ceiling_counts:
            measure.progress(
                f"{args.volume}: {count} one-worker runs at once, run {i + 1}/{args.repeat}"
            )
            took, digests = concurrent_single_runs(args.volume, count, args.seed, args.tmp)
            together[count].append(took)
            extra_digests.extend(digests)

    seconds = {w: stat([g.run.seconds for g in gs]) for w, gs in runs.items()}
    digests = sorted({g.digest for gs in runs.values() for g in gs} | set(extra_digests))
    rows = runs[reference][0].rows
    total = sum(rows.values())
    results = []
    for workers, generated in runs.items():
        s = seconds[workers]
        speed_up = ratio(seconds[reference].median, s.median)
        ceiling: dict[str, Any] = {}
        if workers in together:
            alone = seconds[reference].median
            at_once = stat(together[workers])
            limit = ratio(workers * alone, at_once.median)
            ceiling = {
                "concurrent_seconds": at_once.as_dict(),
                "ceiling": limit,
                "of_ceiling": ratio(speed_up or 0.0, limit or 1.0),
            }
        results.append(
            {
                "workers": workers,
                "seconds": s.as_dict(),
                "seconds_reported": stat([g.seconds for g in generated]).as_dict(),
                "rows_per_second_total": round(total / s.median),
                "speed_up": speed_up,
                **ceiling,
                "memory_mb": stats_json(memory_stats([g.run for g in generated]), 1),
                "max_processes": max(g.run.max_processes for g in generated),
                "sampling": measure.sampling_json([g.run for g in generated]),
                "digests": sorted({g.digest for g in generated}),
            }
        )
    return {
        **measure.header("workers", args, volume=args.volume),
        "rows": rows,
        "rows_total": total,
        "reference_workers": reference,
        "runs": results,
        "digest": digests[0] if len(digests) == 1 else digests,
        "digests_equal": len(digests) == 1,
    }


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    rows = []
    for r in result["runs"]:
        mem = r["memory_mb"]
        rows.append(
            [
                str(r["workers"]),
                fmt_stat(Stat.from_dict(r["seconds"])),
                f"{r['rows_per_second_total']:,}",
                fmt_ratio(r["speed_up"]),
                fmt_ratio(r.get("ceiling")) if "ceiling" in r else "",
                f"{100 * r['of_ceiling']:.0f} %" if r.get("of_ceiling") else "",
                fmt_stat(Stat.from_dict(mem["peak_uss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(mem["peak_rss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(mem["peak_anonymous_mb"]), ",.0f"),
                str(r["max_processes"]),
            ]
        )
    header = [
        "workers", "wall s", "rows/s", "speed-up", "ceiling", "of ceiling",
        "USS MB", "RSS MB", "anon MB", "procs",
    ]  # fmt: skip
    ceilings = [
        f"{r['workers']} at once took {fmt_stat(Stat.from_dict(r['concurrent_seconds']))} s"
        for r in result["runs"]
        if "concurrent_seconds" in r
    ]
    digest = result["digest"]
    return "\n".join(
        [
            f"shardgen generate --volume {result['volume']} by worker count: seed "
            f"{result['seed']}, as of {AS_OF}, {result['rows_total']:,} rows, "
            f"{result['repeat']} run(s) each; median (min–max)",
            f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
            f"load {m['load_average'][0]} at start",
            "",
            table(header, rows),
            "",
            f"speed-up = wall time with {result['reference_workers']} worker(s) ÷ wall time",
            *(
                [
                    "ceiling = N × (one-worker wall time) ÷ (N independent one-worker runs at "
                    "once): what the machine gives N-way parallel work; " + "; ".join(ceilings)
                ]
                if ceilings
                else []
            ),
            "digests equal across worker counts and repeats: "
            + ("yes, " + digest if result["digests_equal"] else f"NO: {', '.join(digest)}"),
            measure.sampling_note(
                result["sample_interval_s"], [r["sampling"] for r in result["runs"]]
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.check_tmp(args.tmp)
    result = run(args)
    measure.emit(result, args.json, lambda: render(result))
    return 0 if result["digests_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
