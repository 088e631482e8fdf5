"""Every bad input: a one-line error that says what to do, the right exit
status, no traceback, and the data already there left untouched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import msgspec
import pytest

import shardgen
from shardgen.schema import ENCODER, SCHEMA_VERSION
from shardgen.store import Store

from .conftest import AS_OF


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`shardgen ARGS` in a process of its own, with `env` added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "shardgen", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
        env={**os.environ, **env} if env else None,
    )  # fmt: skip


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@contextlib.contextmanager
def mounted(where: Path, options: str) -> Iterator[Path]:
    """A small tmpfs (root only): a real full or read-only file system."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def existing(small_store: Path, tmp_path: Path) -> tuple[Path, bytes]:
    """A promoted store at the target, and its bytes, to prove it is untouched."""
    target = tmp_path / "data.lmdb"
    shutil.copyfile(small_store, target)
    return target, target.read_bytes()


USAGE_CASES: list[tuple[list[str], str]] = [
    (["--volume", "enormous"], "invalid choice"),
    (["--customers", "0"], "at least 1"),
    (["--products", "-1"], "at least 1"),
    (["--invoices", "0"], "at least 1"),
    (["--customers", "999999999999"], "more than the supported"),
    (["--customers", "2", "--invoices", "5000"], "more than the supported"),
    (["--customers", "1e3"], "invalid int"),
    (["--seed", "-7"], "--seed"),
    (["--seed", "abc"], "invalid int"),
    (["--seed", str(2**64)], "--seed"),
    (["--as-of", "2026-13-01"], "not a valid date"),
    (["--as-of", "2025-02-29"], "not a valid date"),
    (["--as-of", "1800-01-01"], "out of range"),
    (["--workers", "0"], "--workers"),
    (["--workers", "-2"], "--workers"),
    (["--memory-limit", "lots"], "not a size"),
]


@pytest.mark.parametrize(("args", "needle"), USAGE_CASES, ids=[" ".join(a) for a, _ in USAGE_CASES])
def test_usage_errors_exit_2_and_leave_the_store(
    existing: tuple[Path, bytes], args: list[str], needle: str
) -> None:
    target, before = existing
    result = run("generate", *args, "--out", target, "--as-of", AS_OF) if "--as-of" not in args \
        else run("generate", *args, "--out", target)  # fmt: skip
    assert_one_line(result, 2, needle)
    assert target.read_bytes() == before


def test_output_path_problems(tmp_path: Path) -> None:
    folder = tmp_path / "folder.lmdb"
    folder.mkdir()
    assert_one_line(run("generate", "--out", folder), 2, "is a directory")
    assert_one_line(run("generate", "--out", tmp_path / "no" / "such.lmdb"), 2, "does not exist")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_one_line(run("generate", "--out", a_file / "x.lmdb"), 2, "does not exist")


def test_output_on_a_read_only_file_system(tmp_path: Path) -> None:
    with mounted(tmp_path / "ro", "size=1m,ro") as where:
        result = run("generate", "--out", where / "x.lmdb", "--as-of", AS_OF)
        assert result.returncode in (1, 2)
        assert_one_line(result, result.returncode, "x.lmdb")


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _newer_schema(path: Path) -> None:
    with Store.reopen(path) as store:
        newer = msgspec.structs.replace(store.meta(), schema_version=SCHEMA_VERSION + 1)
        with store.write() as txn:
            txn.put(b"meta", ENCODER.encode(newer), db=store.dbs["meta"])
    for leftover in path.parent.glob(path.name + "-lock"):
        leftover.unlink()


def _foreign_lmdb(path: Path) -> None:
    path.unlink()
    env = lmdb.open(str(path), subdir=False, max_dbs=2)
    with env.begin(write=True) as txn:
        txn.put(b"hello", b"world")
    env.close()
    Path(str(path) + "-lock").unlink()


BAD_STORES: dict[str, tuple[Callable[[Path], None], str]] = {
    "random bytes": (_random_bytes, "not a shardgen store"),
    "newer schema": (_newer_schema, "newer than this shardgen"),
    "another LMDB file": (_foreign_lmdb, "not a shardgen store"),
}


@pytest.mark.parametrize("case", list(BAD_STORES))
def test_bad_stores_are_refused_by_every_command(
    existing: tuple[Path, bytes], tmp_path: Path, case: str
) -> None:
    target, _ = existing
    spoil, needle = BAD_STORES[case]
    spoil(target)
    spoiled = target.read_bytes()
    for args in (["verify", target], ["stats", target], ["log", target],
                 ["export", target, "--to", tmp_path / "x.sqlite"],
                 ["generate", "--out", target, "--as-of", AS_OF], ["reset", target]):  # fmt: skip
        assert_one_line(run(*args), 1, needle)
    assert target.read_bytes() == spoiled
    assert not (tmp_path / "x.sqlite").exists()


def test_full_map_keeps_the_previous_dataset(existing: tuple[Path, bytes]) -> None:
    target, before = existing
    result = run("generate", "--volume", "medium", "--out", target, "--map-size", "300k",
                 "--workers", "1", "--as-of", AS_OF)  # fmt: skip
    assert_one_line(result, 1, "--map-size")
    assert target.read_bytes() == before


def test_full_disk_keeps_the_previous_dataset_and_resumes(tmp_path: Path) -> None:
    with mounted(tmp_path / "tiny", "size=3m") as where:
        target = where / "data.lmdb"
        first = shardgen.generate("medium", seed=1, as_of=AS_OF, out=target, workers=1)
        before = target.read_bytes()
        result = run("generate", "--volume", "large", "--out", target, "--workers", "2",
                     "--as-of", AS_OF)  # fmt: skip
        assert_one_line(result, 1, "no space left")
        assert target.read_bytes() == before
        assert shardgen.verify(target).digest == first.digest
        # The advice: `shardgen reset --partial` drops the failed run and keeps the dataset.
        assert "reset --partial" in result.stderr
        assert run("reset", "--partial", target).returncode == 0
        assert shardgen.verify(target).digest == first.digest
        assert sorted(p.name for p in where.iterdir()) == ["data.lmdb", "data.lmdb.run-lock"]


def test_a_path_the_kernel_refuses(tmp_path: Path) -> None:
    assert_one_line(run("generate", "--out", "/proc/shardgen.lmdb", "--as-of", AS_OF), 1,
                    "writable")  # fmt: skip


def test_a_write_protected_store_is_left_until_its_owner_allows_it(
    existing: tuple[Path, bytes],
) -> None:
    target, data = existing
    target.chmod(0o444)
    commands = [
        ("advance", target, "--days", "1"),
        ("generate", "--volume", "small", "--seed", "5", "--out", target),
        ("reset", target),
    ]
    for args in commands:
        result = run(*args)
        assert_one_line(result, 2, f"{target} is write-protected: run `chmod u+w {target}`")
        assert target.read_bytes() == data and target.stat().st_mode & 0o777 == 0o444
    assert run("verify", target).returncode == 0  # reading it is fine
    # The advice works: made writable, each command does what it was asked.
    advice = run(*commands[0]).stderr.split("`")[1]
    assert advice == f"chmod u+w {target}"
    subprocess.run(advice.split(), check=True)
    for args in commands:
        assert run(*args).returncode == 0, args
    assert not target.exists()
