#!/usr/bin/env python3
"""shardgen verify and shardgen export --format sqlite on one generated store.

The store is generated once; then each repeat runs `shardgen verify PATH
--json` and `shardgen export PATH --format sqlite --to FILE --force` as whole
processes, sampled from outside every 50 ms. The store was just written, so
it is read from a warm page cache. Verify must pass with the generate run's
digest, and the SQLite file must hold every row.

    .venv/bin/python benchmarks/bench_verify_export.py --volume xl
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import measure
from measure import (
    CASES,
    SEED,
    BenchmarkError,
    Run,
    Stat,
    fmt_stat,
    memory_stats,
    stat,
    stats_json,
    table,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--volume",
        choices=list(CASES),
        default="large",
        help="what to generate (default: large, a quick run; xl for the real figure)",
    )
    parser.add_argument("--workers", type=int, help="generate --workers (default: shardgen's)")
    parser.add_argument("--verify-workers", type=int, help="verify --workers (default: shardgen's)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    measure.add_common_arguments(parser)
    return parser.parse_args(argv)


def sqlite_rows(path: Path, tables: list[str]) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        # Table names come from shardgen's own report, never from user input.
        return {t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}


def summarise(runs: list[Run], total: int) -> dict[str, Any]:
    seconds = stat([r.seconds for r in runs])
    return {
        "command": " ".join(runs[0].argv[1:]),
        "seconds": seconds.as_dict(),
        "rows_per_second": round(total / seconds.median),
        "memory_mb": stats_json(memory_stats(runs), 1),
        "max_processes": max(r.max_processes for r in runs),
        "sampling": measure.sampling_json(runs),
    }


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    store = folder / "data.lmdb"
    sqlite = folder / "data.sqlite"
    measure.progress(f"{args.volume}: generating the store once")
    generated = measure.generate_measured(
        args.volume, store, seed=args.seed, workers=args.workers, interval=args.interval
    )
    rows = generated.rows
    total = generated.total_rows

    verifies: list[Run] = []
    exports: list[Run] = []
    for i in range(args.repeat):
        measure.progress(f"{args.volume}: verify and export, run {i + 1}/{args.repeat}")
        # verify exits 1 when a rule fails: keep the run and report it below.
        workers = ("--workers", str(args.verify_workers)) if args.verify_workers else ()
        v = measure.run_measured(
            measure.shardgen_command("verify", store, "--json", *workers),
            check=False,
            interval=args.interval,
        )
        if v.returncode not in (0, 1):
            raise BenchmarkError(f"verify of {store} exited with {v.returncode}: {v.stderr[-300:]}")
        report = v.json()
        if not report.get("ok") or report.get("digest") != generated.digest:
            raise BenchmarkError(
                f"verify of {store}: ok={report.get('ok')}, digest {report.get('digest')} "
                f"(generate said {generated.digest})"
            )
        verifies.append(v)
        exports.append(
            measure.run_measured(
                measure.shardgen_command(
                    "export", store, "--format", "sqlite", "--to", sqlite, "--force"
                ),
                interval=args.interval,
            )
        )
    exported = sqlite_rows(sqlite, list(rows))
    if exported != rows:
        raise BenchmarkError(f"the SQLite export holds {exported}, the store {rows}")
    return {
        **measure.header("verify_export", args, volume=args.volume),
        "rows": rows,
        "rows_total": total,
        "digest": generated.digest,
        "store_mb": round(measure.store_bytes(store) / measure.MB, 1),
        "sqlite_mb": round(sqlite.stat().st_size / measure.MB, 1),
        "generate": {
            "command": " ".join(generated.run.argv[1:]),
            "seconds": round(generated.run.seconds, 3),
            "workers": generated.workers,
        },
        "verify": {
            **summarise(verifies, total),
            "seconds_reported": stat([float(r.json()["seconds"]) for r in verifies]).as_dict(),
            "ok": True,
        },
        "export": {**summarise(exports, total), "rows_checked": True},
    }


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    rows = []
    for name in ("verify", "export"):
        r = result[name]
        mem = r["memory_mb"]
        rows.append(
            [
                name,
                fmt_stat(Stat.from_dict(r["seconds"])),
                f"{r['rows_per_second']:,}",
                fmt_stat(Stat.from_dict(mem["peak_uss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(mem["peak_rss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(mem["peak_anonymous_mb"]), ",.0f"),
            ]
        )
    header = ["command", "wall s", "rows/s", "USS MB", "RSS MB", "anon MB"]
    return "\n".join(
        [
            f"shardgen verify and export (sqlite), --volume {result['volume']}: "
            f"{result['rows_total']:,} rows, store {result['store_mb']:,} MB, SQLite "
            f"{result['sqlite_mb']:,} MB; {result['repeat']} run(s) each; median (min–max)",
            f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
            f"load {m['load_average'][0]} at start",
            "",
            table(header, rows),
            "",
            f"verify: ok, digest {result['digest']} (as generated); export: every row present",
            measure.sampling_note(
                result["sample_interval_s"], [result[n]["sampling"] for n in ("verify", "export")]
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.check_tmp(args.tmp)
    folder = Path(tempfile.mkdtemp(prefix="bench-verify-export-", dir=args.tmp))
    try:
        result = run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    measure.emit(result, args.json, lambda: render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
