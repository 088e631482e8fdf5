"""One task's reads: key ranges of tables read through a store snapshot,
decoded a batch at a time, digested, their IDs checked; and the part of the
report the task returns."""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray

from ..run.shards import Task
from ..schema import BATCH_DECODERS, DECODERS, array_header
from ..store import Snapshot, digest_batch, digest_batches, key
from ..store.keys import BATCH
from .columns import Decoded, Ints, int_column
from .report import Findings

#: Rows read from the store's pages at a time (a whole number of batches):
#: a range of an advanced store's days may hold hundreds of thousands.
CHUNK = 4 * BATCH
#: How a batch's keys and values are had one by one (`ShardReader._read`).
Pairs = Callable[[], tuple[list[bytes], list[bytes]]]
#: A batch read: its first and last IDs, its size, its values as one msgpack
#: array, and its pairs.
Batch = tuple[int, int, int, bytes, Pairs]


def _pairs(keys: list[bytes], values: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    return keys, values


def _read_again(
    view: Snapshot, table: str, first: int, size: int
) -> tuple[list[bytes], list[bytes]]:
    """The pairs of IDs first .. first + size - 1 (one batch, whose keys are
    these IDs), through cursors."""
    keys: list[bytes] = []
    values: list[bytes] = []
    for more_keys, more_values in view.pairs(table, key(first), key(first + size), size):
        keys += more_keys
        values += more_values
    return keys, values


class Part(NamedTuple):
    """What one task found: small, and merged by the coordinator in task order."""

    task: Task
    rows: dict[str, int]
    digests: dict[str, list[bytes]]  # table → digests of the key ranges read, in order
    found: Findings
    state_rate: dict[str, tuple[int, int]]  # state → (tax rate, first invoice id seen)
    days: bytes  # a product task's: its products' creation days (int32 by ID from its first)
    #: An advanced store's inventory ledger: units its days' line items sold
    #: (customer tasks), and units the stock ledger says left (product tasks).
    sold: dict[int, int]
    ledger: dict[int, int]


class ShardReader:
    """One task's reads: key ranges of tables, each digested and its IDs checked."""

    def __init__(self, view: Snapshot, task: Task) -> None:
        self.view = view
        self.task = task
        self.found = Findings()
        self.rows: Counter[str] = Counter()
        self.digests: dict[str, list[bytes]] = {}
        self.state_rate: dict[str, tuple[int, int]] = {}
        self.days = b""
        self.sold: Counter[int] = Counter()
        self.ledger: dict[int, int] = {}

    def part(self) -> Part:
        return Part(
            self.task, dict(self.rows), self.digests, self.found, self.state_rate, self.days,
            dict(self.sold), self.ledger,
        )  # fmt: skip

    def pairs(
        self, db: str, low: bytes, high: bytes, expected: int = 0
    ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """Keys and values with low <= key < high, in key order, a batch at a time."""
        return self.view.pairs(db, low, high, expected)

    def scan(self, table: str, first: int, count: int) -> Iterator[Any]:
        """Records with IDs first .. first + count - 1, by key, one at a time."""
        for batch, _ in self.batches(table, first, count):
            yield from batch

    def batches(self, table: str, first: int, count: int) -> Iterator[tuple[list[Any], Ints]]:
        """Records with IDs first .. first + count - 1, by key, decoded a batch
        at a time, with their IDs as an array.

        Every pair read is digested; a record must carry its key's ID.
        """
        add = self.found.add
        digest = hashlib.blake2b(digest_size=16)
        decode_batch = BATCH_DECODERS[table].decode
        decode_one = DECODERS[table].decode
        rows = 0
        expected_id = first
        for low, high, size, encoded, pairs in self._read(table, first, count, digest):
            rows += size
            records: list[Any]
            try:
                records = Decoded(decode_batch(encoded), table, encoded)
            except msgspec.DecodeError:
                records = []
                keys, values = pairs()
                for k, v in zip(keys, values, strict=True):
                    try:
                        records.append(decode_one(v))
                    except msgspec.DecodeError as exc:
                        add(table, int.from_bytes(k, "big"), "record decodes", str(exc))
            else:
                # Keys are sorted and unique: when the first and last keys equal the
                # first and last ids and the ids run consecutively, every key
                # equals its record's id.
                if low != records[0].id or high != records[-1].id:
                    add(table, low, "ids are 1..n in key order", "key and id differ")
            if not records:
                continue
            ids = int_column(self.found, table, records, "id", None)
            run = expected_id + np.arange(len(ids), dtype=np.int64)
            if not np.array_equal(ids, run):
                for record in records:
                    if record.id != expected_id:
                        add(
                            table, record.id, "ids are 1..n in key order", f"expected {expected_id}"
                        )
                        expected_id = record.id
                    expected_id += 1
            else:
                expected_id += len(ids)
            yield records, ids
        self.rows[table] += rows
        self.digests.setdefault(table, []).append(digest.digest())

    def _read(self, table: str, first: int, count: int, digest: Any) -> Iterator[Batch]:
        """The pairs with keys first .. first + count - 1, a batch at a time,
        each digested: its first and last keys' IDs, its size, its values as
        one msgpack array, and how to have its keys and values one by one.
        While the keys are exactly these IDs, the values come straight from
        the store's pages (`Snapshot.values`, CHUNK rows at a time), and a
        batch is read again through cursors only if it does not decode; from
        a chunk where they are not, cursors read the rest, to find what is
        missing or out of place."""
        while count > 0:
            chunk = min(CHUNK, count)
            try:
                packed, ends = self.view.values(table, first, chunk)
            except LookupError:
                break
            for low, size, joined in digest_batches(digest, first, chunk, packed, ends):
                again = functools.partial(_read_again, self.view, table, low, size)
                yield low, low + size - 1, size, array_header(size) + joined, again
            first, count = first + chunk, count - chunk
        if count > 0:
            for keys, values in self.view.pairs(table, key(first), key(first + count), count):
                encoded = digest_batch(digest, keys, values)
                low, high = int.from_bytes(keys[0], "big"), int.from_bytes(keys[-1], "big")
                yield low, high, len(keys), encoded, functools.partial(_pairs, keys, values)

    def outside(self, db: str, covered: list[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key lies in none of the sorted, half-open [low, high) ranges."""
        return self.view.outside(db, covered)

    def orphan(
        self, table: str, row_id: int, rule: str, parent_id: int, first: int, parents: int
    ) -> None:
        """Report a row whose parent is not among its shard's: a foreign key
        violation, or a parent of another shard (never so by construction)."""
        if first <= parent_id < first + parents:
            self.found.add(table, row_id, rule, str(parent_id))
        else:
            self.found.add(table, row_id, "parent in the same shard", f"{rule}: {parent_id}")

    def parented(
        self,
        table: str,
        ids: Ints,
        parent_ids: Ints,
        first: int,
        present: NDArray[Any],
        rule: str,
        among: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """Which rows (of `among`, default all) have their parent in the shard:
        `present[parent_id - first]` is non-zero. The others are `orphan`s."""
        at = parent_ids - first
        found = (at >= 0) & (at < len(present))
        if among is not None:
            found &= among
        found[found] = present[at[found]] != 0
        lost = ~found if among is None else among & ~found
        for row in np.flatnonzero(lost).tolist():
            self.orphan(table, int(ids[row]), rule, int(parent_ids[row]), first, len(present))
        return found
