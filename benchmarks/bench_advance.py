#!/usr/bin/env python3
"""shardgen advance by 1, 7 and 30 days against generating the same store, side by side.

Each repeat generates the volume as a whole process (`python -m shardgen
generate ...`, the baseline), then, for each number of days, copies that
store to a scratch path (the copy is not timed) and advances the copy as a
whole process (`python -m shardgen advance COPY --days N --json`); the copy
advanced by 1 day is then advanced by 1 more (the next day, as a daily run
finds the store: the plan's catalog kept, the feed begun). All are
sampled from outside every 50 ms, so they see the same machine state; the
medians are compared. The store's own event log (`shardgen log COPY --json`)
splits each advance into the part before the days (open and copy the store
into PATH.staging), the days, the verify of the whole copy, the rest inside
advance() and what lies outside it (interpreter start-up, imports, promotion).

Beside each advance, its floor (`advance_floor.py`): LMDB alone taking in
the rows and the feed records that advance wrote, one transaction a day, in
a fresh copy of the generated store, in the two fastest ways known (the
faster counts), plus the start-up of a process that imports only lmdb and
msgspec. No advance can take less: it writes those rows and that feed, and
more besides (its draws, its reads, its verify). And after each advance,
`shardgen changes COPY --since DAY --out FILE` for its last day (DAY the
day before the store's date), as a daily pull of the feed would be; and the
store the longest advance left advanced by one more day, as a daily run
finds a store with a history.

    .venv/bin/python benchmarks/bench_advance.py --volumes large,xl --repeat 3
    .venv/bin/python benchmarks/bench_advance.py --volumes small --days 1,7 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import measure
from measure import (
    AS_OF,
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

#: The issue's goals at xl: advance ÷ generate, by days advanced.
TIME_GOALS = {1: 0.05, 30: 0.5}
#: The issue's memory goal at xl: peak USS of the whole process tree.
USS_GOAL_MB = 300.0
GOAL_VOLUME = "xl"
#: Fewer samples per run than this and a run's memory is not a peak.
MIN_SAMPLES = 5
#: The floor's script, run as a process of its own.
FLOOR = Path(__file__).with_name("advance_floor.py")
#: The parts of an advance's wall time, in the order they happen.
PARTS = ("copy", "days", "verify", "other", "outside")


def day_list(text: str) -> list[int]:
    """argparse type for --days: comma-separated whole numbers of at least 1."""
    try:
        days = [int(d) for d in text.split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected days such as 1,7,30, got {text!r}") from None
    if not days or min(days) < 1:
        raise argparse.ArgumentTypeError(f"--days must be whole numbers of at least 1, got {text}")
    return sorted(set(days))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--volumes",
        type=volume_list,
        default=["large", "xl"],
        help="comma-separated presets (default: large,xl)",
    )
    parser.add_argument(
        "--days",
        type=day_list,
        default=[1, 7, 30],
        help="comma-separated days to advance by (default: 1,7,30)",
    )
    parser.add_argument(
        "--workers", type=int, help="--workers of generate and advance (default: their own)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"root seed (default: {SEED})")
    measure.add_common_arguments(parser)
    return parser.parse_args(argv)


# -- one advance -----------------------------------------------------------------------


@dataclass(frozen=True)
class Advanced:
    """A measured `shardgen advance --json` run, what it printed, and its parts (seconds)."""

    run: Run
    digest: str
    changes: int
    inserted: dict[str, int]
    updated: dict[str, int]
    parts: dict[str, float]
    floor: float | None = None  # the floor's seconds (`floor_seconds`), start-up excluded
    last_day: Run | None = None  # `shardgen changes --since` the day before the last


def copy_store(source: Path, copy: Path) -> None:
    """A fresh copy of the store file at `copy`, as a user's own store would be."""
    measure.remove_store(copy)
    shutil.copyfile(source, copy)


