"""Export: the data contract, written to SQLite, PostgreSQL, DuckDB, CSV, JSON
lines or Parquet.

`export` is the one entry point. The contract (columns, kinds) is in
`contract`, the DDL in `ddl`; `parallel` runs an export on the task runner
(workers read and render the store's parts, `render`; the coordinator hands
them to the target's writer and checks the digest). The targets, one module
each, are registered in `TARGETS`: `sqlite`, `postgres` (with `copydata`),
`duckdb`, and `files` (csv, jsonl, parquet). A target is written beside its
place and renamed into it when complete (PostgreSQL: swapped in by one
transaction), so an interrupted export never leaves half an export.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import RunError, UsageError
from ..guard import check_output, writing
from ..plan import Plan, check_workers, default_workers
from ..run.server import start
from ..store import Identity, pinned
from .contract import Meter, Progress
from .files import COMPRESSIONS, EXPORT_FILES, ParquetOptions


class Target(NamedTuple):
    """A target in the registry: the module that writes it (`writer` and
    `render`), what `--to` names (a file, a folder, or a database URL), and
    the optional dependencies it needs (the modules, and the extra that
    installs them)."""

    module: str
    kind: str
    needs: tuple[str, ...] = ()
    extra: str = ""


#: Every export target, in the order the CLI lists them. Adding one is a
#: module with `writer(to, format, force, options)` (a `Writer`, which says what
#: its workers render), and a line here.
TARGETS = {
    "sqlite": Target("sqlite", "file"),
    "csv": Target("files", "folder"),
    "jsonl": Target("files", "folder"),
    "parquet": Target("files", "folder", ("pyarrow",), "parquet"),
    "postgres": Target("postgres", "database", ("psycopg",), "postgres"),
    "duckdb": Target("duckdb", "file", ("duckdb", "pyarrow"), "duckdb"),
}
FORMATS = tuple(TARGETS)
#: Formats written as a folder of one file per table.
FOLDERS = frozenset(name for name, target in TARGETS.items() if target.kind == "folder")


def export(
    path: str | os.PathLike[str],
    *,
    format: str = "sqlite",
    to: str | os.PathLike[str],
    force: bool = False,
    progress: Progress | None = None,
    compression: str | None = None,
    partitioned: bool = False,
    workers: int | None = None,
) -> dict[str, int]:
    """Export the store at `path` to `to`; return rows written per table.

    `to` is a file (sqlite), a folder (csv, jsonl, parquet) or a
    postgresql:// URL (postgres). `force` replaces an existing target, never
    the store being read or another shardgen store. The store is verified
    first: a damaged store, or one that differs from what was promoted, is
    an error, not an export. `progress(rows written, rows in all)` is called
    a few times a second while the rows are written. Parquet only:
    `compression` (snappy, the default; zstd, gzip, brotli, lz4 or none) and
    `partitioned` (each table a folder of one file per shard). The folder
    formats render the rows in `workers` processes (default: the CPU count)
    and write the same bytes whatever their number.

    >>> shardgen.export("demo.lmdb", format="csv", to="demo-csv")  # doctest: +SKIP
    {'customer_types': 3, 'product_categories': 9, ...}
    """
    source = Path(path)
    check_workers(workers)
    # The workers' forkserver starts while the target is checked and opened.
    start(f"{__name__}.parallel")
    check_export(format, to, source=source, force=force)
    parquet = parquet_options(format, compression, partitioned)
    return _export(source, None, format, to, force, progress, parquet, workers)


def export_promoted(
    path: Path,
    file: Identity,
    *,
    format: str,
    to: str | os.PathLike[str],
    force: bool = False,
    progress: Progress | None = None,
    parquet: ParquetOptions | None = None,
    workers: int | None = None,
) -> dict[str, int]:
    """Export the store `generate` has just verified and promoted to `path`
    (the file `file`), while it holds the run lock: no second verify."""
    check_export(format, to, source=path, force=force)
    return _export(path, file, format, to, force, progress, parquet, workers)


def parquet_options(
    format: str, compression: str | None, partitioned: bool
) -> ParquetOptions | None:
    """The Parquet options, refused with any other format."""
    if format != "parquet":
        if compression is not None or partitioned:
            raise UsageError(
                "--compression and --partitioned are for --format parquet: leave them out"
            )
        return None
    compression = compression or "snappy"
    if compression not in COMPRESSIONS:
        raise UsageError(
            f"unknown --compression {compression!r}: choose one of {', '.join(COMPRESSIONS)}"
        )
    return ParquetOptions(compression, partitioned)


def check_export(
    format: str, to: str | os.PathLike[str], *, source: Path, force: bool = False
) -> None:
    """What an export checks before it reads anything (`generate --export`
    checks it before generating too): a known format with its dependency
    installed, a target of the right kind, and not one it must not write."""
    from . import postgres as export_postgres

    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
    require(format)
    url = os.fspath(to)
    kind = TARGETS[format].kind
    if kind == "database":
        export_postgres.check_url(url)
        return
    if url.startswith(("postgresql:", "postgres:")):
        raise UsageError(
            f"--to {export_postgres.redact(url)} is a PostgreSQL URL: "
            "pass --format postgres to load it"
        )
    check_output(Path(to), what="--to", source=source, force=force, folder=kind == "folder",
                 holds=EXPORT_FILES)  # fmt: skip


def _export(
    source: Path,
    file: Identity | None,
    format: str,
    to: str | os.PathLike[str],
    force: bool,
    progress: Progress | None,
    parquet: ParquetOptions | None = None,
    workers: int | None = None,
) -> dict[str, int]:
    from ..verification import promoted_header

    with pinned(source) as pin:  # the file read, held so that its number stays its own
        plan, promoted, found = promoted_header(source, pin)
        if file is not None and found != file:  # generate holds the run lock: never so
            raise RunError(f"{source} changed while it was being exported: export it again")
        return _export_file(source, found, plan, promoted, format, to, force, progress,
                            parquet, workers)  # fmt: skip


def _export_file(
    source: Path,
    found: Identity,
    plan: Plan,
    promoted: str,
    format: str,
    to: str | os.PathLike[str],
    force: bool,
    progress: Progress | None,
    parquet: ParquetOptions | None,
    workers: int | None,
) -> dict[str, int]:
    from .parallel import Source, export_parts

    meter = None if progress is None else Meter(sum(plan.rows().values()), progress)
    target = TARGETS[format]
    module = importlib.import_module(f"{__name__}.{target.module}")

    def run(to: Any) -> dict[str, int]:
        writer = module.writer(to, format, force, parquet)
        return export_parts(
            Source(source, found, plan, promoted),
            writer,
            writer.render,
            # A target may need fewer workers than the CPUs (`writer.workers`).
            workers or getattr(writer, "workers", None) or default_workers(plan),
            meter,
            # Where the workers write their parts, for a target that has one.
            getattr(writer, "scratch", None),
        )

    if target.kind == "database":  # atomic by its own means
        counts = run(os.fspath(to))
    else:
        with writing(
            Path(to), what="--to", source=source, force=force, folder=target.kind == "folder",
            holds=EXPORT_FILES, holder="shardgen export",
        ) as partial:  # fmt: skip
            counts = run(partial)
    if meter is not None:
        meter.finish()
    return counts


def require(format: str) -> None:
    """Fail early, in one line, if an optional dependency of the format is missing."""
    target = TARGETS[format]
    for module in target.needs:
        try:
            importlib.import_module(module)
        except ImportError:
            raise UsageError(
                f"the {format} export needs {module}: pip install 'shardgen[{target.extra}]'"
            ) from None
