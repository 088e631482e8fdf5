#!/usr/bin/env python3
"""Each export target against its own floor, on the same rows in the same run.

The store is generated once. Then each repeat, target after target, runs
`shardgen export STORE --format F --to T` as a whole process (wall time and
the peaks of its process tree, sampled from outside) and, right after it, the
target's floor on the rows that export wrote, in a process of its own
(`floors.py`), timed as it loads and sampled as the export is, so each
target's memory stands beside its floor's:

- sqlite: a fresh file with the export's DDL (its tables and indexes, read
  from the exported file's sqlite_master); the exported file is attached as
  `copy`, and `INSERT INTO t SELECT * FROM copy.t` fills every table, parents
  before children, then the indexes are created; one transaction, committed,
  with the export's journal and sync settings (both off);
- parquet: the exported files are read into Arrow tables (not timed), then
  `pyarrow.parquet.write_table` writes the same tables, with the export's
  compression and row group size, into a scratch folder;
- parquet-partitioned (`--format parquet --partitioned`, a folder of one file
  per shard for each table, written by the workers): the same floor, the
  datasets read back as tables and written as one file each;
- postgres: on a throwaway server on loopback, started by this script, one
  connection and one transaction: the export's tables without their keys,
  server-side `COPY t FROM 'file' WITH (FORMAT csv, HEADER)` of the CSV
  export's files, then the keys, constraints and indexes. The export is
  loaded into a fresh database on the same server;
- duckdb: a fresh DuckDB file with the export's DDL (from the table
  registry, every key and CHECK), filled by `INSERT INTO t SELECT * FROM
  read_parquet(...)` of the Parquet export's files, parents first; one
  transaction, then a CHECKPOINT, as the export does;
- csv and jsonl have no floor of their own: their figure is the ratio to the
  Parquet export's time.

Each export's row counts, and each floor's, must equal the store's. A target
whose optional dependency (pyarrow, psycopg, duckdb) or server programs
(initdb) are missing is skipped, with a note. An export checks the store's
digest against the one recorded at promotion as it reads (no second verify);
`shardgen verify` alone is timed in each repeat too, for reference. The
floors, and the server, are in `floors.py`.

    .venv/bin/python benchmarks/bench_exports.py
    .venv/bin/python benchmarks/bench_exports.py --volume xl --repeat 1 --interval 1
    .venv/bin/python benchmarks/bench_exports.py --formats sqlite,parquet --json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import floors
import measure
from measure import CASES, SEED, BenchmarkError, Run, Stat, fmt_stat, stat, table

#: The targets, in the order each repeat measures them (csv before postgres,
#: whose floor loads the CSV export's files).
FORMATS = ("sqlite", "parquet", "parquet-partitioned", "duckdb", "csv", "jsonl", "postgres")


class Goal(NamedTuple):
    """The issue's target for a format: export time ≤ `limit` × the reference."""

    limit: float
    against: str  # "floor", or "parquet" for the Parquet export's time


GOALS = {
    "sqlite": Goal(1.5, "floor"),
    "parquet": Goal(1.5, "floor"),
    "parquet-partitioned": Goal(1.5, "floor"),
    "postgres": Goal(1.0, "floor"),
    "duckdb": Goal(1.5, "floor"),
    "csv": Goal(2.0, "parquet"),
    "jsonl": Goal(2.0, "parquet"),
}

#: The floors' script, run as a process of its own for each floor.
FLOORS_SCRIPT = Path(floors.__file__).resolve()

#: The optional module each format needs.
NEEDS = {
    "parquet": "pyarrow",
    "parquet-partitioned": "pyarrow",
    "postgres": "psycopg",
    "duckdb": "duckdb",
}
#: The export's options of a target that is a format with options.
OPTIONS = {"parquet-partitioned": ("parquet", "--partitioned")}


# -- arguments -------------------------------------------------------------------


