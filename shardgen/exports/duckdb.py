"""Export to a DuckDB database file, loaded from Arrow record batches.

The tables are the registry's (`ddl.create_tables("duckdb")`): DECIMAL(p,2)
money and percents, DATE, TIMESTAMPTZ (UTC), BOOLEAN, with their PRIMARY KEY,
FOREIGN KEY, UNIQUE and CHECK constraints. DuckDB cannot add keys to a table
later and checks them as rows arrive, so the tables are created with them and
loaded parents first, part by part, from the Arrow batches the Parquet
export writes, each by one INSERT … SELECT. No lookup indexes:
DuckDB indexes its keys itself and scans columns for the rest.

The file is new, beside the target, and `guard.writing` renames it into
place only when it is complete, so a failed or interrupted export leaves the
previous target as it was. Each INSERT commits by itself, and the file is
then closed and opened again: DuckDB keeps the key indexes it has loaded
or built in memory until the database is closed, and loads from the file
only what a later INSERT needs. At xl, one transaction for the whole load
peaked at 1.25 GB (8.9 GB at 10 × xl); an INSERT of 500,000 rows
(`INSERT_ROWS`) at a time at 0.6 GB (2.2 GB); and closing the file after
each at 0.49 GB (0.88 GB), for 2 % more time at xl (none at 10 × xl). (A
`memory_limit` does not bound DuckDB's indexes: 300 MB ran out of memory
at 10 × xl.) The price is the file's size: the checkpoints between the
INSERTs rewrite the key indexes, and the blocks they leave free stay in
the file for later writes (418 MB at xl against 361 MB). Closing the file
folds the write-ahead log into it: no `.wal` is left beside it; one that a
killed export left, the next removes (`guard.remove_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..guard import remove_ours, scratch_path
from ..store import disk_full
from . import ddl
from .contract import Part
from .files import ARROW_FILES, read_arrow_file

#: Rows gathered into one INSERT (at most a part more). Measured at xl, in one
#: transaction: 1,000,000 took 18.0 s against 20.1 s for 100,000 and 17.7 s
#: for whole tables, whose Arrow data would grow with the volume. Each INSERT
#: committing by itself, alternating twice: 500,000 took 16.0 and 16.4 s with
#: a peak of 589 and 606 MB, against 16.2 and 16.3 s and 712 and 749 MB for
#: 1,000,000 (250,000: 18.7 s); at 10 × xl, one run each, 184 s and 2,169 MB
#: against 176 s and 2,339 MB.
INSERT_ROWS = 500_000

#: What the workers render for this target: Arrow record batches, handed
#: over as files the coordinator maps (`files.read_arrow_file`): at xl the
#: tree's peak fell from 435–450 MB to 373 MB (the batches gathered for an
#: INSERT no longer copied into the coordinator's heap), at the same speed.
RENDER = ARROW_FILES


class DuckdbWriter:
    """Loads parts, as Arrow batches, into a new DuckDB file at `path`,
    parents first (DuckDB checks the keys as rows arrive).

    An INSERT runs on a thread of its own (DuckDB releases the GIL), one at a
    time and in order, while the coordinator gathers the next parts: the
    workers go on rendering instead of waiting for DuckDB. After each, that
    thread closes the file and opens it again (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path = path
        self.table = ""
        self.batches: list[Any] = []  # Arrow batches of `table` not yet inserted
        self.rows = 0
        self.inserting: Future[None] | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self.finished = False
        self.opening = threading.Lock()  # held while the file is closed and opened again
        self.scratch = scratch_path(path)  # where the workers leave their batches
        os.mkdir(self.scratch, 0o700)
        with self._errors():
            # DuckDB makes the file itself (it takes no empty file for a new
            # database); `guard.writing` gave a path that nothing holds.
            self.db = duckdb.connect(os.fspath(path))
            self.db.execute(ddl.create_tables("duckdb")).fetchall()

    def write(self, part: Part, data: Any) -> None:
        # Parts are gathered into inserts of about INSERT_ROWS rows: each
        # INSERT has a fixed cost, and DuckDB checks the keys of a large one
        # in bulk.
        if part.table != self.table:
            self._insert()
            self.table = part.table
        batch = read_arrow_file(data)
        self.batches.append(batch)
        self.rows += batch.num_rows
        if self.rows >= INSERT_ROWS:
            self._insert()

    def _insert(self) -> None:
        """Start inserting the gathered batches, once the previous INSERT is done."""
        if not self.batches:
            return
        table, batches = self.table, self.batches
        self.batches, self.rows = [], 0
        self._wait()
        self.inserting = self.thread.submit(self._load, table, batches)

    def _load(self, table: str, batches: list[Any]) -> None:
        import duckdb
        import pyarrow as pa

        with self._errors():
            self.db.register("part", pa.Table.from_batches(batches))
            self.db.execute(f"INSERT INTO {table} SELECT * FROM part").fetchall()
            self.db.unregister("part")
            with self.opening:  # the memory of the indexes DuckDB loaded goes
                self.db.close()
                self.db = duckdb.connect(os.fspath(self.path))

    def _wait(self) -> None:
        """Wait for the running INSERT; its error is raised here."""
        inserting, self.inserting = self.inserting, None
        if inserting is not None:
            inserting.result()

    def finish(self) -> None:
        self._insert()
        self._wait()
        with self._errors():
            self.db.execute("CHECKPOINT").fetchall()
        self.finished = True

    def close(self) -> None:
        db = getattr(self, "db", None)
        if self.inserting is not None and db is not None:
            with self.opening:
                self.db.interrupt()  # stopped: the running INSERT is rolled back
        with contextlib.suppress(BaseException):
            self._wait()
        self.thread.shutdown(wait=True)
        if db is not None:
            self.db.close()
        if not self.finished:  # the partial file goes (`guard.writing`), and its log
            remove_ours(self.path.with_name(f"{self.path.name}.wal"))

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import duckdb

        try:
            yield
        except duckdb.Error as exc:
            raise error_for(exc, self.path) from None


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


def writer(to: Path, format: str, force: bool, options: object = None) -> DuckdbWriter:
    """The DuckDB target's writer, creating the database file `to`."""
    return DuckdbWriter(to)


def render(format: str, options: object = None) -> str:
    return RENDER
