#!/usr/bin/env python3
"""shardgen generate against the per-field Faker baseline, side by side.

Both run as whole processes (`python -m shardgen generate ...` and
`python benchmarks/baseline_faker.py ...`), sampled from outside every 50 ms,
alternating within each repeat. shardgen also writes, verifies and promotes
an LMDB store; the baseline only builds lists of dicts in memory.

    .venv/bin/python benchmarks/bench_generate.py --volumes small,medium,large
    .venv/bin/python benchmarks/bench_generate.py --volumes xl --baseline-xl --json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import measure
from measure import (
    AS_OF,
    BENCHMARKS,
    SEED,
    BenchmarkError,
    Generated,
    Run,
    Stat,
    fmt_ratio,
    fmt_stat,
    memory_stats,
    ratio,
    stat,
    stats_json,
    table,
    volume_list,
)

BASELINE = BENCHMARKS / "baseline_faker.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--volumes",
        type=volume_list,
        default=["small", "medium", "large"],
        help="comma-separated presets (default: small,medium,large)",
    )
    parser.add_argument(
        "--ten-xl",
        action="store_true",
        help="also 10×xl: --customers 1000000 --products 2000000 --invoices 10000000",
    )
    parser.add_argument("--no-baseline", action="store_true", help="shardgen only")
    parser.add_argument(
        "--baseline-xl",
        action="store_true",
        help="also run the baseline at xl (about 100 s and over 2 GB per run)",
    )
    parser.add_argument("--workers", type=int, help="shardgen --workers (default: its own)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    measure.add_common_arguments(parser)
    return parser.parse_args(argv)


def baseline_measured(volume: str, seed: int, interval: float) -> tuple[Run, dict[str, Any]]:
    run = measure.run_measured(
        [sys.executable, BASELINE, "--volume", volume, "--seed", str(seed), "--json"],
        interval=interval,
    )
    result = run.json()
    if not isinstance(result, dict) or "rows" not in result or "seconds" not in result:
        raise BenchmarkError(f"unexpected baseline output: {run.stdout[:200]!r}")
    return run, result


def run_case(case: str, with_baseline: bool, args: argparse.Namespace) -> dict[str, Any]:
    generated: list[Generated] = []
    baseline: list[tuple[Run, dict[str, Any]]] = []
    for i in range(args.repeat):
        folder = Path(tempfile.mkdtemp(prefix="bench-generate-", dir=args.tmp))
        try:
            out = folder / f"{case}.lmdb"
            measure.progress(f"{case}: shardgen run {i + 1}/{args.repeat}")
            g = measure.generate_measured(
                case, out, seed=args.seed, workers=args.workers, interval=args.interval
            )
            g_size = measure.store_bytes(out)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        generated.append(g)
        if with_baseline:
            measure.progress(f"{case}: baseline run {i + 1}/{args.repeat}")
            baseline.append(baseline_measured(case, args.seed, args.interval))

    rows = generated[0].rows
    if any(g.rows != rows for g in generated):
        raise BenchmarkError(f"{case}: row counts differ between repeats")
    digests = sorted({g.digest for g in generated})
    seconds = stat([g.run.seconds for g in generated])
    total = sum(rows.values())
    memory = memory_stats([g.run for g in generated])
    reported_anon = [g.peak_anon / measure.MB for g in generated if g.peak_anon is not None]
    shardgen: dict[str, Any] = {
        "command": " ".join(generated[0].run.argv[1:]),
        "workers": generated[0].workers,
        "seconds": seconds.as_dict(),
        "seconds_reported": stat([g.seconds for g in generated]).as_dict(),
        "rows": rows,
        "rows_total": total,
        "rows_per_second": {t: round(n / seconds.median) for t, n in rows.items()},
        "rows_per_second_total": round(total / seconds.median),
        "memory_mb": stats_json(memory, 1),
        "memory_reported_mb": {
            "peak_uss": stat([g.peak_uss / measure.MB for g in generated]).as_dict(1),
            "peak_rss": stat([g.peak_rss / measure.MB for g in generated]).as_dict(1),
        },
        "memory_reported_pss_anon_mb": stat(reported_anon).as_dict(1) if reported_anon else None,
        "max_processes": max(g.run.max_processes for g in generated),
        "sampling": measure.sampling_json([g.run for g in generated]),
        "store_mb": round(g_size / measure.MB, 1),
        "verified": True,  # generate exits non-zero (and we raise) unless verify passes
        "digest": digests[0] if len(digests) == 1 else digests,
        "deterministic": len(digests) == 1,
    }
    result: dict[str, Any] = {"case": case, "shardgen": shardgen}
    if not baseline:
        result["baseline"] = None
        result["skipped_baseline"] = (
            "run with --baseline-xl to include it"
            if case == "xl" and not args.no_baseline
            else "the baseline has no 10xl volume"
            if case == "10xl"
            else "--no-baseline"
        )
        return result
    b_runs = [run for run, _ in baseline]
    b_rows: dict[str, int] = baseline[0][1]["rows"]
    b_total = sum(b_rows.values())
    b_seconds = stat([run.seconds for run in b_runs])
    b_memory = memory_stats(b_runs)
    result["baseline"] = {
        "command": " ".join(b_runs[0].argv[1:]),
        "seconds": b_seconds.as_dict(),
        "seconds_reported": stat([float(r["seconds"]) for _, r in baseline]).as_dict(),
        "rows": b_rows,
        "rows_total": b_total,
        "rows_per_second_total": round(b_total / b_seconds.median),
        "memory_mb": stats_json(b_memory, 1),
        "sampling": measure.sampling_json(b_runs),
    }
    result["ratios"] = {
        "time": ratio(b_seconds.median, seconds.median),
        "throughput": ratio(total / seconds.median, b_total / b_seconds.median),
        **{
            name.removesuffix("_mb"): ratio(b_memory[name].median, memory[name].median)
            for name in memory
        },
    }
    return result


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"shardgen generate vs the Faker baseline: seed {result['seed']}, as of {AS_OF}, "
        f"{result['repeat']} run(s) each; median (min–max)",
        f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
        f"load {m['load_average'][0]} at start",
        "",
    ]
    rows = []
    notes = []
    for case in result["cases"]:
        for tool in ("shardgen", "baseline"):
            r = case[tool]
            if r is None:
                rows.append([case["case"], tool, "", "skipped", *[""] * 5])
                notes.append(f"{case['case']} baseline skipped: {case['skipped_baseline']}")
                continue
            mem = r["memory_mb"]
            rows.append(
                [
                    case["case"],
                    tool,
                    str(r.get("workers", 1)),
                    fmt_stat(Stat.from_dict(r["seconds"])),
                    f"{r['rows_total']:,}",
                    f"{r['rows_per_second_total']:,}",
                    fmt_stat(Stat.from_dict(mem["peak_uss_mb"]), ",.0f"),
                    fmt_stat(Stat.from_dict(mem["peak_rss_mb"]), ",.0f"),
                    fmt_stat(Stat.from_dict(mem["peak_anonymous_mb"]), ",.0f"),
                ]
            )
    header = [
        "volume", "tool", "workers", "wall s", "rows", "rows/s", "USS MB", "RSS MB", "anon MB"
    ]  # fmt: skip
    lines += [table(header, rows), *notes, ""]

    ratio_rows = []
    for case in result["cases"]:
        r = case.get("ratios")
        sg = case["shardgen"]
        ratio_rows.append(
            [
                case["case"],
                fmt_ratio(r["time"]) if r else "-",
                fmt_ratio(r["peak_uss"]) if r else "-",
                fmt_ratio(r["peak_rss"]) if r else "-",
                fmt_ratio(r["peak_anonymous"]) if r else "-",
                str(sg["deterministic"]).lower(),
                sg["digest"][:16] if isinstance(sg["digest"], str) else "DIFFERENT",
            ]
        )
    lines.append(
        "ratios = baseline ÷ shardgen, medians: above 1× shardgen is that many times "
        "faster / smaller"
    )
    lines += [
        table(["volume", "time", "USS", "RSS", "anon", "deterministic", "digest"], ratio_rows),
        "",
    ]

    tables = list(result["cases"][0]["shardgen"]["rows"])
    header = ["shardgen table"]
    for case in result["cases"]:
        header += [f"{case['case']} rows", "rows/s"]
    per_table = []
    for t in [*tables, "total"]:
        row = [t]
        for case in result["cases"]:
            sg = case["shardgen"]
            if t == "total":
                row += [f"{sg['rows_total']:,}", f"{sg['rows_per_second_total']:,}"]
            else:
                row += [f"{sg['rows'][t]:,}", f"{sg['rows_per_second'][t]:,}"]
        per_table.append(row)
    lines.append("rows per table (rows/s = rows ÷ median whole-process wall time)")
    lines.append(table(header, per_table))
    sampling = [
        case[tool]["sampling"]
        for case in result["cases"]
        for tool in ("shardgen", "baseline")
        if case[tool] is not None
    ]
    lines += ["", measure.sampling_note(result["sample_interval_s"], sampling)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = list(args.volumes) + (["10xl"] if args.ten_xl else [])
    measure.check_tmp(args.tmp)
    result = measure.header("generate", args, cases=[])
    for case in cases:
        with_baseline = not args.no_baseline and (
            case in ("small", "medium", "large") or (case == "xl" and args.baseline_xl)
        )
        result["cases"].append(run_case(case, with_baseline, args))
    result["deterministic"] = all(c["shardgen"]["deterministic"] for c in result["cases"])
    measure.emit(result, args.json, lambda: render(result))
    return 0 if result["deterministic"] else 1


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
