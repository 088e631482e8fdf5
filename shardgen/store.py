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
import fcntl
import functools
import hashlib
import os
import shutil
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lmdb
import msgspec
import numpy as np

from .errors import LockedError, NotAStoreError, SchemaError, StoreError, StoreFullError
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
    array_header,
)
from .versions import __version__

DEFAULT_MAP_SIZE = 256 * 2**30
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


def _lmdb_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-lock"), catalog_path(path)]


class Store:
    """An open store. Use `Store.open` (read) or `Store.create` (write)."""

    def __init__(
        self, path: Path, env: lmdb.Environment, writable: bool, opener: Opener | None = None
    ) -> None:
        self.path = path
        self.env = env
        self.writable = writable
        #: Opens the environment again as it was opened (`remap`).
        self.opener = opener or functools.partial(_open_existing, path, writable)
        self.shards = 0  # shards written or read through this handle
        self.dbs = {name: env.open_db(name.encode(), create=writable) for name in DATABASES}

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, writable: bool = False) -> Store:
        """Open an existing store, checking that it is one and its schema version."""
        path = Path(path)
        if path.is_dir():
            raise NotAStoreError(
                f"{path} is a directory, not a shardgen store: give the store file"
            )
        if not path.exists():
            raise StoreError(f"no store at {path}: run `shardgen generate --out {path}` first")
        check_file(path)
        try:
            env = _open_existing(path, writable)
        except lmdb.InvalidError:
            raise NotAStoreError(
                f"{path} is not a shardgen store (not an LMDB file, or a corrupt one): "
                "regenerate it with `shardgen generate`"
            ) from None
        except lmdb.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            with env.begin() as txn:
                names = {k for k, _ in txn.cursor()}
            if b"meta" not in names:
                raise NotAStoreError(f"{path} is an LMDB file but not a shardgen store")
            store = cls(path, env, writable)
            store.check_schema()
        except lmdb.Error as exc:
            env.close()
            raise NotAStoreError(
                f"{path} is corrupt ({exc}): regenerate it with `shardgen generate`"
            ) from None
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
    def reopen(cls, path: Path, *, map_size: int = DEFAULT_MAP_SIZE) -> Store:
        """Open a staging store for writing (workers, resume)."""
        check_file(path)
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
            raise NotAStoreError(f"{self.path} has no shardgen header")
        try:
            return META_DECODER.decode(raw)
        except msgspec.DecodeError:
            raise NotAStoreError(f"{self.path} has an unreadable header") from None

    def check_schema(self) -> None:
        version = self.meta().schema_version
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} was written with schema version {version}, newer than this "
                f"shardgen's {SCHEMA_VERSION}: upgrade shardgen to read it"
            )
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
                f"the LMDB map of {self.path} is full: rerun with a larger --map-size"
            ) from None
        except (lmdb.Error, OSError) as exc:
            if disk_full(self.path):
                raise StoreFullError(
                    f"no space left on the disk of {self.path}: free some space and rerun "
                    "with --resume, or `shardgen reset` to discard the partial run"
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
        for k, v in self.raw("events"):
            yield int.from_bytes(k, "big"), EVENT_DECODER.decode(v)


# LMDB's meta pages (pages 0 and 1): a 16-byte page header, then magic,
# version, map address and size, two 48-byte database records (the first's
# leading 4 bytes hold the page size), the last page number and the txn id.
LMDB_MAGIC = 0xBEEFC0DE
META = struct.Struct("<II8x8xI44x48x QQ")


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole LMDB file before mapping it.

    Mapping a truncated file and touching a page past its end kills the
    process with SIGBUS; this check turns that into a clear error.
    """
    try:
        with path.open("rb") as file:
            head = file.read(2 * 65536)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    corrupt = NotAStoreError(
        f"{path} is not a shardgen store (not an LMDB file, or a truncated or corrupt one): "
        "regenerate it with `shardgen generate`"
    )
    if len(head) < 16 + META.size:
        raise corrupt
    magic, _version, page_size, last_page, txn = META.unpack_from(head, 16)
    if magic != LMDB_MAGIC or page_size < 512 or page_size & (page_size - 1):
        raise corrupt
    best_last, best_txn = last_page, txn
    if len(head) >= page_size + 16 + META.size:
        magic2, _, _, last2, txn2 = META.unpack_from(head, page_size + 16)
        if magic2 == LMDB_MAGIC and txn2 > best_txn:
            best_last, best_txn = last2, txn2
    if size < max(2, best_last + 1) * page_size:
        raise corrupt


def _open_existing(path: Path, writable: bool) -> lmdb.Environment:
    return lmdb.open(
        str(path), subdir=False, readonly=not writable, lock=writable,
        max_dbs=len(DATABASES), map_size=DEFAULT_MAP_SIZE, create=False,
    )  # fmt: skip


def _open_writable(path: Path, map_size: int) -> lmdb.Environment:
    try:
        return lmdb.open(
            str(path), subdir=False, map_size=map_size, max_dbs=len(DATABASES),
            sync=False, metasync=False, meminit=False,
        )  # fmt: skip
    except lmdb.InvalidError:
        raise NotAStoreError(f"{path} exists and is not a shardgen store: remove it") from None
    except lmdb.Error as exc:
        raise StoreError(f"cannot write a store at {path}: {exc}") from None


def remove_store(path: Path) -> list[Path]:
    """Delete a store file, its LMDB lock file and any catalog file left by a
    killed run; return what was removed."""
    removed = []
    for file in _lmdb_files(path):
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
            removed.append(file)
    return removed


def promote(staging: Path, target: Path) -> None:
    """Atomically replace `target` with the verified `staging` store."""
    os.replace(staging, target)
    with contextlib.suppress(FileNotFoundError):
        staging.with_name(staging.name + "-lock").unlink()
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class RunLock:
    """An exclusive lock on a target for one generate run (flock, so it dies with us)."""

    def __init__(self, target: Path) -> None:
        self.path = lock_path(target)
        self.fd = -1

    def __enter__(self) -> RunLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot create {self.path} ({exc.strerror}): choose a writable --out"
            ) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 200).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            raise LockedError(
                f"another shardgen generate ({holder}) is writing {self.path.name[:-9]}: "
                "wait for it to finish, or choose another --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"pid {os.getpid()}".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)