def advance_measured(copy: Path, days: int, workers: int | None, interval: float) -> Advanced:
    """Advance `copy` by `days` as a whole process; a non-zero exit raises.

    advance verifies the advanced copy before promoting it over `copy` and
    exits non-zero when a rule fails, so a returned run is a verified dataset.
    """
    command = measure.shardgen_command(
        "advance", copy, "--days", str(days), "--json", "--quiet",
        *(("--workers", str(workers)) if workers is not None else ()),
    )  # fmt: skip
    run = measure.run_measured(command, interval=interval)
    summary = run.json()
    try:
        inserted = {str(k): int(v) for k, v in summary["inserted"].items()}
        updated = {str(k): int(v) for k, v in summary["updated"].items()}
        digest, changes = str(summary["digest"]), int(summary["changes"])
        if int(summary["days"]) != days:
            raise ValueError(f"advanced {summary['days']} day(s), not {days}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BenchmarkError(
            f"unexpected advance summary ({exc!r}): {run.stdout[:200]!r}"
        ) from None
    parts = split(log_events(copy), run.seconds, days)
    return Advanced(run, digest, changes, inserted, updated, parts)


def synced_copy(source: Path, copy: Path) -> None:
    """`copy_store`, and on disk before anything is timed (a sync at the end
    of a timed run would otherwise write the copy's pages too)."""
    copy_store(source, copy)
    with copy.open("rb+") as f:
        os.fsync(f.fileno())


