"""All LMDB access: a store's environment, with a named database per table
(layout in the package docstring), read and written through `Store`, and key
ranges read in one transaction through `Snapshot`."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import mmap
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lmdb
import msgspec

from ..errors import (
    NotAStoreError,
    SchemaError,
    StoreError,
    StoreFullError,
    UsageError,
    damaged,
    no_store,
)
from ..plan import Plan, grown, make_plan
from ..schema import (
    BATCH_DECODERS,
    DECODERS,
    ENCODER,
    EVENT_DECODER,
    INVOICES,
    META_DECODER,
    RELATIONS,
    SCHEMA_VERSION,
    TABLES,
    Advanced,
    AdvanceStarted,
    Event,
    Meta,
    Record,
    RunPromoted,
    array_header,
)
from ..versions import __version__
from . import snapshot
from .files import (
    DEFAULT_MAP_SIZE,
    Identity,
    Pages,
    check_file,
    disk_full,
    identity,
    recorded_map_size,
    trim_heap,
)
from .keys import BATCH, LINK, LINK_KEY, key, span
from .snapshot import Snapshot, known_layout, later_invoices

#: Shards a handle serves between remaps (`Store.shard_done`): the store pages
#: a process has read stay about this many shards' worth.
REMAP_EVERY = 16
Opener = Callable[[], lmdb.Environment]
#: What advance keeps besides the tables (the package docstring has the
#: layout). Stores written before 0.4.0 lack them; they are opened without.
STATE_DATABASES = ("agenda", "accounts", "stock", "later", "changes")
DATABASES = ("meta", "events", "links", *TABLES, *STATE_DATABASES)
ADVANCED_DECODER = msgspec.msgpack.Decoder(Advanced)


def encode_table(records: Sequence[Record]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Records as the (key, value) bytes the store holds, and their digest:
    blake2b-128 of the records encoded as one msgpack array, taken from the
    same encoding (such an array is its header and its items' encodings). No
    LMDB needed, so any process can."""
    values = list(map(ENCODER.encode, records))
    digest = hashlib.blake2b(array_header(len(values)) + b"".join(values), digest_size=16)
    return list(zip([key(r.id) for r in records], values, strict=True)), digest.digest()


def digest_joined(digest: Any, keys: bytes, count: int, joined: bytes | memoryview) -> None:
    """Add a batch of `count` pairs to a key range's digest: its keys
    (joined), then its values as one msgpack array (`joined` is the values,
    without the array's header). Verify digests each key range so, a batch of
    BATCH at a time, and an export what it reads, to compare with the digest
    recorded at promotion."""
    digest.update(keys)
    digest.update(array_header(count))
    digest.update(joined)


def digest_batches(
    digest: Any, first: int, count: int, packed: bytes, ends: list[int]
) -> Iterator[tuple[int, int, memoryview]]:
    """Digest the `count` rows of IDs `first` onwards, whose values are the
    msgpack array `packed`, each batch of BATCH ending in it where `ends`
    says (`Snapshot.values`), one `digest_joined` a batch; yield each batch
    as digested: its first ID, its rows and its values joined."""
    view = memoryview(packed)
    start = len(array_header(count))
    for end in ends:
        size, joined = min(BATCH, count), view[start:end]
        digest_joined(digest, span(first, size), size, joined)
        yield first, size, joined
        first, count, start = first + size, count - size, end


def digest_array(digest: Any, first: int, count: int, packed: bytes, ends: list[int]) -> None:
    """`digest_batches` of a whole array, its batches not wanted."""
    for _ in digest_batches(digest, first, count, packed, ends):
        pass


def digest_batch(digest: Any, keys: list[bytes], values: list[bytes]) -> bytes:
    """`digest_joined` of a batch whose keys and values come as lists; return
    the values as one msgpack array, what the batch decoder reads."""
    joined = b"".join(values)
    digest_joined(digest, b"".join(keys), len(values), joined)
    return array_header(len(values)) + joined


def encode_links(links: Sequence[tuple[int, int, int, int]]) -> list[tuple[bytes, bytes]]:
    """(relation, parent, first child, count) links as the bytes the store holds."""
    key_of, value_of = LINK_KEY.pack, LINK.pack
    return [(key_of(rel, parent), value_of(first, count)) for rel, parent, first, count in links]


