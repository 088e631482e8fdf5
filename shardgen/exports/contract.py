"""The data contract every export writes: each table's columns and the kind of
each (money, date, timestamp, ...), and store values converted into contract
values, streamed in ID order.

Store types become the contract's: cents → NUMERIC(12,2), days → ISO dates,
epoch seconds → ISO-8601 UTC timestamps, basis points → percent, bools → 0/1
(each target says how it writes them).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import msgspec

from ..schema import TABLES
from ..store import Store

#: Per table: how each store field becomes a contract value.
MONEY = frozenset(
    ("credit_limit", "price", "cost", "subtotal", "tax_amount", "total", "unit_price", "line_total")
)
DATES = frozenset(("invoice_date", "due_date", "paid_date", "last_received_date"))
TIMESTAMPS = frozenset(("created_at", "updated_at"))
BOOLS = frozenset(("active", "is_primary"))

EPOCH = dt.date(1970, 1, 1)


class Column(NamedTuple):
    """A contract column: its name, its kind and whether it may be NULL.

    Kinds: id (an ID or a foreign key), int, text, bool, date, timestamp,
    money (integer cents), basis_points (hundredths of a percent: tax_rate),
    percent (a whole percent: discount_percentage) and decimal (a float with
    two decimals: credit_multiplier, weight).
    """

    name: str
    kind: str
    nullable: bool


def _column(name: str, annotation: Any) -> Column:
    options = typing.get_args(annotation)
    nullable = type(None) in options
    if nullable:
        (annotation,) = (a for a in options if a is not type(None))
    if name in MONEY:
        kind = "money"
    elif name in DATES:
        kind = "date"
    elif name in TIMESTAMPS:
        kind = "timestamp"
    elif name in BOOLS:
        kind = "bool"
    elif name == "tax_rate":
        kind = "basis_points"
    elif name == "discount_percentage":
        kind = "percent"
    elif annotation is float:
        kind = "decimal"
    elif name == "id" or name.endswith("_id"):
        kind = "id"
    elif annotation is int:
        kind = "int"
    else:
        kind = "text"
    return Column(name, kind, nullable)


#: The data contract: each table's columns, in order, derived from the records.
CONTRACT: dict[str, tuple[Column, ...]] = {
    table: tuple(_column(f.name, f.type) for f in msgspec.structs.fields(cls))
    for table, cls in TABLES.items()
}

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


def rows(store: Store, table: str, converter: Converter | None = None) -> Iterator[tuple[Any, ...]]:
    """A table's rows as contract values, streamed in ID order."""
    convert = (converter or Converter()).row_function(table)
    for values in store.scan_values(table):
        yield convert(values)
