"""The command line: a thin shell over the library.

Each command parses its options, calls one library function, renders the
result and picks the exit code: 0 success, 1 failure (or violations found),
2 usage error. Errors are one line; --debug shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .advance.feed import changes, write_changes
from .advance.run import advance, render_advance
from .errors import ShardgenError
from .events import line, log, record
from .exports import FORMATS, export
from .pipeline import DEFAULT_STORE, generate, render_summary, reset
from .plan import VOLUMES
from .reports.business import report
from .reports.rendering import render_stats, render_text, write_html
from .reports.statistics import stats
from .run.executors import EXECUTORS
from .schema import to_builtins
from .store import staging_path
from .verification import render, verify
from .versions import __version__


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _size(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    text = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 64G") from None


def build_parser() -> Parser:
    """The `shardgen` parser: global options, then one subcommand per library function."""
    parser = Parser(prog="shardgen", description="Generate realistic business datasets.")
    parser.add_argument("--version", action="version", version=f"shardgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug is accepted after the command too (`shardgen verify X --debug`).
    common = Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, summary, add_options in (
        ("generate", "generate, verify and promote a dataset", _generate_options),
        ("advance", "continue the business day by day to a later date", _advance_options),
        ("verify", "check every rule and print the digest", _verify_options),
        ("stats", "profile the dataset against its targets", _stats_options),
        (
            "report",
            "customers by region, sales by category, receivables aging, monthly revenue",
            _report_options,
        ),
        ("export", "export the data contract", _export_options),
        ("log", "show the event log", _log_options),
        ("changes", "the change feed of advanced days, as JSON lines", _changes_options),
        ("reset", "remove a store and its staging leftovers", _reset_options),
    ):
        add_options(commands.add_parser(name, parents=[common], help=summary))
    return parser


def _generate_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--volume", choices=list(VOLUMES), help="preset volume (default: small)")
    command.add_argument("--customers", type=int, help="number of customers (overrides the preset)")
    command.add_argument("--products", type=int, help="number of products (overrides the preset)")
    command.add_argument("--invoices", type=int, help="number of invoices (overrides the preset)")
    command.add_argument("--seed", type=int, default=0, help="root seed (default: 0)")
    command.add_argument("--as-of", help="the dataset's 'today', YYYY-MM-DD (default: today, UTC)")
    command.add_argument(
        "--workers",
        type=int,
        help="worker processes (default: the CPU count; 1 below ~150,000 rows per CPU)",
    )
    command.add_argument(
        "--out", type=Path, default=DEFAULT_STORE, help=f"store file (default: ./{DEFAULT_STORE})"
    )
    command.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="where shards run: this machine's process pool, or a Dask cluster (default: local)",
    )
    command.add_argument(
        "--scheduler", help="the Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786"
    )
    command.add_argument("--resume", action="store_true", help="continue an interrupted run")
    command.add_argument("--map-size", type=_size, default=None, help="LMDB map size, e.g. 64G")
    command.add_argument(
        "--memory-limit",
        type=_size,
        default=None,
        help="stop if the run's heap (anonymous memory) exceeds this, e.g. 1G",
    )
    command.add_argument(
        "--export",
        choices=FORMATS,
        metavar="FORMAT",
        help=f"then export the dataset: {', '.join(FORMATS)} (with --to)",
    )
    command.add_argument("--to", help="the export's target, as for `shardgen export --to`")
    command.add_argument(
        "--force", action="store_true", help="replace the export's --to if it exists"
    )
    _parquet_options(command)
    command.add_argument("--json", action="store_true", help="print the summary as JSON")
    command.add_argument("--quiet", action="store_true", help="no progress line")


def _verify_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the shards (default: the CPU count; 1 for a small store)",
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")


def _stats_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument("--json", action="store_true", help="print the profile as JSON")


def _report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument(
        "--html", type=Path, help="also write the reports as one HTML page to FILE"
    )
    command.add_argument("--json", action="store_true", help="print the figures as JSON (cents)")
    command.add_argument(
        "--force", action="store_true", help="replace the --html file if it exists"
    )


def _export_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument("--format", choices=FORMATS, default="sqlite")
    command.add_argument(
        "--to",
        required=True,
        help="output: a file (sqlite, duckdb), a folder (csv, jsonl, parquet) "
        "or a postgresql:// URL",
    )
    command.add_argument(
        "--force",
        action="store_true",
        help="replace --to if it exists (postgres: drop the 8 tables, in the same transaction)",
    )
    command.add_argument(
        "--workers",
        type=int,
        help="processes reading and rendering the store (default: the CPU count)",
    )
    _parquet_options(command)
    command.add_argument("--quiet", action="store_true", help="no progress line")


def _parquet_options(command: argparse.ArgumentParser) -> None:
    """The Parquet export's options, which `export` and `generate --export` share."""
    command.add_argument(
        "--compression",
        help="parquet: the codec, snappy (default), zstd, gzip, brotli, lz4 or none",
    )
    command.add_argument(
        "--partitioned",
        action="store_true",
        help="parquet: each table a folder of one file per shard, read as one table",
    )