@contextlib.contextmanager
def reading(path: object) -> Iterator[None]:
    """Reads of a store in the block: what a damaged file makes LMDB, msgpack
    or UTF-8 decoding raise becomes the one damaged-store error."""
    try:
        yield
    except (lmdb.Error, msgspec.MsgspecError, UnicodeDecodeError, struct.error) as exc:
        detail = str(exc).split("\n")[0] if str(exc) else type(exc).__name__
        raise damaged(path, detail) from exc


def check_present(path: Path) -> None:
    """That there is a file at `path` to open as a store (not a folder)."""
    if path.is_dir():
        raise NotAStoreError(f"{path} is a directory, not a shardgen store: give the store file")
    if not path.exists():
        raise no_store(path)


class Store:
    """An open store. Use `Store.open` (read) or `Store.create` (write)."""

    def __init__(
        self,
        path: Path,
        env: lmdb.Environment,
        writable: bool,
        opener: Opener | None = None,
        file: Identity | None = None,
    ) -> None:
        self.path = path
        self.env = env
        self.writable = writable
        #: The file this handle reads: every reopen must find the same one.
        self.file = file
        #: Opens the environment again as it was opened (`remap`).
        self.opener = opener or functools.partial(_open_existing, path, writable, file)
        self.shards = 0  # shards written or read through this handle
        self.dbs = _open_dbs(env, writable)
        self.pages = Pages(path)  # where the environment maps the file (`release`)
        self.page_size = int(env.stat()["psize"])

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, writable: bool = False, file: Identity | None = None
    ) -> Store:
        """Open an existing store, checking that it is one and its schema version.

        With `file`, the store must still be that file (`identity`): a reader
        that shares out its work refuses a store promoted over meanwhile.
        """
        path = Path(path)
        check_present(path)
        check_file(path)
        file = file or identity(path)
        try:
            env = _open_existing(path, writable, file)
        except lmdb.InvalidError:
            raise damaged(path, "its LMDB header is invalid") from None
        except lmdb.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            with reading(path):
                with env.begin() as txn:
                    names = {k for k, _ in txn.cursor()}
                if b"meta" not in names:
                    raise NotAStoreError(f"{path} is an LMDB file but not a shardgen store")
                store = cls(path, env, writable, file=file)
                store.check_schema()
        except BaseException:
            env.close()
            raise
        return store

    @classmethod
    def create(cls, path: Path, plan: Any, *, map_size: int = DEFAULT_MAP_SIZE) -> Store:
        """Create a new, empty store at `path` (which must not exist)."""
        env = _open_writable(path, map_size)
        opener = functools.partial(_open_writable, path, map_size)
        store = cls(path, env, True, opener, file=identity(path))
        with store.write() as txn:
            meta = Meta(SCHEMA_VERSION, __version__, plan)
            txn.put(b"meta", ENCODER.encode(meta), db=store.dbs["meta"])
        return store

    @classmethod
    def reopen(cls, path: Path, *, map_size: int | None = None) -> Store:
        """Open a staging store for writing (workers, resume), with `map_size`
        or, by default, the map size its writer gave it (recorded in its header)."""
        check_file(path)
        map_size = map_size or recorded_map_size(path)
        env = _open_writable(path, map_size)
        opener = functools.partial(_open_writable, path, map_size)
        store = cls(path, env, True, opener, file=identity(path))
        store.check_schema()
        return store

    def close(self) -> None:
        self.env.close()
        self.pages.forget()

    def remap(self) -> None:
        """Close and reopen the environment, with no transaction open.

        LMDB maps the whole file; every page a process has read stays mapped
        and counts in its USS until the map is closed, so a process that keeps
        one handle through a long run would grow with the store. Remapping
        every few shards keeps it flat (the pages stay in the page cache).
        """
        self.env.close()
        self.pages.forget()
        self.env = self.opener()
        self.pages = Pages(self.path)
        self.dbs = _open_dbs(self.env, False)

    def release(self, trim: bool = True) -> None:
        """Drop this process's page mappings of the store, inside a transaction
        too (`files.Pages`): what a long write transaction does instead of
        `remap`; with `trim`, give the C heap's free memory back."""
        self.pages.release()
        if trim:
            trim_heap()

    def shard_done(self) -> None:
        """Count a shard written or read through this handle, with no transaction
        open; every REMAP_EVERY shards, `remap`."""
        self.shards += 1
        if self.shards % REMAP_EVERY == 0:
            self.remap()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> Meta:
        with self.env.begin(db=self.dbs["meta"]) as txn:
            raw = txn.get(b"meta")
        if raw is None:
            raise damaged(self.path, "its shardgen header is missing")
        try:
            return META_DECODER.decode(raw)
        except msgspec.MsgspecError:
            raise damaged(self.path, "its shardgen header is unreadable") from None

    def plan(self) -> Plan:
        """The plan the store was generated from, checked against the plan its
        own parameters give: a damaged header is the damaged-store error."""
        with reading(self.path):
            recorded = msgspec.convert(self.meta().plan, Plan)
        try:
            expected = make_plan(
                customers=recorded.customers, products=recorded.products,
                invoices=recorded.invoices, seed=recorded.seed, as_of=recorded.as_of,
                customer_shard_size=recorded.customer_shard_size,
                product_shard_size=recorded.product_shard_size,
            )  # fmt: skip
        except UsageError:
            expected = None
        if expected != recorded:
            raise damaged(self.path, "its recorded plan is inconsistent")
        return recorded

    def scope(self) -> Plan:
        """The plan as the store stands: its generated plan, or for an advanced
        store that plan grown by the days (`plan.grown`)."""
        plan = self.plan()
        advanced = self.advanced()
        if advanced is None:
            return plan
        return grown(plan, advanced.as_of, advanced.grown, advanced.changes)

    def check_schema(self) -> None:
        version = self.meta().schema_version
        if version > SCHEMA_VERSION:
            error = SchemaError(
                f"{self.path} was written with schema version {version}, newer than this "
                f"shardgen's {SCHEMA_VERSION}: upgrade shardgen to read it"
            )
            error.newer = True
            raise error
        if version < SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} has schema version {version}, which this shardgen no longer "
                "reads: regenerate it"
            )

    # -- writing -------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[lmdb.Transaction]:
        """A write transaction; a full map or disk becomes StoreFullError."""
        try:
            with self.env.begin(write=True) as txn:
                yield txn
        except lmdb.MapFullError:
            raise StoreFullError(
                f"the LMDB map of {self.path} is full: rerun with --resume and a larger "
                "--map-size (the shards written so far are kept)"
            ) from None
        except (lmdb.Error, OSError) as exc:
            if disk_full(self.path):
                target = self.path.with_name(self.path.name.removesuffix(".staging"))
                raise StoreFullError(
                    f"no space left on the disk of {self.path}: free some space and rerun "
                    f"with --resume, or run `shardgen reset --partial {target}` to discard the "
                    f"partial run (it keeps {target})"
                ) from None
            if isinstance(exc, OSError):
                raise
            raise StoreError(f"writing {self.path} failed: {exc}") from None

    def put_rows(self, txn: lmdb.Transaction, table: str, records: Sequence[Record]) -> bytes:
        """Write records (sorted by id); return their digest (`encode_table`)."""
        pairs, digest = encode_table(records)
        self.put_encoded(txn, table, pairs)
        return digest

    def put_encoded(
        self, txn: lmdb.Transaction, table: str, pairs: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """Write `encode_table` (or, into "links", `encode_links`) pairs, sorted by key."""
        with txn.cursor(db=self.dbs[table]) as cursor:
            cursor.putmulti(pairs)

    def put_links(self, txn: lmdb.Transaction, links: Sequence[tuple[int, int, int, int]]) -> None:
        self.put_encoded(txn, "links", encode_links(links))

    def append_event(self, txn: lmdb.Transaction, event: Event) -> int:
        db = self.dbs["events"]
        with txn.cursor(db=db) as cursor:
            seq = int.from_bytes(cursor.key(), "big") + 1 if cursor.last() else 1
        txn.put(key(seq), ENCODER.encode(event), db=db, append=True)
        return seq

    def log(self, event: Event) -> None:
        with self.write() as txn:
            self.append_event(txn, event)

    def sync(self) -> None:
        self.env.sync(True)

    # -- reading -------------------------------------------------------------

    def count(self, table: str) -> int:
        with self.env.begin() as txn:
            return int(txn.stat(self.dbs[table])["entries"])

    def max_id(self, table: str) -> int:
        """The largest ID in a table (its last key), 0 when empty."""
        with self.env.begin() as txn, txn.cursor(db=self.dbs[table]) as cursor:
            return int.from_bytes(cursor.key(), "big") if cursor.last() else 0

    def raw(self, table: str) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) bytes of a table in key order, streamed."""
        with self.env.begin(buffers=False) as txn, txn.cursor(db=self.dbs[table]) as cursor:
            yield from cursor.iternext()

    def raw_batches(
        self, table: str, size: int = BATCH
    ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """(keys, values) of a table in key order, `size` rows at a time."""
        with self.env.begin() as txn, txn.cursor(db=self.dbs[table]) as cursor:
            keys: list[bytes] = []
            values: list[bytes] = []
            for k, v in cursor.iternext():
                keys.append(k)
                values.append(v)
                if len(keys) == size:
                    yield keys, values
                    keys, values = [], []
            if keys:
                yield keys, values

    def scan(self, table: str) -> Iterator[Any]:
        """A table's records in ID order, decoded a batch at a time."""
        decode = BATCH_DECODERS[table].decode
        for _, values in self.raw_batches(table):
            yield from decode(array_header(len(values)) + b"".join(values))

    def scan_from(self, table: str, first: int) -> Iterator[Any]:
        """A table's records from ID `first` on, in ID order."""
        decode = DECODERS[table].decode
        with self.env.begin() as txn, txn.cursor(db=self.dbs[table]) as cursor:
            if cursor.set_range(key(first)):
                for _, value in cursor.iternext():
                    yield decode(value)

    def scan_values(self, table: str) -> Iterator[list[Any]]:
        """A table's rows as plain lists of field values, in ID order.

        Skips building records: what exports need, as fast as msgpack decodes.
        """
        for _, values in self.raw_batches(table):
            yield from msgspec.msgpack.decode(array_header(len(values)) + b"".join(values))

    @contextlib.contextmanager
    def snapshot(self, release: bool = False) -> Iterator[Snapshot]:
        """A read transaction: every read through it sees the store as it was
        when it began. With `release`, the pages it reads leave this process's
        memory every few thousand rows (`Snapshot.reads`)."""
        with self.env.begin() as txn:
            opened = self._mapped()
            pages, file = (opened[:2], opened[2]) if opened is not None else (None, None)
            try:
                yield Snapshot(txn, self.dbs, self.pages.release if release else None, pages, file)
            finally:
                if opened is not None:
                    opened[0].close()
                    os.close(opened[2])

    def _mapped(self) -> tuple[mmap.mmap, int, int] | None:
        """The store file mapped read-only for `Snapshot.values`, its page
        size, and the file open for `Snapshot.get_many` (the caller closes
        it): when the leaf reader was built, this handle's file is known, the
        path still names that very file, and its pages are laid out as the
        reader knows (else None: cursors read it)."""
        if snapshot.leaves is None or self.file is None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        mapped = None
        try:
            info = os.fstat(fd)
            # The first page read, not mapped: no page is mapped until a range
            # is read; a file of another LMDB data format is not mapped.
            if (
                (info.st_dev, info.st_ino) == self.file
                and info.st_size > 0
                and known_layout(os.pread(fd, 64, 0))
            ):
                mapped = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        except OSError:  # pragma: no cover - a file system that maps no files
            pass
        if mapped is None:
            os.close(fd)
            return None
        return mapped, self.page_size, fd

    def get(self, table: str, record_id: int) -> Any | None:
        with self.env.begin() as txn:
            raw = txn.get(key(record_id), db=self.dbs[table])
        return None if raw is None else DECODERS[table].decode(raw)

    def children(self, relation: str, parent_id: int) -> list[Any]:
        """The children of a parent, by one link lookup and one range read; a
        customer's invoices issued by `advance` too, from the `later` index."""
        code, _, child_table = RELATIONS[relation]
        decode = DECODERS[child_table].decode
        with self.env.begin() as txn:
            out = []
            raw = txn.get(LINK_KEY.pack(code, parent_id), db=self.dbs["links"])
            if raw is not None:
                first, count = LINK.unpack(raw)
                with txn.cursor(db=self.dbs[child_table]) as cursor:
                    if cursor.set_key(key(first)):
                        for _, value in cursor.iternext():
                            out.append(decode(value))
                            if len(out) == count:
                                break
            if code == INVOICES and "later" in self.dbs:
                for invoice_id in later_invoices(txn, self.dbs["later"], parent_id):
                    found = txn.get(key(invoice_id), db=self.dbs[child_table])
                    if found is not None:
                        out.append(decode(found))
            return out

    def state(self, name: str) -> Any | None:
        """A record advance keeps in meta (b"advanced", b"recent..."), or None."""
        with self.env.begin(db=self.dbs["meta"]) as txn:
            raw = txn.get(name.encode())
        return None if raw is None else raw

    def advanced(self) -> Advanced | None:
        """Where an advanced store stands (None for a store never advanced)."""
        raw = self.state("advanced")
        if raw is None:
            return None
        with reading(self.path):
            return ADVANCED_DECODER.decode(raw)

    def as_of(self) -> str:
        """The store's "today": the last day it was advanced to, or its plan's as_of."""
        advanced = self.advanced()
        return advanced.as_of if advanced is not None else self.plan().as_of

    def links(self) -> Iterator[tuple[int, int, int, int]]:
        for k, v in self.raw("links"):
            first, count = LINK.unpack(v)
            yield k[0], int.from_bytes(k[1:], "big"), first, count

    def events(self) -> Iterator[tuple[int, Event]]:
        """The event log in order; a damaged log is a damaged store."""
        with reading(self.path):
            for k, v in self.raw("events"):
                yield int.from_bytes(k, "big"), EVENT_DECODER.decode(v)

    def promoted_digest(self) -> str | None:
        """The digest the last promotion recorded (None before any): what the
        data must still digest to."""
        db = self.dbs["events"]
        with reading(self.path), self.env.begin(db=db) as txn, txn.cursor() as cursor:
            for _, value in cursor.iterprev():
                event = EVENT_DECODER.decode(value)
                if isinstance(event, RunPromoted):
                    return event.digest
                if isinstance(event, AdvanceStarted):
                    return None  # an advance's copy, not promoted yet
        return None


