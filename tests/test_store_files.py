"""A store's files without LMDB: the files beside it, its header pages, its
recorded map size, and reads in a child process."""

from __future__ import annotations

import mmap
import os
import shutil
import signal
from pathlib import Path

import pytest

import shardgen
from shardgen.store import Store
from shardgen.store.files import (
    DEFAULT_MAP_SIZE,
    Pages,
    check_file,
    companions,
    disk_full,
    identity,
    is_lmdb,
    isolated,
    recorded_map_size,
    write_back,
)


def test_companions_are_the_files_beside_a_store_and_its_staging_store() -> None:
    names = [p.name for p in companions(Path("/data/x.lmdb"))]
    assert names == [
        "x.lmdb-lock",
        "x.lmdb.catalog",
        "x.lmdb.run-lock",
        "x.lmdb.staging",
        "x.lmdb.staging-lock",
        "x.lmdb.staging.catalog",
    ]


def test_only_a_regular_file_with_an_lmdb_header_is_lmdb(small_store: Path, tmp_path: Path) -> None:
    assert is_lmdb(small_store)
    (tmp_path / "notes").write_text("not a store")
    (tmp_path / "link").symlink_to(small_store)
    for path in ("notes", "link", "missing", "."):
        assert not is_lmdb(tmp_path / path), path


def test_check_file_refuses_truncated_and_foreign_files(small_store: Path, tmp_path: Path) -> None:
    check_file(small_store)
    truncated = tmp_path / "truncated.lmdb"
    truncated.write_bytes(small_store.read_bytes()[:12_000])
    with pytest.raises(shardgen.DamagedStoreError, match="truncated"):
        check_file(truncated)
    foreign = tmp_path / "foreign.lmdb"
    foreign.write_bytes(b"\0" * 20_000)
    with pytest.raises(shardgen.NotAStoreError, match="beyond recognition"):
        check_file(foreign)
    with pytest.raises(shardgen.NotAStoreError, match="not an LMDB file"):
        recorded_map_size(foreign)
    with pytest.raises(shardgen.StoreError, match="cannot read"):
        check_file(tmp_path / "missing.lmdb")


def test_the_recorded_map_size_is_the_last_writers(small_store: Path, tmp_path: Path) -> None:
    path = shutil.copyfile(small_store, tmp_path / "copy.lmdb")
    assert recorded_map_size(path) == DEFAULT_MAP_SIZE
    # LMDB records a larger map size at the next commit (never a smaller one).
    with Store.reopen(path, map_size=2 * DEFAULT_MAP_SIZE) as store:
        store.log(next(store.events())[1])
    assert recorded_map_size(path) == 2 * DEFAULT_MAP_SIZE


def test_identity_names_the_file_not_the_path(small_store: Path, tmp_path: Path) -> None:
    path = shutil.copyfile(small_store, tmp_path / "a.lmdb")
    before = identity(path)
    assert identity(path) == before
    shutil.copyfile(small_store, tmp_path / "b.lmdb").replace(path)
    assert identity(path) != before


def test_disk_full_asks_the_file_system(tmp_path: Path) -> None:
    assert not disk_full(tmp_path / "x")
    assert disk_full(tmp_path / "x", margin=2**62)
    assert not disk_full(tmp_path / "missing" / "folder" / "x")


def _crash() -> None:
    os.kill(os.getpid(), signal.SIGBUS)


def test_a_crashed_isolated_read_is_the_damaged_store_error(tmp_path: Path) -> None:
    with pytest.raises(shardgen.DamagedStoreError, match=r"crashed a process \(SIGBUS\)"):
        isolated(tmp_path, _crash)


def test_write_back_flushes_a_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 1_000_000)
    wait = write_back(path)
    wait()  # the thread's fsync is done
    assert path.read_bytes() == b"x" * 1_000_000
    # A file gone before the thread opens it: nothing raised here, the sync
    # that must find the file on disk (`Store.sync`) says what is wrong.
    write_back(tmp_path / "gone")()


def _mapped_kb(path: Path) -> int:
    """How much of the file at `path` this process has mapped in (its Rss), in kB."""
    target, total, inside = os.path.realpath(path), 0, False
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                inside = fields[-1] == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc")
def test_released_pages_leave_the_process_and_a_new_map_is_found(
    large_store: tuple[Path, object], tmp_path: Path
) -> None:
    path = tmp_path / "copy.lmdb"
    shutil.copyfile(large_store[0], path)
    store = Store.open(path)
    try:
        for _ in range(2):  # the first map, then the one `remap` makes
            rows = sum(len(values) for _, values in store.raw_batches("invoice_line_items"))
            assert rows > 20_000
            assert _mapped_kb(path) > 1_000  # the pages read are mapped in
            store.release()
            assert store.pages.ranges  # where the environment maps the file: found, kept
            assert _mapped_kb(path) == 0
            with store.snapshot(release=True) as view:  # a snapshot releases as it reads
                for _ in view.pairs("invoices", b"", b"\xff" * 8):
                    pass
                view.reads(10**6)
                assert _mapped_kb(path) == 0
            old = store.pages
            store.remap()
            assert store.pages is not old and not store.pages.ranges
        # A second map of the file (or a map of another inode) is never kept:
        # each release looks again and drops every map of the file.
        with (
            open(path, "rb") as file,
            mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as other,
        ):
            fresh = Pages(path)
            assert sum(other[i] for i in range(0, len(other), 4096)) >= 0  # its pages mapped in
            rows = sum(len(values) for _, values in store.raw_batches("invoices"))
            assert _mapped_kb(path) > 1_000
            fresh.release()
            assert not fresh.ranges and _mapped_kb(path) == 0
        store.pages.inode = -1  # as if the maps named another inode than stat
        rows = sum(len(values) for _, values in store.raw_batches("invoices"))
        store.release()
        assert rows and not store.pages.ranges and _mapped_kb(path) == 0
    finally:
        store.close()
    assert not store.pages.ranges and store.pages.inode is None  # a closed map is forgotten
