"""What a worker makes of a part's rows for its target, a column at a time.

A part's records are decoded into columns, each column is converted by its
kind in one pass (a list comprehension or a C-level `map`, never a Python
call per value and step), and the columns are joined back into the target's
form:

- `csv_text`: CSV lines (the CSV export's files, PostgreSQL's COPY input);
- `json_lines`: JSON lines, keys in contract order;
- `sqlite_rows`: tuples of the SQLite export's values;
- `copydata.copy_columns`: PostgreSQL's binary COPY data.

The output is exactly what converting a row at a time, then writing it with
the csv module or msgspec, produces (tests/test_exports_render.py keeps that
reference and compares the two on every part of a store).

Decimals are formatted from integer hundredths; where one is negative,
through a float: for any amount below 2**53 / 100 the float nearest n / 100,
printed to two decimals, is exactly n / 100, and money in the contract stays
far below that.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from .contract import CONTRACT, EPOCH
from .copydata import copy_columns
from .native import TABLE_KINDS, decoder

Column = Sequence[Any]

_DAYS: dict[int, str] = {}
_CLOCKS: dict[int, str] = {}


def columns_of(table: str, packed: bytes) -> list[Column]:
    """A part's records (one msgpack array of records, as the store holds
    them) as one sequence per contract column."""
    rows = msgspec.msgpack.decode(packed)
    if not rows:
        return [() for _ in CONTRACT[table]]
    return list(zip(*rows, strict=True))


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = (EPOCH + dt.timedelta(days=day)).isoformat()
    return text


def dates(column: Column, null: Any) -> list[Any]:
    """Days since the epoch as ISO dates; None as `null`."""
    days = _DAYS
    return [null if d is None else (days.get(d) or _day(d)) for d in column]


def timestamps(column: Column) -> list[str]:
    """Seconds since the epoch as ISO-8601 UTC timestamps, `YYYY-MM-DDTHH:MM:SSZ`."""
    days, clocks = _DAYS, _CLOCKS
    out = []
    for seconds in column:
        day, rest = divmod(seconds, 86_400)
        clock = clocks.get(rest)
        if clock is None:
            hours, minutes = divmod(rest // 60, 60)
            clock = clocks[rest] = f"T{hours:02d}:{minutes:02d}:{rest % 60:02d}Z"
        out.append((days.get(day) or _day(day)) + clock)
    return out


#: "00" .. "99": the two decimals of an amount of hundredths.
_CENTS = [f"{n:02d}" for n in range(100)]


def hundredths(column: Column) -> list[str]:
    """Integer hundredths as exact two-decimal text: 1234 → "12.34"."""
    if not column or min(column) >= 0:
        cents = _CENTS
        return [f"{value // 100}.{cents[value % 100]}" for value in column]
    return ["%.2f" % (value / 100) for value in column]


def _decimals(kind: str, column: Column) -> list[str]:
    """A decimal kind's store values as two-decimal text."""
    if kind == "percent":  # whole percents
        return [f"{value}.00" for value in column]
    if kind == "decimal":  # floats with at most two decimals
        return hundredths([round(value * 100) for value in column])
    return hundredths(column)  # money, basis points: integer hundredths


# -- CSV --------------------------------------------------------------------

_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def _csv_field(value: str) -> str:
    """One field as the csv module writes it (quoted where it must be)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerow([value, ""])
    return buffer.getvalue()[:-2]  # without the empty field's "," and the "\n"


def _csv_texts(column: Column) -> Column:
    values = ["" if v is None else v for v in column] if None in column else column
    if not _CSV_SPECIAL.search("\0".join(values)):
        return values
    return [_csv_field(v) if _CSV_SPECIAL.search(v) else v for v in values]


def _csv_column(kind: str, column: Column) -> Column:
    if kind in ("id", "int"):
        return list(map(str, column))
    if kind == "text":
        return _csv_texts(column)
    if kind == "bool":
        return ["1" if v else "0" for v in column]
    if kind == "date":
        return dates(column, "")
    if kind == "timestamp":
        return timestamps(column)
    return _decimals(kind, column)


def csv_text(table: str, columns: list[Column]) -> bytes:
    """A part's columns as CSV lines, without the header."""
    if not columns or not columns[0]:
        return b""
    kinds = [column.kind for column in CONTRACT[table]]
    fields = [_csv_column(kind, values) for kind, values in zip(kinds, columns, strict=True)]
    return ("\n".join(map(",".join, zip(*fields, strict=True))) + "\n").encode("utf-8")