def format_list(text: str) -> list[str]:
    """argparse type for --formats: known names, comma-separated, in measuring order."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(FORMATS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {', '.join(unknown) or text!r}: choose from {', '.join(FORMATS)}"
        )
    return [name for name in FORMATS if name in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--volume",
        choices=list(CASES),
        default="large",
        help="what to generate (default: large, a quick run; xl for the real figures)",
    )
    parser.add_argument(
        "--formats",
        type=format_list,
        default=list(FORMATS),
        help=f"comma-separated targets (default: {','.join(FORMATS)})",
    )
    parser.add_argument("--workers", type=int, help="generate --workers (default: shardgen's)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    measure.add_common_arguments(parser)
    return parser.parse_args(argv)


# -- row counts --------------------------------------------------------------------


def line_counts(folder: Path, suffix: str, header: int) -> dict[str, int]:
    """Rows per file, counted as lines (no text of the contract holds a newline)."""
    counts = {}
    for path in sorted(folder.glob(f"*.{suffix}")):
        with open(path, "rb") as file:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))
        counts[path.stem] = lines - header
    return counts


def parquet_counts(folder: Path) -> dict[str, int]:
    """Rows per table: a file each, or a folder of files each (partitioned)."""
    import pyarrow.parquet as pq

    return {
        p.stem: sum(int(pq.read_metadata(f).num_rows) for f in (sorted(p.glob("*.parquet")) or [p]))
        for p in sorted(folder.glob("*.parquet"))
    }


def postgres_counts(url: str, tables: list[str]) -> tuple[dict[str, int], int]:
    """Rows per table, and the bytes of the tables with their indexes."""
    import psycopg
    from psycopg import sql

    counts, size = {}, 0
    with psycopg.connect(url) as conn:
        for name in tables:
            query = sql.SQL("SELECT count(*), pg_total_relation_size({}) FROM {}").format(
                sql.Literal(name), sql.Identifier(name)
            )
            rows, bytes_ = conn.execute(query).fetchall()[0]
            counts[name] = int(rows)
            size += int(bytes_)
    return counts, size


def check_rows(what: str, found: dict[str, int], expected: dict[str, int]) -> None:
    if found != expected:
        raise BenchmarkError(f"{what} holds {found} rows, the store {expected}")


def size_of(path: Path) -> int:
    if path.is_dir():  # a folder of files, or of folders of files (partitioned Parquet)
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# -- the run ---------------------------------------------------------------------------


@dataclass
class Measured:
    """One target's measurements over the repeats."""

    exports: list[Run] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    floor_runs: list[Run] = field(default_factory=list)
    size: int = 0
    detail: str = ""


