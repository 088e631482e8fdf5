"""Export: the data contract, written to SQLite, PostgreSQL, CSV, JSON lines or Parquet.

This module holds what every target shares: the contract's columns and the
kind of each (money, date, timestamp, ...), the conversion of store values into
contract values, streamed in ID order, and `export`, the one entry point.
The targets live in `export_sql` (sqlite, postgres) and `export_files` (csv,
jsonl, parquet).

Store types become the contract's: cents → NUMERIC(12,2), days → ISO dates,
epoch seconds → ISO-8601 UTC timestamps, basis points → percent, bools → 0/1
(each target says how it writes them). A target is written beside its place
and renamed into it when complete (or loaded in one transaction), so an
interrupted export never leaves half an export.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from ..errors import UsageError
from ..guard import writing
from ..schema import TABLES
from ..store import Store, reading

FORMATS = ("sqlite", "csv", "jsonl", "parquet", "postgres")

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


def export(
    path: str | os.PathLike[str],
    *,
    format: str = "sqlite",
    to: str | os.PathLike[str],
    force: bool = False,
) -> dict[str, int]:
    """Export the store at `path` to `to`; return rows written per table.

    `to` is a file (sqlite), a folder (csv, jsonl, parquet) or a
    postgresql:// URL (postgres). `force` replaces an existing target, never
    the store being read or another shardgen store. The store is verified
    first: a damaged store, or one that differs from what was promoted, is
    an error, not an export.

    >>> shardgen.export("demo.lmdb", format="csv", to="demo-csv")  # doctest: +SKIP
    {'customer_types': 3, 'product_categories': 9, ...}
    """
    # The targets build on this module, so they are imported on use.
    from . import files as export_files
    from . import sql as export_sql

    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
    require(format)
    url = os.fspath(to)
    source = Path(path)
    if format == "postgres":
        export_sql.check_url(url)
        with _source(source) as store:
            return export_sql.export_postgres(store, url, force=force)
    if url.startswith(("postgresql:", "postgres:")):
        raise UsageError(
            f"--to {export_sql.redact(url)} is a PostgreSQL URL: pass --format postgres to load it"
        )
    target = Path(to)
    folder = format != "sqlite"
    with (
        writing(target, what="--to", source=source, force=force, folder=folder,
                holds=export_files.EXPORT_FILES, holder="shardgen export") as partial,
        _source(source) as store,
    ):  # fmt: skip
        if folder:
            return export_files.export_folder(store, partial, format)
        return export_sql.export_sqlite(store, partial)


@contextlib.contextmanager
def _source(path: Path) -> Iterator[Store]:
    """The store to export, checked (`verify.check_promoted`: promoted, every
    rule holding, its digest the one recorded at promotion), then open: the
    same file, which a promotion meanwhile cannot swap for another."""
    from ..verification import check_promoted

    file = check_promoted(path)
    with Store.open(path, file=file) as store, reading(store.path):
        yield store


#: Formats that need an optional dependency: (module, the extra that installs it).
EXTRAS = {"parquet": ("pyarrow", "parquet"), "postgres": ("psycopg", "postgres")}


def require(format: str) -> None:
    """Fail early, in one line, if the format's optional dependency is missing."""
    if format not in EXTRAS:
        return
    module, extra = EXTRAS[format]
    try:
        importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"the {format} export needs {module}: pip install 'shardgen[{extra}]'"
        ) from None