def _advance_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path, help="the store to advance (replaced once verified)")
    when = command.add_mutually_exclusive_group(required=True)
    when.add_argument("--to", metavar="YYYY-MM-DD", help="the day to advance to")
    when.add_argument("--days", type=int, metavar="N", help="advance by N days")
    command.add_argument(
        "--workers", type=int, help="processes verifying the advanced store (default: CPU count)"
    )
    command.add_argument(
        "--resume", action="store_true", help="continue an interrupted advance (PATH.staging)"
    )
    command.add_argument("--json", action="store_true", help="print the summary as JSON")
    command.add_argument("--quiet", action="store_true", help="no progress line")


def _changes_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument("--since", metavar="YYYY-MM-DD", help="changes after the end of this day")
    command.add_argument("--until", metavar="YYYY-MM-DD", help="changes up to the end of this day")
    command.add_argument("--out", type=Path, help="write the JSON lines to FILE (default: stdout)")
    command.add_argument("--force", action="store_true", help="replace --out if it exists")


def _log_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument("--json", action="store_true", help="one JSON object per event")


def _reset_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", type=Path)
    command.add_argument(
        "--partial",
        action="store_true",
        help="remove only what a failed or interrupted run left (PATH.staging); keep PATH",
    )


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the command stops and cleans up."""


def _stop(signum: int, frame: object) -> None:
    # Once is enough: a second Ctrl-C must not interrupt the clean-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    here = threading.current_thread() is threading.main_thread()
    handlers = (
        {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)} if here else {}
    )
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(words)
        return _run(args, words)
    except KeyboardInterrupt as exc:
        name = f"shardgen {args.command}" if args is not None else "shardgen"
        print(f"{name}: {_interrupted(args, words)}", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace, words: list[str]) -> int:
    try:
        result: int = globals()[f"cmd_{args.command}"](args)
        sys.stdout.flush()
        return result
    except BrokenPipeError:
        # The reader of the output went away (`shardgen log | head -1`): it
        # has what it wanted. Further writes, and Python's own flush at exit, go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ShardgenError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"shardgen {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if args.debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"shardgen {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"shardgen {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


def _interrupted(args: argparse.Namespace | None, words: list[str]) -> str:
    """What an interrupted command left, and what to do: one line."""
    command = args.command if args is not None else ""
    if args is not None and command == "generate":
        out: Path = args.out
        before = (
            f"the previous dataset at {out} is untouched"
            if out.exists()
            else f"nothing was written to {out}"
        )
        if not staging_path(out).exists():
            return f"interrupted; {before}; run the same command again to start over"
        again = shlex.join(["shardgen", *[w for w in words if w != "--resume"], "--resume"])
        return f"interrupted; {before}; `{again}` continues"
    if args is not None and command == "advance":
        store: Path = args.path
        if not staging_path(store).exists():
            return f"interrupted; {store} is unchanged"
        again = shlex.join(["shardgen", *[w for w in words if w != "--resume"], "--resume"])
        return f"interrupted; {store} is unchanged; `{again}` continues from the last whole day"
    if command == "export":
        return "interrupted; the export target was left as it was"
    if command == "report":
        return "interrupted; no HTML file was written"
    return "interrupted; nothing was changed"


def cmd_generate(args: argparse.Namespace) -> int:
    show = not args.quiet and not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        # After the last shard, verify reads the whole store before promoting it.
        then = ": verifying the dataset" if done == total else ""
        print(
            f"\r  shards {done}/{total} ({100 * done // max(total, 1)}%){then}   ",
            end="",
            file=sys.stderr,
        )

    options: dict[str, Any] = {}
    if args.map_size is not None:
        options["map_size"] = args.map_size
    summary = generate(
        args.volume,
        customers=args.customers,
        products=args.products,
        invoices=args.invoices,
        seed=args.seed,
        as_of=args.as_of,
        workers=args.workers,
        out=args.out,
        resume=args.resume,
        memory_limit=args.memory_limit,
        progress=progress if show else None,
        executor=args.executor,
        scheduler=args.scheduler,
        export=args.export,
        to=args.to,
        force=args.force,
        export_progress=_rows_progress() if show else None,
        compression=args.compression,
        partitioned=args.partitioned,
        **options,
    )
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(to_builtins(summary), indent=2))
        return 0
    print(render_summary(summary))
    return 0


def cmd_advance(args: argparse.Namespace) -> int:
    show = not args.quiet and not args.json and sys.stderr.isatty()
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        seconds = time.monotonic() - started
        if done < total:
            left = (total - done) * seconds / done if done else 0.0
            then = f", {left:,.0f} s of days left"
        else:  # verify reads the whole advanced store before promoting it
            then = ": verifying the advanced store"
        print(
            f"\r  day {done}/{total} ({100 * done // max(total, 1)}%){then}   ",
            end="",
            file=sys.stderr,
        )

    summary = advance(
        args.path, to=args.to, days=args.days, workers=args.workers, resume=args.resume,
        progress=progress if show else None,
    )  # fmt: skip
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(to_builtins(summary), indent=2))
    else:
        print(render_advance(summary))
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    lines = changes(args.path, since=args.since, until=args.until)
    out: Path | None = args.out
    if out is None:
        write_changes(lines, sys.stdout)
        return 0
    from .guard import writing

    with (
        writing(out, what="--out", source=args.path, force=args.force) as partial,
        partial.open("x", encoding="utf-8") as file,
    ):
        count = write_changes(lines, file)
    print(f"wrote {count:,} changes to {out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    report = verify(args.path, workers=args.workers)
    if args.json:
        print(json.dumps(to_builtins(report), indent=2))
    else:
        print(f"{report.path}:")
        print(render(report))
    return 0 if report.ok else 1


def cmd_stats(args: argparse.Namespace) -> int:
    profile = stats(args.path)
    if args.json:
        print(json.dumps(to_builtins(profile), indent=2))
    else:
        print(render_stats(profile))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .guard import check_output

    html: Path | None = args.html
    if html is not None:  # refused before the store is read, not after
        check_output(html, what="--html", source=args.path, force=args.force)
    figures = report(args.path)
    if html is not None:
        write_html(figures, html, source=args.path, force=args.force)
    if args.json:
        print(json.dumps(to_builtins(figures), indent=2))
    else:
        print(render_text(figures), end="")
        if html is not None:
            print(f"HTML report written to {html}")
    return 0


def _rows_progress() -> Callable[[int, int], None]:
    """An export's progress line on standard error: rows, rows/s, time left."""
    started = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if done == 0:
            started[0] = time.monotonic()  # the first row, after the verify
        seconds = time.monotonic() - started[0]
        rate = done / seconds if seconds > 0 else 0.0
        if done >= total:
            left = "done"
        else:
            left = f"{(total - done) / rate:,.0f} s left" if rate else "starting"
        print(
            f"\r  exported {done:,} of {total:,} rows ({100 * done // max(total, 1)}%), "
            f"{rate:,.0f} rows/s, {left}   ",
            end="",
            file=sys.stderr,
        )

    return progress


def cmd_export(args: argparse.Namespace) -> int:
    from .exports.postgres import redact

    progress = _rows_progress() if sys.stderr.isatty() and not args.quiet else None
    counts = export(
        args.path, format=args.format, to=args.to, force=args.force, progress=progress,
        compression=args.compression, partitioned=args.partitioned, workers=args.workers,
    )  # fmt: skip
    if progress:
        print(file=sys.stderr)
    where = args.to
    if args.format == "postgres":  # the counts come from the database: show them
        where = redact(args.to)
        width = max(len(t) for t in counts)
        for table, count in counts.items():
            print(f"  {table:<{width}}  {count:>12,}")
    print(f"exported {sum(counts.values()):,} rows in {len(counts)} tables to {where}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    for seq, event in log(args.path):
        print(json.dumps(record(seq, event)) if args.json else line(seq, event))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    removed = reset(args.path, partial=args.partial)
    print(f"removed {', '.join(str(p) for p in removed)}")
    return 0