class Bench:
    """The store, the scratch folder, the server, and what was measured so far."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.store = folder / "data.lmdb"
        self.rows: dict[str, int] = {}
        self.server: floors.PostgresServer | None = None
        self.skipped: dict[str, str] = {}
        self.measured: dict[str, Measured] = {}

    def prepare(self) -> None:
        """Decide which targets can be measured here; start the server if one is wanted."""
        for name in self.args.formats:
            try:
                if name in NEEDS:
                    try:
                        __import__(NEEDS[name])
                    except ImportError:
                        raise floors.Unavailable(f"{NEEDS[name]} is not installed") from None
                if name == "postgres":
                    measure.progress("postgres: starting a throwaway server")
                    self.server = floors.PostgresServer.start(self.args.tmp)
            except floors.Unavailable as exc:
                self.skipped[name] = str(exc)
                measure.progress(f"{name}: skipped, {exc}")
            else:
                self.measured[name] = Measured()

    def target(self, name: str) -> Path:
        return self.folder / ("export.sqlite" if name == "sqlite" else f"export-{name}")

    def export(self, name: str, repeat: int) -> None:
        """Run the export as a whole process; check its rows, note its size."""
        measured = self.measured[name]
        if name == "postgres":
            assert self.server is not None
            with self.server.database(f"export_{repeat}") as url:
                measured.exports.append(self.run_export(name, url))
                found, measured.size = postgres_counts(url, list(self.rows))
        else:
            target = self.target(name)
            if target.is_dir():
                shutil.rmtree(target)
            target.unlink(missing_ok=True)
            measured.exports.append(self.run_export(name, target))
            found = {
                "sqlite": lambda: floors.sqlite_counts(target),
                "parquet": lambda: parquet_counts(target),
                "parquet-partitioned": lambda: parquet_counts(target),
                "duckdb": lambda: floors.duckdb_counts(target),
                "csv": lambda: line_counts(target, "csv", header=1),
                "jsonl": lambda: line_counts(target, "jsonl", header=0),
            }[name]()
            measured.size = size_of(target)
        check_rows(f"the {name} export", found, self.rows)

    def run_export(self, name: str, to: str | Path) -> Run:
        format, *options = OPTIONS.get(name, (name,))
        command = measure.shardgen_command(
            "export", self.store, "--format", format, *options, "--to", to
        )
        return measure.run_measured(command, interval=self.args.interval)

    def floor(self, name: str, repeat: int) -> None:
        """Run the target's floor as a whole process on the rows its export just
        wrote (`floors.py`): its seconds as it times them, its process tree's
        peaks; check its rows."""
        if name not in floors.FLOORS:
            return
        measured = self.measured[name]
        if name == "postgres":
            assert self.server is not None
            files = self.postgres_input()
            with self.server.database(f"floor_{repeat}") as url:
                run = self.run_floor(name, files, url)
        else:
            run = self.run_floor(
                name, self.parquet_input() if name == "duckdb" else self.target(name)
            )
        result = run.json()
        check_rows(f"the {name} floor", result["rows"], self.rows)
        measured.floors.append(float(result["seconds"]))
        measured.floor_runs.append(run)
        measured.detail = result["detail"]

    def run_floor(self, name: str, source: Path, url: str = "") -> Run:
        command: list[str | Path] = [
            sys.executable, FLOORS_SCRIPT, name, source, self.folder / "floor", url
        ]  # fmt: skip
        return measure.run_measured(command, interval=self.args.interval)

    def parquet_input(self) -> Path:
        """The Parquet export's files: this run's, or an export made now, untimed."""
        files = self.target("parquet")
        if not files.is_dir():
            measure.progress("duckdb: exporting the Parquet files the floor reads (untimed)")
            self.run_export("parquet", files)
        return files

    def postgres_input(self) -> Path:
        """The CSV export's files where the server can read them: this run's CSV
        export when it has one, else an export made now, untimed."""
        assert self.server is not None
        files = self.server.base / "csv"
        if not files.exists():
            measured_csv = self.target("csv")
            if measured_csv.is_dir():
                shutil.copytree(measured_csv, files)
            else:
                measure.progress("postgres: exporting the CSV files the floor loads (untimed)")
                self.run_export("csv", files)
            self.server.readable(files)
            check_rows(
                "the CSV files for the postgres floor", line_counts(files, "csv", 1), self.rows
            )
        return files

    def verify(self) -> Run:
        """`shardgen verify` alone: for reference (an export checks the promoted digest instead)."""
        run = measure.run_measured(
            measure.shardgen_command("verify", self.store, "--json"), interval=self.args.interval
        )
        if not run.json().get("ok"):
            raise BenchmarkError(f"verify of {self.store} did not pass: {run.stdout[:300]}")
        return run


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    bench = Bench(args, folder)
    measure.progress(f"{args.volume}: generating the store once")
    generated = measure.generate_measured(
        args.volume, bench.store, seed=args.seed, workers=args.workers, interval=args.interval
    )
    bench.rows = generated.rows
    verifies = []
    try:
        bench.prepare()
        for i in range(args.repeat):
            measure.progress(f"{args.volume}: verify alone, run {i + 1}/{args.repeat}")
            verifies.append(bench.verify())
            for name in bench.measured:
                measure.progress(
                    f"{args.volume}: {name} export and floor, run {i + 1}/{args.repeat}"
                )
                bench.export(name, i)
                bench.floor(name, i)
    finally:
        if bench.server is not None:
            bench.server.stop()
    total = generated.total_rows
    exported = {name: export_seconds(m) for name, m in bench.measured.items()}
    return {
        **measure.header("exports", args, volume=args.volume),
        "rows": bench.rows,
        "rows_total": total,
        "digest": generated.digest,
        "store_mb": round(measure.store_bytes(bench.store) / measure.MB, 1),
        "generate": {
            "command": " ".join(generated.run.argv[1:]),
            "seconds": round(generated.run.seconds, 3),
            "workers": generated.workers,
        },
        "verify": {"seconds": stat([r.seconds for r in verifies]).as_dict()},
        "targets": {
            name: (
                target_json(name, bench.measured[name], total, exported)
                if name in bench.measured
                else {"status": "skipped", "reason": bench.skipped[name]}
            )
            for name in args.formats
        },
        "rows_checked": True,
    }


def export_seconds(measured: Measured) -> Stat:
    return stat([r.seconds for r in measured.exports])


def target_json(
    name: str, measured: Measured, total: int, exported: dict[str, Stat]
) -> dict[str, Any]:
    """One measured target: its export, its floor, and the issue's goal."""
    goal = GOALS[name]
    seconds = exported[name]
    floor = stat(measured.floors) if measured.floors else None
    reference = floor if goal.against == "floor" else exported.get("parquet")
    against = "floor" if goal.against == "floor" else "parquet export"
    result_ratio = measure.ratio(seconds.median, reference.median) if reference else None
    return {
        "status": "measured",
        "command": " ".join(measured.exports[0].argv[1:]),
        "seconds": seconds.as_dict(),
        "rows_per_second": round(total / seconds.median),
        "memory_mb": measure.stats_json(measure.memory_stats(measured.exports), 1),
        "max_processes": max(r.max_processes for r in measured.exports),
        "sampling": measure.sampling_json(measured.exports),
        "size_mb": round(measured.size / measure.MB, 1),
        "floor": (
            {
                "what": floors.FLOORS[name],
                "detail": measured.detail,
                "seconds": floor.as_dict(),
                "memory_mb": measure.stats_json(measure.memory_stats(measured.floor_runs), 1),
            }
            if floor
            else None
        ),
        "against": against,
        "ratio": result_ratio,
        "goal": goal.limit,
        "met": None if result_ratio is None else result_ratio <= goal.limit,
    }


