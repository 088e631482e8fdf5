"""Shared benchmark machinery: run a command, sample its process tree, summarise repeats.

Memory is sampled from OUTSIDE the measured process: a thread in the benchmark
process reads the child and all its descendants (forkserver, pool workers)
every 50 ms and keeps the peak of each sum. Three figures are kept because
each tells a different story for an LMDB writer:

- RSS counts every resident page, including LMDB's file-backed mapped pages
  and shared libraries;
- USS (private pages) still counts mapped LMDB pages the process dirtied or
  alone has touched;
- Anonymous (from /proc/PID/smaps_rollup) is heap and stacks only: the memory
  the process really allocates. Copy-on-write pages shared after a fork are
  counted once per process, so the sum can slightly over-count; Pss_Anon,
  kept alongside, splits such pages between their sharers and does not.

    >>> run = run_measured([sys.executable, "-c", "pass"])  # doctest: +SKIP
    >>> run.seconds, run.peak_anonymous  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import psutil

MB = 2**20
#: Seconds between two samples of the measured process tree.
SAMPLE_INTERVAL = 0.05
#: The repository root, so children import the working tree's shardgen.
ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path(__file__).resolve().parent
#: Every benchmark uses this seed and as_of, so runs compare like with like.
SEED = 42
AS_OF = "2026-06-30"


class BenchmarkError(Exception):
    """A measured command failed, or its output was not what the benchmark expects."""


# -- sampling ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeSample:
    """Memory summed over a process and its descendants at one instant (bytes)."""

    rss: int
    uss: int
    anonymous: int
    pss_anon: int
    processes: int


class Rollup(NamedTuple):
    """What one read of /proc/PID/smaps_rollup tells, in bytes."""

    uss: int  # Private_Clean + Private_Dirty + Private_Hugetlb, as psutil's USS
    anonymous: int  # the "Anonymous:" line
    pss_anon: int  # the "Pss_Anon:" line (0 before Linux 5.9)


#: The presets a benchmark may be given (--volumes).
VOLUMES = ("small", "medium", "large", "xl")


def volume_list(text: str) -> list[str]:
    """argparse type for --volumes: comma-separated presets, each once."""
    volumes = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in volumes if v not in VOLUMES]
    if unknown or not volumes:
        raise argparse.ArgumentTypeError(
            f"unknown volume(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(VOLUMES)}"
        )
    return list(dict.fromkeys(volumes))


def read_rollup(pid: int) -> Rollup | None:
    """USS and anonymous memory of a process from ONE read of smaps_rollup.

    psutil's `memory_full_info()` computes USS from this same file; reading it
    once here instead of twice (once by psutil, once for Anonymous) halves the
    sampling cost, which grows with the resident pages of the LMDB mapping
    because the kernel walks the page tables to produce the file.
    None when the file cannot be read (the process has gone, or an old kernel).
    """
    uss = anonymous = pss_anon = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
            for line in file:
                if line.startswith(b"Private_"):
                    uss += int(line.split()[1]) * 1024
                elif line.startswith(b"Anonymous:"):
                    anonymous = int(line.split()[1]) * 1024
                elif line.startswith(b"Pss_Anon:"):
                    pss_anon = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return Rollup(uss, anonymous, pss_anon)


def sample_tree(root: psutil.Process) -> TreeSample:
    """RSS, USS and anonymous memory summed over `root` and all its descendants."""
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        processes = [root]
    rss = uss = anonymous = pss_anon = counted = 0
    for process in processes:
        try:
            own_rss = process.memory_info().rss
            rollup = read_rollup(process.pid)
            if rollup is None:  # no smaps_rollup: psutil falls back to parsing smaps
                rollup = Rollup(process.memory_full_info().uss, 0, 0)
        except psutil.Error:  # exited, a zombie, or not ours: nothing to count
            continue
        rss += own_rss
        uss += rollup.uss
        anonymous += rollup.anonymous
        pss_anon += rollup.pss_anon
        counted += 1
    return TreeSample(rss, uss, anonymous, pss_anon, counted)


class PeakSampler:
    """Samples a process tree from a background thread and keeps the peaks.

    >>> with PeakSampler(pid) as sampler:  # doctest: +SKIP
    ...     child.wait()
    >>> sampler.peak_uss  # doctest: +SKIP
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.interval = interval
        self.peak_rss = 0
        self.peak_uss = 0
        self.peak_anonymous = 0
        self.peak_pss_anon = 0
        self.max_processes = 0
        self.samples = 0
        #: Wall seconds spent sampling: reading smaps walks the process's page
        #: tables, which costs more as the LMDB mapping grows.
        self.sampling_seconds = 0.0
        self._root: psutil.Process | None
        try:
            self._root = psutil.Process(pid)
        except psutil.Error:
            self._root = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)

    def sample(self) -> None:
        if self._root is None:
            return
        started = time.perf_counter()
        sample = sample_tree(self._root)
        self.sampling_seconds += time.perf_counter() - started
        if sample.processes == 0:
            return
        self.samples += 1
        self.peak_rss = max(self.peak_rss, sample.rss)
        self.peak_uss = max(self.peak_uss, sample.uss)
        self.peak_anonymous = max(self.peak_anonymous, sample.anonymous)
        self.peak_pss_anon = max(self.peak_pss_anon, sample.pss_anon)
        self.max_processes = max(self.max_processes, sample.processes)

    def _loop(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- running a measured command --------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured execution of a command (memory in bytes)."""

    argv: list[str]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int
    peak_uss: int
    peak_anonymous: int
    peak_pss_anon: int
    max_processes: int
    samples: int
    sampling_seconds: float

    def json(self) -> Any:
        """The command's stdout parsed as one JSON document."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(
                f"{' '.join(self.argv)} did not print JSON ({exc}); stdout began: "
                f"{self.stdout[:200]!r}"
            ) from None

    def memory_mb(self) -> dict[str, float]:
        return {
            "peak_uss_mb": self.peak_uss / MB,
            "peak_rss_mb": self.peak_rss / MB,
            "peak_anonymous_mb": self.peak_anonymous / MB,
            "peak_pss_anon_mb": self.peak_pss_anon / MB,
        }


