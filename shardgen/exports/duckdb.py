"""Export to a DuckDB database file, loaded from Arrow record batches.

The tables are the registry's (`ddl.create_tables("duckdb")`): DECIMAL(p,2)
money and percents, DATE, TIMESTAMPTZ (UTC), BOOLEAN, with their PRIMARY KEY,
FOREIGN KEY, UNIQUE and CHECK constraints. DuckDB cannot add keys to a table
later and checks them as rows arrive, so the tables are created with them and
loaded parents first, each by one INSERT … SELECT from a stream of the Arrow
batches the Parquet export writes (`files.arrow_batches`). No lookup indexes:
DuckDB indexes its keys itself and scans columns for the rest.

Everything is one transaction in a new file beside the target, which
`guard.writing` renames into place, so a failed or interrupted export leaves
the previous target as it was. A CHECKPOINT after the commit folds the
write-ahead log into the file: no `.wal` is left beside it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..store import Store, disk_full
from ..tables import REGISTRY
from . import ddl
from .contract import Meter
from .files import arrow_batches, parquet_schema


class Source:
    """Batches for DuckDB to read, keeping what went wrong while making them:
    DuckDB reports an exception raised there as its own error, without its type."""

    def __init__(self, batches: Iterable[Any]) -> None:
        self.batches = batches
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.batches
        except GeneratorExit:  # DuckDB stopped reading: not an error of ours
            raise
        except BaseException as exc:
            self.error = exc
            raise


def export_duckdb(store: Store, path: Path, meter: Meter | None = None) -> dict[str, int]:
    """Write the contract into a new DuckDB file at `path`; return rows per
    table. (`export` gives the path beside the target that `guard.writing`
    then puts in its place.)"""
    import duckdb
    import pyarrow as pa

    counts: dict[str, int] = {}
    source = Source(())
    try:
        # DuckDB makes the file itself (it takes no empty file for a new
        # database); `guard.writing` gave a path that nothing holds.
        db = duckdb.connect(os.fspath(path))
        try:
            db.execute("BEGIN").fetchall()
            db.execute(ddl.create_tables("duckdb")).fetchall()
            for table in REGISTRY:
                source = Source(arrow_batches(store, table, meter))
                db.register(
                    "source", pa.RecordBatchReader.from_batches(parquet_schema(table), source)
                )
                ((counts[table],),) = db.execute(
                    f"INSERT INTO {table} SELECT * FROM source"
                ).fetchall()
                db.unregister("source")
            db.execute("COMMIT").fetchall()
            db.execute("CHECKPOINT").fetchall()
        finally:
            db.close()
    except duckdb.Error as exc:
        if source.error is not None:
            raise source.error from None
        raise error_for(exc, path) from None
    return counts


def error_for(exc: Exception, path: Path) -> BaseException:
    """What a DuckDB error means: the store breaks the contract, an interrupt,
    or an OS error (which `guard.writing` says in one line, naming the target)."""
    import duckdb

    message = " ".join(str(exc).split())
    if isinstance(exc, duckdb.ConstraintException):
        return RunError(
            f"the store breaks a constraint of the data contract ({message}): "
            "run `shardgen verify` on it"
        )
    if isinstance(exc, duckdb.InterruptException):
        return KeyboardInterrupt()
    full = "No space left" in message or disk_full(path)
    return OSError(errno.ENOSPC if full else errno.EIO, message)
