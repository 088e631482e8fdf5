"""Executors: where shards run. A local process pool, or a Dask cluster.

    executor   generates on                     commits
    local      forkserver pool (workers.py)     each worker, into the staging store
    dask       the cluster's worker processes   the coordinator, into the staging store

A shard is a pure function of (plan, shard), so any machine can generate it.
Only the coordinator can write the staging store, so on Dask a task runs
`encode_shard` and returns the shard's encoded records; the coordinator writes
each returned shard with its `shard_committed` event in ONE transaction
(`write_shard`, the same code the local workers use), so the store, its log and
every digest are the same whichever executor ran the shards.

The coordinator keeps at most `2 × the cluster's threads` shards in flight and
submits the next one as one completes, so results never pile up faster than it
commits them; the cluster forgets a result once the coordinator has fetched it,
and the coordinator drops it once written. Dask reruns a shard whose
worker died or that raised (`retries=`): the shard is pure, so the rerun
produces the same bytes.

Dask is an optional extra (`pip install 'shardgen[dask]'`), imported only when
`executor="dask"` is asked for.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import psutil

from ..errors import RunError, ShardgenError, UsageError
from ..plan import Plan
from ..schema import MemorySample
from ..store import Store
from ..versions import DataVersions, data_versions, describe, versions
from .monitor import anonymous_memory
from .shards import (
    Done,
    EncodedShard,
    Task,
    encode_shard,
    run_tasks,
    shard_failed,
    write_shard,
)

if TYPE_CHECKING:
    from distributed import Client, Future

EXECUTORS = ("local", "dask")

#: Seconds to wait for the scheduler to answer, and for a first worker to join.
CONNECT_TIMEOUT = 10.0
#: How often Dask may rerun a shard whose task raised (a dead worker's shard is
#: rerun anyway, up to the scheduler's `allowed-failures`).
RETRIES = 3
#: Shards in flight per worker thread: one running, one waiting to be committed.
IN_FLIGHT_PER_THREAD = 2
#: Seconds between samples of the Dask workers' memory.
SAMPLE_INTERVAL = 2.0


class Executor(Protocol):
    """Runs a plan's shards and yields each as it is committed to the store."""

    name: str
    workers: int  # local processes, or the cluster's worker threads
    #: Peak memory summed over remote workers; 0 where the coordinator's own
    #: monitor already sees every worker (the local pool).
    peak_rss: int
    peak_uss: int
    peak_anon: int

    def run(
        self, store: Store, plan: Plan, tasks: list[Task], check: Callable[[], None]
    ) -> Iterator[Done]: ...

    def close(self) -> None: ...


@contextlib.contextmanager
def open_executor(name: str, scheduler: str | None, workers: int) -> Iterator[Executor]:
    """The executor `name`; a usage error if it cannot be had."""
    if name not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    pool: Executor
    if name == "local":
        if scheduler is not None:
            raise UsageError("--scheduler is for --executor dask; add --executor dask")
        pool = LocalPool(workers)
    else:
        if not scheduler:
            raise UsageError(
                "--executor dask needs --scheduler tcp://HOST:PORT, the address of a running "
                "`dask scheduler`"
            )
        pool = DaskCluster(scheduler)
    try:
        yield pool
    finally:
        pool.close()


class LocalPool:
    """Shards in this machine's process pool (or in this process with one worker)."""

    name = "local"
    peak_rss = peak_uss = peak_anon = 0

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(
        self, store: Store, plan: Plan, tasks: list[Task], check: Callable[[], None]
    ) -> Iterator[Done]:
        return run_tasks(store, plan, tasks, self.workers, check)

    def close(self) -> None:
        pass


# -- on a Dask worker ----------------------------------------------------------


@functools.cache
def _here() -> DataVersions:
    return data_versions(versions())


def generate_shard(plan: Plan, entity: str, shard: int, expected: DataVersions) -> EncodedShard:
    """The Dask task: one shard's encoded records, made with the coordinator's versions."""
    here = _here()
    if here != expected:
        from distributed import get_worker

        raise RunError(
            f"the Dask worker {get_worker().address} has {describe(here)}, the coordinator "
            f"{describe(expected)}, which would change the data: install shardgen[dask] at "
            "the coordinator's versions on every worker"
        )
    return encode_shard(plan, Task(entity, shard))


def worker_memory() -> tuple[int, int, int]:
    """RSS, USS and anonymous memory of this worker process."""
    info = psutil.Process().memory_full_info()
    anon = anonymous_memory(os.getpid())
    return info.rss, info.uss, info.uss if anon is None else anon


# -- on the coordinator --------------------------------------------------------