def run_measured(
    command: Sequence[str | Path],
    *,
    cwd: Path = ROOT,
    interval: float = SAMPLE_INTERVAL,
    check: bool = True,
) -> Run:
    """Run `argv` as a whole process: wall seconds and the peaks of its process tree.

    Wall time runs from just before the process is started to its exit, so it
    includes interpreter start-up and imports, as a user would see it.
    """
    argv = [str(a) for a in command]
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with PeakSampler(child.pid, interval) as sampler:
        stdout, stderr = child.communicate()
        seconds = time.perf_counter() - started
    run = Run(
        argv=argv,
        seconds=seconds,
        returncode=child.returncode,
        stdout=stdout,
        stderr=stderr,
        peak_rss=sampler.peak_rss,
        peak_uss=sampler.peak_uss,
        peak_anonymous=sampler.peak_anonymous,
        peak_pss_anon=sampler.peak_pss_anon,
        max_processes=sampler.max_processes,
        samples=sampler.samples,
        sampling_seconds=sampler.sampling_seconds,
    )
    if check and run.returncode != 0:
        tail = stderr.strip().splitlines()[-5:]
        raise BenchmarkError(f"{' '.join(argv)} exited with {run.returncode}: " + " | ".join(tail))
    return run


def shardgen_command(*args: str | Path) -> list[str]:
    """`python -m shardgen ARGS` with the interpreter running the benchmark."""
    return [sys.executable, "-m", "shardgen", *(str(a) for a in args)]


# -- generating a store ------------------------------------------------------------

