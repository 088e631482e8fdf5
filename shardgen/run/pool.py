"""The task runner: shard tasks in a pool of worker processes.

Generation and verify both cut their work into tasks (one per shard) and run
them here: a forkserver pool (its server starts clean, so no LMDB handle is
ever inherited across fork) with a few tasks in flight per worker, a check
between results (the memory limit stops a run by raising from it), a watchdog
in every worker that ends it when its coordinator is gone, Ctrl-C left to the
coordinator, and failures as one error. A caller runs its tasks in phases
(`Pool.run`, once per phase) and decides in what order to use the results.

The coordinator can be one of the workers: given `here` (the task function as
this process runs it), the pool starts one process fewer and the coordinator
runs tasks between its checks, so with N workers N processes compute and the
first tasks start while the forkserver is still starting.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, NoReturn, TypeVar

import psutil

from ..errors import ShardgenError
from .server import start

T = TypeVar("T")
R = TypeVar("R")

#: Tasks in flight per worker: enough that none idles, few enough that a
#: failure stops the run quickly.
WINDOW = 2

Coordinator = tuple[int, float]


def coordinator() -> Coordinator:
    """Who the workers' watchdog watches: this process (pid, start time)."""
    return os.getpid(), psutil.Process().create_time()


def worker_started(watched: Coordinator) -> None:
    """What every pool initializer does first: watch the coordinator, and
    leave Ctrl-C to it (a terminal sends it to the whole process group; the
    coordinator stops the run and its workers)."""
    watch_coordinator(*watched)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def watch_coordinator(pid: int, started: float) -> None:
    """Exit this worker as soon as the coordinator is gone (killed or crashed).

    Pool workers hold both ends of their task queue, so they would wait for a
    next task forever; and a worker outliving its run could still write into a
    store that a resumed run has taken over. A zombie counts as gone.
    """

    def watch() -> None:
        while True:
            time.sleep(0.25)
            try:
                process = psutil.Process(pid)
                alive = (
                    process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
                )
            except psutil.Error:
                alive = False
            if not alive:
                os._exit(1)

    threading.Thread(target=watch, name="shardgen-watchdog", daemon=True).start()


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off for the block (and back on after, if it was).

    A task's records, decoded rows and encoded pairs hold no reference
    cycles, yet the collector's passes over their many young objects cost:
    a fifth of a generated shard's time, two fifths of decoding an exported
    part's rows. Generation keeps it off until a shard's encoded pairs are
    freed (turned back on while they live, its first pass walks them all).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Pool(Generic[T, R]):
    """A forkserver process pool for one run's tasks; use it as a context
    manager. Leaving it by an exception kills the workers at once (their open
    transactions abort); leaving it normally lets them finish.

    With `here`, the coordinator is one of the `workers`: it runs tasks itself
    with `here` (set up as a worker's initializer sets up a pool process).
    """

    def __init__(
        self,
        workers: int,
        tasks: int,
        preload: str,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        here: Callable[[T], R] | None = None,
        window: int = WINDOW,
    ) -> None:
        context = multiprocessing.get_context("forkserver")
        start(preload)
        self.here = here if workers > 1 else None
        self.window = window
        self.processes = max(1, min(workers - (self.here is not None), tasks))
        self.executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=initializer,
            initargs=initargs,
        )

    def __enter__(self) -> Pool[T, R]:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:
            # Stop at once: an uncommitted shard's transaction simply aborts.
            for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                process.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def run(
        self,
        function: Callable[[T], R],
        tasks: Sequence[T],
        check: Callable[[], None],
        failed: Callable[[T, Exception], ShardgenError],
        broken: Callable[[list[T]], NoReturn],
    ) -> Iterator[tuple[T, R]]:
        """Run `function` on every task; yield (task, result) as each finishes.

        `check` is called every few tenths of a second, and between the tasks
        the coordinator runs itself; a task's exception becomes
        `failed(task, exc)` (a ShardgenError passes as it is); a worker that
        dies makes the pool unusable: `broken(the tasks that were running)`
        says why.
        """
        queue = deque(tasks)
        pending: dict[Future[R], T] = {}
        window = self.window * self.processes
        while queue or pending:
            # The pool's window first, but leave the coordinator a task.
            while queue and len(pending) < window and (self.here is None or len(queue) > 1):
                task = queue.popleft()
                pending[self.executor.submit(function, task)] = task
            if self.here is not None and queue:
                task = queue.popleft()
                check()
                yield task, _run(self.here, task, failed)
                finished = {future for future in pending if future.done()}
            else:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            check()
            for future in finished:
                task = pending[future]
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken(list(pending.values()))
                except ShardgenError:
                    raise
                except Exception as exc:
                    raise failed(task, exc) from exc
                del pending[future]
                yield task, result


def _run(function: Callable[[T], R], task: T, failed: Callable[[T, Exception], ShardgenError]) -> R:
    """A task the coordinator runs itself, its failure wrapped as a pool task's is."""
    try:
        return function(task)
    except ShardgenError:
        raise
    except Exception as exc:
        raise failed(task, exc) from exc
