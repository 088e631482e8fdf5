"""Reads of key ranges in one transaction (`Snapshot`, what verify reads),
and the invoices an advance issued to a customer (the `later` index)."""

from __future__ import annotations

import mmap
import struct
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any, cast

import lmdb

from ..schema import array_header
from .keys import BATCH, key, span

#: A database's record (LMDB's MDB_db, in the main database under its name):
#: its flags (0: one value per key, keys compared as bytes, as every table
#: of the store) and its root page number.
RECORD = struct.Struct("<4xH34xQ")
#: The start of an LMDB file's first meta page: after the page header, the
#: magic number and the data format version the leaf reader knows.
META = struct.Struct("<16xII")
LAYOUT = (0xBEEFC0DE, 1)


def known_layout(start: bytes) -> bool:
    """Does a file that begins with `start` have the page layout the leaf
    reader knows (LMDB's data format 1)?"""
    return len(start) >= META.size and META.unpack_from(start) == LAYOUT


# The reader of a database's leaf pages (`_leaves.c`), built where shardgen
# was installed with a C compiler; without it, `Snapshot.values` reads
# through cursors, to the same result.
try:
    from . import _leaves
except ImportError:  # pragma: no cover - installed without a C compiler
    _leaves = None  # type: ignore[assignment]
leaves = _leaves

#: Rows a snapshot reads between drops of its page mappings; a row read on
#: its own counts as many (the kernel maps 16 pages around each page read).
RELEASE_ROWS = 8_192
RANDOM_READ = 16