class WorkerMemory:
    """Samples the Dask workers' memory in a background thread.

    A thread, because asking a worker that has just died can take the
    connect timeout to fail, and commits must not wait for that.
    """

    def __init__(self, client: Client, interval: float = SAMPLE_INTERVAL) -> None:
        self.client = client
        self.interval = interval
        self.peak_rss = self.peak_uss = self.peak_anon = 0
        self._latest: MemorySample | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shardgen-dask-memory", daemon=True)

    def sample(self) -> None:
        try:
            found = self.client.run(worker_memory, on_error="ignore")
        except Exception:  # the cluster is going away: no figure this time
            return
        if not found:
            return
        rss, uss, anon = (sum(column) for column in zip(*found.values(), strict=True))
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_uss = max(self.peak_uss, uss)
            self.peak_anon = max(self.peak_anon, anon)
            self._latest = MemorySample(time.time(), rss, uss, len(found), anon, source="dask")

    def take(self) -> MemorySample | None:
        """The newest sample not taken yet."""
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                self.sample()  # one more after the last shard
                return

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class DaskCluster:
    """Shards on the Dask cluster at `scheduler`; this process commits them."""

    name = "dask"

    def __init__(self, scheduler: str) -> None:
        self.scheduler = scheduler
        self.peak_rss = self.peak_uss = self.peak_anon = 0
        self.client = _connect(scheduler)
        self.workers = self._threads()

    def _threads(self) -> int:
        return sum(self.client.nthreads().values())

    def close(self) -> None:
        self.client.close()

    def run(
        self, store: Store, plan: Plan, tasks: list[Task], check: Callable[[], None]
    ) -> Iterator[Done]:
        with WorkerMemory(self.client) as memory:
            yield from self._run(store, plan, tasks, check, memory)
        last = memory.take()
        if last is not None:
            store.log(last)
        self.peak_rss, self.peak_uss, self.peak_anon = (
            memory.peak_rss, memory.peak_uss, memory.peak_anon,
        )  # fmt: skip

    def _run(
        self, store: Store, plan: Plan, tasks: list[Task], check: Callable[[], None],
        memory: WorkerMemory,
    ) -> Iterator[Done]:  # fmt: skip
        expected = data_versions(versions())
        run = uuid.uuid4().hex[:8]
        finished: queue.SimpleQueue[Future[EncodedShard]] = queue.SimpleQueue()
        pending: dict[Future[EncodedShard], Task] = {}
        todo = list(reversed(tasks))
        window = IN_FLIGHT_PER_THREAD * max(1, self.workers)
        clean = False
        try:
            while todo or pending:
                while todo and len(pending) < window:
                    task = todo.pop()
                    future = self.client.submit(
                        generate_shard, plan, task.entity, task.shard, expected,
                        key=f"shardgen-{run}-{task.entity}-{task.shard}", retries=RETRIES,
                        pure=False,
                    )  # fmt: skip
                    future.add_done_callback(finished.put)
                    pending[future] = task
                try:
                    done: Future[EncodedShard] | None = finished.get(timeout=0.2)
                except queue.Empty:
                    done = None
                check()
                sample = memory.take()
                if sample is not None:
                    store.log(sample)
                    # Workers may have joined or left.
                    window = IN_FLIGHT_PER_THREAD * max(1, self._threads())
                if done is None:
                    continue
                task = pending.pop(done)
                shard = _result(done, task)
                done.release()  # the worker may drop its copy now
                try:
                    committed = write_shard(store, shard)
                except Exception as exc:
                    raise shard_failed(task, exc) from exc
                del shard
                yield committed
            clean = True
        finally:
            if not clean and pending:
                with contextlib.suppress(Exception):
                    self.client.cancel(list(pending))


def _result(future: Future[EncodedShard], task: Task) -> EncodedShard:
    """A task's shard, or the run's one-line error."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    hint = "committed shards are kept: rerun with --resume to continue"
    try:
        shard: EncodedShard = future.result()
    except KilledWorker:
        raise RunError(
            f"{task.entity} shard {task.shard} failed: every Dask worker that ran it died "
            f"(see the workers' logs; out of memory?); {hint}"
        ) from None
    except FutureCancelledError as exc:
        raise RunError(
            f"{task.entity} shard {task.shard} was cancelled by the Dask scheduler "
            f"({exc.reason}; is the scheduler still running?); {hint}"
        ) from None
    except ModuleNotFoundError as exc:
        raise RunError(
            f"{task.entity} shard {task.shard} failed on a Dask worker: {exc}; install "
            f"shardgen[dask] at the coordinator's versions on every worker; {hint}"
        ) from None
    except ShardgenError:
        raise
    except OSError as exc:  # distributed's CommClosedError among them
        raise RunError(
            f"{task.entity} shard {task.shard} failed: the connection to the Dask cluster broke "
            f"({type(exc).__name__}; is the scheduler still running?); {hint}"
        ) from None
    except Exception as exc:
        raise shard_failed(task, exc) from exc
    return shard


def _connect(scheduler: str) -> Client:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--executor dask needs Dask distributed, which is not installed: "
            "pip install 'shardgen[dask]' (here and on every worker machine)"
        ) from None
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise UsageError(
            f"--scheduler {scheduler} is not a scheduler address such as tcp://10.0.0.5:8786 "
            f"({exc})"
        ) from None
    # Ask first, with a deadline: a Client pointed at another service (the
    # dashboard's port, say) would wait for its answer forever.
    import asyncio  # only here: 25 ms that every local run would pay

    try:
        kind = asyncio.run(asyncio.wait_for(_identity(scheduler), CONNECT_TIMEOUT))
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "no answer"
        raise UsageError(
            f"--scheduler {scheduler}: no Dask scheduler answered ({reason}); start one with "
            "`dask scheduler` and give its tcp://HOST:PORT (8786 by default)"
        ) from None
    if kind != "Scheduler":
        raise UsageError(
            f"--scheduler {scheduler} is a Dask {kind or 'service'}, not the scheduler: give "
            "the address `dask scheduler` prints (port 8786 by default)"
        )
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({reason})") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        client.close()
        raise UsageError(
            f"--scheduler {scheduler}: the scheduler has no workers; start some with "
            f"`dask worker {scheduler} --nthreads 1`"
        ) from None
    except BaseException:
        client.close()
        raise
    return client


async def _identity(address: str) -> str:
    """What kind of Dask server answers at `address` ("Scheduler", "Worker"…)."""
    from distributed.comm.core import connect

    comm = await connect(address, timeout=CONNECT_TIMEOUT)
    try:
        await comm.write({"op": "identity", "reply": True})
        reply = await comm.read()
    finally:
        comm.abort()
    return str(reply.get("type", "")) if isinstance(reply, dict) else ""
