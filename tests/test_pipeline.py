"""End to end: generate → verify, determinism, worker-count invariance, golden digest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import shardgen
from shardgen.pipeline import Summary
from shardgen.store import Store, staging_path

from .conftest import AS_OF, Make
from .test_bad_input import assert_one_line, run

#: The digest of `small`, seed 42, as_of 2026-06-30. A change to the generated
#: data must be deliberate: update this with the reason in the commit message.
GOLDEN_SMALL_DIGEST = "154f652df59c69e2bbc82c1e2744bf45"


def test_golden_small_digest(small_store: Path) -> None:
    report = shardgen.verify(small_store)
    assert report.ok, report.violations
    assert report.digest == GOLDEN_SMALL_DIGEST


@pytest.mark.parametrize("volume", ["small", "medium"])
def test_generate_and_verify(make_store: Make, volume: str) -> None:
    path, summary = make_store(volume, seed=11)
    report = shardgen.verify(path)
    assert report.ok, report.violations
    assert report.rows == summary.rows == report.expected_rows
    assert report.digest == summary.digest
    customers, products, invoices = shardgen.VOLUMES[volume]
    assert summary.rows["customers"] == customers
    assert summary.rows["products"] == summary.rows["inventory"] == products
    assert summary.rows["invoices"] == invoices
    assert not staging_path(path).exists()


def test_large_verifies(large_store: tuple[Path, Summary]) -> None:
    path, summary = large_store
    report = shardgen.verify(path)
    assert report.ok, report.violations
    assert report.digest == summary.digest
    assert summary.rows["invoices"] == 10_000


def test_worker_count_does_not_change_the_data(make_store: Make) -> None:
    # Small shards so that three workers really share the work.
    options = {"customers": 1_200, "products": 700, "invoices": 5_000, "seed": 5}
    digests = {
        workers: make_store(None, workers=workers, **options)[1].digest for workers in (1, 2, 3)
    }
    assert len(set(digests.values())) == 1, digests


def test_same_seed_same_data_different_seed_different_data(make_store: Make) -> None:
    first = make_store("medium", seed=1)[1].digest
    again = make_store("medium", seed=1)[1].digest
    other = make_store("medium", seed=2)[1].digest
    assert first == again
    assert first != other


def test_as_of_changes_the_data(make_store: Make) -> None:
    assert (
        make_store(seed=1, as_of="2026-06-30")[1].digest
        != make_store(seed=1, as_of="2026-07-01")[1].digest
    )


def test_run_is_recorded_in_the_event_log(small_store: Path) -> None:
    with Store.open(small_store) as store:
        events = [e for _, e in store.events()]
    tags = [type(e).__struct_config__.tag for e in events]
    assert tags[0] == "run_started"
    assert tags[-2:] == ["verify_finished", "run_promoted"]
    started = events[0]
    assert isinstance(started, shardgen.schema.RunStarted)
    assert started.plan["seed"] == 42 and started.plan["as_of"] == AS_OF
    assert started.versions.faker and started.versions.lmdb and started.versions.msgspec
    committed = [e for e in events if isinstance(e, shardgen.schema.ShardCommitted)]
    # foundation + 1 product shard + 1 customer shard
    assert sorted((e.entity, e.shard) for e in committed) == [
        ("customers", 0),
        ("foundation", 0),
        ("products", 0),
    ]


def test_regenerating_replaces_the_promoted_dataset(make_store: Make, tmp_path: Path) -> None:
    path = tmp_path / "data.lmdb"
    first = shardgen.generate("small", seed=1, as_of=AS_OF, out=path, workers=1)
    second = shardgen.generate("small", seed=2, as_of=AS_OF, out=path, workers=1)
    assert first.digest != second.digest
    assert shardgen.verify(path).digest == second.digest


# -- generate --export ----------------------------------------------------------


def test_generate_then_export_is_the_export_of_the_generated_store(tmp_path: Path) -> None:
    out, target = tmp_path / "g.lmdb", tmp_path / "g.sqlite"
    summary = shardgen.generate("medium", seed=4, as_of=AS_OF, out=out, export="sqlite", to=target)
    assert summary.exported == summary.rows
    again = tmp_path / "again.sqlite"
    shardgen.export(out, format="sqlite", to=again)
    for table in summary.rows:
        query = f'SELECT * FROM "{table}" ORDER BY id'
        with sqlite3.connect(target) as one, sqlite3.connect(again) as two:
            assert one.execute(query).fetchall() == two.execute(query).fetchall()
    # --force replaces the export's target (and only with it).
    with pytest.raises(shardgen.UsageError, match="pass --force"):
        shardgen.generate("small", as_of=AS_OF, out=out, export="sqlite", to=target)
    forced = shardgen.generate(
        "small", as_of=AS_OF, out=out, export="sqlite", to=target, force=True
    )
    assert forced.exported == forced.rows


@pytest.mark.parametrize("format", ["csv", "jsonl", "parquet", "duckdb"])
def test_generate_exports_to_every_file_target(tmp_path: Path, format: str) -> None:
    out, target = tmp_path / "g.lmdb", tmp_path / f"g-{format}"
    summary = shardgen.generate("small", seed=5, as_of=AS_OF, out=out, export=format, to=target)
    assert summary.exported == summary.rows
    again = tmp_path / f"again-{format}"
    assert shardgen.export(out, format=format, to=again) == summary.rows
    if format in ("csv", "jsonl"):  # the same bytes as a separate export
        for table in summary.rows:
            name = f"{table}.{format}"
            assert (target / name).read_bytes() == (again / name).read_bytes()


def test_a_bad_export_target_is_refused_before_anything_is_generated(tmp_path: Path) -> None:
    out = tmp_path / "kept.lmdb"
    before = shardgen.generate("small", seed=1, as_of=AS_OF, out=out).digest
    taken = tmp_path / "taken.sqlite"
    taken.write_text("a user's file")
    for args, needle in (
        (["--export", "sqlite", "--to", taken], "pass --force"),
        (["--export", "csv", "--to", out], "is the store being read"),
        (["--export", "sqlite"], "go together"),
        (["--to", taken], "go together"),
        (["--export", "postgres", "--to", "postgresql://x:y@[::1"], "URL"),
    ):
        result = run("generate", "--seed", "2", "--as-of", AS_OF, "--out", out, *args)
        assert_one_line(result, 2, needle)
        assert not staging_path(out).exists()
    assert shardgen.verify(out).digest == before
    assert taken.read_text() == "a user's file"


def test_an_export_failing_after_the_run_keeps_the_dataset_and_says_how_to_export_it(
    tmp_path: Path, postgres_url: str
) -> None:
    out = tmp_path / "p.lmdb"
    first = run("generate", "--as-of", AS_OF, "--out", out, "--export", "postgres",
                "--to", postgres_url)  # fmt: skip
    assert first.returncode == 0, first.stderr
    # The tables are there now: without --force, the load is refused after the run.
    again = run("generate", "--seed", "3", "--as-of", AS_OF, "--out", out, "--export", "postgres",
                "--to", postgres_url)  # fmt: skip
    assert_one_line(again, 2, "generated and verified")
    digest = shardgen.verify(out).digest
    assert shardgen.log(out)[-1][1].digest == digest  # promoted: the new dataset is in place
    advice = again.stderr.split("`")[-2].split()
    assert advice[:2] == ["shardgen", "export"]
    done = run(*advice[1:], "--force")  # the advice, after fixing what the error says
    assert done.returncode == 0, done.stderr