#: What each benchmark case passes to `shardgen generate`: the presets, and ten times xl.
CASES: dict[str, tuple[str, ...]] = {
    "small": ("--volume", "small"),
    "medium": ("--volume", "medium"),
    "large": ("--volume", "large"),
    "xl": ("--volume", "xl"),
    "10xl": ("--customers", "1000000", "--products", "2000000", "--invoices", "10000000"),
}


@dataclass(frozen=True)
class Generated:
    """A measured `shardgen generate --json` run and the summary it printed."""

    run: Run
    digest: str
    rows: dict[str, int]
    seconds: float  # as reported by shardgen: from planning to promotion
    workers: int
    peak_uss: int  # as sampled by shardgen itself, every 100 ms
    peak_rss: int
    peak_anon: int | None  # Pss_Anon, in shardgen versions that report it

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def generate_command(
    case: str, out: Path, seed: int = SEED, workers: int | None = None
) -> list[str]:
    """`shardgen generate` of `case` into `out`, printing its summary as JSON."""
    return shardgen_command(
        "generate", *CASES[case], "--seed", str(seed), "--as-of", AS_OF,
        "--out", out, "--json", "--quiet",
        *(("--workers", str(workers)) if workers is not None else ()),
    )  # fmt: skip


def generate_measured(
    case: str,
    out: Path,
    *,
    seed: int = SEED,
    workers: int | None = None,
    interval: float = SAMPLE_INTERVAL,
) -> Generated:
    """Generate `case` into `out` as a whole process; a non-zero exit raises.

    `generate` verifies the staging store before promoting it and exits
    non-zero when a rule fails, so a returned run is a verified dataset.
    """
    run = run_measured(generate_command(case, out, seed, workers), interval=interval)
    summary = run.json()
    try:
        return Generated(
            run=run,
            digest=str(summary["digest"]),
            rows={str(k): int(v) for k, v in summary["rows"].items()},
            seconds=float(summary["seconds"]),
            workers=int(summary["workers"]),
            peak_uss=int(summary["peak_uss"]),
            peak_rss=int(summary["peak_rss"]),
            peak_anon=int(summary["peak_anon"]) if "peak_anon" in summary else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BenchmarkError(
            f"unexpected generate summary ({exc!r}): {run.stdout[:200]!r}"
        ) from None


def remove_store(out: Path) -> None:
    """Delete a store and every file a run may leave next to it."""
    for suffix in ("", "-lock", ".run-lock", ".staging", ".staging-lock"):
        out.with_name(out.name + suffix).unlink(missing_ok=True)


def store_bytes(out: Path) -> int:
    """The size of a store file on disk (allocated blocks, the file is sparse)."""
    return out.stat().st_blocks * 512


# -- summarising repeats ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stat:
    """The median of repeated measurements, with their range."""

    median: float
    min: float
    max: float
    n: int

    def as_dict(self, digits: int = 3) -> dict[str, float | int]:
        return {
            "median": round(self.median, digits),
            "min": round(self.min, digits),
            "max": round(self.max, digits),
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, float]) -> Stat:
        return cls(d["median"], d["min"], d["max"], int(d["n"]))


def stat(values: Sequence[float]) -> Stat:
    """Median, min and max of at least one value.

    >>> stat([3.0, 1.0, 2.0]).median
    2.0
    """
    if not values:
        raise ValueError("stat() needs at least one value")
    return Stat(statistics.median(values), min(values), max(values), len(values))


def memory_stats(runs: Sequence[Run]) -> dict[str, Stat]:
    """Peak USS, RSS, Anonymous and Pss_Anon (MB) over repeated runs."""
    keys = ("peak_uss_mb", "peak_rss_mb", "peak_anonymous_mb", "peak_pss_anon_mb")
    return {k: stat([run.memory_mb()[k] for run in runs]) for k in keys}


