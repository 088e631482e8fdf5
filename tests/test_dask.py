"""The Dask executor: same data, same digest, resume, and a worker killed mid-run.

A real `LocalCluster` (two worker processes, one thread each) stands in for a
cluster of machines: its workers are separate processes that cannot reach the
coordinator's store, so they only generate and return encoded shards.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import shardgen
from shardgen.cli import main
from shardgen.pipeline import Summary
from shardgen.run import executors
from shardgen.run.shards import FAULT_VARIABLE
from shardgen.schema import MemorySample, RunStarted, ShardCommitted
from shardgen.store import Store, staging_path

from .conftest import AS_OF
from .test_pipeline import GOLDEN_SMALL_DIGEST

try:
    import distributed
except ImportError:  # pragma: no cover - CI installs the dask extra (tools/bootstrap)
    if os.environ.get("CI"):
        pytest.fail("the Dask tests cannot run in CI: distributed is not installed")
    pytest.skip(
        "Dask distributed is not installed (pip install -e '.[dask]')", allow_module_level=True
    )

#: Many small shards (40 customer shards, 2 product shards) so a run lasts a
#: few seconds and a worker can be killed in the middle of it.
PLAN: dict[str, Any] = {"customers": 20_000, "products": 4_000, "invoices": 100_000, "seed": 3}


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster: distributed.LocalCluster) -> Iterator[distributed.Client]:
    with distributed.Client(cluster, set_as_default=False) as connected:
        yield connected


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The digest of PLAN made by the local process pool."""
    path = tmp_path_factory.mktemp("reference") / "ref.lmdb"
    return shardgen.generate(None, as_of=AS_OF, out=path, workers=2, **PLAN).digest


def on_dask(cluster: distributed.LocalCluster, out: Path, **options: Any) -> Summary:
    return shardgen.generate(
        options.pop("volume", None), as_of=AS_OF, out=out, executor="dask",
        scheduler=cluster.scheduler_address, **options,
    )  # fmt: skip


def shard_digests(path: Path) -> dict[tuple[str, int], str]:
    with Store.open(path) as store:
        return {
            (e.entity, e.shard): e.digest
            for _, e in store.events()
            if isinstance(e, ShardCommitted)
        }


def test_same_data_as_the_local_pool_at_large(
    cluster: distributed.LocalCluster, large_store: tuple[Path, Summary], tmp_path: Path
) -> None:
    local_path, local = large_store
    out = tmp_path / "dask.lmdb"
    summary = on_dask(cluster, out, volume="large", seed=7)
    assert summary.digest == local.digest
    assert summary.rows == local.rows
    assert shardgen.verify(out).digest == local.digest
    assert shard_digests(out) == shard_digests(local_path)
    assert (summary.executor, summary.workers) == ("dask", 2)
    assert summary.cluster_peak_rss > 0
    assert summary.cluster_peak_anon > 0
    with Store.open(out) as store:
        events = [e for _, e in store.events()]
    started = next(e for e in events if isinstance(e, RunStarted))
    assert (started.executor, started.workers) == ("dask", 2)
    samples = [e for e in events if isinstance(e, MemorySample) and e.source == "dask"]
    assert samples, "the Dask workers' memory is logged"
    assert all(s.processes == 2 and s.rss > 0 for s in samples)


def test_killed_worker_is_rerun_and_the_data_is_identical(
    cluster: distributed.LocalCluster, client: distributed.Client, reference: str, tmp_path: Path
) -> None:
    before = client.run(os.getpid)
    victim = next(iter(before.values()))
    killed: list[int] = []

    def kill_midway(done: int, total: int) -> None:
        if not killed and done >= total // 3:
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    summary = on_dask(cluster, tmp_path / "killed.lmdb", progress=kill_midway, **PLAN)
    assert killed and killed[0] < 40, "the kill landed mid-run"
    assert summary.digest == reference
    # The nanny restarted the killed worker; leave the cluster whole for the next test.
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()


def test_failed_run_resumes_on_dask(
    cluster: distributed.LocalCluster,
    reference: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "data.lmdb"
    prior = shardgen.generate("small", seed=1, as_of=AS_OF, out=target, workers=1).digest
    # The coordinator writes every shard, so the fault hook fires in this process.
    monkeypatch.setenv(FAULT_VARIABLE, "customers:20:fail")
    with pytest.raises(shardgen.RunError, match="customers shard 20 failed"):
        on_dask(cluster, target, **PLAN)
    assert shardgen.verify(target).digest == prior
    committed = shard_digests(staging_path(target))
    assert committed
    monkeypatch.delenv(FAULT_VARIABLE)
    resumed = on_dask(cluster, target, resume=True, **PLAN)
    assert resumed.resumed_shards == len(committed)
    assert resumed.digest == reference
    with Store.open(target) as store:
        commits = [e for _, e in store.events() if isinstance(e, ShardCommitted)]
    assert len(commits) == len({(e.entity, e.shard) for e in commits}), "no shard twice"


def test_cli_runs_on_dask(
    cluster: distributed.LocalCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "small.lmdb"
    args = ["generate", "--volume", "small", "--seed", "42", "--as-of", AS_OF, "--out", str(out)]
    code = main([*args, "--executor", "dask", "--scheduler", cluster.scheduler_address])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"digest {GOLDEN_SMALL_DIGEST}" in printed
    assert "Dask worker thread(s)" in printed


def test_a_worker_with_other_versions_is_refused(client: distributed.Client) -> None:
    plan = shardgen.make_plan("small", seed=42, as_of=AS_OF)
    other = ("0.0.1", 1, "1.0.0", "0.1.0", "1.0.0", "3.9")
    future = client.submit(executors.generate_shard, plan, "foundation", 0, other, pure=False)
    mine = re.escape(shardgen.__version__)
    with pytest.raises(
        shardgen.RunError, match=rf"has shardgen {mine}.*coordinator shardgen 0\.0\.1"
    ):
        future.result()


@pytest.fixture(scope="module")
def silent() -> Iterator[str]:
    """An address that accepts connections and never answers (another service)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"


def refused() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor", "dask"], "needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler is for --executor dask"),
        (["--executor", "dask", "--scheduler", "tcp://x:1", "--workers", "2"], "leave --workers"),
        (["--executor", "dask", "--scheduler", "no-port"], "not a scheduler address"),
        (["--executor", "dask", "--scheduler", "{refused}"], "no Dask scheduler answered"),
        (["--executor", "dask", "--scheduler", "{silent}"], "no Dask scheduler answered"),
        (["--executor", "dask", "--scheduler", "{worker}"], "is a Dask Worker, not the scheduler"),
    ],
)
def test_usage_errors(
    extra: list[str],
    message: str,
    silent: str,
    client: distributed.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    worker = next(iter(client.scheduler_info()["workers"]))
    extra = [arg.format(refused=refused(), silent=silent, worker=worker) for arg in extra]
    code = main(["generate", "--as-of", AS_OF, "--out", str(tmp_path / "x.lmdb"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1, err
    assert not (tmp_path / "x.lmdb").exists()


def test_without_dask_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(shardgen.UsageError, match=r"pip install 'shardgen\[dask\]'"):
        shardgen.generate(
            "small", as_of=AS_OF, out=tmp_path / "x.lmdb", executor="dask",
            scheduler="tcp://127.0.0.1:8786",
        )  # fmt: skip


def test_the_local_path_does_not_import_dask() -> None:
    code = "import shardgen, shardgen.cli, sys; print('distributed' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
