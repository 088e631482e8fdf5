"""Export to a SQLite file (PostgreSQL: `postgres`).

It presents the data contract with its PRIMARY KEY, FOREIGN KEY, UNIQUE and
CHECK constraints, their DDL derived from the table registry (`ddl`). It is
written into a file beside the target and renamed into place when complete.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from ..errors import RunError
from ..guard import create
from ..schema import TABLES
from ..store import Store, disk_full
from . import ddl
from .contract import Converter, Meter, columns, rows


def export_sqlite(store: Store, path: Path, meter: Meter | None = None) -> dict[str, int]:
    """Write the contract into a new SQLite file at `path`; return rows per
    table. (`export` gives the path beside the target that `guard.writing`
    then puts in its place.)"""
    counts: dict[str, int] = {}
    try:
        os.close(create(path))  # an empty file is an empty database; never a link
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            # Foreign keys are checked once, in bulk, after the load (below):
            # cheaper than a parent lookup per inserted row.
            db.execute("PRAGMA foreign_keys = OFF")
            # The UNIQUE indexes are updated on every insert: a larger page
            # cache keeps their hot pages in memory (64 MB at most).
            db.execute("PRAGMA cache_size = -65536")
            db.executescript(ddl.create_tables("sqlite"))
            converter = Converter()
            db.execute("BEGIN")
            for table in TABLES:
                names = columns(table)
                sql = (
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                cursor = db.executemany(sql, rows(store, table, converter, meter))
                counts[table] = cursor.rowcount
            # Lookup indexes, built after the load: one sort each instead of an
            # index update per inserted row.
            for statement in ddl.create_indexes():
                db.execute(statement)
            db.execute("COMMIT")
            problems = db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RunError(
                    f"the export has {len(problems)} foreign key problem(s), first {problems[0]}: "
                    "run `shardgen verify` on the store"
                )
            db.execute("ANALYZE")
        finally:
            db.close()
    except sqlite3.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({exc}): "
            "run `shardgen verify` on it"
        ) from None
    except sqlite3.Error as exc:
        # An OS error, which `guard.writing` says in one line, naming the target.
        full = "full" in str(exc) or disk_full(path)
        raise OSError(errno.ENOSPC if full else errno.EIO, str(exc)) from None
    return counts
