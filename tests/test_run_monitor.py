"""The memory monitor: real /proc figures of real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from shardgen.run.monitor import Monitor, anonymous_memory, read_rollup, sample_tree

GROW = "x = bytearray(64 * 2**20); import time; print('ready', flush=True); time.sleep(30)"


def test_rollup_figures_are_this_processes() -> None:
    figures = read_rollup(os.getpid())
    assert figures is not None
    rss, uss, anon = figures
    assert 0 < uss <= rss and 0 < anon <= rss
    assert anonymous_memory(os.getpid()) is not None
    assert read_rollup(2**22 + 12345) is None  # no such process


def test_a_child_counts_in_the_tree_and_a_peak_is_kept() -> None:
    before = sample_tree()
    child = subprocess.Popen([sys.executable, "-c", GROW], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        seen: list[int] = []
        with Monitor(interval=0.01, on_sample=lambda s: seen.append(s.processes)) as monitor:
            time.sleep(0.2)
        assert max(seen) >= before.processes + 1
        assert monitor.peak_anon >= before.anon + 60 * 2**20
        assert monitor.last is not None and monitor.last.processes == max(seen)
    finally:
        child.kill()
        child.wait()


def test_over_its_limit_the_monitor_stops_the_workers_not_their_parents() -> None:
    # A worker is a grandchild (as pool workers are the forkserver's children).
    middle = subprocess.Popen(
        [sys.executable, "-c",
         f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {GROW!r}]); "
         "time.sleep(30)"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            grandchildren = psutil.Process(middle.pid).children()
            if grandchildren and (anonymous_memory(grandchildren[0].pid) or 0) > 60 * 2**20:
                break
            time.sleep(0.05)
        worker = psutil.Process(middle.pid).children()[0]
        with Monitor(limit=32 * 2**20):
            deadline = time.monotonic() + 10
            while worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline, "the monitor did not stop the worker"
                time.sleep(0.02)  # killed by the monitor (a zombie until its parent reaps it)
        assert middle.poll() is None  # the parent stays
    finally:
        middle.kill()
        middle.wait()
