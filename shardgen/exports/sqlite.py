"""Export to a SQLite file: the contract with its PRIMARY KEY, FOREIGN KEY,
UNIQUE and CHECK constraints, the DDL derived from the table registry (`ddl`).

The file is written beside the target and renamed into place when complete
(`guard.writing`), so an interrupted export leaves the previous one as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..guard import create
from ..store import disk_full
from ..tables import REGISTRY
from . import ddl
from .contract import Part, columns

#: What the workers render for this target: rows of SQLite values.
RENDER = "rows"


class SqliteWriter:
    """Loads parts of rows into a new SQLite file at `path`, in one transaction;
    the lookup indexes and the foreign-key check come after the load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._errors():
            os.close(create(path))  # an empty file is an empty database; never a link
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode = OFF")
            self.db.execute("PRAGMA synchronous = OFF")
            # Foreign keys are checked once, in bulk, after the load (`finish`):
            # cheaper than a parent lookup per inserted row.
            self.db.execute("PRAGMA foreign_keys = OFF")
            # The UNIQUE indexes are updated on every insert: a larger page
            # cache keeps their hot pages in memory (64 MB at most).
            self.db.execute("PRAGMA cache_size = -65536")
            self.db.executescript(ddl.create_tables("sqlite"))
            self.db.execute("BEGIN")
        self.inserts = {
            table: f"INSERT INTO {table} ({', '.join(names)}) VALUES "
            f"({', '.join('?' * len(names))})"
            for table, names in ((t, columns(t)) for t in REGISTRY)
        }

    def write(self, part: Part, data: Any) -> None:
        with self._errors():
            self.db.executemany(self.inserts[part.table], data)

    def finish(self) -> None:
        with self._errors():
            # Lookup indexes, built after the load: one sort each instead of an
            # index update per inserted row.
            for statement in ddl.create_indexes():
                self.db.execute(statement)
            self.db.execute("COMMIT")
            problems = self.db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RunError(
                    f"the export has {len(problems)} foreign key problem(s), first "
                    f"{problems[0]}: run `shardgen verify` on the store"
                )
            self.db.execute("ANALYZE")

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return errors(self.path)


@contextlib.contextmanager
def errors(path: Path) -> Iterator[None]:
    """SQLite's errors as the export's: a broken constraint is the store's
    fault; anything else is an OS error, which `guard.writing` says in one
    line, naming the target."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({exc}): "
            "run `shardgen verify` on it"
        ) from None
    except sqlite3.Error as exc:
        full = "full" in str(exc) or disk_full(path)
        raise OSError(errno.ENOSPC if full else errno.EIO, str(exc)) from None


def writer(to: Path, format: str, force: bool, options: object = None) -> SqliteWriter:
    """The SQLite target's writer, filling a new file at `to`."""
    return SqliteWriter(to)


def render(format: str) -> str:
    return RENDER
