"""The data contract every export writes: each table's columns and the kind of
each (money, date, timestamp, ...), from the table registry; the progress
meter; and what an export's workers hand its target's writer (`Part`,
`Rendered`, `Writer`).

Store types become the contract's: cents → NUMERIC(12,2), days → ISO dates,
epoch seconds → ISO-8601 UTC timestamps, basis points → percent, bools → 0/1
(`render` and each target say how they are written).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from ..tables import REGISTRY, Column

EPOCH = dt.date(1970, 1, 1)

#: The data contract: each table's columns, in order (`tables.REGISTRY`).
CONTRACT: dict[str, tuple[Column, ...]] = {name: table.columns for name, table in REGISTRY.items()}


def columns(table: str) -> tuple[str, ...]:
    """The contract's column names of a table, in order."""
    return tuple(column.name for column in CONTRACT[table])


#: How an export reports progress: (rows written, rows in all).
Progress = Callable[[int, int], None]


class Meter:
    """Counts an export's rows and reports them to `progress` at most every
    `interval` seconds, and once at the end (`finish`)."""

    def __init__(self, total: int, progress: Progress, interval: float = 0.25) -> None:
        self.total = total
        self.done = 0
        self.progress = progress
        self.interval = interval
        self._next = time.monotonic() + interval
        progress(0, total)  # the rows start now (after the verify)

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.progress(self.done, self.total)

    def finish(self) -> None:
        self.progress(self.done, self.total)


# -- what a parallel export's workers hand its writer -------------------------


class Part(NamedTuple):
    """A task: rows `first` .. `first + rows - 1` of `table`, its `number`-th
    part; number -1 is the table's keys outside the plan's range, which only
    the digest reads. A part is one of the plan's shards, or, where a target
    takes bigger pieces (a Parquet row group), consecutive shards: `shards`
    then gives the rows of each, and `number` is the first's."""

    table: str
    number: int
    first: int
    rows: int
    shards: tuple[int, ...] = ()


class Rendered(NamedTuple):
    """A part as a worker returns it: its digest (one for each of the plan's
    shards it holds, 16 bytes each, joined), the rows it read, and what the
    target takes (None for the keys outside the plan's range, and for a part
    the worker wrote into the target itself)."""

    digest: bytes
    rows: int
    data: Any


class Writer(Protocol):
    """A target's side of an export: parts arrive in task order (a table's
    parts in ID order, tables in contract order); `finish` makes the target
    complete once every part is written and the store's digest is checked;
    `close` is always called last, finished or not.

    `render` is what its workers make of each part (`parallel._data`). A
    writer may also have, where its target needs them: `scratch`, the folder
    its workers write their parts into; `task_rows`, to take consecutive
    shards of up to that many rows as one part (a Parquet row group); and
    `workers`, its worker count unless --workers says otherwise."""

    render: str

    def write(self, part: Part, data: Any) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...
