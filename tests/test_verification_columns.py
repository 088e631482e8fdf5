"""Record fields as columns: exact rounding, clipped and reported wide values."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from shardgen.verification.columns import NULL, WIDE, flags, int_column, rounded_product
from shardgen.verification.report import Findings


class Row(msgspec.Struct):
    id: int
    value: Any


def test_rounded_product_rounds_half_up_and_stays_exact_when_huge() -> None:
    small = rounded_product((np.array([1, 3, 5]), np.array([50, 50, 10])), 100)
    assert small.tolist() == [1, 2, 1]  # 0.5 → 1, 1.5 → 2, 0.5 → 1
    huge = np.array([2**40], np.int64)
    assert rounded_product((huge, huge), 1).tolist() == [2 * WIDE]  # clipped, not wrapped
    exact = np.array([3 * 2**31], np.int64)
    assert rounded_product((exact, exact), 2**40).tolist() == [(9 * 2**62 + 2**39) // 2**40]


def test_int_column_stands_none_for_null_and_clips_what_is_too_wide() -> None:
    found = Findings()
    rows = [Row(1, None), Row(2, 5), Row(3, 2**41), Row(4, -(2**70))]
    column = int_column(found, "invoices", rows, "value", NULL)
    assert column.tolist() == [NULL, 5, WIDE, -WIDE]
    assert [v.id for v in found.listed] == [3, 4]
    assert found.by_rule == {"integers within ±2**40": 2}
    assert int_column(Findings(), "invoices", rows[1:2], "value").tolist() == [5]


def test_flags_are_a_boolean_array() -> None:
    assert flags(c == "b" for c in "abc").tolist() == [False, True, False]
