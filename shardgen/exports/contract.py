"""The data contract every export writes: each table's columns and the kind of
each (money, date, timestamp, ...), from the table registry, and store values
converted into contract values, streamed in ID order.

Store types become the contract's: cents → NUMERIC(12,2), days → ISO dates,
epoch seconds → ISO-8601 UTC timestamps, basis points → percent, bools → 0/1
(each target says how it writes them).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from ..store import Store
from ..tables import REGISTRY, Column

EPOCH = dt.date(1970, 1, 1)

#: The data contract: each table's columns, in order (`tables.REGISTRY`).
CONTRACT: dict[str, tuple[Column, ...]] = {name: table.columns for name, table in REGISTRY.items()}

Step = Callable[[Any], Any]


class Converter:
    """Turns store values into contract values, caching the date strings.

    `steps` maps a column kind to how a target writes it; kinds not given keep
    the SQLite export's values (floats for money and percents, 0/1 booleans,
    ISO dates and timestamps).
    """

    def __init__(self, steps: Mapping[str, Step] | None = None) -> None:
        self.days: dict[int, str] = {}
        self.clocks: dict[int, str] = {}  # seconds of the day → "THH:MM:SSZ"
        self.steps: dict[str, Step] = {
            "money": _hundredths,
            "basis_points": _hundredths,
            "date": self.date,
            "timestamp": self.timestamp,
            "bool": int,
            **(steps or {}),
        }

    def date(self, day: int | None) -> str | None:
        if day is None:
            return None
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = (EPOCH + dt.timedelta(days=day)).isoformat()
        return text

    def timestamp(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86_400)
        clock = self.clocks.get(rest)
        if clock is None:
            hours, minutes = divmod(rest // 60, 60)
            clock = self.clocks[rest] = f"T{hours:02d}:{minutes:02d}:{rest % 60:02d}Z"
        return f"{self.date(day)}{clock}"

    def row_function(self, table: str) -> Callable[[list[Any]], tuple[Any, ...]]:
        """A function from a row's store values (a list, changed in place) to its
        contract row (a tuple). Only the columns that change are touched."""
        changes = [
            (i, self.steps[column.kind])
            for i, column in enumerate(CONTRACT[table])
            if column.kind in self.steps
        ]

        def convert(values: list[Any]) -> tuple[Any, ...]:
            for i, step in changes:
                values[i] = step(values[i])
            return tuple(values)

        return convert


def _hundredths(value: int) -> float:
    """Cents as a money amount, basis points as a percent: both hundredths."""
    return value / 100


def hundredths(value: int) -> str:
    """An integer count of hundredths as an exact decimal string: 1234 → "12.34"."""
    whole, part = divmod(abs(value), 100)
    return f"{'-' if value < 0 else ''}{whole}.{part:02d}"


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


#: Rows between two counts on the meter.
METER_EVERY = 8192


def rows(
    store: Store, table: str, converter: Converter | None = None, meter: Meter | None = None
) -> Iterator[tuple[Any, ...]]:
    """A table's rows as contract values, streamed in ID order (counted on `meter`)."""
    convert = (converter or Converter()).row_function(table)
    if meter is None:
        for values in store.scan_values(table):
            yield convert(values)
        return
    count = 0
    for values in store.scan_values(table):
        yield convert(values)
        count += 1
        if count == METER_EVERY:
            meter.add(count)
            count = 0
    meter.add(count)


# -- what a parallel export's workers hand its writer -------------------------


class Part(NamedTuple):
    """A task: rows `first` .. `first + rows - 1` of `table`, its `number`-th
    part; number -1 is the table's keys outside the plan's range, which only
    the digest reads."""

    table: str
    number: int
    first: int
    rows: int


class Rendered(NamedTuple):
    """A part as a worker returns it: its digest, the rows it read, and what
    the target takes (None for the keys outside the plan's range)."""

    digest: bytes
    rows: int
    data: Any


class Writer(Protocol):
    """A target's side of an export: parts arrive in task order (a table's
    parts in ID order, tables in contract order); `finish` makes the target
    complete once every part is written and the store's digest is checked;
    `close` is always called last, finished or not."""

    def write(self, part: Part, data: Any) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...