def sampling_json(runs: Sequence[Run]) -> dict[str, float]:
    """How often the tree was sampled, and what one sample cost, over repeated runs."""
    samples = sum(run.samples for run in runs)
    spent = sum(run.sampling_seconds for run in runs)
    return {
        "samples_per_run": round(samples / len(runs), 1),
        "ms_per_sample": round(1000 * spent / samples, 2) if samples else 0.0,
    }


def sampling_note(interval: float, sampling: Sequence[Mapping[str, float]]) -> str:
    """One line on how memory was sampled and what a sample cost."""
    worst = max((s["ms_per_sample"] for s in sampling), default=0.0)
    return (
        f"memory: process tree sampled from outside every {interval * 1000:.0f} ms; "
        f"one sample took up to {worst:.1f} ms (mean per run)"
    )


def ratio(numerator: float, denominator: float, digits: int = 2) -> float | None:
    """numerator ÷ denominator, rounded; None when the denominator is zero."""
    return round(numerator / denominator, digits) if denominator > 0 else None


def stats_json(stats: Mapping[str, Stat], digits: int = 3) -> dict[str, dict[str, float | int]]:
    return {name: s.as_dict(digits) for name, s in stats.items()}


# -- the machine and the report ------------------------------------------------------


def check_tmp(tmp: Path | None) -> None:
    """`--tmp` must name an existing folder."""
    if tmp is not None and not tmp.is_dir():
        raise BenchmarkError(f"--tmp {tmp} is not a folder")


def header(benchmark: str, args: argparse.Namespace, **case: Any) -> dict[str, Any]:
    """The fields every result starts with: the benchmark, the machine, what was
    measured (`case`), the seed, `as_of`, the repeats and the sampling interval."""
    result: dict[str, Any] = {"benchmark": benchmark, "machine": machine(), **case}
    result.update(seed=args.seed, as_of=AS_OF, repeat=args.repeat)
    if hasattr(args, "interval"):
        result["sample_interval_s"] = args.interval
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": affinity or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "memory_total_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import shardgen

    # The code measured is the one imported (a checkout on PYTHONPATH, say),
    # whatever version an earlier install recorded.
    found = {"shardgen": shardgen.__version__}
    for name in ("faker", "msgspec", "lmdb", "numpy", "psutil"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def repeat_count(text: str) -> int:
    """argparse type for --repeat: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--repeat must be at least 1, got {value}")
    return value


def interval_seconds(text: str) -> float:
    """argparse type for --interval: seconds, at least 0.01."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0.01:
        raise argparse.ArgumentTypeError(f"--interval must be at least 0.01 s, got {value}")
    return value


def add_common_arguments(parser: argparse.ArgumentParser, *, sampling: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    if sampling:
        parser.add_argument(
            "--interval",
            type=interval_seconds,
            default=SAMPLE_INTERVAL,
            help=f"seconds between memory samples (default: {SAMPLE_INTERVAL})",
        )
    parser.add_argument(
        "--repeat",
        type=repeat_count,
        default=3,
        help="runs per case; the median is reported, with min and max (default: 3)",
    )
    parser.add_argument(
        "--tmp",
        type=Path,
        default=None,
        help="folder for the generated stores (default: the system's temporary folder)",
    )


def progress(message: str) -> None:
    """A progress line on stderr, so --json keeps stdout to one object."""
    print(message, file=sys.stderr, flush=True)


def main_wrapper(body: Callable[[], int]) -> int:
    """Run a benchmark's main body; a failure becomes one line on stderr and exit 1."""
    try:
        return body()
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchmark interrupted", file=sys.stderr)
        return 130


def emit(result: Mapping[str, Any], as_json: bool, render: Callable[[], str]) -> None:
    if as_json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(render())


def fmt_stat(s: Stat, spec: str = ",.2f") -> str:
    """`median (min–max)`, or just the median when there was one run."""
    if s.n == 1 or s.min == s.max:
        return format(s.median, spec)
    return f"{s.median:{spec}} ({s.min:{spec}}–{s.max:{spec}})"


def fmt_ratio(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else f"{value:{spec}}×"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
