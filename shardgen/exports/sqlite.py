"""Export to a SQLite file: the contract with its PRIMARY KEY, FOREIGN KEY,
UNIQUE and CHECK constraints, the DDL derived from the table registry (`ddl`).

Where the C decoder was built, the workers write each part as the leaf pages
of its table's b-tree (`write_leaves`, SQLite's file format) and the
coordinator appends them to the file and writes the interior pages above
them (`Pages`); an index whose entries come in its order is written so too
(`IndexPages`), and SQLite builds the others (`REINDEX`, which refuses a
duplicate UNIQUE key). Elsewhere the workers write each part as a small
SQLite file, which SQLite copies in. Either way the file is written beside the
target and renamed into place when complete (`guard.writing`), so an
interrupted export leaves the previous one as it was.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from ..errors import RunError
from ..guard import copy_at, create, scratch_path, write_at
from ..store import disk_full
from ..tables import REGISTRY
from . import ddl
from .contract import CONTRACT, Part, columns
from .native import TABLE_KINDS, decoder

#: What the workers render for this target: each part as leaf pages of its
#: table (where the C decoder was built), or as a small SQLite file.
RENDER_PAGES = "sqlite-pages"
RENDER_ROWS = "sqlite"

#: The export's page size: 16 kB pages take a tenth less time to fill and
#: index than SQLite's default 4 kB ones.
PAGE_SIZE = 16384


class Leaves(NamedTuple):
    """A part as leaf pages of its table's b-tree (`write_leaves`): the file
    that holds them in the scratch folder, the largest rowid on each page,
    the part's first rowid (None when it has no rows), and its rows' entries
    in each of the table's indexes (`INDEXES`), as index cells."""

    path: str
    last_ids: list[int]
    first_id: int | None
    entries: tuple[bytes | None, ...] = ()


class Index(NamedTuple):
    """An index of the export's schema, as SQLite names it: its table, the
    positions of its columns in the table, and whether it is UNIQUE."""

    name: str
    table: str
    columns: tuple[int, ...]
    unique: bool