def _open_dbs(env: lmdb.Environment, writable: bool) -> dict[str, Any]:
    """The store's named databases; advance's own only where present in a
    store opened read-only (stores written before 0.4.0 lack them)."""
    dbs = {}
    for name in DATABASES:
        try:
            dbs[name] = env.open_db(name.encode(), create=writable)
        except lmdb.NotFoundError:
            if name not in STATE_DATABASES:
                raise
    return dbs


def _open_existing(path: Path, writable: bool, file: Identity | None = None) -> lmdb.Environment:
    """Open a store's environment, only if `path` is still `file` (when given)."""
    before = identity(path)
    file = file or before
    env = lmdb.open(
        str(path), subdir=False, readonly=not writable, lock=writable,
        max_dbs=len(DATABASES), map_size=DEFAULT_MAP_SIZE, create=False,
    )  # fmt: skip
    if before != file or identity(path) != before:
        env.close()
        raise StoreError(
            f"{path} was replaced by another dataset (a generate promoted one) while this "
            "command read it: run the command again to read the new one"
        )
    return env


def _open_writable(path: Path, map_size: int) -> lmdb.Environment:
    try:
        return lmdb.open(
            str(path), subdir=False, map_size=map_size, max_dbs=len(DATABASES),
            sync=False, metasync=False, meminit=False,
        )  # fmt: skip
    except lmdb.InvalidError:
        raise damaged(path, "its LMDB header is invalid") from None
    except lmdb.Error as exc:
        if getattr(exc, "errno", None) == errno.ENOMEM or "allocate memory" in str(exc):
            raise StoreError(
                f"this machine cannot reserve {map_size / 2**30:,.0f} GiB of address space "
                f"for {path}: give a smaller --map-size, such as the default "
                f"{DEFAULT_MAP_SIZE // 2**30}G"
            ) from None
        raise StoreError(f"cannot write a store at {path}: {exc}") from None
