"""The HTML page's primitives: chart labels and axis scales."""

from __future__ import annotations

from shardgen.reports.page import money_short, nice_scale


def test_chart_labels_and_scales() -> None:
    assert [money_short(c) for c in (0, 1_250, 99_949_999, 99_950_000, 123_456_789)] == [
        "$0", "$12.50", "$999K", "$1M", "$1.23M",
    ]  # fmt: skip
    for top in (1, 7, 99, 100, 101, 973_400, 10**9 + 1):
        axis, step = nice_scale(top)
        assert axis >= top and axis % step == 0 and axis // step <= 5
        assert str(step).strip("0") in ("1", "2", "5")