@functools.cache
def indexes() -> dict[str, tuple[Index, ...]]:
    """Each table's indexes in the export's schema (the UNIQUE constraints'
    and the lookup indexes), as SQLite itself makes them from the DDL."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(ddl.create_tables("sqlite") + ";\n".join(ddl.create_indexes()))
        found: dict[str, tuple[Index, ...]] = {}
        for table in REGISTRY:
            listed = db.execute(f"PRAGMA index_list({table})").fetchall()
            found[table] = tuple(
                Index(
                    name,
                    table,
                    tuple(cid for _, cid, _ in db.execute(f"PRAGMA index_info({name})")),
                    bool(unique),
                )
                for _, name, unique, *_ in sorted(listed, key=lambda row: row[1])
            )
        return found
    finally:
        db.close()


class SqliteWriter:
    """Loads the parts into a new SQLite file at `path`, then builds the
    indexes. `pages`: the parts arrive as leaf pages (`Leaves`), appended
    to the file as they are (`Pages`); otherwise as small SQLite files of
    rows (`write_part`), attached and copied in by SQLite itself. The parts'
    files are deleted once copied.

    The CHECK constraints are in the schema, and apply to whatever is written
    to the file later, but are not evaluated during the load: the rows are
    the verified ones (the export compares their digest with the one verify
    recorded at promotion, after it checked every rule), so evaluating them
    again per row would only repeat it. The keys are checked as the parts
    arrive (each table's rowids ascending), the UNIQUE constraints as their
    indexes are built (in order, or by SQLite), and the NOT NULLs as each row
    is written (by the C decoder, or by SQLite on the rows' path).
    """

    def __init__(self, path: Path, pages: bool, page_size: int = PAGE_SIZE) -> None:
        self.path = path
        self.scratch = scratch_path(path)
        self.render = RENDER_PAGES if pages else RENDER_ROWS  # what the workers make
        self.pages: Pages | None = None
        with self._errors():
            os.mkdir(self.scratch, 0o700)
            os.close(create(path))  # an empty file is an empty database; never a link
            self.db: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
            self.db.execute(f"PRAGMA page_size = {page_size}")
            for pragma in PRAGMAS:
                self.db.execute(pragma)
            self.db.executescript(ddl.create_tables("sqlite"))
            if pages:  # the lookup indexes too, empty, for their pages to be written
                for statement in ddl.create_indexes():
                    self.db.execute(statement)
                roots = dict(self.db.execute("SELECT name, rootpage FROM sqlite_master"))
                (count,) = self.db.execute("PRAGMA page_count").fetchone()
                self.db.close()
                self.db = None
                self.pages = Pages(path, roots, count, page_size, self.scratch)
        self.copies = {
            table: f"INSERT INTO main.{table} ({', '.join(names)}) "
            f"SELECT {', '.join(names)} FROM part.{table} ORDER BY rowid"
            for table, names in ((t, columns(t)) for t in REGISTRY)
        }

    def write(self, part: Part, data: Any) -> None:
        """Add a part (its `Leaves`, or the path of its file of rows) to the
        export, then delete its file."""
        with self._errors():
            if self.pages is not None:
                self.pages.add(part.table, data)
                return
            assert self.db is not None
            self.db.execute("ATTACH DATABASE ? AS part", (data,))
            try:
                self.db.execute(self.copies[part.table])
            finally:
                self.db.execute("DETACH DATABASE part")
            os.unlink(data)

    def finish(self) -> None:
        with self._errors():
            # The indexes SQLite builds: all of them, after a load of rows;
            # after one of pages, those whose entries did not come in their
            # order (`IndexPages`).
            statements = [*ddl.create_indexes()]
            if self.pages is not None:
                statements = [f"REINDEX {name}" for name in self.pages.finish()]
                self.pages = None
                self.db = sqlite3.connect(self.path, isolation_level=None)
                for pragma in PRAGMAS:
                    self.db.execute(pragma)
            assert self.db is not None
            # Lookup indexes, built after the load: one sort each instead of an
            # index update per inserted row. The workers are done, so the
            # sorts take helper threads, which SQLite's sorter uses when a
            # sort spills into several runs: a smaller cache (8 MB) makes it
            # do so, a quarter less time at xl on 2 CPUs.
            self.db.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
            self.db.execute("PRAGMA cache_size = -8192")
            self.db.execute("BEGIN")
            for statement in statements:  # a duplicate in a UNIQUE one is refused
                self.db.execute(statement)
            self.db.execute("COMMIT")
            # No `PRAGMA foreign_key_check` (2 s at xl): verify checked every
            # link of these rows, and the digest compared before `finish` says
            # they are those rows. The keys stay declared for later writes.
            # ANALYZE (0.6 s at xl) gives users' queries the planner's statistics.
            self.db.execute("ANALYZE")

    def close(self) -> None:
        if self.pages is not None:
            self.pages.close()
        if self.db is not None:
            self.db.close()

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return errors(self.path)


class Pages:
    """Writes a SQLite file's tables and indexes page by page, into a file
    SQLite created with the export's schema (`roots`: the root page of each
    table and index; `count`: its pages). A table's leaf pages (`Leaves`, in
    rowid order) are appended to the file as they come; at the end the
    interior pages above them are appended, the top one written over the
    table's root page. Each index's entries go to its `IndexPages`, which
    writes the index the same way if they came in the index's order. Then
    the file's header is given its new size. The page at 1 GiB, which SQLite
    keeps for its locks, is skipped (left empty). The layout is SQLite's file
    format (sqlite.org/fileformat2.html): `PRAGMA integrity_check` finds
    every such file sound (tests/test_exports_sqlite.py).
    """

    def __init__(
        self, path: Path, roots: dict[str, int], count: int, page_size: int, scratch: Path
    ) -> None:
        self.fd: int | None = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.roots = {table: roots[table] for table in REGISTRY if table in roots}
        self.count = count
        self.page_size = page_size
        #: The page that holds the byte at 1 GiB, which SQLite keeps for its
        #: file locks and never reads (the lock-byte page): left empty.
        self.lock_page = LOCK_BYTE // page_size + 1
        #: Each table's leaves so far: (page number, largest rowid on it).
        self.leaves: dict[str, list[tuple[int, int]]] = {table: [] for table in self.roots}
        #: A table's only leaf so far, held back: if it stays the only one,
        #: it is the root page itself.
        self.held: dict[str, tuple[bytes, int]] = {}
        self.last: dict[str, int] = {}
        #: Each table's indexes, as `indexes()` lists them (None: not in `roots`).
        self.indexes = {
            table: [
                IndexPages(index, roots[index.name], page_size, scratch)
                if index.name in roots
                else None
                for index in indexes()[table]
            ]
            for table in self.roots
        }

    def add(self, table: str, part: Leaves) -> None:
        """Append a part's leaves to the file (after the table's earlier ones)."""
        if part.first_id is None:
            return
        if part.first_id <= self.last.get(table, part.first_id - 1):
            raise RunError(
                f"the ids of {table} are not in ascending order in the store: "
                "run `shardgen verify` on it"
            )
        self.last[table] = part.last_ids[-1]
        for index, entries in zip(self.indexes[table], part.entries, strict=True):
            if index is not None:
                index.add(entries)
        with open(part.path, "rb") as pages:
            if not self.leaves[table] and table not in self.held and len(part.last_ids) == 1:
                self.held[table] = (pages.read(), part.last_ids[0])
            else:
                if table in self.held:
                    leaf, last = self.held.pop(table)
                    self._append(table, [last], leaf)
                self._append(table, part.last_ids, pages)
        os.unlink(part.path)

    def allocate(self, count: int) -> list[int]:
        """The numbers of the next `count` pages at the end of the file (the
        lock-byte page skipped)."""
        numbers: list[int] = []
        while len(numbers) < count:
            self.count += 1
            if self.count != self.lock_page:
                numbers.append(self.count)
        return numbers

    def place(self, pages: BinaryIO | bytes, count: int) -> list[int]:
        """Append `count` pages (a file of them, or their bytes) to the
        database; return their page numbers."""
        assert self.fd is not None
        size = self.page_size
        numbers = self.allocate(count)
        done = 0
        while done < count:  # runs of consecutive numbers: one copy each
            run = 1
            while done + run < count and numbers[done + run] == numbers[done] + run:
                run += 1
            at = (numbers[done] - 1) * size
            if isinstance(pages, bytes):
                write_at(self.fd, pages[done * size : (done + run) * size], at)
            else:
                copy_at(pages, self.fd, run * size, at, done * size)
            done += run
        return numbers

    def _append(self, table: str, last_ids: list[int], pages: BinaryIO | bytes) -> None:
        numbers = self.place(pages, len(last_ids))
        self.leaves[table].extend(zip(numbers, last_ids, strict=True))

    def finish(self) -> list[str]:
        """Write each table's interior pages, the indexes whose entries came
        in order, and the file's new size; return the names of the others."""
        assert self.fd is not None
        size = self.page_size
        for table, root in self.roots.items():
            if table in self.held:
                write_at(self.fd, self.held.pop(table)[0], (root - 1) * size)
                continue
            level = self.leaves[table]
            if not level:
                continue  # no rows: the root stays the empty leaf SQLite wrote
            # After the 12-byte header, a cell of 15 bytes at most for each
            # child but the last (a 2-byte pointer, the child's 4-byte page
            # number, a rowid of up to 9 bytes).
            while len(level) > (most := (size - 12) // 15 + 1):
                above = []
                for children in even_groups(level, most):
                    (number,) = self.place(table_interior(children, size), 1)
                    above.append((number, children[-1][1]))
                level = above
            write_at(self.fd, table_interior(level, size), (root - 1) * size)
        left = []
        for index in self._indexes():
            if index.ok:
                index.finish(self)
            else:
                left.append(index.index.name)
            index.close()
        header = bytearray(os.pread(self.fd, 100, 0))
        changes = struct.unpack_from(">I", header, 24)[0] + 1
        struct.pack_into(">II", header, 24, changes, self.count)  # change counter, pages
        struct.pack_into(">I", header, 92, changes)  # the size is valid for this change
        write_at(self.fd, bytes(header), 0)
        self.close()
        return left

    def _indexes(self) -> list[IndexPages]:
        return [i for i in itertools.chain.from_iterable(self.indexes.values()) if i is not None]

    def close(self) -> None:
        for index in self._indexes():
            index.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class IndexPages:
    """An index's b-tree, from its entries as the parts bring them, if they
    come in the index's order (they do where the table's ids follow its
    key: an invoice's number, a line item's invoice and line): the leaves
    are kept in a scratch file as they fill (`sqlite_index_leaves`), with
    the entries between them (an index keeps each entry once, so an entry
    separates two leaves in the level above); at the end the leaves are
    appended to the database, and the levels above them after. The first
    entry out of order (or a duplicate in a UNIQUE index, or a key too long
    for a page) gives up: SQLite builds that index (`REINDEX`), and refuses
    a duplicate."""

    def __init__(self, index: Index, root: int, page_size: int, scratch: Path) -> None:
        self.index = index
        self.root = root
        self.page_size = page_size
        self.unique = len(index.columns) if index.unique else 0
        self.path = scratch / f"index-{index.name}.pages"
        self.file: BinaryIO | None = None
        self.rest = b""  # entries after the last separator, not yet in a leaf
        self.leaves = 0
        self.separators: list[bytes] = []
        self.ok = True

    def add(self, entries: bytes | None) -> None:
        """Take a part's entries; None: out of order within the part (its
        worker checked, and sent none)."""
        if entries is None and self.ok:
            self.ok = False
            self.close()
        if self.ok and entries:
            self._leaves(self.rest + entries, finish=False)

    def _leaves(self, entries: bytes, finish: bool) -> None:
        assert decoder is not None
        ok, pages, separators, rest = decoder.sqlite_index_leaves(
            entries, self.page_size, self.unique, finish
        )
        if not ok:
            self.ok = False
            self.close()
            return
        if pages:
            if self.file is None:
                fd = create(self.path, 0o600, readable=True)
                self.file = open(fd, "w+b")  # noqa: SIM115 - closed in `close`
            self.file.write(pages)
            self.leaves += len(pages) // self.page_size
        self.separators.extend(separators)
        self.rest = rest

    def finish(self, database: Pages) -> None:
        """Append the index's pages to the `database`, its top one written
        over its root page."""
        if self.rest:
            self._leaves(self.rest, finish=True)
        if not self.leaves:
            return  # no entries: the root stays the empty leaf SQLite wrote
        assert self.file is not None and database.fd is not None
        self.file.flush()
        size = self.page_size
        if self.leaves == 1:  # the root itself
            leaf = os.pread(self.file.fileno(), size, 0)
            write_at(database.fd, leaf, (self.root - 1) * size)
            return
        children = database.place(self.file, self.leaves)
        separators = self.separators
        while True:
            # After the 12-byte header, each child but the last a cell: a
            # 2-byte pointer, the child's 4-byte page number, the entry.
            most = (size - 12) // (6 + max(map(len, separators))) + 1
            if len(children) <= most:
                break
            above: list[int] = []
            between: list[bytes] = []
            start = 0
            for group in even_groups(children, most):
                end = start + len(group)
                page = interior(INDEX_INTERIOR, group, separators[start : end - 1], size)
                above.extend(database.place(page, 1))
                if end < len(children):
                    between.append(separators[end - 1])  # between this page and the next
                start = end
            children, separators = above, between
        page = interior(INDEX_INTERIOR, children, separators, size)
        write_at(database.fd, page, (self.root - 1) * size)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            os.unlink(self.path)


def even_groups(items: list[Any], most: int) -> list[list[Any]]:
    """`items` in the fewest groups of at most `most`, their sizes at most
    one apart (so no group is left with one child when `most` is 3 or more)."""
    groups = -(-len(items) // most)
    each, extra = divmod(len(items), groups)
    found, start = [], 0
    for number in range(groups):
        end = start + each + (number < extra)
        found.append(items[start:end])
        start = end
    return found


#: The flags of interior b-tree pages: a table's, an index's.
TABLE_INTERIOR, INDEX_INTERIOR = 5, 2

#: Where SQLite keeps its file locks: the page holding this byte is never
#: read or written by SQLite (sqlite.org/fileformat2.html, the lock-byte page).
LOCK_BYTE = 0x40000000


def interior(flag: int, children: list[int], keys: list[bytes], size: int) -> bytes:
    """An interior page of a b-tree (`flag` 5 a table's, 2 an index's) over
    the pages `children`: a cell of each child but the last, its 4-byte page
    number then its key (`keys`: in a table the largest rowid beneath it, as
    a varint; in an index the entry that follows everything beneath it);
    the last child is the page's right-most pointer. The callers give it at
    most as many children as fit the `size` (2 bytes of the cells' pointer
    array for each cell, after the 12-byte header)."""
    page = bytearray(size)
    content = size
    for number, (child, key) in enumerate(zip(children, keys, strict=False)):
        cell = struct.pack(">I", child) + key
        content -= len(cell)
        page[content : content + len(cell)] = cell
        struct.pack_into(">H", page, 12 + 2 * number, content)
    struct.pack_into(">BHHHBI", page, 0, flag, 0, len(keys), content, 0, children[-1])
    return bytes(page)


def table_interior(children: list[tuple[int, int]], size: int) -> bytes:
    """An interior page of a table b-tree over `children` (page number,
    largest rowid beneath it)."""
    rowids = [varint(last) for _, last in children[:-1]]
    return interior(TABLE_INTERIOR, [child for child, _ in children], rowids, size)


def varint(value: int) -> bytes:
    """A SQLite varint of a rowid (a 64-bit integer)."""
    value &= (1 << 64) - 1
    if value >> 56:
        head = value >> 8
        return bytes(((head >> (7 * (7 - i))) & 0x7F) | 0x80 for i in range(8)) + bytes(
            [value & 0xFF]
        )
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


#: Each table's columns that may be NULL, as the C decoder takes them.
NULLABLE = {
    table: "".join("1" if column.nullable else "0" for column in cols)
    for table, cols in CONTRACT.items()
}


def write_leaves(folder: Path, part: Part, packed: bytes, page_size: int = PAGE_SIZE) -> Leaves:
    """Write a part's records (one msgpack array of them) into `folder` as the
    leaf pages of its table, in a worker process (`Pages` appends them)."""
    assert decoder is not None, "the leaf pages are written by the C decoder"
    table = part.table
    found = indexes()[table]
    pages, last_ids, first_id, entries = decoder.sqlite_pages(
        packed, TABLE_KINDS[table], NULLABLE[table], page_size,
        tuple(index.columns for index in found), "".join("01"[index.unique] for index in found),
    )  # fmt: skip
    path = folder / f"{part.table}.{part.number}.pages"
    if pages:
        with errors(path), os.fdopen(create(path), "wb") as file:
            file.write(pages)
    return Leaves(str(path), last_ids, first_id, entries)


#: How the export's connection loads: no journal and no syncs (an interrupted
#: export is a partial file, removed, never a damaged target); foreign keys
#: not enforced and CHECKs not evaluated (the rows are verify's, see
#: `SqliteWriter`); a page cache large enough (64 MB at most) for the hot
#: pages of the UNIQUE indexes a row-by-row load updates on every insert.
PRAGMAS = (
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
    return SqliteWriter(to, pages=decoder is not None)