def floor_seconds(generated: Path, advanced: Path, scratch: Path) -> float:
    """The floor of the advance that left `advanced`: the faster of the two
    ways `advance_floor.py` takes its rows and feed into a fresh copy of
    `generated`, checked to leave the same rows; seconds, start-up excluded."""
    found = []
    for way in ((), ("--writemap",)):
        synced_copy(generated, scratch)
        done = subprocess.run(
            [sys.executable, str(FLOOR), str(scratch), str(advanced), "--check", *way],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        measure.remove_store(scratch)
        try:
            result = json.loads(done.stdout)
            if done.returncode != 0 or result["tables_differ"]:
                raise ValueError(f"tables differ: {result['tables_differ']}")
            found.append(float(result["seconds"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchmarkError(
                f"the floor of {advanced} failed ({exc}): {done.stderr[-300:]}"
            ) from None
    return min(found)


def start_up_seconds(repeat: int = 5) -> float:
    """The median wall time of a process that imports only lmdb and msgspec."""
    walls = []
    for _ in range(repeat):
        run = measure.run_measured([sys.executable, "-c", "import lmdb, msgspec"], interval=0.05)
        walls.append(run.seconds)
    return statistics.median(walls)


def last_day_measured(copy: Path, as_of: str, scratch: Path, interval: float) -> Run:
    """`shardgen changes COPY --since DAY --out FILE`, DAY the day before the
    store's `as_of`: a daily pull of the last day's changes, as a whole process."""
    since = (dt.date.fromisoformat(as_of) - dt.timedelta(days=1)).isoformat()
    scratch.unlink(missing_ok=True)
    command = measure.shardgen_command("changes", copy, "--since", since, "--out", scratch)
    run = measure.run_measured(command, interval=interval)
    scratch.unlink(missing_ok=True)
    return run


def log_events(path: Path) -> list[dict[str, Any]]:
    """The store's event log, from `shardgen log PATH --json` (not measured)."""
    done = subprocess.run(
        measure.shardgen_command("log", path, "--json"),
        cwd=measure.ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchmarkError(f"shardgen log {path} exited with {done.returncode}: {done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def split(events: list[dict[str, Any]], wall: float, days: int) -> dict[str, float]:
    """An advance's wall seconds in parts, from the events its last run logged.

    run_promoted's `at - seconds` is when advance() began and its
    advance_started is logged once the copy is open, so `copy` is the locks,
    the checks and the copy into PATH.staging; `days` sums each day's work in
    its transaction; `verify` is the verify of the whole copy; `other` is the
    rest inside advance() (setup, commits, logging); `outside` is the process
    around advance(): start-up, imports, the totals, sync, promotion, output.
    """
    starts = [i for i, e in enumerate(events) if e.get("type") == "advance_started"]
    if not starts:
        raise BenchmarkError("the advanced store's log holds no advance_started event")
    mine = events[starts[-1] :]
    day_events = [e for e in mine if e.get("type") == "day_advanced"]
    verify = next((e for e in mine if e.get("type") == "verify_finished"), None)
    promoted = next((e for e in mine if e.get("type") == "run_promoted"), None)
    if verify is None or promoted is None or len(day_events) != days:
        raise BenchmarkError(
            f"the advanced store's log lacks its verify_finished, run_promoted or {days} "
            f"day_advanced events (found {len(day_events)} days)"
        )
    inside = float(promoted["seconds"])
    copy = float(mine[0]["at"]) - (float(promoted["at"]) - inside)
    day_seconds = sum(float(e["seconds"]) for e in day_events)
    verify_seconds = float(verify["seconds"])
    return {
        "copy": copy,
        "days": day_seconds,
        "verify": verify_seconds,
        "other": inside - copy - day_seconds - verify_seconds,
        "outside": wall - inside,
    }


# -- a volume, repeated ------------------------------------------------------------------


def run_volume(volume: str, args: argparse.Namespace) -> dict[str, Any]:
    """Generate `volume`, then advance a copy of it by each --days, --repeat times."""
    generated: list[Generated] = []
    advanced: dict[int, list[Advanced]] = {n: [] for n in args.days}
    next_day: list[Advanced] = []  # + 1 day from the store + 1 day left: a daily run
    #: + 1 day from the store the longest advance left: a daily run after a history.
    after_longest: list[Advanced] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-advance-", dir=args.tmp))
    try:
        store, copy = folder / f"{volume}.lmdb", folder / f"{volume}-copy.lmdb"
        for i in range(args.repeat):
            measure.remove_store(store)
            measure.progress(f"{volume}: generate run {i + 1}/{args.repeat}")
            generated.append(
                measure.generate_measured(
                    volume, store, seed=args.seed, workers=args.workers, interval=args.interval
                )
            )
            size = measure.store_bytes(store)
            shift = i % len(args.days)  # rotate the order, so no N always runs first
            for n in [*args.days[shift:], *args.days[:shift]]:
                copy_store(store, copy)
                measure.progress(f"{volume}: advance --days {n} run {i + 1}/{args.repeat}")
                advanced[n].append(advance_measured(copy, n, args.workers, args.interval))
                measure.progress(f"{volume}: the floor of + {n} d run {i + 1}/{args.repeat}")
                floor = floor_seconds(store, copy, folder / "floor.lmdb")
                measure.progress(f"{volume}: changes of the last day, + {n} d run {i + 1}")
                end = (dt.date.fromisoformat(AS_OF) + dt.timedelta(days=n)).isoformat()
                last_day = last_day_measured(copy, end, folder / "last-day.jsonl", args.interval)
                advanced[n][-1] = dataclasses.replace(
                    advanced[n][-1], floor=floor, last_day=last_day
                )
                if n == 1:  # and the next day, from the store that day left
                    measure.progress(f"{volume}: advance the next day run {i + 1}/{args.repeat}")
                    next_day.append(advance_measured(copy, 1, args.workers, args.interval))
                elif n == max(args.days):  # the day after the longest advance
                    measure.progress(f"{volume}: the day after + {n} d run {i + 1}/{args.repeat}")
                    after_longest.append(advance_measured(copy, 1, args.workers, args.interval))
                measure.remove_store(copy)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return summarise(volume, generated, advanced, next_day, after_longest, size, start_up_seconds())


def summarise(
    volume: str,
    generated: list[Generated],
    advanced: dict[int, list[Advanced]],
    next_day: list[Advanced],
    after_longest: list[Advanced],
    size: int,
    start_up: float,
) -> dict[str, Any]:
    rows = generated[0].rows
    if any(g.rows != rows for g in generated):
        raise BenchmarkError(f"{volume}: generated row counts differ between repeats")
    digests = sorted({g.digest for g in generated})
    seconds = stat([g.run.seconds for g in generated])
    base: dict[str, Any] = {
        "command": " ".join(generated[0].run.argv[1:]),
        "workers": generated[0].workers,
        "seconds": seconds.as_dict(),
        "rows_total": generated[0].total_rows,
        "memory_mb": stats_json(memory_stats([g.run for g in generated]), 1),
        "sampling": measure.sampling_json([g.run for g in generated]),
        "store_mb": round(size / measure.MB, 1),
        "digest": digests[0] if len(digests) == 1 else digests,
        "deterministic": len(digests) == 1,
    }
    return {
        "volume": volume,
        "generate": base,
        "floor_start_up_seconds": round(start_up, 3),
        "advance": [
            advance_summary(volume, n, runs, seconds, start_up) for n, runs in advanced.items()
        ],
        # + 1 day again, from the store the + 1 day run left (what a daily run
        # of advance does: the plan's catalog kept, the feed already begun).
        "next_day": advance_summary(volume, 1, next_day, seconds) if next_day else None,
        # + 1 day from the store the longest advance left: a daily run after a history.
        "after_longest": (
            {**advance_summary(volume, 1, after_longest, seconds), "after_days": max(advanced)}
            if after_longest
            else None
        ),
    }


def advance_summary(
    volume: str, days: int, runs: list[Advanced], generate: Stat, start_up: float | None = None
) -> dict[str, Any]:
    """The medians of `runs`, their ratio to generate's, the goals they meet,
    and their floor's (when measured: `start_up` + each run's floor)."""
    changes = {a.changes for a in runs}
    digests = sorted({a.digest for a in runs})
    if len(changes) != 1:
        raise BenchmarkError(f"{volume} +{days} d: changes differ between repeats: {changes}")
    n_changes = changes.pop()
    seconds = stat([a.run.seconds for a in runs])
    parts = {p: stat([a.parts[p] for a in runs]) for p in PARTS}
    memory = memory_stats([a.run for a in runs])
    time_ratio = ratio(seconds.median, generate.median, 3)
    goal = TIME_GOALS.get(days) if volume == GOAL_VOLUME else None
    uss = memory["peak_uss_mb"].median
    return {
        "days": days,
        "command": " ".join(runs[0].run.argv[1:]),
        "seconds": seconds.as_dict(),
        "parts": stats_json(parts),
        "ratio_to_generate": time_ratio,
        "goal": goal,
        "met": None if goal is None or time_ratio is None else time_ratio <= goal,
        "inserted": runs[0].inserted,
        "updated": runs[0].updated,
        "changes": n_changes,
        "changes_per_second": round(n_changes / seconds.median) if seconds.median else None,
        "changes_per_day_second": (
            round(n_changes / parts["days"].median) if parts["days"].median > 0 else None
        ),
        "memory_mb": stats_json(memory, 1),
        "uss_goal_mb": USS_GOAL_MB if volume == GOAL_VOLUME else None,
        "uss_met": uss <= USS_GOAL_MB if volume == GOAL_VOLUME else None,
        "max_processes": max(a.run.max_processes for a in runs),
        "sampling": measure.sampling_json([a.run for a in runs]),
        "digest": digests[0] if len(digests) == 1 else digests,
        "deterministic": len(digests) == 1,
        "floor": floor_summary(runs, generate, goal, start_up),
        "last_day_changes": last_day_summary(runs),
    }


def last_day_summary(runs: list[Advanced]) -> dict[str, Any] | None:
    """`shardgen changes --since` the day before the last, after each of `runs`:
    how many changes it wrote, its seconds and its memory."""
    pulls = [a.last_day for a in runs if a.last_day is not None]
    if len(pulls) != len(runs):
        return None
    written = {p.stdout.strip().split(" to ")[0] for p in pulls}  # "wrote N changes"
    return {
        "command": " ".join(pulls[0].argv[1:]),
        "printed": sorted(written),
        "seconds": stat([p.seconds for p in pulls]).as_dict(),
        "memory_mb": stats_json(memory_stats(pulls), 1),
    }


def floor_summary(
    runs: list[Advanced], generate: Stat, goal: float | None, start_up: float | None
) -> dict[str, Any] | None:
    """The floor of `runs` (start-up + taking in their rows and feed): its
    seconds, its ratio to generate's, and whether the goal lies below it."""
    floors = [a.floor for a in runs if a.floor is not None]
    if start_up is None or len(floors) != len(runs):
        return None
    seconds = stat([start_up + f for f in floors])
    floor_ratio = ratio(seconds.median, generate.median, 3)
    return {
        "seconds": seconds.as_dict(),
        "start_up_seconds": round(start_up, 3),
        "ratio_to_generate": floor_ratio,
        "goal_below_floor": None if goal is None or floor_ratio is None else goal < floor_ratio,
        "advance_over_floor": ratio(stat([a.run.seconds for a in runs]).median, seconds.median),
    }


def scaling(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each volume against the first, at each number of days: does the cost
    follow the store's size or the rows the days touch?"""
    if len(cases) < 2:
        return []
    first = cases[0]
    out = []
    for case in cases[1:]:
        for mine, theirs in zip(case["advance"], first["advance"], strict=True):
            out.append(
                {
                    "volume": case["volume"],
                    "against": first["volume"],
                    "days": mine["days"],
                    "store_rows": ratio(case["generate"]["rows_total"],
                                        first["generate"]["rows_total"]),
                    "changes": ratio(mine["changes"], theirs["changes"]),
                    "days_part": ratio(mine["parts"]["days"]["median"],
                                       theirs["parts"]["days"]["median"]),
                    "verify": ratio(mine["parts"]["verify"]["median"],
                                    theirs["parts"]["verify"]["median"]),
                    "wall": ratio(mine["seconds"]["median"], theirs["seconds"]["median"]),
                }
            )  # fmt: skip
    return out


# -- the report ---------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"shardgen advance vs generate: seed {result['seed']}, as of {AS_OF}, "
        f"{result['repeat']} run(s) each, alternating; median (min–max)",
        f"machine: {m['nproc']} CPUs, {m['memory_total_gb']} GB, Python {m['python']}, "
        f"load {m['load_average'][0]} at start",
        "",
    ]
    rows = []
    for case in result["cases"]:
        g = case["generate"]
        rows.append(
            [
                f"{case['volume']} generate",
                fmt_stat(Stat.from_dict(g["seconds"])),
                "1×", "", f"{g['rows_total']:,}", "", "", "",
                fmt_stat(Stat.from_dict(g["memory_mb"]["peak_uss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(g["memory_mb"]["peak_rss_mb"]), ",.0f"),
                fmt_stat(Stat.from_dict(g["memory_mb"]["peak_anonymous_mb"]), ",.0f"),
            ]
        )  # fmt: skip
        for name, a in advances(case):
            met = {True: " met", False: " MISSED", None: ""}[a["met"]]
            uss_met = {True: " met", False: " MISSED", None: ""}[a["uss_met"]]
            rows.append(
                [
                    f"{case['volume']} advance {name}",
                    fmt_stat(Stat.from_dict(a["seconds"])),
                    fmt_ratio(a["ratio_to_generate"], ".3f"),
                    f"≤ {a['goal']:g}×{met}" if a["goal"] is not None else "",
                    f"{a['changes']:,}",
                    f"{a['changes_per_second']:,}",
                    f"{a['changes_per_day_second']:,}" if a["changes_per_day_second"] else "",
                    str(a["max_processes"]),
                    fmt_stat(Stat.from_dict(a["memory_mb"]["peak_uss_mb"]), ",.0f") + uss_met,
                    fmt_stat(Stat.from_dict(a["memory_mb"]["peak_rss_mb"]), ",.0f"),
                    fmt_stat(Stat.from_dict(a["memory_mb"]["peak_anonymous_mb"]), ",.0f"),
                ]
            )
    header = ["run", "wall s", "÷ generate", "goal", "rows/changes", "changes/s",
              "changes/s of days", "procs", "USS MB", "RSS MB", "anon MB"]  # fmt: skip
    lines += [table(header, rows), ""]
    lines += [render_floors(result), ""]
    lines += [render_parts(result), ""]
    if result["scaling"]:
        lines += [render_scaling(result["scaling"]), ""]
    sampling = [c["generate"]["sampling"] for c in result["cases"]] + [
        a["sampling"] for c in result["cases"] for _, a in advances(c)
    ]
    lines += [
        "wall: the whole process, start-up included; the store copy an advance works on is made "
        "before it and not timed; changes = rows inserted + updated (the change feed)",
        f"goals at {GOAL_VOLUME}: advance ÷ generate as shown; peak USS of the tree "
        f"≤ {USS_GOAL_MB:g} MB; USS counts the pages of the store's mapping only this process "
        "tree maps (the copy's page cache), anon only heap and stacks",
        f"deterministic (same digests every repeat): {str(result['deterministic']).lower()}",
        measure.sampling_note(result["sample_interval_s"], sampling),
        *few_samples(result),
    ]
    return "\n".join(lines)


def advances(case: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A case's advances, named: each + N days from the generated store, then
    the next day from the store + 1 day left, and from the store the longest
    advance left."""
    named = [(f"+{a['days']} d", a) for a in case["advance"]]
    if case.get("next_day"):
        named.append(("+1 d, the next day", case["next_day"]))
    if case.get("after_longest"):
        after = case["after_longest"]
        named.append((f"+1 d after +{after['after_days']} d", after))
    return named


def few_samples(result: dict[str, Any]) -> list[str]:
    """A warning naming the runs sampled too seldom for their memory to be a peak."""
    few = [
        f"{c['volume']} {name}"
        for c in result["cases"]
        for name, r in [("generate", c["generate"]), *advances(c)]
        if r["sampling"]["samples_per_run"] < MIN_SAMPLES
    ]
    if not few:
        return []
    return [
        f"memory NOT a peak (under {MIN_SAMPLES} samples per run; lower --interval): "
        + ", ".join(few)
    ]


def render_floors(result: dict[str, Any]) -> str:
    rows = []
    for case in result["cases"]:
        for name, a in advances(case):
            floor = a.get("floor")
            if floor is None:
                continue
            below = {True: " below the floor", False: " above it", None: ""}[
                floor["goal_below_floor"]
            ]
            rows.append(
                [
                    f"{case['volume']} {name}",
                    fmt_stat(Stat.from_dict(floor["seconds"]), ",.3f"),
                    fmt_ratio(floor["ratio_to_generate"], ".3f"),
                    f"≤ {a['goal']:g}×{below}" if a["goal"] is not None else "",
                    fmt_ratio(floor["advance_over_floor"]),
                ]
            )
            pull = a.get("last_day_changes")
            if pull is not None:
                rows[-1] += [
                    fmt_stat(Stat.from_dict(pull["seconds"]), ",.3f"),
                    ", ".join(pull["printed"]),
                ]
    header = ["floor of", "floor s", "÷ generate", "goal", "advance ÷ floor",
              "last day's changes s", "changes printed"]  # fmt: skip
    return "\n".join(
        [
            "the floor of each advance (advance_floor.py): LMDB alone taking in the rows and feed "
            "records it wrote, a transaction a day, in a fresh copy of the generated store (the "
            "faster of two ways), plus the start-up of a process importing lmdb and msgspec; "
            "and `shardgen changes --since` the day before the last, a daily pull",
            table(header, rows),
        ]
    )


def render_parts(result: dict[str, Any]) -> str:
    rows = []
    for case in result["cases"]:
        for name, a in advances(case):
            parts = a["parts"]
            rows.append(
                [
                    f"{case['volume']} {name}",
                    *(f"{parts[p]['median']:,.3f}" for p in PARTS),
                    f"{1000 * parts['days']['median'] / a['days']:,.1f}",
                ]
            )
    header = ["advance", *(f"{p} s" for p in PARTS), "ms per day"]
    return "\n".join(
        [
            "where an advance's time goes (medians, from the store's event log): copy = open, "
            "check and copy into PATH.staging; days = each day's work in its transaction; verify "
            "= the whole copy; other = the rest of advance(); outside = start-up, imports, "
            "promotion, output",
            table(header, rows),
        ]
    )


def render_scaling(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            f"{r['volume']} ÷ {r['against']} +{r['days']} d",
            fmt_ratio(r["store_rows"]),
            fmt_ratio(r["changes"]),
            fmt_ratio(r["days_part"]),
            fmt_ratio(r["verify"]),
            fmt_ratio(r["wall"]),
        ]
        for r in rows
    ]
    header = ["scaling", "store rows", "changes", "days part", "verify", "wall"]
    return "\n".join(
        [
            "does the cost follow the store's size or the rows the days touch? (ratios of medians)",
            table(header, body),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.check_tmp(args.tmp)
    result = measure.header("advance", args, days=args.days, cases=[])
    for volume in args.volumes:
        result["cases"].append(run_volume(volume, args))
    result["scaling"] = scaling(result["cases"])
    result["deterministic"] = all(
        c["generate"]["deterministic"] and all(a["deterministic"] for _, a in advances(c))
        for c in result["cases"]
    )
    measure.emit(result, args.json, lambda: render(result))
    return 0 if result["deterministic"] else 1


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