# -- JSON lines ------------------------------------------------------------------

_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_encode = msgspec.json.encode


def _json_texts(column: Column) -> list[str]:
    if None not in column and not _JSON_SPECIAL.search("".join(column)):
        return [f'"{v}"' for v in column]
    return ["null" if v is None else _encode(v).decode() for v in column]


def _json_column(kind: str, column: Column) -> Column:
    if kind in ("id", "int"):
        return list(map(str, column))
    if kind == "text":
        return _json_texts(column)
    if kind == "bool":
        return ["true" if v else "false" for v in column]
    if kind == "date":
        return [f'"{d}"' if d is not None else "null" for d in dates(column, None)]
    if kind == "timestamp":
        return [f'"{t}"' for t in timestamps(column)]
    return _decimals(kind, column)  # decimals are JSON numbers with two decimals


def json_lines(table: str, columns: list[Column]) -> bytes:
    """A part's columns as JSON lines: one object per row, keys in contract order."""
    if not columns or not columns[0]:
        return b""
    contract = CONTRACT[table]
    line = "{" + ",".join(f"{_encode(c.name).decode()}:%s" for c in contract) + "}"
    fields = [_json_column(c.kind, values) for c, values in zip(contract, columns, strict=True)]
    return ("\n".join(map(line.__mod__, zip(*fields, strict=True))) + "\n").encode("utf-8")


# -- SQLite ------------------------------------------------------------------------


def _sqlite_column(kind: str, column: Column) -> Column:
    if kind in ("money", "basis_points"):
        return [value / 100 for value in column]
    if kind == "bool":
        return [1 if v else 0 for v in column]
    if kind == "date":
        return dates(column, None)
    if kind == "timestamp":
        return timestamps(column)
    return column  # ids, ints, text; percents and decimals as stored


def sqlite_values(table: str, packed: bytes) -> list[tuple[Any, ...]]:
    """A part's records (one msgpack array of them, as the export reads them)
    as rows of the SQLite export's values: by the C decoder straight from the
    records where it was built, else `sqlite_rows` of their columns; the same
    rows (tests/test_exports_columns.py compares them on every part)."""
    if decoder is None:  # pragma: no cover - installed without a C compiler
        return sqlite_rows(table, columns_of(table, packed))
    rows: list[tuple[Any, ...]] = decoder.sqlite_rows(packed, TABLE_KINDS[table])
    return rows


def sqlite_rows(table: str, columns: list[Column]) -> list[tuple[Any, ...]]:
    """A part's columns as rows of the SQLite export's values."""
    if not columns or not columns[0]:
        return []
    kinds = [column.kind for column in CONTRACT[table]]
    fields = [_sqlite_column(kind, values) for kind, values in zip(kinds, columns, strict=True)]
    return list(zip(*fields, strict=True))


# -- from the records, by the C decoder ------------------------------------------------


def _line_parts(table: str, json: bool) -> tuple[tuple[bytes, ...], bytes]:
    """What goes before each column's value in a line, and the line's end."""
    contract = CONTRACT[table]
    if not json:
        return (b"", *[b","] * (len(contract) - 1)), b"\n"
    keys = [_encode(c.name) + b":" for c in contract]
    return (b"{" + keys[0], *[b"," + key for key in keys[1:]]), b"}\n"


_LINES = {
    (render, table): _line_parts(table, render == "jsonl")
    for render in ("csv", "jsonl")
    for table in CONTRACT
}


def part_text(render: str, table: str, packed: bytes) -> bytes:
    """A part's records (one msgpack array of them, as the export reads them)
    as CSV (`render` "csv") or JSON lines ("jsonl"): by the C decoder straight
    from the records where it was built, else `csv_text` or `json_lines` of
    their columns. The same bytes (tests/test_exports_columns.py compares
    them on every part of a store, and on awkward values)."""
    if decoder is None:  # pragma: no cover - installed without a C compiler
        return RENDERERS[render](table, columns_of(table, packed))  # type: ignore[no-any-return]
    before, end = _LINES[render, table]
    data: bytes = decoder.text(packed, TABLE_KINDS[table], render == "jsonl", before, end)
    return data


#: The renders by name.
RENDERERS: dict[str, Callable[[str, list[Column]], Any]] = {
    "csv": csv_text,
    "jsonl": json_lines,
    "rows": sqlite_rows,
    "binary": copy_columns,  # PostgreSQL's binary COPY data
}
