"""Export: the data contract, written to SQLite, PostgreSQL, DuckDB, CSV, JSON
lines or Parquet.

`export` is the one entry point. The contract (columns, kinds, conversions)
is in `contract`, each database's DDL in `ddl`, both from the table registry
(`shardgen.tables`); the targets in `sql` (sqlite, postgres), `duckdb` and
`files` (csv, jsonl, parquet). A target is written beside its place and
renamed into it when complete (or loaded in one transaction), so an
interrupted export never leaves half an export.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError
from ..guard import writing
from ..store import Store, reading

FORMATS = ("sqlite", "csv", "jsonl", "parquet", "postgres", "duckdb")
#: Formats written as a folder of one file per table; the others are one file
#: or a database.
FOLDERS = frozenset(("csv", "jsonl", "parquet"))


def export(
    path: str | os.PathLike[str],
    *,
    format: str = "sqlite",
    to: str | os.PathLike[str],
    force: bool = False,
) -> dict[str, int]:
    """Export the store at `path` to `to`; return rows written per table.

    `to` is a file (sqlite, duckdb), a folder (csv, jsonl, parquet) or a
    postgresql:// URL (postgres). `force` replaces an existing target, never
    the store being read or another shardgen store. The store is verified
    first: a damaged store, or one that differs from what was promoted, is
    an error, not an export.

    >>> shardgen.export("demo.lmdb", format="csv", to="demo-csv")  # doctest: +SKIP
    {'customer_types': 3, 'product_categories': 9, ...}
    """
    # The targets build on this module, so they are imported on use.
    from . import duckdb as export_duckdb
    from . import files as export_files
    from . import sql as export_sql

    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
    require(format)
    url = os.fspath(to)
    source = Path(path)
    if format == "postgres":
        export_sql.check_url(url)
        with _source(source) as store:
            return export_sql.export_postgres(store, url, force=force)
    if url.startswith(("postgresql:", "postgres:")):
        raise UsageError(
            f"--to {export_sql.redact(url)} is a PostgreSQL URL: pass --format postgres to load it"
        )
    target = Path(to)
    folder = format in FOLDERS
    with (
        writing(target, what="--to", source=source, force=force, folder=folder,
                holds=export_files.EXPORT_FILES, holder="shardgen export") as partial,
        _source(source) as store,
    ):  # fmt: skip
        if folder:
            return export_files.export_folder(store, partial, format)
        if format == "duckdb":
            return export_duckdb.export_duckdb(store, partial)
        return export_sql.export_sqlite(store, partial)


@contextlib.contextmanager
def _source(path: Path) -> Iterator[Store]:
    """The store to export, checked (`verify.check_promoted`: promoted, every
    rule holding, its digest the one recorded at promotion), then open: the
    same file, which a promotion meanwhile cannot swap for another."""
    from ..verification import check_promoted

    file = check_promoted(path)
    with Store.open(path, file=file) as store, reading(store.path):
        yield store


#: Formats that need optional dependencies: (modules, the extra that installs them).
EXTRAS = {
    "parquet": (("pyarrow",), "parquet"),
    "postgres": (("psycopg",), "postgres"),
    "duckdb": (("duckdb", "pyarrow"), "duckdb"),
}


def require(format: str) -> None:
    """Fail early, in one line, if an optional dependency of the format is missing."""
    modules, extra = EXTRAS.get(format, ((), ""))
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise UsageError(
                f"the {format} export needs {module}: pip install 'shardgen[{extra}]'"
            ) from None
