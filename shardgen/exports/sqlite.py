"""Export to a SQLite file: the contract with its PRIMARY KEY, FOREIGN KEY,
UNIQUE and CHECK constraints, the DDL derived from the table registry (`ddl`).

The file is written beside the target and renamed into place when complete
(`guard.writing`), so an interrupted export leaves the previous one as it was.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..guard import create, scratch_path
from ..store import disk_full
from ..tables import REGISTRY
from . import ddl
from .contract import Part, columns

#: What the workers render for this target: each part a small SQLite file.
RENDER = "sqlite"


class SqliteWriter:
    """Loads the parts into a new SQLite file at `path`: each part is a small
    SQLite file a worker wrote in the scratch folder (`write_part`), attached
    and copied in by SQLite itself, then deleted. The lookup indexes come
    after the load.

    The CHECK constraints are in the schema, and apply to whatever is written
    to the file later, but are not evaluated during the load: the rows are
    the verified ones (the export compares their digest with the one verify
    recorded at promotion, after it checked every rule), so evaluating them
    again per row would only repeat it. The UNIQUE and NOT NULL constraints
    and the keys are still enforced as the rows go in.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.scratch = scratch_path(path)
        with self._errors():
            os.mkdir(self.scratch, 0o700)
            os.close(create(path))  # an empty file is an empty database; never a link
            self.db = sqlite3.connect(path, isolation_level=None)
            for pragma in PRAGMAS:
                self.db.execute(pragma)
            self.db.executescript(ddl.create_tables("sqlite"))
        self.copies = {
            table: f"INSERT INTO main.{table} ({', '.join(names)}) "
            f"SELECT {', '.join(names)} FROM part.{table} ORDER BY rowid"
            for table, names in ((t, columns(t)) for t in REGISTRY)
        }

    def write(self, part: Part, data: Any) -> None:
        """Copy a part's file (its path, `data`) into the export, then delete it."""
        with self._errors():
            self.db.execute("ATTACH DATABASE ? AS part", (data,))
            try:
                self.db.execute(self.copies[part.table])
            finally:
                self.db.execute("DETACH DATABASE part")
            os.unlink(data)

    def finish(self) -> None:
        with self._errors():
            # Lookup indexes, built after the load: one sort each instead of an
            # index update per inserted row. The workers are done, so the
            # sorts take helper threads, which SQLite's sorter uses when a
            # sort spills into several runs: a smaller cache (8 MB) makes it
            # do so, a quarter less time at xl on 2 CPUs.
            self.db.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
            self.db.execute("PRAGMA cache_size = -8192")
            self.db.execute("BEGIN")
            for statement in ddl.create_indexes():
                self.db.execute(statement)
            self.db.execute("COMMIT")
            # No `PRAGMA foreign_key_check` (2 s at xl): verify checked every
            # link of these rows, and the digest compared before `finish` says
            # they are those rows. The keys stay declared for later writes.
            # ANALYZE (0.6 s at xl) gives users' queries the planner's statistics.
            self.db.execute("ANALYZE")

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return errors(self.path)


#: How the export's connection loads: no journal and no syncs (an interrupted
#: export is a partial file, removed, never a damaged target); foreign keys
#: not enforced and CHECKs not evaluated (the rows are verify's, see
#: `SqliteWriter`); a page cache large enough (64 MB at most) for the hot
#: pages of the UNIQUE indexes updated on every insert; 16 kB pages, which
#: take a tenth less time to fill and index than the default 4 kB ones.
PRAGMAS = (
    "PRAGMA page_size = 16384",
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
    "PRAGMA locking_mode = EXCLUSIVE",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA ignore_check_constraints = ON",
    "PRAGMA cache_size = -65536",
)


#: Rows a worker binds to one INSERT statement of a part's file.
ROWS_PER_INSERT = 50


def write_part(folder: Path, part: Part, rows: list[tuple[Any, ...]]) -> str:
    """Write a part's rows (the export's values) into a new SQLite file in
    `folder`, a plain table without types or constraints, so the values are
    stored as they are; return its path. In a worker process."""
    path = folder / f"{part.table}.{part.number}.sqlite"
    names = columns(part.table)
    with errors(path):
        os.close(create(path))
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute(f"CREATE TABLE {part.table} ({', '.join(names)})")
            db.execute("BEGIN")
            # Many rows a statement: a third less time than one row each.
            row = f"({', '.join('?' * len(names))})"
            whole = len(rows) - len(rows) % ROWS_PER_INSERT
            db.executemany(
                f"INSERT INTO {part.table} VALUES {', '.join([row] * ROWS_PER_INSERT)}",
                (
                    tuple(itertools.chain.from_iterable(rows[i : i + ROWS_PER_INSERT]))
                    for i in range(0, whole, ROWS_PER_INSERT)
                ),
            )
            db.executemany(f"INSERT INTO {part.table} VALUES {row}", rows[whole:])
            db.execute("COMMIT")
        finally:
            db.close()
    return str(path)


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


def render(format: str, options: object = None) -> str:
    return RENDER
