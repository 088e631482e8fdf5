"""SIGKILL a generate run at random moments, resume it, and check the digests.

    python tools/kill_loop.py --volume xl --kills 10 --seed 1 --json
    python tools/kill_loop.py --customers 10000 --products 20000 --invoices 100000 --kills 100

Each round: a prior dataset sits at the target; a run of `--volume` starts
and is SIGKILLed (the coordinator, or one of its workers) at a random moment,
then resumed with `--resume` until it promotes. Checked every round: the
prior dataset's digest never changes before promotion, and every promoted
result has the digest of an uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import shardgen

AS_OF = "2026-06-30"


def shardgen_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "shardgen", *args]


def kill_at_random(
    command: list[str], rng: random.Random, window: float, victims: str = "either"
) -> dict[str, object]:
    """Start `command`, SIGKILL the coordinator or a worker after a random delay."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    delay = rng.uniform(0.2, window)
    time.sleep(delay)
    victim = "coordinator"
    if victims == "worker" or (victims == "either" and rng.random() < 0.5):
        # Pool workers are the forkserver's children (grandchildren of the
        # coordinator); the forkserver and the resource tracker are not workers.
        try:
            workers = [
                p for p in psutil.Process(process.pid).children(recursive=True)
                if p.ppid() != process.pid
            ]  # fmt: skip
        except psutil.Error:
            workers = []
        if workers:
            try:  # it may have finished since it was listed: then the coordinator
                rng.choice(workers).send_signal(signal.SIGKILL)
                victim = "worker"
            except psutil.Error:
                pass
    if victim == "coordinator":
        process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    return {"victim": victim, "after_seconds": round(delay, 2), "exit": process.returncode,
            "stderr": stderr.decode(errors="replace").strip()[-200:]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", default="large")
    parser.add_argument("--customers", type=int, help="explicit counts instead of --volume")
    parser.add_argument("--products", type=int)
    parser.add_argument("--invoices", type=int)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random kill moments")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--victim",
        choices=("either", "coordinator", "worker"),
        default="either",
        help="which process to kill (a worker when one is running, else the coordinator)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="shardgen-kill-"))
    reference = folder / "reference.lmdb"
    started = time.perf_counter()
    counts = {"customers": args.customers, "products": args.products, "invoices": args.invoices}
    explicit = {name: n for name, n in counts.items() if n is not None}
    volume = None if len(explicit) == 3 else args.volume
    expected = shardgen.generate(volume, seed=3, as_of=AS_OF, out=reference,
                                 workers=args.workers, **explicit)  # fmt: skip
    window = max(1.0, (time.perf_counter() - started) * 0.9)
    reference.unlink()
    target = folder / "data.lmdb"
    rounds = []
    ok = True
    for round_number in range(args.kills):
        prior = shardgen.generate("small", seed=round_number, as_of=AS_OF, out=target, workers=1)
        size = [f"--{name}={n}" for name, n in explicit.items()]
        run = ["generate", *(size if volume is None else ["--volume", volume]), "--seed", "3",
               "--as-of", AS_OF, "--out", str(target), "--workers", str(args.workers),
               "--quiet"]  # fmt: skip
        killed = kill_at_random(shardgen_command(*run), rng, window, args.victim)
        prior_intact = shardgen.verify(target).digest in (prior.digest, expected.digest)
        resumes = 0
        while shardgen.verify(target).digest != expected.digest and resumes < 5:
            resumed = subprocess.run(shardgen_command(*run, "--resume"), capture_output=True,
                                     text=True, check=False)  # fmt: skip
            resumes += 1
            if resumed.returncode != 0 and "nothing to resume" in resumed.stderr:
                subprocess.run(shardgen_command(*run), check=False, capture_output=True)
        promoted = shardgen.verify(target)
        good = prior_intact and promoted.ok and promoted.digest == expected.digest
        ok &= good
        rounds.append({**killed, "round": round_number, "prior_intact": prior_intact,
                       "resumes": resumes, "digest": promoted.digest, "ok": good})  # fmt: skip
        if not args.json:
            print(f"round {round_number}: killed the {killed['victim']} after "
                  f"{killed['after_seconds']} s; prior intact {prior_intact}; "
                  f"{resumes} resume(s); digest {'matches' if good else 'DIFFERS'}")  # fmt: skip
    result = {"volume": volume or explicit, "kills": args.kills, "expected_digest": expected.digest,
              "all_ok": ok, "rounds": rounds}  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    for leftover in folder.iterdir():
        leftover.unlink()
    os.rmdir(folder)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
