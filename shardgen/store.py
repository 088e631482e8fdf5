"""All LMDB access: one environment per store, a named database per table.

Layout of a store (a single file, plus LMDB's `-lock` file while written):

    meta                 b"meta" → Meta (schema version, shardgen version, plan)
    events               seq (8-byte big-endian) → Event
    links                relation (1 byte) + parent id (8) → first child id, count
    <table> × 8          id (8-byte big-endian) → record (msgpack array)

Keys are big-endian so cursors return rows in ID order, and the children of a
parent, which get consecutive IDs, are one `links` lookup away. A generate run
writes into `<target>.staging` and renames it over the target once verified:
the rename is atomic, so readers see the old dataset or the new one, never a
half-written one.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import functools
import hashlib
import multiprocessing
import os
import shutil
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import lmdb
import msgspec
import numpy as np

from .errors import NotAStoreError, SchemaError, StoreError, StoreFullError, UsageError, damaged
from .plan import Plan, make_plan
from .schema import (
    BATCH_DECODERS,
    DECODERS,
    ENCODER,
    EVENT_DECODER,
    META_DECODER,
    RELATIONS,
    SCHEMA_VERSION,
    TABLES,
    Event,
    Meta,
    Record,
    RunPromoted,
    array_header,
)
from .versions import __version__

DEFAULT_MAP_SIZE = 256 * 2**30
#: The smallest and largest --map-size: room for a store's header and first
#: shards, and the most address space a 64-bit process can reserve (128 TiB).
MIN_MAP_SIZE = 2**16
MAX_MAP_SIZE = 2**47
#: Shards a handle serves between remaps (`Store.shard_done`): the store pages
#: a process has read stay about this many shards' worth.
REMAP_EVERY = 16
Opener = Callable[[], lmdb.Environment]
LINK = struct.Struct(">QQ")  # first child id, children
LINK_KEY = struct.Struct(">BQ")  # relation code, parent id
#: The same layouts as numpy record types, to read many links at once.
LINK_ARRAY = np.dtype([("first", ">u8"), ("count", ">u8")])
LINK_KEY_ARRAY = np.dtype([("relation", "u1"), ("parent", ">u8")])
DATABASES = ("meta", "events", "links", *TABLES)


def key(record_id: int) -> bytes:
    return record_id.to_bytes(8, "big")


def encode_table(records: Sequence[Record]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Records as the (key, value) bytes the store holds, and their digest:
    blake2b-128 of the records encoded as one msgpack array, taken from the
    same encoding (such an array is its header and its items' encodings). No
    LMDB needed, so any process can."""
    values = list(map(ENCODER.encode, records))
    digest = hashlib.blake2b(array_header(len(values)) + b"".join(values), digest_size=16)
    return list(zip([key(r.id) for r in records], values, strict=True)), digest.digest()


def encode_links(links: Sequence[tuple[int, int, int, int]]) -> list[tuple[bytes, bytes]]:
    """(relation, parent, first child, count) links as the bytes the store holds."""
    key_of, value_of = LINK_KEY.pack, LINK.pack
    return [(key_of(rel, parent), value_of(first, count)) for rel, parent, first, count in links]


def disk_full(path: Path, margin: int = 4 * 2**20) -> bool:
    """True when the file system holding `path` has (almost) no space left.

    LMDB reports a full disk as a generic I/O error, so ask the file system.
    """
    try:
        return shutil.disk_usage(path.parent).free < margin
    except OSError:
        return False


def staging_path(target: Path) -> Path:
    return target.with_name(target.name + ".staging")


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".run-lock")


def catalog_path(path: Path) -> Path:
    """The run's shared catalog file, beside its staging store (see catalog.py)."""
    return path.with_name(path.name + ".catalog")


def lmdb_files(path: Path) -> list[Path]:
    """A store file and what LMDB or a run keeps beside it."""
    return [path, path.with_name(path.name + "-lock"), catalog_path(path)]


def companions(path: Path) -> list[Path]:
    """Every file shardgen keeps beside the store at `path`: its LMDB lock,
    run lock, catalog and staging store."""
    staging = staging_path(path)
    return [*lmdb_files(path)[1:], lock_path(path), *lmdb_files(staging)]


