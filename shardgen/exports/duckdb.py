"""Export to a DuckDB database file, loaded from Arrow record batches.

The tables are the registry's (`ddl.create_tables("duckdb")`): DECIMAL(p,2)
money and percents, DATE, TIMESTAMPTZ (UTC), BOOLEAN, with their PRIMARY KEY,
FOREIGN KEY, UNIQUE and CHECK constraints. DuckDB cannot add keys to a table
later and checks them as rows arrive, so the tables are created with them and
loaded parents first from the Arrow batches the Parquet export writes, by
INSERT … SELECT from a stream of them, fed as the parts arrive. No lookup
indexes: DuckDB indexes its keys itself and scans columns for the rest.

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
the file for later writes (418 MB at xl against 361 MB). Each INSERT reads
its batches as the workers' parts arrive, a few at a time (`QUEUED`),
instead of the 500,000 rows gathered before it (and the INSERT before still
running); with that, and one worker and one thread fewer for DuckDB, the
tree's peak at xl fell from 369-380 MB to 280-283 MB at the same speed
(three alternating runs each). Closing the file
folds the write-ahead log into it: no `.wal` is left beside it; one that a
killed export left, the next removes (`guard.remove_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import RunError
from ..guard import remove_ours, scratch_path
from ..plan import default_workers
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


class _Batch(NamedTuple):
    table: str
    batch: Any


#: What follows the last part: the load ends.
_FINISHED = _Batch("", None)

#: Batches handed to the loading thread and not yet read by DuckDB.
QUEUED = 8

#: Worker processes unless --workers says otherwise: DuckDB loads one stream
#: at a time, and one worker reads and renders the parts faster than it loads
#: them (xl: 3 CPU seconds of the workers' against 15 s of DuckDB's); a
#: second only took memory (40-50 MB).
WORKERS = 1


class DuckdbWriter:
    """Loads parts, as Arrow batches, into a new DuckDB file at `path`,
    parents first (DuckDB checks the keys as rows arrive).

    The loading runs on a thread of its own (DuckDB releases the GIL): each
    INSERT reads a stream of batches (`pyarrow.RecordBatchReader`) that the
    coordinator feeds as the workers' parts arrive, until it has read
    INSERT_ROWS rows or its table ends; then that thread closes the file and
    opens it again (see the module's doc) and the next INSERT goes on. Only
    a few batches wait for DuckDB (QUEUED): none are gathered for an INSERT
    beforehand."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path = path
        # The CPUs the export's worker leaves (`WORKERS`): one fewer thread
        # than DuckDB's default here took 20-45 MB less at the same speed.
        self.config: dict[str, str | bool | int | float | list[str]] = {
            "threads": max(1, default_workers() - WORKERS)
        }
        self.queue: queue.Queue[_Batch] = queue.Queue(QUEUED)
        self.stopping = threading.Event()  # the load is given up: stop reading
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self.loading: Future[None] | None = None
        self.following: _Batch | None = None  # the first batch of the next INSERT
        self.finished = False
        self.opening = threading.Lock()  # held while the file is closed and opened again
        self.scratch = scratch_path(path)  # where the workers leave their batches
        self.render = RENDER
        self.workers = WORKERS
        os.mkdir(self.scratch, 0o700)
        with self._errors():
            # DuckDB makes the file itself (it takes no empty file for a new
            # database); `guard.writing` gave a path that nothing holds.
            self.db = duckdb.connect(os.fspath(path), config=self.config)
            self.db.execute(ddl.create_tables("duckdb")).fetchall()
        self.loading = self.thread.submit(self._load)

    def write(self, part: Part, data: Any) -> None:
        self._put(_Batch(part.table, read_arrow_file(data)))

    def _put(self, batch: _Batch) -> None:
        """Hand a batch to the loading thread; its error is raised here."""
        assert self.loading is not None
        while True:
            try:
                self.queue.put(batch, timeout=0.1)
                return
            except queue.Full:
                if self.loading.done():
                    self.loading.result()  # its error; or it ended early:
                    raise RunError(f"the DuckDB load of {self.path} ended early") from None

    def _get(self) -> _Batch:
        while True:
            try:
                return self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.stopping.is_set():
                    raise KeyboardInterrupt from None

    def _load(self) -> None:
        """On the loading thread: INSERTs of each table's batches, of at most
        INSERT_ROWS rows (and a part) each, until the load is finished."""
        import duckdb
        import pyarrow as pa

        from .files import parquet_schema

        following = self._get()
        while following is not _FINISHED:
            table, self.following = following.table, None
            reader = pa.RecordBatchReader.from_batches(
                parquet_schema(table), self._batches(following)
            )
            with self._errors():
                self.db.register("part", reader)
                self.db.execute(f"INSERT INTO {table} SELECT * FROM part").fetchall()
                self.db.unregister("part")
                with self.opening:  # the memory of the indexes DuckDB loaded goes
                    self.db.close()
                    self.db = duckdb.connect(os.fspath(self.path), config=self.config)
            assert self.following is not None, "DuckDB read the batches of an INSERT"
            following = self.following

    def _batches(self, first: _Batch) -> Iterator[Any]:
        """The batches of one INSERT: from `first` until INSERT_ROWS rows or
        the end of its table; the batch after them is kept (`following`)."""
        rows, batch = 0, first
        while True:
            yield batch.batch
            rows += batch.batch.num_rows
            batch = self._get()
            if rows >= INSERT_ROWS or batch.table != first.table:
                self.following = batch
                return

    def finish(self) -> None:
        self._put(_FINISHED)
        self._wait()
        with self._errors():
            self.db.execute("CHECKPOINT").fetchall()
        self.finished = True

    def _wait(self) -> None:
        """Wait for the loading thread; its error is raised here."""
        loading, self.loading = self.loading, None
        if loading is not None:
            loading.result()

    def close(self) -> None:
        db = getattr(self, "db", None)
        if self.loading is not None:
            self.stopping.set()
            if db is not None:
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
