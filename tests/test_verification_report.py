"""Findings: every violation counted, the first few of each rule listed."""

from __future__ import annotations

import numpy as np

from shardgen.verification.report import LISTED_PER_RULE, Findings, Violation


def test_findings_count_all_and_list_the_first_of_each_rule() -> None:
    found = Findings()
    for row in range(LISTED_PER_RULE + 5):
        found.add("customers", row, "a rule")
    found.add("invoices", 7, "another rule", "why")
    assert found.by_rule == {"a rule": LISTED_PER_RULE + 5, "another rule": 1}
    assert len(found.listed) == LISTED_PER_RULE + 1
    assert found.listed[-1] == Violation("invoices", 7, "another rule", "why")


def test_add_where_lists_the_rows_where_a_test_fails() -> None:
    found = Findings()
    ids = np.arange(100, 100 + 3 * LISTED_PER_RULE, dtype=np.int64)
    rows = ids % 2 == 1
    found.add_where("invoices", ids, rows, "odd", lambda row: f"row {row}")
    found.add_where("invoices", ids, np.zeros(len(ids), np.bool_), "never")
    assert found.by_rule == {"odd": int(rows.sum())}
    assert [v.id for v in found.listed] == ids[rows][:LISTED_PER_RULE].tolist()
    assert found.listed[0] == Violation("invoices", 101, "odd", "row 1")


def test_merged_findings_keep_the_first_listed_in_order() -> None:
    first, second = Findings(), Findings()
    for row in range(LISTED_PER_RULE - 1):
        first.add("customers", row, "a rule")
    second.add("customers", 100, "a rule")
    second.add("customers", 101, "a rule")
    first.merge(second)
    assert first.by_rule == {"a rule": LISTED_PER_RULE + 1}
    assert [v.id for v in first.listed][-2:] == [LISTED_PER_RULE - 2, 100]
