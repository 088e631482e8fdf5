"""Check that a Dask run gives the local pool's digest, also when a worker is killed.

    python tools/dask_check.py --volume xl --json

Generates `--volume` with the local pool, then on a 2-worker
`distributed.LocalCluster`, then on the cluster again while one Dask worker is
SIGKILLed at a random moment (Dask reruns its shards). Prints the seconds and
digest of each run; exits 1 unless all three digests are equal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import distributed

import shardgen

AS_OF = "2026-06-30"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", default="large")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="shardgen-dask-"))
    runs: dict[str, dict[str, Any]] = {}

    def timed(name: str, **options: Any) -> None:
        out = folder / f"{name}.lmdb"
        started = time.perf_counter()
        summary = shardgen.generate(args.volume, seed=args.seed, as_of=AS_OF, out=out, **options)
        runs[name] = {"seconds": round(time.perf_counter() - started, 2),
                      "digest": summary.digest}  # fmt: skip
        out.unlink()

    timed("local")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        scheduler = cluster.scheduler_address
        timed("dask", executor="dask", scheduler=scheduler)
        victim = next(iter(client.run(os.getpid).values()))
        moment = rng.uniform(0.1, 0.8)
        killed: list[float] = []

        def kill(done: int, total: int) -> None:
            if not killed and done >= total * moment:
                os.kill(victim, signal.SIGKILL)
                killed.append(round(done / total, 2))

        timed("dask_worker_killed", executor="dask", scheduler=scheduler, progress=kill)
        runs["dask_worker_killed"]["killed_at_fraction"] = killed[0] if killed else None
    shutil.rmtree(folder)
    same = len({run["digest"] for run in runs.values()}) == 1
    result = {"volume": args.volume, "seed": args.seed, "identical": same, "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, run in runs.items():
            print(f"{name:<20} {run['seconds']:>8.2f} s  {run['digest']}")
        print("identical digests" if same else "DIGESTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
