"""The leaf-page reader (`store/_leaves.c`, `Snapshot.values`): the values of
a key range read straight from LMDB's pages are what py-lmdb's cursors read,
on generated and advanced stores, across every page boundary, and with values
on overflow pages; its digest is verify's; a row missing or a page damaged is
refused, never read past; a path that names another file is read through
cursors. Its lookup of given keys (`Snapshot.get_many`) finds what the
transaction's gets find, in tables and in the links, None where there is
nothing, and reads through the transaction where the pages are damaged."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest

import shardgen
from shardgen.schema import TABLES, array_header
from shardgen.store import LINK_KEY, Store, digest_array, digest_joined, key
from shardgen.store.keys import BATCH
from shardgen.store.snapshot import RECORD, Snapshot, known_layout, leaves

# The reader is built by every install of the project's own files, as the
# exports' decoder is: these tests run wherever the suite does.
assert leaves is not None, "the leaf reader was not built: run ./tools/bootstrap"


def by_cursors(store: Store, table: str, first: int, count: int) -> tuple[bytes, list[int]]:
    """What `Snapshot.values` reads without the store mapped: py-lmdb's cursors."""
    with store.env.begin() as txn:
        return Snapshot(txn, store.dbs).values(table, first, count)


def ranges(count: int, seed: int) -> list[tuple[int, int]]:
    """Key ranges of a table of `count` rows: the whole table, its ends, none,
    batches' edges and random ones."""
    rng = random.Random(seed)
    out = [(1, count), (1, 1), (count, 1), (1, 0), (count, 0)]
    out += [(1, min(count, BATCH)), (1, min(count, BATCH + 1)), (max(1, count - BATCH), 1)]
    for _ in range(20):
        first = rng.randint(1, count)
        out.append((first, rng.randint(0, count - first + 1)))
    return out


