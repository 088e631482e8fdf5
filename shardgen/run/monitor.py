"""Memory of the whole process tree, sampled with psutil in a background thread.

Three figures per sample, each summed over the coordinator and its workers:
RSS and USS (psutil), and anonymous memory (Pss_Anon from /proc). LMDB maps the
store file, so pages it has read count in RSS, and in USS too when only one
process touched them; the kernel drops those clean file pages whenever it
needs memory. Anonymous memory is what the processes themselves hold and what
the out-of-memory killer counts, so `--memory-limit` is enforced on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

import psutil


class Sample:
    __slots__ = ("anon", "at", "processes", "rss", "uss")

    def __init__(self, at: float, rss: int, uss: int, processes: int, anon: int) -> None:
        self.at = at
        self.rss = rss
        self.uss = uss
        self.processes = processes
        self.anon = anon


def read_rollup(pid: int) -> tuple[int, int, int] | None:
    """(RSS, USS, Pss_Anon) of a process in bytes from one read of smaps_rollup.

    The kernel walks the whole address space for every read, a mapped LMDB
    file included, so one read per sample instead of psutil's plus ours.
    USS is Private_Clean + Private_Dirty, as psutil computes it; Pss_Anon is
    proportional, so pages a forked worker shares with its parent count once.
    None where /proc does not tell (then psutil's figures are used).
    """
    fields: dict[bytes, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                name, _, rest = line.partition(b":")
                if name in (b"Rss", b"Private_Clean", b"Private_Dirty", b"Pss_Anon"):
                    fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if len(fields) < 4:
        return None
    return fields[b"Rss"], fields[b"Private_Clean"] + fields[b"Private_Dirty"], fields[b"Pss_Anon"]


def anonymous_memory(pid: int) -> int | None:
    """The process's proportional share of anonymous memory (Pss_Anon), in bytes."""
    figures = read_rollup(pid)
    return None if figures is None else figures[2]


def sample_tree(root: psutil.Process | None = None) -> Sample:
    """RSS, USS and anonymous memory summed over a process and its descendants."""
    root = root or psutil.Process(os.getpid())
    rss = uss = anon = count = 0
    for proc in [root, *root.children(recursive=True)]:
        figures = read_rollup(proc.pid)
        if figures is None:
            try:
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            figures = (info.rss, info.uss, info.uss)
        rss += figures[0]
        uss += figures[1]
        anon += figures[2]
        count += 1
    return Sample(time.time(), rss, uss, count, anon)


class Monitor:
    """Samples the process tree every `interval` seconds and tracks the peaks.

    `on_sample` is called from the sampling thread (e.g. to log an event).
    """

    def __init__(
        self,
        interval: float = 0.25,
        on_sample: Callable[[Sample], None] | None = None,
        limit: int | None = None,
    ) -> None:
        # With a limit, sample fast and spend more on it: a worker building
        # its catalog grows by ~100 MB/s, and the limit allows 10 % over.
        self.interval = min(interval, 0.05) if limit is not None else interval
        self.cost_factor = 4 if limit is not None else 50
        self.limit = limit
        self.on_sample = on_sample
        self.peak_rss = 0
        self.peak_uss = 0
        self.peak_anon = 0
        self.last: Sample | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shardgen-monitor", daemon=True)
        self._root = psutil.Process(os.getpid())

    def sample(self) -> Sample:
        sample = sample_tree(self._root)
        self.peak_rss = max(self.peak_rss, sample.rss)
        self.peak_uss = max(self.peak_uss, sample.uss)
        self.peak_anon = max(self.peak_anon, sample.anon)
        self.last = sample
        return sample

    def _run(self) -> None:
        pause = self.interval
        while not self._stop.wait(pause):
            started = time.perf_counter()
            sample = self.sample()
            # Reading /proc costs more as the mapped store grows (mostly kernel
            # time): keep the sampler under ~2 % of one core (25 % with a limit).
            pause = max(self.interval, self.cost_factor * (time.perf_counter() - started))
            if self.limit is not None and sample.anon > self.limit:
                self._stop_workers()
            if self.on_sample is not None:
                self.on_sample(sample)

    def _stop_workers(self) -> None:
        """Over the limit: SIGKILL the pool's workers now, before they grow further.

        Workers are the forkserver's children, the coordinator's grandchildren
        (its direct children, the forkserver and multiprocessing's resource
        tracker, are small and stay). Their shard transactions abort; the
        coordinator then sees the run stopped, reports the limit and rolls back.
        """
        for child in self._root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.ppid() != self._root.pid:
                    child.kill()

    def __enter__(self) -> Monitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