Identity = tuple[int, int]
T = TypeVar("T")


def identity(path: Path) -> Identity:
    """Which file is at `path` now: (device, inode)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def reading(path: object) -> Iterator[None]:
    """Reads of a store in the block: what a damaged file makes LMDB, msgpack
    or UTF-8 decoding raise becomes the one damaged-store error."""
    try:
        yield
    except (lmdb.Error, msgspec.MsgspecError, UnicodeDecodeError, struct.error) as exc:
        detail = str(exc).split("\n")[0] if str(exc) else type(exc).__name__
        raise damaged(path, detail) from exc


#: How a process that read a damaged store dies: a page pointer or a length
#: in a damaged page can send LMDB past the end of the mapped file.
CRASHES = {
    int(signal.SIGBUS): "SIGBUS",
    int(signal.SIGSEGV): "SIGSEGV",
    int(signal.SIGABRT): "SIGABRT",  # one of LMDB's own assertions
}


def quiet_stderr() -> None:
    """Send this process's standard error to /dev/null: in a process that reads
    a store for another (which gets its results and errors as data), LMDB's
    assertion messages on a damaged page would only add lines to a one-line error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def isolated(path: Path, function: Callable[..., T], *args: Any) -> T:
    """Run a read of the store at `path` in a child process and return its result.

    A damaged page can crash the process that maps it (SIGBUS) rather than
    raise; in a child, that crash becomes the damaged-store error. The child
    is forked: call this with no LMDB handle open in this process.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_isolated_child, args=(send, function, args), daemon=True)
    child.start()
    send.close()
    try:
        try:
            status, value = receive.recv()
        except EOFError:
            child.join()
            code = -(child.exitcode or 0)
            if code in CRASHES:
                raise damaged(path, f"reading it crashed a process ({CRASHES[code]})") from None
            raise StoreError(
                f"the process reading {path} died (exit status {child.exitcode}): "
                "run the command again"
            ) from None
        child.join()
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
            child.join()
    if status == "error":
        raise value
    return cast("T", value)


def _isolated_child(send: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    faulthandler.disable()  # a crash here is an answer, not a bug to dump
    quiet_stderr()
    try:
        result: tuple[str, Any] = ("ok", function(*args))
    except Exception as exc:
        result = ("error", exc)
    send.send(result)
    send.close()


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
        self.dbs = {name: env.open_db(name.encode(), create=writable) for name in DATABASES}

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
        if path.is_dir():
            raise NotAStoreError(
                f"{path} is a directory, not a shardgen store: give the store file"
            )
        if not path.exists():
            raise StoreError(f"no store at {path}: run `shardgen generate --out {path}` first")
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
        store = cls(path, env, True, functools.partial(_open_writable, path, map_size))
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
        store = cls(path, env, True, functools.partial(_open_writable, path, map_size))
        store.check_schema()
        return store

    def close(self) -> None:
        self.env.close()

    def remap(self) -> None:
        """Close and reopen the environment, with no transaction open.

        LMDB maps the whole file; every page a process has read stays mapped
        and counts in its USS until the map is closed, so a process that keeps
        one handle through a long run would grow with the store. Remapping
        every few shards keeps it flat (the pages stay in the page cache).
        """
        self.env.close()
        self.env = self.opener()
        self.dbs = {name: self.env.open_db(name.encode(), create=False) for name in DATABASES}

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
        self, table: str, size: int = 4096
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

    def scan_values(self, table: str) -> Iterator[list[Any]]:
        """A table's rows as plain lists of field values, in ID order.

        Skips building records: what exports need, as fast as msgpack decodes.
        """
        for _, values in self.raw_batches(table):
            yield from msgspec.msgpack.decode(array_header(len(values)) + b"".join(values))

    def get(self, table: str, record_id: int) -> Any | None:
        with self.env.begin() as txn:
            raw = txn.get(key(record_id), db=self.dbs[table])
        return None if raw is None else DECODERS[table].decode(raw)

    def children(self, relation: str, parent_id: int) -> list[Any]:
        """The children of a parent, by one link lookup and one range read."""
        code, _, child_table = RELATIONS[relation]
        with self.env.begin() as txn:
            raw = txn.get(LINK_KEY.pack(code, parent_id), db=self.dbs["links"])
            if raw is None:
                return []
            first, count = LINK.unpack(raw)
            decode = DECODERS[child_table].decode
            out = []
            with txn.cursor(db=self.dbs[child_table]) as cursor:
                if cursor.set_key(key(first)):
                    for _, value in cursor.iternext():
                        out.append(decode(value))
                        if len(out) == count:
                            break
            return out

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
        return None


# LMDB's meta pages (pages 0 and 1): a 16-byte page header, then magic,
# version, map address and size, two 48-byte database records (the first's
# leading 4 bytes hold the page size), the last page number and the txn id.
LMDB_MAGIC = 0xBEEFC0DE
META = struct.Struct("<II8x8xI44x48x QQ")
#: The map size in a meta page: after its magic, version and map address.
META_MAP_SIZE = struct.Struct("<16xQ")


def _meta_pages(head: bytes) -> list[tuple[int, int, int]]:
    """The (page size, last page, txn id) of each LMDB meta page with its magic."""
    pages = []
    if len(head) >= 16 + META.size:
        magic, _version, page_size, last_page, txn = META.unpack_from(head, 16)
        if magic == LMDB_MAGIC and page_size >= 512 and not page_size & (page_size - 1):
            pages.append((page_size, last_page, txn))
            if len(head) >= page_size + 16 + META.size:
                magic2, _, _, last2, txn2 = META.unpack_from(head, page_size + 16)
                if magic2 == LMDB_MAGIC:
                    pages.append((page_size, last2, txn2))
    if not pages:  # the first meta page damaged: look for the second at common sizes
        for size in (4096, 8192, 16384, 65536):
            if len(head) >= size + 16 + META.size:
                magic, _, page_size, last_page, txn = META.unpack_from(head, size + 16)
                if magic == LMDB_MAGIC and page_size == size:
                    pages.append((page_size, last_page, txn))
                    break
    return pages


def _head(path: Path) -> tuple[bytes, int]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return os.pread(fd, 2 * 65536, 0), os.fstat(fd).st_size
    finally:
        os.close(fd)


def is_lmdb(path: Path) -> bool:
    """True for a file with an LMDB header (a shardgen store, or a damaged one)."""
    try:
        return path.is_file() and not path.is_symlink() and bool(_meta_pages(_head(path)[0]))
    except StoreError:
        return False


def recorded_map_size(path: Path) -> int:
    """The map size the store's last writer set (LMDB keeps it in the header):
    what another process writing the same store opens it with."""
    head, _ = _head(path)
    pages = _meta_pages(head)
    if not pages:
        raise NotAStoreError(f"{path} is not a shardgen store (not an LMDB file)")
    # Of the two meta pages (check_file has seen both), LMDB uses the one
    # with the higher transaction id, the first on a tie.
    page_size, _, txn = max(pages, key=lambda page: page[2])
    offset = 16 + (page_size if pages[0][2] != txn else 0)
    (size,) = META_MAP_SIZE.unpack_from(head, offset)
    return max(int(size), MIN_MAP_SIZE)


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole LMDB file before mapping it.

    Mapping a truncated file and touching a page past its end kills the
    process with SIGBUS; this check turns that into a clear error.
    """
    head, size = _head(path)
    pages = _meta_pages(head)
    if not pages:
        raise NotAStoreError(
            f"{path} is not a shardgen store (not an LMDB file; if it was a store, it is "
            "damaged beyond recognition: remove it yourself, then regenerate it or restore a copy)"
        )
    page_size, last, _ = max(pages, key=lambda page: page[2])
    if len(pages) < 2 or pages[0][0] != pages[1][0]:
        raise damaged(path, "one of its LMDB header pages is invalid")
    if last >= MAX_MAP_SIZE // page_size:
        raise damaged(path, "its LMDB header gives an impossible size")
    if size < max(2, last + 1) * page_size:
        expected = (last + 1) * page_size
        raise damaged(path, f"it is truncated ({size:,} bytes of {expected:,})")


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
