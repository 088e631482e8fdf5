"""Atomic runs, resume, locking, memory limit: proven with injected faults and SIGKILL."""

from __future__ import annotations

import importlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import psutil
import pytest

import shardgen
from shardgen.guard import run_lock
from shardgen.run.shards import FAULT_VARIABLE
from shardgen.store import staging_path

from .conftest import AS_OF

# The package exports the function `generate`, which shadows the module's name.
generate_module = importlib.import_module("shardgen.pipeline")

#: Enough shards (12 customer, 2 product) that kills land mid-run.
OPTIONS: dict[str, object] = {"customers": 6_000, "products": 3_000, "invoices": 30_000, "seed": 9}
CLI_OPTIONS = ["--customers", "6000", "--products", "3000", "--invoices", "30000", "--seed", "9"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The digest of an uninterrupted run of OPTIONS."""
    path = tmp_path_factory.mktemp("reference") / "ref.lmdb"
    return shardgen.generate(None, as_of=AS_OF, out=path, workers=2, **OPTIONS).digest  # type: ignore[arg-type]


@pytest.fixture
def prior(tmp_path: Path) -> tuple[Path, str]:
    """A promoted dataset already at the target, and its digest."""
    target = tmp_path / "data.lmdb"
    digest = shardgen.generate("small", seed=1, as_of=AS_OF, out=target, workers=1).digest
    return target, digest


def generate(target: Path, **extra: object) -> shardgen.Summary:
    options = {**OPTIONS, **extra}
    return shardgen.generate(None, as_of=AS_OF, out=target, **options)  # type: ignore[arg-type]


def leave_a_failed_run(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of OPTIONS that fails at customer shard 1, leaving its staging store."""
    monkeypatch.setenv(FAULT_VARIABLE, "customers:1:fail")
    with pytest.raises(shardgen.RunError):
        generate(target, workers=1)
    monkeypatch.delenv(FAULT_VARIABLE)


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_shard_rolls_back_and_resume_matches(
    monkeypatch: pytest.MonkeyPatch, prior: tuple[Path, str], reference: str, workers: int
) -> None:
    target, before = prior
    monkeypatch.setenv(FAULT_VARIABLE, "customers:5:fail")
    with pytest.raises(shardgen.RunError, match="customers shard 5 failed"):
        generate(target, workers=workers)
    assert shardgen.verify(target).digest == before
    assert staging_path(target).exists()
    monkeypatch.delenv(FAULT_VARIABLE)
    resumed = generate(target, workers=workers, resume=True)
    assert resumed.resumed_shards > 0
    assert resumed.digest == reference
    assert shardgen.verify(target).digest == reference


def test_killed_worker_fails_clearly_and_resume_matches(
    monkeypatch: pytest.MonkeyPatch, prior: tuple[Path, str], reference: str
) -> None:
    target, before = prior
    monkeypatch.setenv(FAULT_VARIABLE, "customers:3:kill")
    started = time.monotonic()
    with pytest.raises(shardgen.RunError, match="worker process died"):
        generate(target, workers=2)
    assert time.monotonic() - started < 120, "a dead worker must not hang the run"
    assert shardgen.verify(target).digest == before
    monkeypatch.delenv(FAULT_VARIABLE)
    assert generate(target, workers=2, resume=True).digest == reference


def test_sigkill_of_the_coordinator_at_random_moments(
    prior: tuple[Path, str], reference: str
) -> None:
    target, before = prior
    rng = random.Random(int(os.environ.get("SHARDGEN_TEST_SEED", "20261126")))
    command = [sys.executable, "-m", "shardgen", "generate", *CLI_OPTIONS, "--as-of", AS_OF,
               "--out", str(target), "--workers", "2", "--quiet"]  # fmt: skip
    for attempt in range(3):
        process = subprocess.Popen(
            command + (["--resume"] if attempt else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(rng.uniform(0.3, 1.5))
        try:
            helpers = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            helpers = []
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        # No worker outlives its coordinator to write into a store a resumed run owns.
        _, alive = psutil.wait_procs(helpers, timeout=10)
        assert not alive, f"processes outlived the killed run: {alive}"
        # Never a half-written dataset: the prior one, intact, until promotion.
        report = shardgen.verify(target)
        assert report.ok
        assert report.digest in (before, reference), f"attempt {attempt}"
        if report.digest == reference:
            break
    resumed = subprocess.run(
        [*command, "--resume"], check=False, capture_output=True, text=True, timeout=300
    )
    if resumed.returncode != 0:
        # The last kill may have landed after promotion: nothing left to resume.
        assert "nothing to resume" in resumed.stderr, resumed.stderr
    assert shardgen.verify(target).digest == reference


def test_resume_with_another_plan_is_refused(
    monkeypatch: pytest.MonkeyPatch, prior: tuple[Path, str]
) -> None:
    target, _ = prior
    leave_a_failed_run(target, monkeypatch)
    with pytest.raises(shardgen.UsageError, match="another plan"):
        generate(target, workers=1, resume=True, seed=10)


def test_second_run_on_the_same_target_is_refused(prior: tuple[Path, str]) -> None:
    target, before = prior
    with (
        run_lock(target, "shardgen generate"),
        pytest.raises(shardgen.LockedError, match=f"pid {os.getpid()}"),
    ):
        shardgen.generate("small", as_of=AS_OF, out=target, workers=1)
    assert shardgen.verify(target).digest == before


def test_memory_limit_stops_the_run_and_keeps_the_target(prior: tuple[Path, str]) -> None:
    target, before = prior
    with pytest.raises(shardgen.RunError, match="--memory-limit"):
        generate(target, workers=2, memory_limit=16 * 2**20)
    assert shardgen.verify(target).digest == before


def test_reset_removes_store_and_staging(
    monkeypatch: pytest.MonkeyPatch, prior: tuple[Path, str]
) -> None:
    target, _ = prior
    leave_a_failed_run(target, monkeypatch)
    assert staging_path(target).exists()
    result = subprocess.run(
        [sys.executable, "-m", "shardgen", "reset", str(target)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not target.exists() and not staging_path(target).exists()


def test_resume_with_other_versions_is_refused(
    monkeypatch: pytest.MonkeyPatch, prior: tuple[Path, str]
) -> None:
    target, _ = prior
    leave_a_failed_run(target, monkeypatch)
    real = generate_module.versions
    monkeypatch.setattr(
        generate_module, "versions", lambda: msgspec.structs.replace(real(), faker="0.0.1")
    )
    with pytest.raises(shardgen.UsageError, match="other versions"):
        generate(target, workers=1, resume=True)