# -- the report ------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    rows, notes = [], []
    for name, r in result["targets"].items():
        if r["status"] == "skipped":
            rows.append([name, "skipped", *[""] * 11])
            notes.append(f"{name}: skipped, {r['reason']}")
            continue
        mem = r["memory_mb"]
        floor = r["floor"]
        met = {True: "yes", False: "no", None: "n/a"}[r["met"]]
        rows.append(
            [
                name,
                fmt_stat(Stat.from_dict(r["seconds"])),
                fmt_stat(Stat.from_dict(floor["seconds"]), ",.3f") if floor else "—",
                measure.fmt_ratio(r["ratio"]),
                f"≤ {r['goal']:g}× {r['against']}",
                met,
                f"{r['rows_per_second']:,}",
                fmt_stat(Stat.from_dict(mem["peak_uss_mb"]), ",.0f"),
                (
                    fmt_stat(Stat.from_dict(floor["memory_mb"]["peak_uss_mb"]), ",.0f")
                    if floor
                    else "—"
                ),
                fmt_stat(Stat.from_dict(mem["peak_rss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(mem["peak_anonymous_mb"]), ",.0f"),
                str(r["max_processes"]),
                f"{r['size_mb']:,.0f}",
            ]
        )
        if floor:
            notes.append(
                f"{name} floor: {floor['what']}"
                + (f" ({floor['detail']})" if floor["detail"] else "")
            )
        elif r["ratio"] is None:
            notes.append(f"{name}: no ratio, the parquet export was not measured")
    header = ["target", "export s", "floor s", "ratio", "goal", "met", "rows/s",
              "USS MB", "floor USS", "RSS MB", "anon MB", "procs", "size MB"]  # fmt: skip
    verify = Stat.from_dict(result["verify"]["seconds"])
    measured = [r for r in result["targets"].values() if r["status"] == "measured"]
    sampling = [r["sampling"] for r in measured]
    postgres = result["targets"].get("postgres", {}).get("status") == "measured"
    return "\n".join(
        [
            f"shardgen export against each target's floor, --volume {result['volume']}: "
            f"{result['rows_total']:,} rows, store {result['store_mb']:,} MB; "
            f"{result['repeat']} run(s) each; median (min–max)",
            f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
            f"load {m['load_average'][0]} at start",
            "",
            table(header, rows),
            "",
            "ratio = export ÷ floor (csv, jsonl: ÷ the parquet export); export: the whole "
            "process, start-up and its digest check of the store included; USS, RSS, anon: the "
            "export's process tree at its peak; floor USS: the floor's process at its peak (the "
            "parquet floors hold the tables they write in memory); size: what the export wrote "
            "(postgres: its tables with their indexes)",
            *notes,
            f"verify alone (for reference; no export runs it): {fmt_stat(verify)} s",
            "rows: every export and every floor holds the store's rows, table by table",
            measure.sampling_note(result["sample_interval_s"], sampling)
            + ("; postgres: the server's processes are not counted" if postgres else ""),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.check_tmp(args.tmp)
    folder = Path(tempfile.mkdtemp(prefix="bench-exports-", dir=args.tmp))
    try:
        result = run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    measure.emit(result, args.json, lambda: render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