@pytest.fixture(scope="module")
def stores(
    large_store: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """The large store, and a copy of it advanced by 3 days (updates and
    inserts: pages split)."""
    advanced = tmp_path_factory.mktemp("leaves") / "advanced.lmdb"
    shutil.copyfile(large_store[0], advanced)
    shardgen.advance(advanced, days=3, workers=1)
    return [large_store[0], advanced]


def test_values_are_what_the_cursors_read_on_generated_and_advanced_stores(
    stores: list[Path],
) -> None:
    for path in stores:
        with Store.open(path) as store, store.snapshot() as view:
            assert view.pages is not None  # the store is mapped: the leaf reader reads
            for table in TABLES:
                count = store.count(table)
                assert count > 0
                for first, rows in ranges(count, seed=len(table)):
                    packed, ends = view.values(table, first, rows)
                    assert (packed, ends) == by_cursors(store, table, first, rows)
                    # Its digest is verify's, batch by batch of the same rows.
                    mine, theirs = (hashlib.blake2b(digest_size=16) for _ in range(2))
                    digest_array(mine, first, rows, packed, ends)
                    for keys, values in view.run(table, first, rows):
                        digest_joined(theirs, keys, len(values), b"".join(values))
                    assert mine.digest() == theirs.digest()
                    assert len(ends) == -(-rows // BATCH)
                    assert not ends or ends[-1] == len(packed)


def wanted_ids(count: int, seed: int) -> list[int]:
    """IDs to look up in a table of `count` rows: its ends, beyond them,
    some twice, out of order, and random ones."""
    rng = random.Random(seed)
    ids = [1, count, 0, count + 1, count + 10**6, 2**64 - 1, 1, count]
    return ids + [rng.randint(1, count) for _ in range(300)]


def test_get_many_finds_what_the_transaction_gets(stores: list[Path]) -> None:
    for path in stores:
        with Store.open(path) as store, store.snapshot() as view:
            assert view.pages is not None and view.file is not None  # read from the file
            with store.env.begin() as txn:
                through_lmdb = Snapshot(txn, store.dbs)  # not mapped: the transaction's gets
                for table in TABLES:
                    keys = [key(i) for i in wanted_ids(store.count(table), len(table))]
                    found = view.get_many(table, keys)
                    expected = [txn.get(k, db=store.dbs[table]) for k in keys]
                    assert found == expected
                    assert found[0] is not None and found[3] is None  # the first; past the end
                    assert through_lmdb.get_many(table, keys) == expected
                # The links: 9-byte keys (a relation, a parent), most relations absent.
                links = [LINK_KEY.pack(r, i) for r in range(4) for i in wanted_ids(3000, r)]
                found = view.get_many("links", links)
                assert found == [txn.get(k, db=store.dbs["links"]) for k in links]
                assert any(v is not None for v in found) and None in found
                assert view.get_many("invoices", []) == []


def test_get_many_reads_through_the_transaction_where_the_pages_are_damaged(
    small_store: Path, tmp_path: Path
) -> None:
    damaged_path = tmp_path / "damaged.lmdb"
    with Store.open(small_store) as store, store.env.begin() as txn:
        intact = small_store.read_bytes()
        root = RECORD.unpack(txn.get(b"customers"))[1]
        damaged = bytearray(intact)
        damaged[root * store.page_size : root * store.page_size + 16] = bytes(16)
        damaged_path.write_bytes(damaged)
        keys = [key(i) for i in wanted_ids(store.count("customers"), 3)]
        expected = [txn.get(k, db=store.dbs["customers"]) for k in keys]
        fd = os.open(damaged_path, os.O_RDONLY)
        try:
            with pytest.raises(ValueError, match="does not hold its own page number"):
                leaves.get(fd, len(damaged), store.page_size, root, b"".join(keys), 8)
            mapped = (bytes(damaged), store.page_size)
            view = Snapshot(txn, store.dbs, pages=mapped, file=fd)  # type: ignore[arg-type]
            assert view.get_many("customers", keys) == expected
            # An empty database; a file shorter than it says; arguments out of bounds.
            size = len(damaged)
            assert (
                leaves.get(fd, size, store.page_size, 2**64 - 1, key(1) + key(2), 8) == [None] * 2
            )
            with pytest.raises(ValueError, match="beyond the end of the file"):
                leaves.get(fd, size * 2, store.page_size, size // store.page_size, key(1), 8)
            for page_size, width, joined in ((1000, 8, key(1)), (4096, 0, b""), (4096, 8, b"123")):
                with pytest.raises(ValueError, match="out of bounds"):
                    leaves.get(fd, size, page_size, root, joined, width)
        finally:
            os.close(fd)


def test_values_on_overflow_pages_are_read_whole(make_store: object, tmp_path: Path) -> None:
    path, _ = make_store("small")  # type: ignore[operator]
    big = {5: b"\xc4" + os.urandom(3000), 6: os.urandom(70_000), 9: b"x" * 4080}
    with Store.open(path, writable=True) as store:
        with store.write() as txn:
            for row_id, value in big.items():
                txn.put(key(row_id), value, db=store.dbs["invoices"])
        count = store.count("invoices")
        with store.snapshot() as view:
            assert view.pages is not None
            packed, ends = view.values("invoices", 1, count)
            assert (packed, ends) == by_cursors(store, "invoices", 1, count)
            packed, _ = view.values("invoices", 6, 1)
            assert packed == array_header(1) + big[6]
            # Looked up, each read from the file, overflow pages and all.
            assert view.file is not None
            found = view.get_many("invoices", [key(i) for i in (4, 5, 6, 9)])
            assert found[1:] == [big[5], big[6], big[9]]
            assert found[0] is not None and found[0] == view.values("invoices", 4, 1)[0][1:]


def test_a_row_missing_or_past_the_end_is_refused(make_store: object) -> None:
    path, _ = make_store("small")  # type: ignore[operator]
    with Store.open(path, writable=True) as store:
        count = store.count("invoices")
        with store.write() as txn:
            assert txn.delete(key(7), db=store.dbs["invoices"])
        with store.snapshot() as view:
            assert view.values("invoices", 1, 6)[0]  # the rows before are there
            with pytest.raises(LookupError, match=r"invoices: the row with id 7 is missing"):
                view.values("invoices", 1, 7)
            with pytest.raises(LookupError, match=r"invoices: no row with id \d+: the table ends"):
                view.values("invoices", count - 1, 3)


def test_damaged_pages_are_refused_never_read_past(
    large_store: tuple[Path, object], tmp_path: Path
) -> None:
    # Random bytes of the file changed (most in pages' headers and node
    # offsets, where a change sends a reader astray), and the file cut short:
    # the reader returns rows or refuses them (LookupError, ValueError), and
    # never reads out of the mapping (which would end this process).
    path, copy = large_store[0], tmp_path / "damaged.lmdb"
    intact = path.read_bytes()
    with Store.open(path) as store, store.env.begin() as txn:
        page_size = store.page_size
        roots = {t: RECORD.unpack(txn.get(t.encode()))[1] for t in ("invoices", "customers")}
        counts = {t: store.count(t) for t in roots}
    pages = len(intact) // page_size
    rng = random.Random(5)
    outcomes = {"read": 0, "refused": 0, "lookups read": 0, "lookups refused": 0}
    for trial in range(400):
        table = ("invoices", "customers")[trial % 2]
        damaged = bytearray(intact)
        for _ in range(rng.randint(1, 8)):
            where = rng.randrange(pages) * page_size + rng.randrange(48)
            if rng.random() < 0.3:
                where = rng.randrange(len(damaged))
            damaged[where] = rng.randrange(256)
        if trial % 5 == 0:
            del damaged[rng.randrange(len(damaged)) :]
        try:
            packed, _ = leaves.run(bytes(damaged), page_size, roots[table], 1, counts[table], BATCH)
        except (LookupError, ValueError):
            outcomes["refused"] += 1
        else:
            assert packed.startswith(array_header(counts[table]))
            outcomes["read"] += 1
        wanted = b"".join(key(i) for i in wanted_ids(counts[table], trial)[:40])
        copy.write_bytes(damaged)
        try:
            with open(copy, "rb") as file:
                found = leaves.get(file.fileno(), len(damaged), page_size, roots[table], wanted, 8)
        except ValueError:
            outcomes["lookups refused"] += 1
        else:
            assert len(found) == 40
            outcomes["lookups read"] += 1
    assert outcomes["refused"] > 50 and outcomes["read"] > 50, outcomes
    assert outcomes["lookups refused"] > 50 and outcomes["lookups read"] > 50, outcomes
    with pytest.raises(ValueError, match="out of bounds"):
        leaves.run(intact, 1000, roots["invoices"], 1, 1, BATCH)  # no page size of LMDB's
    with pytest.raises(ValueError, match="beyond the end of the file"):
        leaves.run(intact, page_size, pages, 1, 1, BATCH)
    with pytest.raises(LookupError, match="the table is empty"):
        leaves.run(intact, page_size, 2**64 - 1, 1, 1, BATCH)


def test_a_path_that_names_another_file_is_read_through_cursors(
    small_store: Path, make_store: object, tmp_path: Path
) -> None:
    path = tmp_path / "store.lmdb"
    shutil.copyfile(small_store, path)
    other, _ = make_store("small", seed=43)  # type: ignore[operator]
    with Store.open(path) as store:
        count = store.count("customers")
        with store.snapshot() as view:
            expected = view.values("customers", 1, count)
        os.replace(other, path)  # promoted over while this handle is open
        with store.snapshot() as view:
            assert view.pages is None
            assert view.values("customers", 1, count) == expected


def test_a_database_of_duplicates_is_not_read_as_a_table(tmp_path: Path) -> None:
    # A table's database holds one value per key; LMDB's record of one that
    # holds duplicates says so in its flags, and the reader does not walk it.
    import mmap

    import lmdb

    path = tmp_path / "dup.lmdb"
    env = lmdb.open(str(path), subdir=False, max_dbs=2)
    db = env.open_db(b"invoices", dupsort=True)
    with env.begin(write=True) as txn:
        txn.put(key(1), b"\x91\x01", db=db)
        txn.put(key(1), b"\x91\x02", db=db)
    with env.begin() as txn, open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ)
        view = Snapshot(txn, {"invoices": db}, pages=(mapped, env.stat()["psize"]))
        with pytest.raises(LookupError, match="invoices: its database has flags"):
            view.values("invoices", 1, 1)
        mapped.close()
    env.close()


def test_only_the_lmdb_data_format_the_reader_knows_is_read_from_its_pages(
    small_store: Path,
) -> None:
    start = small_store.read_bytes()[:4096]
    assert known_layout(start)
    other = bytearray(start)
    other[20] = 2  # LMDB's data format version, in the first meta page
    assert not known_layout(bytes(other))
    other[16:24] = start[16:24]
    other[16] ^= 0xFF  # its magic number
    assert not known_layout(bytes(other))
    assert not known_layout(b"")