class Snapshot:
    """Key ranges of a store's tables, read in one transaction (`Store.snapshot`)
    as bytes, a batch at a time: what verify reads."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: dict[str, Any],
        release: Callable[[], None] | None = None,
        pages: tuple[mmap.mmap, int] | None = None,
        file: int | None = None,
    ) -> None:
        self.txn = txn
        self.dbs = dbs
        self.release = release  # drops the store's page mappings as reads go on
        self.read = 0
        #: The store file mapped for reading, mapped after the transaction
        #: began (so it holds every page the transaction sees), and its page
        #: size; None: read through cursors only.
        self.pages = pages
        #: The same file open for reading, for `get_many`'s reads of its
        #: pages; None: looked up through the transaction.
        self.file = file

    def values(self, table: str, first: int, count: int) -> tuple[bytes, list[int]]:
        """The values of IDs `first` .. `first + count - 1` as one msgpack
        array, and where in it each batch of BATCH of them ends (the batches
        `run` gives). Read from the table's leaf pages (`_leaves.c`) where
        this snapshot maps the store, else through `run`'s cursors. The keys
        must be exactly these IDs': otherwise LookupError, saying so, as for
        pages out of place."""
        if self.pages is None or leaves is None:
            joined, ends = [array_header(count)], []
            end = len(joined[0])
            for _, values in self.run(table, first, count):
                joined += values
                end += sum(map(len, values))
                ends.append(end)
            return b"".join(joined), ends
        root = self._root(table)
        mapped, page_size = self.pages
        try:
            packed, ends = leaves.run(mapped, page_size, root, first, count, BATCH)
        except (LookupError, ValueError) as exc:  # a key out of place; a page
            raise LookupError(f"{table}: {exc}") from None
        if self.release is not None:  # the pages read leave this process's memory
            mapped.madvise(mmap.MADV_DONTNEED)
        return packed, ends

    def _root(self, name: str) -> int:
        """The root page of database `name` as this snapshot sees it (its
        MDB_db record in the main database); LookupError where it is not a
        database laid out as the store's are."""
        record = self.txn.get(name.encode())
        if record is None or len(record) != RECORD.size:
            raise LookupError(f"{name}: the store has no database of that name")
        flags, root = RECORD.unpack(record)
        if flags:
            raise LookupError(
                f"{name}: its database has flags no table of the store has ({flags:#x})"
            )
        return int(root)

    def get_many(self, name: str, keys: list[bytes]) -> list[bytes | None]:
        """The values of `keys` (all of one size) in the database `name` (a
        table, or `links`), in their order; None where there is no such key.
        Looked up in the store file's pages (`_leaves.get`, which reads them
        from the file) where this snapshot maps it, else, or where the pages
        are not as LMDB lays them out, one by one through the transaction
        (each counted as RANDOM_READ rows read)."""
        if not keys:
            return []
        if self.pages is not None and self.file is not None and leaves is not None:
            mapped, page_size = self.pages
            try:
                return leaves.get(
                    self.file, len(mapped), page_size, self._root(name), b"".join(keys),
                    len(keys[0]),
                )  # fmt: skip
            except (LookupError, ValueError):  # read through LMDB: it says what is wrong
                pass
        db = self.dbs[name]
        values: list[bytes | None] = []
        for k in keys:
            self.reads(RANDOM_READ)
            value = self.txn.get(k, db=db)
            values.append(None if value is None else bytes(value))
        return values

    def reads(self, rows: int) -> None:
        """Count rows read; every RELEASE_ROWS, drop this process's page
        mappings of the store (`files.Pages`), so a long read, or
        many random ones, keeps only the last few thousand rows' pages."""
        self.read += rows
        if self.read >= RELEASE_ROWS and self.release is not None:
            self.read = 0
            self.release()

    def pairs(
        self, table: str, low: bytes, high: bytes, expected: int = 0
    ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """Keys and values with low <= key < high, in key order, a batch at a time.

        The first batch asks for the `expected` rows and one more, to see where
        the range ends without reading far into the next one. Keys and values
        come from two cursors, as lists of bytes: no tuple per row for the
        garbage collector to track.
        """
        if low >= high:
            return
        txn, db = self.txn, self.dbs[table]
        with txn.cursor(db=db) as at_key, txn.cursor(db=db) as at_value:
            if not at_key.set_range(low):
                return
            at_value.set_range(low)
            # Transactions copy out bytes (lmdb's buffers=False, the default).
            keys_read = cast("Iterator[bytes]", at_key.iternext(keys=True, values=False))
            values_read = cast("Iterator[bytes]", at_value.iternext(keys=False, values=True))
            size = min(BATCH, expected + 1) if expected > 0 else BATCH
            while keys := list(islice(keys_read, size)):
                values = list(islice(values_read, len(keys)))
                if keys[-1] >= high:
                    end = bisect_left(keys, high)
                    if end:
                        yield keys[:end], values[:end]
                    return
                self.reads(len(keys))
                yield keys, values
                expected -= len(keys)
                size = min(BATCH, expected + 1) if expected > 0 else BATCH

    def run(self, table: str, first: int, count: int) -> Iterator[tuple[bytes, list[bytes]]]:
        """The keys (joined) and values of IDs `first` .. `first + count - 1`,
        a batch of BATCH at a time (the batches `pairs` gives of the same
        range), through two cursors. The keys must be exactly these IDs'
        (`keys.span`): otherwise LookupError, saying so."""
        if count <= 0:
            return
        txn, db = self.txn, self.dbs[table]
        with txn.cursor(db=db) as at_key, txn.cursor(db=db) as at_value:
            at_key.set_range(key(first))
            at_value.set_range(key(first))
            keys_read = cast("Iterator[bytes]", at_key.iternext(keys=True, values=False))
            values_read = cast("Iterator[bytes]", at_value.iternext(keys=False, values=True))
            done = 0
            while done < count:
                size = min(BATCH, count - done)
                keys = b"".join(islice(keys_read, size))
                if keys != span(first + done, size):
                    raise LookupError(
                        f"{table}'s keys from id {first + done} are not ids {first + done} "
                        f"to {first + done + size - 1}: a row is missing, or a key is damaged"
                    )
                values = list(islice(values_read, size))
                done += size
                self.reads(size)
                yield keys, values

    def later(self, first: int, count: int) -> list[tuple[int, int]]:
        """(customer ID, invoice ID) of the invoices `advance` issued to the
        customers first .. first + count - 1, in key order."""
        db = self.dbs.get("later")
        if db is None:
            return []
        high = key(first + count)
        found = []
        with self.txn.cursor(db=db) as cursor:
            if cursor.set_range(key(first)):
                for raw in cursor.iternext(keys=True, values=False):
                    k = bytes(raw)
                    if k[:8] >= high:
                        break
                    found.append((int.from_bytes(k[:8], "big"), int.from_bytes(k[8:], "big")))
        return found

    def outside(
        self, table: str, covered: list[tuple[bytes, bytes]]
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key lies in none of the sorted, half-open [low, high) ranges."""
        with self.txn.cursor(db=self.dbs[table]) as cursor:
            if not cursor.first():
                return
            for low, high in covered:
                while bytes(cursor.key()) < low:
                    yield bytes(cursor.key()), bytes(cursor.value())
                    if not cursor.next():
                        return
                if not cursor.set_range(high):
                    return
            while True:
                yield bytes(cursor.key()), bytes(cursor.value())
                if not cursor.next():
                    return


def later_invoices(txn: lmdb.Transaction, db: Any, customer_id: int) -> list[int]:
    """The IDs of the invoices `advance` issued to a customer, in ID order."""
    prefix = key(customer_id)
    found = []
    with txn.cursor(db=db) as cursor:
        if cursor.set_range(prefix):
            for k in cursor.iternext(keys=True, values=False):
                if k[:8] != prefix:
                    break
                found.append(int.from_bytes(k[8:], "big"))
    return found
