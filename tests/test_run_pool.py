"""The task runner: tasks in a forkserver pool, the coordinator one of the workers."""

from __future__ import annotations

import math
from typing import NoReturn

import pytest

from shardgen.errors import RunError, ShardgenError
from shardgen.run.pool import Pool, coordinator, worker_started


def failed(task: int, exc: Exception) -> ShardgenError:
    return RunError(f"task {task} failed ({type(exc).__name__})")


def broken(running: list[int]) -> NoReturn:
    raise RunError(f"the pool broke running {running}")


def nothing() -> None:
    pass


def test_the_coordinator_runs_tasks_beside_the_pool() -> None:
    ran_here: list[int] = []

    def here(task: int) -> int:
        ran_here.append(task)
        return math.factorial(task)

    tasks = list(range(40))
    with Pool[int, int](
        2, len(tasks), "shardgen.run.pool", worker_started, (coordinator(),), here
    ) as pool:
        assert pool.processes == 1  # two workers: this process and one more
        results = dict(pool.run(math.factorial, tasks, nothing, failed, broken))
    assert results == {task: math.factorial(task) for task in tasks}
    assert ran_here and len(ran_here) < len(tasks)


def test_without_the_coordinator_every_worker_is_a_process() -> None:
    with Pool[int, int](2, 10, "shardgen.run.pool", worker_started, (coordinator(),)) as pool:
        assert pool.processes == 2
        assert sorted(r for _, r in pool.run(abs, [-3, 2, -1], nothing, failed, broken)) == [
            1,
            2,
            3,
        ]


def test_a_task_failing_in_the_coordinator_fails_as_a_pool_task_does() -> None:
    def here(task: int) -> int:
        raise ValueError(task)

    with (
        Pool[int, int](2, 4, "shardgen.run.pool", worker_started, (coordinator(),), here) as pool,
        pytest.raises(RunError, match=r"task \d failed \(ValueError\)"),
    ):
        list(pool.run(math.factorial, [1, 2, 3, 4], nothing, failed, broken))


def test_check_is_called_between_the_coordinators_tasks() -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise RunError("stopped by the check")

    with (
        Pool[int, int](2, 50, "shardgen.run.pool", worker_started, (coordinator(),), abs) as pool,
        pytest.raises(RunError, match="stopped by the check"),
    ):
        list(pool.run(abs, list(range(50)), check, failed, broken))
