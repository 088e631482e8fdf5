"""Memory of the whole process tree, sampled with psutil in a background thread.

RSS counts LMDB's mapped pages, which the kernel can drop at will; USS (memory
unique to a process) is the figure to budget against. Both are kept.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psutil


class Sample:
    __slots__ = ("at", "processes", "rss", "uss")

    def __init__(self, at: float, rss: int, uss: int, processes: int) -> None:
        self.at = at
        self.rss = rss
        self.uss = uss
        self.processes = processes


def sample_tree(root: psutil.Process | None = None) -> Sample:
    """RSS and USS summed over a process and all its descendants."""
    root = root or psutil.Process(os.getpid())
    rss = uss = count = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += info.rss
        uss += info.uss
        count += 1
    return Sample(time.time(), rss, uss, count)


class Monitor:
    """Samples the process tree every `interval` seconds and tracks the peaks.

    `on_sample` is called from the sampling thread (e.g. to log an event).
    """

    def __init__(
        self, interval: float = 0.1, on_sample: Callable[[Sample], None] | None = None
    ) -> None:
        self.interval = interval
        self.on_sample = on_sample
        self.peak_rss = 0
        self.peak_uss = 0
        self.last: Sample | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shardgen-monitor", daemon=True)
        self._root = psutil.Process(os.getpid())

    def sample(self) -> Sample:
        sample = sample_tree(self._root)
        self.peak_rss = max(self.peak_rss, sample.rss)
        self.peak_uss = max(self.peak_uss, sample.uss)
        self.last = sample
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sample = self.sample()
            if self.on_sample is not None:
                self.on_sample(sample)

    def __enter__(self) -> Monitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
