"""Record fields as numpy columns: a batch's integer fields as arrays (values
out of range reported and clipped), row-by-row tests as flags, and exact
rounding of products, so each rule runs once per batch rather than per row."""

from __future__ import annotations

import math
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .report import Findings

#: Seconds in a day: timestamps are seconds, dates are day numbers.
DAY = 86_400
#: Checks run in 64-bit integers on values within ±WIDE; a record holding a
#: larger one is reported, and the value clipped.
WIDE = 2**40
#: An absent value (None) in an integer column.
NULL = -(2**62)

Ints = NDArray[np.int64]


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


def int_column(
    found: Findings, table: str, records: list[Any], field: str, none: int | None = None
) -> Ints:
    """One integer field of a batch of records as an array, `none` standing
    for None. A value beyond ±WIDE is reported and clipped, so the checks'
    64-bit arithmetic stays exact."""
    get = attrgetter(field)
    values: Iterable[int] = map(get, records)
    if none is not None:
        values = [none if v is None else v for v in values]
    try:
        column = np.fromiter(values, np.int64, len(records))
    except OverflowError:
        column = np.array(
            [none if v is None else max(min(v, 2 * WIDE), -2 * WIDE) for v in map(get, records)],
            np.int64,
        )
    wide = (column >= WIDE) | (column <= -WIDE)
    if none is not None:
        wide &= column != none
    if wide.any():
        for row in np.flatnonzero(wide).tolist():
            found.add(table, records[row].id, "integers within ±2**40", field)
        column = np.where(wide, np.clip(column, -WIDE, WIDE), column)
    return column
