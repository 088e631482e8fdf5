"""Record fields as numpy columns: a batch's integer fields as arrays (values
out of range reported and clipped), row-by-row tests as flags, and exact
rounding of products, so each rule runs once per batch rather than per row."""

from __future__ import annotations

import math
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from ..schema import TABLES
from .report import Findings

#: Seconds in a day: timestamps are seconds, dates are day numbers.
DAY = 86_400
#: Checks run in 64-bit integers on values within ±WIDE; a record holding a
#: larger one is reported, and the value clipped.
WIDE = 2**40
#: An absent value (None) in an integer column.
NULL = -(2**62)

Ints = NDArray[np.int64]


# The reader of a batch's integer fields from its msgpack bytes (`_fields.c`),
# built where shardgen was installed with a C compiler; without it, the
# columns are made from the decoded records, to the same arrays.
try:
    from . import _fields as fields
except ImportError:  # pragma: no cover - installed without a C compiler
    fields = None  # type: ignore[assignment]
#: Each table's integer fields (booleans and optional integers too): their
#: places in a record, and each one's column among them, by name.
INT_PLACES = {
    table: tuple(
        at
        for at, field in enumerate(msgspec.structs.fields(record))
        if field.type in (int, bool, int | None)
    )
    for table, record in TABLES.items()
}
INT_SLOTS = {
    table: {msgspec.structs.fields(TABLES[table])[at].name: slot for slot, at in enumerate(places)}
    for table, places in INT_PLACES.items()
}


class Decoded(list[Any]):
    """A batch's decoded records, and their integer fields read from the
    msgpack array they were decoded from, all of the table's in one pass
    (`_fields.c`): `int_column` takes them instead of reading a record at a
    time."""

    __slots__ = ("columns", "table")

    def __init__(self, records: list[Any], table: str, packed: bytes) -> None:
        super().__init__(records)
        self.table = table
        #: Each integer field's values and where they are nil, in INT_SLOTS
        #: order; None where the bytes do not give them (the records do).
        self.columns: tuple[Ints, NDArray[np.bool_]] | None = None
        places = INT_PLACES[table]
        read = fields.int_fields(packed, places) if fields is not None else None
        if read is not None:
            shape = (len(places), len(records))
            self.columns = (  # copied: the checks may write into a column
                np.frombuffer(read[0], np.int64).reshape(shape).copy(),
                np.frombuffer(read[1], np.bool_).reshape(shape),
            )

    def column(self, field: str) -> tuple[Ints, NDArray[np.bool_]] | None:
        """An integer field's values and where they are nil; None where the
        bytes do not give them (the records do)."""
        slot = INT_SLOTS[self.table].get(field)
        if slot is None or self.columns is None:
            return None
        return self.columns[0][slot], self.columns[1][slot]


def flags(tests: Iterable[bool]) -> NDArray[np.bool_]:
    """Row-by-row tests (of strings) as an array."""
    return np.fromiter(tests, np.bool_)


def rounded_product(factors: tuple[Ints, ...], divisor: int) -> Ints:
    """round(product of factors / divisor), half up, exact: in 64-bit integers
    where the product surely fits, in Python's integers where it might not."""
    magnitude = np.ones(len(factors[0]))
    for factor in factors:
        magnitude *= np.abs(factor)
    small = magnitude < 2.0**62
    product = np.ones(len(factors[0]), np.int64)
    for factor in factors:
        product *= np.where(small, factor, 0)
    result = (product + divisor // 2) // divisor
    for row in np.flatnonzero(~small).tolist():
        exact = math.prod(int(factor[row]) for factor in factors)
        result[row] = max(min((exact + divisor // 2) // divisor, 2 * WIDE), -2 * WIDE)
    return result


def _from_records(records: list[Any], field: str, none: int | None) -> Ints:
    get = attrgetter(field)
    values: Iterable[int] = map(get, records)
    if none is not None:
        values = [none if v is None else v for v in values]
    try:
        return np.fromiter(values, np.int64, len(records))
    except OverflowError:
        return np.array(
            [none if v is None else max(min(v, 2 * WIDE), -2 * WIDE) for v in map(get, records)],
            np.int64,
        )


def int_column(
    found: Findings, table: str, records: list[Any], field: str, none: int | None = None
) -> Ints:
    """One integer field of a batch of records as an array, `none` standing
    for None. A value beyond ±WIDE is reported and clipped, so the checks'
    64-bit arithmetic stays exact."""
    read = records.column(field) if isinstance(records, Decoded) else None
    if read is not None and (none is not None or not read[1].any()):
        column = np.where(read[1], none, read[0]) if none is not None else read[0]
    else:
        column = _from_records(records, field, none)
    wide = (column >= WIDE) | (column <= -WIDE)
    if none is not None:
        wide &= column != none
    if wide.any():
        for row in np.flatnonzero(wide).tolist():
            found.add(table, records[row].id, "integers within ±2**40", field)
        column = np.where(wide, np.clip(column, -WIDE, WIDE), column)
    return column
