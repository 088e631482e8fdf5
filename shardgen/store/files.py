"""A store's files on disk, read without LMDB: where its companions live,
which file a path names, whether a file is a whole LMDB file (its header
pages), and reading a store in a child process so a crash is an answer.

A store is one file; beside it LMDB keeps a `-lock` file while it is
written, a run keeps its run lock and shared catalog, and a generate run
writes into a staging store it renames over the target once verified.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import multiprocessing
import os
import shutil
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from ..errors import NotAStoreError, StoreError, damaged

DEFAULT_MAP_SIZE = 256 * 2**30
#: The smallest and largest --map-size: room for a store's header and first
#: shards, and the most address space a 64-bit process can reserve (128 TiB).
MIN_MAP_SIZE = 2**16
MAX_MAP_SIZE = 2**47

Identity = tuple[int, int]
T = TypeVar("T")


# -- paths -----------------------------------------------------------------------


def staging_path(target: Path) -> Path:
    return target.with_name(target.name + ".staging")


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".run-lock")


def catalog_path(path: Path) -> Path:
    """The run's shared catalog file, beside its staging store (see run/shards.py)."""
    return path.with_name(path.name + ".catalog")


def lmdb_files(path: Path) -> list[Path]:
    """A store file and what LMDB or a run keeps beside it."""
    return [path, path.with_name(path.name + "-lock"), catalog_path(path)]


def companions(path: Path) -> list[Path]:
    """Every file shardgen keeps beside the store at `path`: its LMDB lock,
    run lock, catalog and staging store."""
    staging = staging_path(path)
    return [*lmdb_files(path)[1:], lock_path(path), *lmdb_files(staging)]


def identity(path: Path) -> Identity:
    """Which file is at `path` now: (device, inode)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def pinned(path: Path) -> Iterator[Identity | None]:
    """Which file is at `path` (`identity`), held open for the block: while
    it is open, no other file can be given its (device, inode), so a reader
    that compares identities to refuse a store promoted over meanwhile is
    never deceived by a new file that reuses the number of a deleted one.
    None when there is no file to open (the store's own checks then say why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield None
        return
    try:
        info = os.fstat(fd)
        yield info.st_dev, info.st_ino
    finally:
        os.close(fd)


def disk_full(path: Path, margin: int = 4 * 2**20) -> bool:
    """True when the file system holding `path` has (almost) no space left.

    LMDB reports a full disk as a generic I/O error, so ask the file system.
    """
    try:
        return shutil.disk_usage(path.parent).free < margin
    except OSError:
        return False


# -- the LMDB header -----------------------------------------------------------------

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


# -- reading in a child process -------------------------------------------------------

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


_MADV_DONTNEED = 4


@functools.cache
def _libc() -> Any:
    """The C library this process runs on (Linux), for madvise and malloc_trim."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


def trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc): a write
    transaction's page buffers, freed at its commit, would otherwise stay
    counted in this process's memory."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _libc().malloc_trim(0)


def write_back(path: Path) -> Callable[[], None]:
    """Start writing the file at `path` to disk in the background: a thread's
    fsync, which waits on the disk, not on a CPU, while the caller goes on.
    Returns the call that waits for it. Its errors are not raised: the sync
    that makes the file durable before it is used (`Store.sync`) reports them."""

    def flush() -> None:
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    thread = threading.Thread(target=flush, name="shardgen-write-back", daemon=True)
    thread.start()
    return thread.join


class Pages:
    """Where this process maps one open LMDB environment's file (Linux), to
    drop those page mappings (`release`).

    The pages LMDB maps for reading stay in the page cache but stop counting
    in this process's memory; the next read maps them again. Safe at any
    time, inside a transaction too, because shardgen's maps are only read
    (LMDB writes through its own buffers: shardgen never uses WRITEMAP). For
    a long write transaction, which cannot `remap`: the kernel maps 16 pages
    around every page read, so random reads map whole tables.

    LMDB maps the whole file once, when the environment opens, and never
    moves that map while it is open, so the map is looked up once (reading
    /proc/self/maps took 0.7 ms a call, made every few thousand rows) and
    kept, but only when it is surely this environment's: the one map in the
    process of the file the environment opened (its inode, taken when the
    store made this `Pages`, right after opening it). Otherwise (two maps of
    the file, or a file system whose maps name other inodes than `stat`)
    every call looks again and drops every map of the file then found. A
    `Pages` belongs to one environment: the store makes a new one whenever
    it opens the environment again, and makes it forget the map when the
    environment closes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ranges: list[tuple[int, int]] = []  # this environment's map, once known
        try:
            self.inode: int | None = os.stat(path).st_ino
        except OSError:
            self.inode = None

    def forget(self) -> None:
        """The environment closed: keep no map, look each time (as for two maps)."""
        self.ranges, self.inode = [], None

    def release(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        ranges = self.ranges
        if not ranges:
            found = mapped(self.path)
            ranges = [(low, high) for low, high, _ in found]
            mine = [(low, high) for low, high, inode in found if inode == self.inode]
            if len(found) == len(mine) == 1:
                self.ranges = mine
        for low, high in ranges:
            _libc().madvise(low, high - low, _MADV_DONTNEED)


def mapped(path: Path) -> list[tuple[int, int, int]]:
    """Where this process maps the file at `path` (Linux): (start, end, inode)."""
    target = os.path.realpath(path)
    suffix = f" {target}\n"
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = [line for line in maps if line.endswith(suffix)]
    except OSError:
        return []
    ranges = []
    for line in lines:
        fields = line.split(maxsplit=5)  # range, perms, offset, device, inode, path
        low, high = (int(x, 16) for x in fields[0].split("-"))
        ranges.append((low, high, int(fields[4])))
    return ranges
