"""Safety: no command loses data, follows a link it did not make, or reports a
false "ok"; every refusal is one line whose advice is safe to follow (the
tests follow it). Each test checks the earlier dataset's digest afterwards."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import shardgen
from shardgen.guard import Lock, check_output, place, remove_ours, remove_stale, remove_store
from shardgen.store import Store, identity, isolated, pinned, staging_path
from shardgen.verification import PROMOTED_RULE, verify_store

from .conftest import AS_OF
from .test_bad_input import assert_one_line, mounted, run


@pytest.fixture
def store(small_store: Path, tmp_path: Path) -> tuple[Path, str]:
    """A promoted store of this test's own, and its digest."""
    path = tmp_path / "s.lmdb"
    shutil.copyfile(small_store, path)
    return path, shardgen.verify(path).digest


def intact(path: Path, digest: str) -> None:
    report = shardgen.verify(path)
    assert report.ok and report.digest == digest


# -- 1, 2: outputs onto the store being read, onto stores, onto files ---------------


def test_report_html_never_replaces_the_store_it_reads(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = store
    for extra in ([], ["--force"]):
        assert_one_line(run("report", path, "--html", path, *extra), 2, "the store being read")
    intact(path, digest)


def test_report_html_replaces_an_existing_file_only_with_force(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = store
    page = tmp_path / "page.html"
    page.write_text("mine")
    assert_one_line(run("report", path, "--html", page), 2, "pass --force")
    assert page.read_text() == "mine"
    done = run("report", path, "--html", page, "--force")  # the advice, followed
    assert done.returncode == 0, done.stderr
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("format", ["sqlite", "csv"])
def test_export_never_replaces_the_store_it_reads_or_any_store(
    store: tuple[Path, str], small_store: Path, tmp_path: Path, format: str
) -> None:
    path, digest = store
    other = tmp_path / "other.lmdb"
    shutil.copyfile(small_store, other)
    for target, needle in ((path, "the store being read"), (other, "is a shardgen store")):
        result = run("export", path, "--format", format, "--to", target, "--force")
        assert_one_line(result, 2, needle)
    # A folder export into the folder that holds the store.
    result = run("export", path, "--format", "csv", "--to", tmp_path, "--force")
    assert result.returncode == 2 and "the store being read" in result.stderr
    intact(path, digest)
    intact(other, digest)


def test_output_links_are_refused_not_followed(store: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = store
    mine = tmp_path / "important.txt"
    mine.write_text("keep me")
    link = tmp_path / "out.sqlite"
    link.symlink_to(mine)
    for args in (["export", path, "--to", link, "--force"], ["report", path, "--html", link]):
        result = run(*args)
        assert_one_line(result, 2, "symbolic link")
        assert str(mine) in result.stderr  # the advice: give the path it points to
    assert mine.read_text() == "keep me" and link.is_symlink()
    intact(path, digest)


# -- 3: advice about a failed run keeps the promoted store ----------------------------


def test_a_full_map_advises_resume_with_a_larger_map_and_that_works(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = store
    reference = shardgen.generate("medium", seed=1, as_of=AS_OF, out=tmp_path / "ref.lmdb")
    args = ["generate", "--volume", "medium", "--seed", "1", "--as-of", AS_OF, "--out", path]
    result = run(*args, "--map-size", "300K", "--workers", "1")
    assert_one_line(result, 1, "rerun with --resume and a larger --map-size")
    intact(path, digest)
    # Resumed by two workers, which open the staging store at the map size
    # the coordinator gave it (recorded in its header).
    again = run(*args, "--resume", "--map-size", "1G", "--workers", "2")
    assert again.returncode == 0, again.stderr
    intact(path, reference.digest)


def test_reset_partial_keeps_the_store_and_reset_names_no_missing_flag(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = store
    result = run("generate", "--volume", "medium", "--out", path, "--map-size", "300K")
    assert result.returncode == 1 and staging_path(path).exists()
    assert staging_path(path) in shardgen.reset(path, partial=True)
    intact(path, digest)
    with pytest.raises(shardgen.UsageError, match="no failed run"):
        shardgen.reset(path, partial=True)
    lock = path.with_name(path.name + ".run-lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = run("reset", path)
        assert_one_line(result, 1, "is writing s.lmdb")
        assert "--out" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
    intact(path, digest)
    assert lock.exists()


HOLD_LOCK = """
import sys, time
from pathlib import Path
from shardgen.guard import run_lock
with run_lock(Path(sys.argv[1]), "shardgen generate"):
    print("locked", flush=True)
    time.sleep(60)
"""


# -- 4: a verify racing a promotion ---------------------------------------------------


def test_verify_reads_one_file_or_fails(
    store: tuple[Path, str], small_store: Path, tmp_path: Path
) -> None:
    path, digest = store
    other = shardgen.generate("small", seed=9, as_of=AS_OF, out=tmp_path / "other.lmdb")
    with Store.open(path) as opened:
        assert opened.file == identity(path)
        os.replace(other.path, path)  # a promotion onto the path being verified
        with pytest.raises(shardgen.StoreError, match="replaced by another dataset"):
            verify_store(opened, workers=2)
        # Through the one handle it keeps, it reads the old dataset whole.
        assert verify_store(opened, workers=1).digest == digest
    intact(path, other.digest)


def test_a_pinned_file_keeps_its_number_and_a_promotion_over_it_is_refused(
    tmp_path: Path, small_store: Path
) -> None:
    """Verify and export pin the file they read (held open), so a file made
    after it was replaced can never take its (device, inode): comparing
    identities then tells the files apart."""
    path = tmp_path / "pinned.lmdb"
    shutil.copyfile(small_store, path)
    with pinned(path) as pin:
        assert pin == identity(path)
        numbers = set()
        for _ in range(20):  # promotions over it, each a new file, the last one deleted
            shutil.copyfile(small_store, tmp_path / "next.lmdb")
            numbers.add(identity(tmp_path / "next.lmdb"))
            os.replace(tmp_path / "next.lmdb", path)
        assert pin not in numbers
        with pytest.raises(shardgen.StoreError, match="replaced by another dataset"):
            Store.open(path, file=pin)
    with pinned(tmp_path / "missing.lmdb") as nothing:
        assert nothing is None


def test_verify_racing_promotions_never_reports_a_mix(tmp_path: Path) -> None:
    path = tmp_path / "race.lmdb"
    digests = {
        shardgen.generate("small", seed=seed, as_of=AS_OF, out=tmp_path / f"{seed}.lmdb").digest
        for seed in (1, 2)
    }
    shutil.copyfile(tmp_path / "1.lmdb", path)
    stop = threading.Event()

    def promote_again_and_again() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            shutil.copyfile(tmp_path / f"{1 + turn % 2}.lmdb", tmp_path / "next.lmdb")
            os.replace(tmp_path / "next.lmdb", path)
            time.sleep(0.01)

    promoter = threading.Thread(target=promote_again_and_again)
    promoter.start()
    outcomes = []
    try:
        for _ in range(12):
            try:
                report = shardgen.verify(path, workers=2)
            except shardgen.StoreError as exc:
                assert "replaced by another dataset" in str(exc)
                outcomes.append("refused")
            else:
                assert report.ok and report.digest in digests, report.violations[:3]
                outcomes.append("read one")
    finally:
        stop.set()
        promoter.join()
    assert len(outcomes) == 12


# -- 5: links where shardgen keeps its own files ---------------------------------------


def test_a_planted_lock_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    mine = tmp_path / "important.txt"
    mine.write_text("keep me")
    target = tmp_path / "y.lmdb"
    (tmp_path / "y.lmdb.run-lock").symlink_to(mine)
    for args in (["generate", "--out", target, "--as-of", AS_OF], ["reset", target]):
        assert_one_line(run(*args), 1, "symbolic link")
    assert mine.read_text() == "keep me"
    # The advice: remove the link (not what it points to), and run again.
    (tmp_path / "y.lmdb.run-lock").unlink()
    assert run("generate", "--out", target, "--as-of", AS_OF).returncode == 0
    assert mine.read_text() == "keep me"


def test_a_planted_staging_link_is_refused(store: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = store
    mine = tmp_path / "important.txt"
    mine.write_text("keep me")
    staging_path(path).symlink_to(mine)
    for extra in ([], ["--resume"]):
        result = run("generate", "--out", path, "--as-of", AS_OF, *extra)
        assert_one_line(result, 2, "symbolic link")
    assert mine.read_text() == "keep me"
    intact(path, digest)


# -- 6, 7: damage ----------------------------------------------------------------------


def test_a_changed_value_fails_verify_against_the_recorded_digest(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = store
    data = bytearray(path.read_bytes())
    # Inside every email of example.*: still valid records and emails. Every
    # one, because the first could sit on a page LMDB no longer uses.
    at = data.find(b"@example.")
    while at > 0:
        data[at - 1] = ord("q") if data[at - 1] != ord("q") else ord("r")
        at = data.find(b"@example.", at + 1)
    path.write_bytes(data)
    report = shardgen.verify(path)
    assert not report.ok and report.promoted_digest == digest != report.digest
    assert PROMOTED_RULE in report.violations_by_rule
    result = run("export", path, "--to", tmp_path / "x.sqlite")
    assert_one_line(result, 1, f"the store at {path} is damaged: its rows digest to")
    assert "regenerate it or restore a copy" in result.stderr
    assert not (tmp_path / "x.sqlite").exists()


def damage(path: Path) -> None:
    """Zero every page that holds an invoice number: the tree points into
    nothing. Every one, because a single page could be one LMDB no longer uses."""
    data = bytearray(path.read_bytes())
    at = data.find(b"INV-")
    while at >= 0:
        page = at - at % 4096
        data[page : page + 4096] = bytes(4096)
        at = data.find(b"INV-", page + 4096)
    path.write_bytes(data)


def test_a_damaged_store_is_one_error_from_every_command(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = store
    damage(path)
    spoiled = path.read_bytes()
    for args in (["verify", path], ["verify", path, "--workers", "2"], ["stats", path],
                 ["report", path], ["export", path, "--to", tmp_path / "x.sqlite"],
                 ["export", path, "--format", "jsonl", "--to", tmp_path / "j"]):  # fmt: skip
        result = run(*args)
        if args[0] == "verify" and result.returncode == 1 and "FAILED" in result.stdout:
            continue  # found as violations: also a failure, with the rules broken
        assert_one_line(result, 1, "is damaged")
        assert "regenerate it or restore a copy" in result.stderr
    assert path.read_bytes() == spoiled
    assert not (tmp_path / "x.sqlite").exists() and not (tmp_path / "j").exists()
    # The advice, followed: regenerating over the damaged store works.
    done = run("generate", "--out", path, "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    assert shardgen.verify(path).ok


def test_a_truncated_store_is_damaged_and_regenerating_it_works(
    store: tuple[Path, str],
) -> None:
    path, _ = store
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    for args in (["verify", path], ["stats", path], ["log", path]):
        assert_one_line(run(*args), 1, "is damaged: it is truncated")
    assert run("generate", "--out", path, "--as-of", AS_OF).returncode == 0
    assert shardgen.verify(path).ok


def test_export_refuses_a_staging_store(store: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = store
    result = run("generate", "--volume", "medium", "--out", path, "--map-size", "300K")
    assert result.returncode == 1
    result = run("export", staging_path(path), "--to", tmp_path / "x.sqlite")
    assert_one_line(result, 1, "holds no promoted dataset")
    assert not (tmp_path / "x.sqlite").exists()
    intact(path, digest)


# -- 8: bad values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--map-size", "-1"], "--map-size -1 bytes is out of range"),
        (["--map-size", "1K"], "--map-size 1K is out of range"),
        (["--map-size", "999999T"], "--map-size 999,999T is out of range"),
        (["--map-size", "lots"], "is not a size"),
        (["--workers", "1000"], "use at most --workers"),
        (["--workers", "0"], "at least 1"),
        (["--customers", "10", "--products", "10", "--invoices", "20000"], "1,000 per customer"),
    ],
)
def test_bad_values_are_usage_errors(store: tuple[Path, str], args: list[str], needle: str) -> None:
    path, digest = store
    assert_one_line(run("generate", "--out", path, "--as-of", AS_OF, *args), 2, needle)
    intact(path, digest)


# -- 9: interrupts ----------------------------------------------------------------------


def interrupt(
    args: list[str], sig: signal.Signals, after: float, once: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run shardgen in its own process group and send `sig` as a terminal would
    (Ctrl-C to the whole group; SIGTERM to the command alone), `after` seconds
    from the start, or from when `once` exists."""
    process = subprocess.Popen(
        [sys.executable, "-m", "shardgen", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while once is not None and not once.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(after)
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_says_one_line_and_its_advice_resumes_it(
    store: tuple[Path, str], tmp_path: Path, sig: signal.Signals
) -> None:
    path, digest = store
    size = ["--customers", "20000", "--products", "6000", "--invoices", "200000", "--seed", "4"]
    # An option before the command must not lose the advice (SIGTERM's case).
    first = ["--debug"] if sig == signal.SIGTERM else []
    args = [*first, "generate", *size, "--as-of", AS_OF, "--out", path, "--workers", "2"]
    expected = shardgen.generate(
        customers=20000, products=6000, invoices=200000, seed=4, as_of=AS_OF,
        out=tmp_path / "expected.lmdb", workers=2,
    )  # fmt: skip
    # Mid-run: once the run has its staging store, and a few shards are in.
    result = interrupt(args, sig, 0.3, once=staging_path(path))
    assert result.returncode == (130 if sig == signal.SIGINT else 143)
    assert_one_line(result, result.returncode, "interrupted; the previous dataset at")
    intact(path, digest)
    advice = result.stderr.split("`")[1]
    assert advice.endswith("--resume") and advice.startswith(
        " ".join(["shardgen", *first, "generate "])
    )
    again = run(*advice.split()[1:])
    assert again.returncode == 0, again.stderr
    intact(path, expected.digest)
    time.sleep(0.3)
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


CTRL_C_WHILE_IMPORTING = """
import sys

class CtrlC:  # Ctrl-C arrives while the command imports its modules
    def find_spec(self, name, path, target=None):
        if name == "shardgen.exports":
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlC())
sys.argv = ["shardgen", "generate"]
import shardgen.cli
"""


def test_ctrl_c_while_starting_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_IMPORTING], capture_output=True, text=True, check=False
    )
    assert_one_line(result, 130, "shardgen: interrupted; nothing was changed")
    # Imported by a program of another name, Ctrl-C stays that program's.
    other = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_IMPORTING.replace('"shardgen", ', '"other", ')],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert other.returncode != 130 and "KeyboardInterrupt" in other.stderr


# -- 10: two exports onto one new target ------------------------------------------------


def test_two_exports_to_one_new_target_cannot_both_succeed(
    large_store: tuple[Path, shardgen.Summary], tmp_path: Path
) -> None:
    path, _ = large_store
    target = tmp_path / "one.sqlite"
    command = [sys.executable, "-m", "shardgen", "export", str(path), "--to", str(target)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 1], [0, 2]), results
    loser = next(err for code, err in results if code != 0)
    assert "is writing" in loser or "already exists" in loser
    assert len(loser.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["one.sqlite"]


# -- 11: the smaller ones ----------------------------------------------------------------


def test_a_full_disk_during_an_export_is_one_line_and_leaves_nothing(
    large_store: tuple[Path, shardgen.Summary], tmp_path: Path
) -> None:
    path, _ = large_store
    with mounted(tmp_path / "tiny", "size=1m") as where:
        for format, to in (
            ("sqlite", where / "x.sqlite"),
            ("csv", where / "x"),
            ("parquet", where / "x"),  # the workers' Arrow files fill it
            ("duckdb", where / "x.duckdb"),
        ):
            result = run("export", path, "--format", format, "--to", to)
            assert_one_line(result, 1, "no space left on the disk")
            assert list(where.iterdir()) == []


def test_a_killed_exports_partial_is_cleaned_by_the_next(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = store
    target = tmp_path / "x.sqlite"
    dead = subprocess.Popen(["true"])
    dead.wait()
    partial = tmp_path / f".x.sqlite.{dead.pid}.partial"
    partial.write_bytes(b"half")
    (tmp_path / f".x.sqlite.{os.getpid()}.partial").write_bytes(b"a live process's")
    assert run("export", path, "--to", target).returncode == 0
    assert not partial.exists()
    assert (tmp_path / f".x.sqlite.{os.getpid()}.partial").exists()
    assert remove_stale(target) == []


def test_log_into_a_closed_pipe_ends_quietly(store: tuple[Path, str]) -> None:
    path, _ = store
    command = f"{sys.executable} -m shardgen log {path} | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stderr == ""
    assert "run_started" in done.stdout


def test_a_malformed_postgres_url_is_a_usage_error(store: tuple[Path, str]) -> None:
    path, _ = store
    result = run("export", path, "--format", "postgres", "--to", "postgresql://u:secret@[::1/x")
    assert_one_line(result, 2, "is not a valid PostgreSQL URL")
    assert "secret" not in result.stderr


# -- randomized corruption ----------------------------------------------------------------

#: Trials of the randomized corruption test (more by hand: the variable).
TRIALS = int(os.environ.get("SHARDGEN_CORRUPTION_TRIALS", "120"))
FIRST_SEED = int(os.environ.get("SHARDGEN_CORRUPTION_SEED", "0"))


def test_random_byte_flips_are_found_or_change_nothing(small_store: Path, tmp_path: Path) -> None:
    """Flip 1–8 random bits of a real store, many times: every command either
    says the store is damaged (a ShardgenError, one line on the command line)
    or reads exactly the promoted data; verify never says "ok" for other data,
    and an export that succeeds writes what the intact store exports."""
    original = small_store.read_bytes()
    recorded = shardgen.verify(small_store).digest
    shardgen.export(small_store, format="jsonl", to=tmp_path / "expected")
    expected = {p.name: p.read_bytes() for p in (tmp_path / "expected").iterdir()}
    outcomes: dict[str, int] = {}
    for seed in range(FIRST_SEED, FIRST_SEED + TRIALS):
        rng = random.Random(seed)
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        copy = tmp_path / f"flipped-{seed}.lmdb"
        copy.write_bytes(data)
        try:
            report = shardgen.verify(copy, workers=1 + seed % 2)
        except shardgen.StoreError as exc:
            outcome = type(exc).__name__
        else:
            # Found (violations), or the data digests as promoted (a flip in
            # free space, or one LMDB undid): never "ok" for other data.
            assert not report.ok or report.digest == recorded, seed
            outcome = "ok, unchanged" if report.ok else "violations"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for read in (shardgen.stats, shardgen.report, shardgen.log):
            # Any other exception is what the command line calls an internal error.
            with contextlib.suppress(shardgen.ShardgenError):
                read(copy)
        if seed % 4 == 0:
            out = tmp_path / f"export-{seed}"
            try:
                shardgen.export(copy, format="jsonl", to=out)
            except shardgen.ShardgenError:
                assert not out.exists()
            else:
                # Only damage to what no export reads (the links index) may
                # leave an export possible: and then it writes the same data.
                assert outcome == "ok, unchanged" or set(report.violations_by_rule) == {
                    "links describe each parent's children"
                }, seed
                assert {p.name: p.read_bytes() for p in out.iterdir()} == expected, seed
                shutil.rmtree(out)
        copy.unlink()
    assert sum(outcomes.values()) == TRIALS
    assert outcomes.get("violations", 0) and outcomes.get("DamagedStoreError", 0), outcomes


# -- the guard's and the isolated reader's own rules -----------------------------------


def test_outputs_of_the_wrong_kind_are_refused(store: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = store
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(shardgen.UsageError, match="is a folder"):
        check_output(tmp_path / "folder", what="--html", source=path, force=True)
    with pytest.raises(shardgen.UsageError, match="is a file"):
        check_output(tmp_path / "file", what="--to", source=path, force=True, folder=True)
    with pytest.raises(shardgen.UsageError, match="does not exist"):
        check_output(tmp_path / "no" / "x", what="--to", source=path, force=False)
    check_output(tmp_path / "folder", what="--to", source=path, force=False, folder=True)


def test_place_never_clobbers_what_appeared_meanwhile(tmp_path: Path) -> None:
    for folder in (False, True):
        partial, target = tmp_path / "partial", tmp_path / "target"
        if folder:
            partial.mkdir()
            target.mkdir()
            (target / "x").write_text("old")
        else:
            partial.write_text("new")
            target.write_text("old")
        with pytest.raises(shardgen.UsageError, match="appeared while shardgen was writing it"):
            place(partial, target, replace=False)
        assert (target / "x" if folder else target).read_text() == "old"
        remove_ours(partial)
        remove_ours(target)
        assert not partial.exists() and not target.exists()


def test_a_second_lock_on_one_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "x.sqlite"
    with (
        Lock.beside(target, "shardgen export"),
        pytest.raises(shardgen.LockedError, match=r"another shardgen export \(pid"),
    ):
        Lock.beside(target, "shardgen export").__enter__()
    assert not (tmp_path / ".x.sqlite.lock").exists()
    os.mkfifo(tmp_path / ".x.sqlite.lock")
    with pytest.raises(shardgen.StoreError, match="not a regular file"):
        Lock.beside(target, "shardgen export").__enter__()


def test_remove_store_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    mine = tmp_path / "notes.lmdb"
    mine.write_text("my notes")
    with pytest.raises(shardgen.UsageError, match="will not remove it"):
        remove_store(mine)
    assert mine.read_text() == "my notes"


def test_a_store_with_one_header_page_damaged_is_damaged(store: tuple[Path, str]) -> None:
    path, _ = store
    data = bytearray(path.read_bytes())
    data[16:20] = b"\0\0\0\0"  # the first meta page's magic
    path.write_bytes(data)
    with pytest.raises(shardgen.DamagedStoreError, match="header pages is invalid"):
        Store.open(path)
    data[4096 + 16 : 4096 + 20] = b"\0\0\0\0"  # and the second's: no longer recognisable
    path.write_bytes(data)
    with pytest.raises(shardgen.NotAStoreError, match="beyond recognition"):
        Store.open(path)


def _exit_quietly() -> None:
    os._exit(3)


def _raise_usage() -> None:
    raise shardgen.UsageError("from the child")


def test_isolated_reads_report_how_their_child_ended(tmp_path: Path) -> None:
    with pytest.raises(shardgen.StoreError, match=r"died \(exit status 3\)"):
        isolated(tmp_path, _exit_quietly)
    with pytest.raises(shardgen.UsageError, match="from the child"):
        isolated(tmp_path, _raise_usage)
    assert isolated(tmp_path, sum, [1, 2]) == 3
