#!/usr/bin/env python3
"""One benchmark, run from two checkouts in alternating rounds, side by side.

Each round runs the benchmark script once from the base checkout and once from
this one (in turn, the order swapping every round), each with `--json`; each
script runs its `shardgen` commands from its own checkout, so each measures its
own code. Every figure a script reports as a median is collected per round; the
table gives, per figure, the median over the rounds of each checkout and the
ratio this ÷ base (below 1: this checkout is faster or smaller).

    git worktree add /tmp/base v0.3.0
    .venv/bin/python benchmarks/compare.py --base /tmp/base --rounds 5 \\
        bench_workers.py --volume xl
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

from measure import BenchmarkError

HERE = Path(__file__).resolve().parent.parent

#: Keys that name an entry of a list of runs (a worker count, a format, a case).
NAMING_KEYS = ("workers", "format", "case", "name", "volume", "target")


class Figure(NamedTuple):
    figure: str
    base: float
    this: float
    ratio: float | None  # this ÷ base


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("script", help="a script in benchmarks/, e.g. bench_workers.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for checkout in (args.base, HERE):
        if not (checkout / "benchmarks" / args.script).is_file():
            parser.error(f"{checkout / 'benchmarks' / args.script} does not exist")
    return args


def medians(document: Any, path: str = "") -> dict[str, float]:
    """Every `{"median": x, ...}` in a benchmark's JSON, by its path."""
    found: dict[str, float] = {}
    if isinstance(document, dict):
        if isinstance(document.get("median"), int | float):
            found[path] = float(document["median"])
            return found
        for key, value in document.items():
            found.update(medians(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            label = str(index)
            if isinstance(item, dict):
                named = [f"{k}={item[k]}" for k in NAMING_KEYS if k in item]
                label = ",".join(named) or label
            found.update(medians(item, f"{path}[{label}]"))
    return found


def run_once(checkout: Path, script: str, args: list[str]) -> dict[str, float]:
    command = [sys.executable, str(checkout / "benchmarks" / script), *args, "--json"]
    print(f"  {checkout}: {' '.join(command[2:])}", file=sys.stderr)
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise BenchmarkError(f"{script} in {checkout} exited with {done.returncode}: {tail}")
    return medians(json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base, this = args.base.resolve(), HERE
    figures: dict[Path, list[dict[str, float]]] = {base: [], this: []}
    try:
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
            order = (base, this) if number % 2 == 0 else (this, base)
            for checkout in order:
                figures[checkout].append(run_once(checkout, args.script, args.args))
    except BenchmarkError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    rows: list[Figure] = []
    for key in figures[this][0]:
        if all(key in r for r in figures[base] + figures[this]):
            old = statistics.median(r[key] for r in figures[base])
            new = statistics.median(r[key] for r in figures[this])
            rows.append(Figure(key, old, new, new / old if old else None))
    if args.json:
        result = {
            "script": args.script,
            "args": args.args,
            "rounds": args.rounds,
            "base": str(base),
            "this": str(this),
            "figures": [r._asdict() for r in rows],
        }
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.script} {' '.join(args.args)}: medians of {args.rounds} round(s)")
    print(f"base {base}; this {this}\n")
    width = max((len(r.figure) for r in rows), default=6)
    print(f"{'figure':<{width}}  {'base':>10}  {'this':>10}  {'this/base':>9}")
    for r in rows:
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "-"
        print(f"{r.figure:<{width}}  {r.base:>10.3f}  {r.this:>10.3f}  {ratio:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
